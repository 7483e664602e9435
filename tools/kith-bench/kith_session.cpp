#include "kith_session.h"

#include "kith/protocol.h"

#include <zlib.h>

#include <algorithm>

namespace kith::bench {

namespace {
// kithd never sends more than kMaxFrameBytes per frame; an inflated answer is
// allowed far more, yet a corrupt raw_size must not allocate without bound.
constexpr uint32_t kMaxInflatedBytes = 64 * 1024 * 1024;
constexpr std::string_view kDeflate = "deflate";
} // namespace

KithSession::KithSession(EventLoop &loop, Credentials credentials)
    : m_credentials(std::move(credentials))
    , m_ws(std::make_unique<WsConnection>(loop, WsConnection::Role::Client))
{
    m_ws->onOpen = [this] {
        v1::Envelope hello;
        hello.set_request_id(nextRequestId());
        hello.mutable_hello()->set_protocol_major(kProtocolMajor);
        hello.mutable_hello()->set_protocol_minor(kProtocolMinor);
        hello.mutable_hello()->set_client_name("kith-bench");
        for (const std::string &feature : m_features)
            hello.mutable_hello()->add_features(feature);
        send(hello);
    };
    m_ws->onMessage = [this](std::string_view bytes) { handleFrame(bytes); };
    m_ws->onClosed = [this] {
        if (m_state != State::Failed)
            failWith("connection closed: " + m_ws->closeReason());
    };
}

bool KithSession::granted(std::string_view feature) const
{
    return std::find(m_granted.begin(), m_granted.end(), feature) != m_granted.end();
}

bool KithSession::start(const sockaddr_in &target, in_addr_t sourceAddr)
{
    if (s_useTls)
        m_ws->useTls();
    if (!m_ws->connectTo(target, sourceAddr)) {
        failWith(m_ws->closeReason());
        return false;
    }
    return true;
}

void KithSession::send(v1::Envelope &envelope)
{
    envelope.SerializeToString(&m_scratch);
    m_ws->sendBinary(m_scratch);
}

void KithSession::failWith(std::string reason)
{
    if (m_state == State::Failed)
        return;
    m_state = State::Failed;
    m_failure = std::move(reason);
    m_ws->close();
    if (onFailed)
        onFailed(*this);
}

bool KithSession::inflate(const v1::Envelope &outer)
{
    if (!granted(kDeflate)) {
        failWith("a compressed frame without the deflate feature");
        return false;
    }
    const v1::Compressed &compressed = outer.compressed();
    const uint32_t rawSize = compressed.raw_size();
    if (rawSize == 0 || rawSize > kMaxInflatedBytes) {
        failWith("a compressed frame with raw_size " + std::to_string(rawSize));
        return false;
    }
    m_inflateBuffer.resize(rawSize);
    uLongf inflatedSize = rawSize;
    const int rc = ::uncompress(reinterpret_cast<Bytef *>(m_inflateBuffer.data()), &inflatedSize,
                                reinterpret_cast<const Bytef *>(compressed.deflated().data()),
                                uLong(compressed.deflated().size()));
    // A stream that inflates to more than raw_size ends in Z_BUF_ERROR.
    if (rc != Z_OK || inflatedSize != rawSize) {
        failWith("a compressed frame that does not inflate to raw_size (zlib " +
                 std::to_string(rc) + ", " + std::to_string(inflatedSize) + " of " +
                 std::to_string(rawSize) + " bytes)");
        return false;
    }
    if (!m_inflated.ParseFromArray(m_inflateBuffer.data(), int(rawSize)) ||
        m_inflated.body_case() == v1::Envelope::kCompressed ||
        m_inflated.request_id() != outer.request_id()) {
        failWith("a compressed frame whose inner envelope is undecodable, compressed again or "
                 "answers another request");
        return false;
    }
    m_frameRawBytes = rawSize;
    m_frameCompressed = true;
    return true;
}

void KithSession::handleFrame(std::string_view bytes)
{
    if (!m_incoming.ParseFromArray(bytes.data(), int(bytes.size()))) {
        failWith("undecodable frame from the server");
        return;
    }
    m_frameWireBytes = m_frameRawBytes = bytes.size();
    m_frameCompressed = false;
    if (m_incoming.body_case() == v1::Envelope::kCompressed && !inflate(m_incoming))
        return;
    const v1::Envelope &env = m_frameCompressed ? m_inflated : m_incoming;
    if (env.body_case() == v1::Envelope::kPing) {
        v1::Envelope pong;
        pong.set_request_id(env.request_id());
        pong.mutable_pong()->set_nonce(env.ping().nonce());
        send(pong);
        return;
    }
    switch (m_state) {
    case State::Connecting:
        if (env.body_case() != v1::Envelope::kHelloOk) {
            failWith("hello refused: " + env.error().message());
            return;
        }
        m_granted.assign(env.hello_ok().features().begin(), env.hello_ok().features().end());
        {
            v1::Envelope auth;
            auth.set_request_id(nextRequestId());
            if (!m_credentials.token.empty()) {
                auth.mutable_resume()->set_token(m_credentials.token);
            } else if (m_credentials.loginWithPassword) {
                auto *login = auth.mutable_login();
                login->set_username(m_credentials.username);
                login->set_password(m_credentials.password);
                login->set_device_name("kith-bench");
            } else {
                auto *reg = auth.mutable_register_();
                reg->set_username(m_credentials.username);
                reg->set_password(m_credentials.password);
                reg->set_display_name(m_credentials.username);
                reg->set_device_name("kith-bench");
            }
            m_state = State::Authenticating;
            send(auth);
        }
        return;
    case State::Authenticating:
        if (env.body_case() != v1::Envelope::kAuthOk) {
            failWith("auth refused: " + std::string(errorCodeName(env.error().code())) + " " +
                     env.error().message());
            return;
        }
        if (!env.auth_ok().token().empty())
            m_credentials.token = env.auth_ok().token();
        m_credentials.userId = env.auth_ok().user().id();
        m_state = State::Ready;
        if (onReady)
            onReady(*this);
        return;
    case State::Ready:
        if (onEnvelope)
            onEnvelope(*this, env);
        return;
    case State::Failed:
        return;
    }
}

} // namespace kith::bench
