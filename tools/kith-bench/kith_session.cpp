#include "kith_session.h"

#include "kith/protocol.h"

namespace kith::bench {

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
        send(hello);
    };
    m_ws->onMessage = [this](std::string_view bytes) { handleFrame(bytes); };
    m_ws->onClosed = [this] {
        if (m_state != State::Failed)
            failWith("connection closed: " + m_ws->closeReason());
    };
}

bool KithSession::start(const sockaddr_in &target, in_addr_t sourceAddr)
{
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

void KithSession::handleFrame(std::string_view bytes)
{
    if (!m_incoming.ParseFromArray(bytes.data(), int(bytes.size()))) {
        failWith("undecodable frame from the server");
        return;
    }
    const v1::Envelope &env = m_incoming;
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
