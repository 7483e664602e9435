#include "ws_connection.h"

#include "kith/ws_frame.h"

#include <QByteArray>
#include <QCryptographicHash>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <random>

namespace kith::bench {

namespace {
constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// kithd's own frame limit is 256 KiB; anything larger from a peer is a fault.
constexpr uint64_t kMaxFrameBytes = 4 * 1024 * 1024;
// An upgrade request or answer is a few hundred bytes.
constexpr size_t kMaxHandshakeBytes = 16 * 1024;
constexpr size_t kReadChunk = 64 * 1024;

using namespace kith::ws; // the opcodes

std::string tlsErrorText()
{
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0)
        return "no detail";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}
std::string acceptFor(std::string_view key)
{
    QByteArray material(key.data(), qsizetype(key.size()));
    material.append(kAcceptGuid.data(), qsizetype(kAcceptGuid.size()));
    return QCryptographicHash::hash(material, QCryptographicHash::Sha1).toBase64().toStdString();
}

// Value of an HTTP header (case-insensitive name) in the head of a request or answer.
std::string headerValue(std::string_view head, std::string_view name)
{
    size_t pos = 0;
    while (pos < head.size()) {
        const size_t end = head.find("\r\n", pos);
        const std::string_view line =
            head.substr(pos, end == std::string_view::npos ? head.size() - pos : end - pos);
        const size_t colon = line.find(':');
        if (colon == name.size() &&
            std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
                return std::tolower(uint8_t(a)) == std::tolower(uint8_t(b));
            })) {
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ')
                value.remove_prefix(1);
            while (!value.empty() && value.back() == ' ')
                value.remove_suffix(1);
            return std::string(value);
        }
        if (end == std::string_view::npos)
            break;
        pos = end + 2;
    }
    return {};
}
} // namespace

// One client context per process (workers make their own after the fork if
// the parent had none). No certificate check: see WsConnection::useTls().
SSL_CTX *clientTlsContext()
{
    static SSL_CTX *const context = [] {
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx)
            return ctx;
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
        // Writes go out of a buffer that grows between retries; an idle
        // connection gives its TLS buffers back; a peer that closes without
        // close_notify reads as a plain end of stream.
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
        SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
        return ctx;
    }();
    return context;
}

WsConnection::WsConnection(EventLoop &loop, Role role)
    : m_loop(loop)
    , m_role(role)
    , m_maskState(std::random_device{}() | 1u)
{}

WsConnection::~WsConnection()
{
    if (m_ssl)
        SSL_free(m_ssl);
    if (m_fd >= 0) {
        m_loop.remove(m_fd);
        ::close(m_fd);
    }
}

bool WsConnection::connectTo(const sockaddr_in &target, in_addr_t sourceAddr,
                             const std::string &path)
{
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m_fd < 0) {
        m_closeReason = std::string("socket: ") + std::strerror(errno);
        m_state = State::Closed;
        return false;
    }
    // Pick the source port at connect time, per destination, so several
    // 127.0.0.x source addresses each get the whole ephemeral range.
    const int one = 1;
    setsockopt(m_fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in source{};
    source.sin_family = AF_INET;
    source.sin_addr.s_addr = sourceAddr;
    if (::bind(m_fd, reinterpret_cast<const sockaddr *>(&source), sizeof source) != 0) {
        fail("bind");
        return false;
    }
    if (::connect(m_fd, reinterpret_cast<const sockaddr *>(&target), sizeof target) != 0 &&
        errno != EINPROGRESS) {
        fail("connect");
        return false;
    }
    m_state = State::Connecting;

    std::random_device random;
    QByteArray nonce(16, Qt::Uninitialized);
    for (char &c : nonce)
        c = char(random());
    const std::string key = nonce.toBase64().toStdString();
    m_expectedAccept = acceptFor(key);
    char host[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &target.sin_addr, host, sizeof host);
    m_out = "GET " + path + " HTTP/1.1\r\nHost: " + std::string(host) + ":" +
            std::to_string(ntohs(target.sin_port)) +
            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
            "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    return m_loop.add(m_fd, this);
}

bool WsConnection::adopt(int fd)
{
    m_fd = fd;
    const int one = 1;
    setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    m_state = State::Handshaking;
    return m_loop.add(m_fd, this);
}

void WsConnection::sendBinary(std::string_view payload)
{
    if (m_state != State::Open)
        return;
    queueFrame(kBinary, payload);
    flush();
}

void WsConnection::close()
{
    if (m_state == State::Closed)
        return;
    const bool wasOpen = m_state == State::Open;
    // Closed first: when the close frame cannot be sent either, flush()'s
    // fail() finds the connection closing and does not close it again (it
    // did, until the stack ran out).
    m_state = State::Closed;
    if (wasOpen) {
        queueFrame(kClose, std::string_view("\x03\xe8", 2));
        flush();
    }
    if (m_ssl) {
        if (!m_tlsHandshaking)
            SSL_shutdown(m_ssl); // close_notify, best effort; no wait for the answer
        SSL_free(m_ssl);
        m_ssl = nullptr;
        m_tlsHandshaking = false;
        ERR_clear_error();
    }
    if (m_fd >= 0) {
        m_loop.remove(m_fd);
        ::shutdown(m_fd, SHUT_RDWR);
        ::close(m_fd);
        m_fd = -1;
    }
}

void WsConnection::fail(const char *reason)
{
    if (m_closeReason.empty())
        m_closeReason =
            std::string(reason) + (errno ? std::string(": ") + std::strerror(errno) : "");
    const bool wasOpen = m_state != State::Closed;
    close();
    if (wasOpen && onClosed)
        onClosed();
}

void WsConnection::handleEvents(uint32_t events)
{
    if (m_state == State::Closed)
        return;
    if (m_state == State::Connecting && (events & (EPOLLOUT | EPOLLERR))) {
        int error = 0;
        socklen_t len = sizeof error;
        getsockopt(m_fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (error != 0) {
            errno = error;
            fail("connect");
            return;
        }
        m_state = State::Handshaking;
        if (m_wantTls && !startTls())
            return;
    }
    if (m_tlsHandshaking) {
        if (!continueTlsHandshake())
            return;
        // The upgrade request waited for the handshake; answers may follow it.
        flush();
        if (m_state != State::Closed)
            readAvailable();
        return;
    }
    if (events & EPOLLOUT)
        flush();
    if (m_state != State::Closed && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        readAvailable();
}

bool WsConnection::startTls()
{
    SSL_CTX *context = clientTlsContext();
    m_ssl = context ? SSL_new(context) : nullptr;
    if (!m_ssl || SSL_set_fd(m_ssl, m_fd) != 1) {
        m_closeReason = "tls setup: " + tlsErrorText();
        errno = 0;
        fail("tls setup");
        return false;
    }
    SSL_set_connect_state(m_ssl);
    m_tlsHandshaking = true;
    return true;
}

bool WsConnection::continueTlsHandshake()
{
    ERR_clear_error();
    const int rc = SSL_do_handshake(m_ssl);
    if (rc == 1) {
        m_tlsHandshaking = false;
        return true;
    }
    const int error = SSL_get_error(m_ssl, rc);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE)
        return false; // edge-triggered: the next readiness event carries on
    m_closeReason = "tls handshake: " + (error == SSL_ERROR_SYSCALL && errno != 0
                                             ? std::string(std::strerror(errno))
                                             : tlsErrorText());
    errno = 0;
    fail("tls handshake");
    return false;
}

// send() and recv() with OpenSSL underneath when the connection speaks TLS,
// with their results: bytes, 0 for the peer's end of stream (receive), or -1
// with errno EAGAIN for "wait for readiness" and another errno for a fault
// (its text then already in m_closeReason).
ssize_t WsConnection::sendSome(const char *data, size_t size)
{
    if (!m_ssl)
        return ::send(m_fd, data, size, MSG_NOSIGNAL);
    ERR_clear_error();
    const int n = SSL_write(m_ssl, data, int(std::min<size_t>(size, 1 << 30)));
    if (n > 0)
        return n;
    const int error = SSL_get_error(m_ssl, n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (error != SSL_ERROR_SYSCALL || errno == 0) {
        m_closeReason = "tls send: " + tlsErrorText();
        errno = EPROTO;
    }
    return -1;
}

ssize_t WsConnection::receiveSome(char *data, size_t size)
{
    if (!m_ssl)
        return ::recv(m_fd, data, size, 0);
    ERR_clear_error();
    const int n = SSL_read(m_ssl, data, int(std::min<size_t>(size, 1 << 30)));
    if (n > 0)
        return n;
    const int error = SSL_get_error(m_ssl, n);
    if (error == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (error != SSL_ERROR_SYSCALL || errno == 0) {
        m_closeReason = "tls receive: " + tlsErrorText();
        errno = EPROTO;
    }
    return -1;
}

void WsConnection::flush()
{
    if (m_state == State::Connecting || m_fd < 0 || m_tlsHandshaking)
        return;
    while (m_outPos < m_out.size()) {
        const ssize_t n = sendSome(m_out.data() + m_outPos, m_out.size() - m_outPos);
        if (n > 0) {
            m_outPos += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        fail("send");
        return;
    }
    m_out.clear();
    m_outPos = 0;
}

void WsConnection::readAvailable()
{
    // One buffer for every connection of the thread; a connection keeps only
    // what it read. (Each read used to grow the connection's own buffer by
    // 64 KiB, zeroed: with 10,000 connections logging in, the bench spent
    // most of its core clearing memory and was slower than the kithd it
    // measured.)
    static thread_local std::array<char, kReadChunk> scratch;
    for (;;) {
        const ssize_t n = receiveSome(scratch.data(), kReadChunk);
        if (n > 0) {
            m_in.append(scratch.data(), size_t(n));
            if (m_state == State::Handshaking && !parseHandshake())
                return;
            if (m_state == State::Open)
                parseFrames();
            if (m_state == State::Closed)
                return;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        errno = n == 0 ? 0 : errno;
        fail(n == 0 ? "peer closed the connection" : "recv");
        return;
    }
}

bool WsConnection::parseHandshake()
{
    const size_t end = m_in.find("\r\n\r\n");
    if (end == std::string::npos) {
        if (m_in.size() > kMaxHandshakeBytes) {
            errno = 0;
            fail("handshake too long");
        }
        return false;
    }
    const std::string head = m_in.substr(0, end);
    m_in.erase(0, end + 4);
    if (m_role == Role::Client) {
        if (head.rfind("HTTP/1.1 101", 0) != 0 ||
            headerValue(head, "Sec-WebSocket-Accept") != m_expectedAccept) {
            errno = 0;
            fail("handshake refused");
            return false;
        }
    } else {
        const std::string key = headerValue(head, "Sec-WebSocket-Key");
        const size_t pathStart = head.find(' ');
        const size_t pathEnd = head.find(' ', pathStart + 1);
        if (key.empty() || head.rfind("GET ", 0) != 0 || pathEnd == std::string::npos) {
            errno = 0;
            fail("bad upgrade request");
            return false;
        }
        m_path = head.substr(pathStart + 1, pathEnd - pathStart - 1);
        m_out += "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                 "Upgrade\r\nSec-WebSocket-Accept: " +
                 acceptFor(key) + "\r\n\r\n";
        flush();
    }
    m_state = State::Open;
    if (onOpen)
        onOpen();
    return m_state == State::Open;
}

void WsConnection::parseFrames()
{
    while (m_state == State::Open) {
        const size_t avail = m_in.size() - m_inPos;
        ws::FrameHead head;
        const ws::HeadRead read = ws::readFrameHead(m_in.data() + m_inPos, avail, head);
        if (read == ws::HeadRead::Incomplete)
            break;
        if (read == ws::HeadRead::LengthOutOfRange || head.length > kMaxFrameBytes) {
            errno = 0;
            fail("frame too large");
            return;
        }
        const bool fin = head.fin;
        const uint8_t opcode = head.opcode;
        const uint64_t length = head.length;
        if (avail < head.size + length)
            break;
        char *payload = m_in.data() + m_inPos + head.size;
        if (head.masked)
            ws::applyMask(payload, size_t(length), head.mask);
        const std::string_view body(payload, size_t(length));
        m_inPos += head.size + size_t(length);

        switch (opcode) {
        case kPing:
            queueFrame(kPong, body);
            flush();
            break;
        case kPong:
            break;
        case kClose:
            m_closeReason = "closed by peer";
            fail("closed by peer");
            return;
        case kText:
        case kBinary:
        case kContinuation:
            if (fin && m_fragments.empty()) {
                if (onMessage)
                    onMessage(body);
            } else {
                m_fragments.append(body);
                if (fin) {
                    const std::string whole = std::move(m_fragments);
                    m_fragments.clear();
                    if (onMessage)
                        onMessage(whole);
                }
            }
            break;
        default:
            errno = 0;
            fail("unknown opcode");
            return;
        }
    }
    // Drop what was parsed once it is most of the buffer, so long runs do not
    // move bytes on every frame.
    if (m_inPos == m_in.size()) {
        m_in.clear();
        m_inPos = 0;
    } else if (m_inPos > 64 * 1024) {
        m_in.erase(0, m_inPos);
        m_inPos = 0;
    }
}

void WsConnection::queueFrame(uint8_t opcode, std::string_view payload)
{
    if (m_outPos > 0 && m_outPos == m_out.size()) {
        m_out.clear();
        m_outPos = 0;
    }
    const bool mask = m_role == Role::Client;
    ws::Mask key{};
    if (mask) {
        // xorshift: masking only has to be unpredictable to proxies, not secret.
        m_maskState ^= m_maskState << 13;
        m_maskState ^= m_maskState >> 17;
        m_maskState ^= m_maskState << 5;
        std::memcpy(key.data(), &m_maskState, 4);
    }
    std::array<char, ws::kMaxFrameHeadBytes> header;
    const size_t n =
        ws::writeFrameHead(opcode, payload.size(), header.data(), mask ? &key : nullptr);
    m_out.append(header.data(), n);
    const size_t start = m_out.size();
    m_out.append(payload);
    if (mask)
        ws::applyMask(m_out.data() + start, payload.size(), key);
}

} // namespace kith::bench
