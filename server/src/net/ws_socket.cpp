#include "ws_socket.h"

#include "kith/ws_frame.h"
#include "logging.h"
#include "rate_limit.h"

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QPointer>
#include <QScopeGuard>
#include <QSocketNotifier>
#include <QStringDecoder>
#include <QThread>
#include <QTimer>
#include <QTimerEvent>
#include <QtEndian>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace kith::server {

namespace {
// RFC 6455 section 1.3: appended to the client's key before hashing.
constexpr QByteArrayView kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// An upgrade request is a few hundred bytes; anything near this is not one.
constexpr qsizetype kMaxRequestHeadBytes = 8 * 1024;
// How long a peer has to answer our close frame (or to hang up after a
// refusal) before the connection is dropped.
constexpr int kCloseGraceMs = 5000;
// One read takes at most this much; a busy peer waits for the next wake-up
// while the others get their turn.
constexpr qsizetype kReadChunkBytes = 64 * 1024;
// Control frames carry at most this much payload (RFC 6455 section 5.5).
constexpr qsizetype kMaxControlPayload = 125;
// Queued chunks handed to the kernel in one sendmsg().
constexpr int kMaxIoVectors = 64;
// Queued frames smaller than this are appended to the last queued chunk.
constexpr qsizetype kCoalesceBytes = 16 * 1024;

// Frames are queued and written together: at the end of the read being
// handled, or else from one event posted for the whole thread, so the acks and
// pushes that a read or a batch of store results produces leave in one
// sendmsg() per socket, not one each (what QTcpSocket's buffer did too).
struct WriteBatch
{
    int depth = 0;          // reads being handled
    bool scheduled = false; // a flush event is posted
    QList<QPointer<WsSocket>> pending;
};
thread_local WriteBatch t_writeBatch;

// True when the comma-separated header value lists `token` (case-insensitive).
bool listsToken(QByteArrayView value, QByteArrayView token)
{
    while (!value.isEmpty()) {
        const qsizetype comma = value.indexOf(',');
        const QByteArrayView item = (comma < 0 ? value : value.first(comma)).trimmed();
        if (item.compare(token, Qt::CaseInsensitive) == 0)
            return true;
        if (comma < 0)
            break;
        value = value.sliced(comma + 1);
    }
    return false;
}

// RFC 6455 section 7.4: the codes a peer may put in a close frame. 1005,
// 1006 and 1015 are never sent; the rest below 3000 is unassigned (1012-1014
// were registered with IANA after the RFC).
bool isValidCloseCode(quint16 code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

bool isValidUtf8(QByteArrayView bytes)
{
    QStringDecoder decoder(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    const QString text = decoder.decode(bytes); // decodes only when made a QString
    return !decoder.hasError();
}

// `reason` as UTF-8 in at most `bytes` bytes, cut at a character boundary.
QByteArray utf8Prefix(const QString &reason, qsizetype bytes)
{
    QByteArray utf8 = reason.toUtf8();
    if (utf8.size() <= bytes)
        return utf8;
    qsizetype end = bytes;
    while (end > 0 && (quint8(utf8[end]) & 0xC0) == 0x80)
        --end; // a continuation byte: the character started before
    return utf8.left(end);
}

struct UpgradeRequest
{
    QByteArray upgrade;
    QByteArray connection;
    QByteArray version;
    QByteArray key;
};

// The request head without its final blank line; nullptr when it is a valid
// WebSocket upgrade, else what is wrong with it.
const char *checkUpgrade(QByteArrayView head, UpgradeRequest &request)
{
    qsizetype lineEnd = head.indexOf("\r\n");
    const QByteArrayView requestLine = lineEnd < 0 ? head : head.first(lineEnd);
    if (!requestLine.startsWith("GET "))
        return "not a GET request";
    if (!requestLine.endsWith(" HTTP/1.1"))
        return "not HTTP/1.1";
    while (lineEnd >= 0) {
        head = head.sliced(lineEnd + 2);
        lineEnd = head.indexOf("\r\n");
        const QByteArrayView line = lineEnd < 0 ? head : head.first(lineEnd);
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
            return "malformed header line";
        const QByteArrayView name = line.first(colon).trimmed();
        const QByteArrayView value = line.sliced(colon + 1).trimmed();
        auto is = [&name](QByteArrayView wanted) {
            return name.compare(wanted, Qt::CaseInsensitive) == 0;
        };
        QByteArray *field = nullptr;
        if (is("upgrade"))
            field = &request.upgrade;
        else if (is("connection"))
            field = &request.connection;
        else if (is("sec-websocket-version"))
            field = &request.version;
        else if (is("sec-websocket-key"))
            field = &request.key;
        if (!field)
            continue;
        // A header that comes twice is one comma-separated list (RFC 9110 5.3).
        if (!field->isEmpty())
            field->append(',');
        field->append(value.data(), value.size());
    }
    if (!listsToken(request.upgrade, "websocket"))
        return "no Upgrade: websocket";
    if (!listsToken(request.connection, "upgrade"))
        return "no Connection: upgrade";
    if (request.version != "13")
        return "not WebSocket version 13";
    const auto key =
        QByteArray::fromBase64Encoding(request.key, QByteArray::AbortOnBase64DecodingErrors);
    if (!key || key.decoded.size() != 16)
        return "no valid Sec-WebSocket-Key";
    return nullptr;
}
// Whether the request line asks for a path under /v1/ (kithd's HTTP file
// transfers) rather than the WebSocket upgrade, which is made on "/".
bool isTransferRequestLine(QByteArrayView head)
{
    const qsizetype lineEnd = head.indexOf("\r\n");
    const QByteArrayView line = lineEnd < 0 ? head : head.first(lineEnd);
    const qsizetype space = line.indexOf(' ');
    return space > 0 && line.sliced(space + 1).startsWith("/v1/");
}
} // namespace

WsSocket::WsSocket(int fd, qint64 maxMessageBytes, int handshakeTimeoutMs, QObject *parent)
    : WireSocket(parent)
    , m_fd(fd)
    , m_maxMessageBytes(maxMessageBytes)
{
    m_shared->fd = fd;
    const int flags = ::fcntl(m_fd, F_GETFL);
    if (flags < 0 || ::fcntl(m_fd, F_SETFL, flags | O_NONBLOCK) < 0)
        qCWarning(lcGateway) << "cannot make a socket non-blocking:" << strerror(errno);
    m_readNotifier = new QSocketNotifier(qintptr(m_fd), QSocketNotifier::Read, this);
    connect(m_readNotifier, &QSocketNotifier::activated, this, &WsSocket::onReadable);
    m_handshakeTimer.start(handshakeTimeoutMs, this);
}

WsSocket::~WsSocket()
{
    // What is still queued (a close frame, say) gets one try.
    if (!m_out.isEmpty())
        flush();
    if (m_fd >= 0) {
        // The notifiers must leave the dispatcher before the descriptor goes.
        delete m_readNotifier;
        delete m_writeNotifier;
        std::lock_guard lock(m_shared->mutex);
        m_shared->fd = -1;
        m_shared->open = false;
        ::close(m_fd);
    }
}

void WsSocket::setState(State state)
{
    std::lock_guard lock(m_shared->mutex);
    m_state = state;
    m_shared->open = state == State::Open;
}

std::shared_ptr<DirectWriter> WsSocket::directWriter()
{
    return m_shared;
}

void WsSocket::setDirectWriteHookForTesting(std::function<void()> hook)
{
    std::lock_guard lock(m_shared->mutex);
    m_shared->whileLockedForTesting = std::move(hook);
}

// Another thread's write: only into an idle connection (nothing queued here,
// no earlier direct write unfinished), so frames never interleave.
DirectWriter::Outcome WsSocket::Shared::trySend(QByteArrayView message, QByteArray *rest)
{
    // A server frame is never masked (RFC 6455 section 5.1).
    std::array<char, ws::kMaxFrameHeadBytes> head;
    const auto headSize =
        qsizetype(ws::writeFrameHead(quint8(Opcode::Binary), quint64(message.size()), head.data()));
    std::lock_guard lock(mutex);
    if (whileLockedForTesting)
        whileLockedForTesting();
    if (fd < 0 || !open || queued || partialAhead || heldForOwner > 0) {
        ++heldForOwner;
        return Outcome::NotSent;
    }
    std::array<iovec, 2> parts{{{head.data(), size_t(headSize)},
                                {const_cast<char *>(message.data()), size_t(message.size())}}};
    msghdr header{};
    header.msg_iov = parts.data();
    header.msg_iovlen = 2;
    const ssize_t sent = ::sendmsg(fd, &header, MSG_NOSIGNAL | MSG_DONTWAIT);
    // A failure other than a full buffer shows again on the owner's next
    // read or write, which hangs up.
    if (sent <= 0) {
        ++heldForOwner;
        return Outcome::NotSent;
    }
    const qsizetype total = headSize + message.size();
    if (sent == total)
        return Outcome::Sent;
    rest->clear();
    if (sent < headSize)
        rest->append(head.data() + sent, headSize - sent).append(message);
    else
        rest->append(message.sliced(sent - headSize));
    partialAhead = true;
    return Outcome::Partial;
}

void WsSocket::Shared::holdForOwner()
{
    std::lock_guard lock(mutex);
    ++heldForOwner;
}

void WsSocket::Shared::sentByOwner()
{
    std::lock_guard lock(mutex);
    heldForOwner = std::max(0, heldForOwner - 1);
}

void WsSocket::finishDirect(const QByteArray &rest)
{
    {
        std::lock_guard lock(m_shared->mutex);
        if (!m_shared->partialAhead)
            return;
        m_shared->partialAhead = false;
        if (m_state == State::Closed)
            return;
        // Nothing was written while the tail was outstanding, so m_outHead is 0.
        m_out.prepend(rest);
        m_outBytes += rest.size();
        m_shared->queued = true;
    }
    flush();
}

QHostAddress WsSocket::peerAddress() const
{
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (m_fd < 0 || ::getpeername(m_fd, reinterpret_cast<sockaddr *>(&address), &length) != 0)
        return {};
    return QHostAddress(reinterpret_cast<const sockaddr *>(&address));
}

qsizetype WsSocket::bufferCapacity() const
{
    qsizetype total =
        m_in.capacity() + m_message.capacity() + m_out.capacity() * qsizetype(sizeof(QByteArray));
    for (const QByteArray &chunk : m_out)
        total += chunk.capacity();
    return total;
}

void WsSocket::onReadable()
{
    // Shared by every socket of the thread: a read lands here first, and only
    // what is left of an incomplete frame is copied into m_in.
    static thread_local std::array<char, kReadChunkBytes> scratch;
    const ssize_t got = ::recv(m_fd, scratch.data(), scratch.size(), 0);
    if (got == 0)
        return hangUp();
    if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        return hangUp();
    }
    consumeRead(QByteArrayView(scratch.data(), got));
}

void WsSocket::feed(QByteArrayView bytes)
{
    if (m_state != State::Closed)
        consumeRead(bytes);
}

void WsSocket::consumeRead(QByteArrayView data)
{
    if (m_discardInput)
        return;
    const QPointer<WsSocket> alive(this);
    ++t_writeBatch.depth;
    const auto writeBatched = qScopeGuard([] {
        if (--t_writeBatch.depth == 0)
            flushPending();
    });
    if (m_in.isEmpty()) {
        const qsizetype used = consume(data);
        if (alive && used < data.size())
            m_in = data.sliced(used).toByteArray();
        return;
    }
    m_in.append(data.data(), data.size());
    const qsizetype used = consume(m_in);
    // Keep only the rest, in a buffer of its own size.
    if (alive && used > 0)
        m_in = used < m_in.size() ? m_in.sliced(used) : QByteArray();
}

void WsSocket::consumeBuffered()
{
    m_consumePosted = false;
    if (readingHeld() || m_in.isEmpty() || m_state == State::Closed)
        return;
    const QPointer<WsSocket> alive(this);
    ++t_writeBatch.depth;
    const auto writeBatched = qScopeGuard([] {
        if (--t_writeBatch.depth == 0)
            flushPending();
    });
    const QByteArray buffered = std::exchange(m_in, QByteArray());
    const qsizetype used = consume(buffered);
    if (alive && used < buffered.size() && m_in.isEmpty() && !m_discardInput &&
        m_state != State::Closed)
        m_in = buffered.sliced(used);
}

void WsSocket::timerEvent(QTimerEvent *event)
{
    const int id = event->timerId();
    if (id == m_pingHold.timerId()) {
        m_pingHold.stop();
        updateReadNotifier();
    } else if (id == m_stallTimer.timerId()) {
        onStallCheck();
    } else if (id == m_handshakeTimer.timerId()) {
        m_handshakeTimer.stop();
        if (m_state == State::Handshake) {
            qCDebug(lcGateway) << "upgrade not finished in time";
            hangUp();
        }
    } else {
        WireSocket::timerEvent(event);
    }
}

void WsSocket::holdReading(bool hold)
{
    if (m_holdByOwner == hold)
        return;
    m_holdByOwner = hold;
    updateReadNotifier();
}

void WsSocket::updateReadNotifier()
{
    if (m_state == State::Closed)
        return;
    m_readNotifier->setEnabled(!readingHeld());
    // Whole frames may wait in m_in from before the hold: no read event
    // would come for them.
    if (!readingHeld() && !m_in.isEmpty() && !m_consumePosted) {
        m_consumePosted = true;
        QMetaObject::invokeMethod(this, &WsSocket::consumeBuffered, Qt::QueuedConnection);
    }
}

void WsSocket::setOutputBudget(const OutputBudget &budget)
{
    m_budget = budget;
    checkOutput();
}

void WsSocket::checkOutput()
{
    if (m_state == State::Closed)
        return;
    const qint64 max = m_budget.maxQueuedBytes;
    if (max > 0 && m_outBytes > max) {
        qCInfo(lcGateway) << "dropping a connection that does not read:" << m_outBytes
                          << "bytes queued for it";
        notifyOutputOverflowed();
        return hangUp();
    }
    if (max > 0) {
        const bool high = m_holdByOutput ? m_outBytes >= max / 4 : m_outBytes >= max / 2;
        if (high != m_holdByOutput) {
            m_holdByOutput = high;
            updateReadNotifier();
            notifyOutputPressure(high);
        }
    }
}

void WsSocket::noteStuck()
{
    // The kernel's buffer is full: from now on, the stall clock runs.
    if (m_budget.stallTimeoutMs > 0 && !m_stallTimer.isActive()) {
        m_lastProgressMs = monotonicMs();
        m_stallTimer.start(m_budget.stallTimeoutMs, this);
    }
}

void WsSocket::onStallCheck()
{
    m_stallTimer.stop();
    if (m_state == State::Closed || m_outBytes == 0)
        return;
    const qint64 stalled = monotonicMs() - m_lastProgressMs;
    if (stalled < m_budget.stallTimeoutMs) {
        m_stallTimer.start(int(m_budget.stallTimeoutMs - stalled), this);
        return;
    }
    qCInfo(lcGateway) << "dropping a connection that took none of" << m_outBytes
                      << "queued bytes in" << stalled << "ms";
    notifyOutputOverflowed();
    hangUp();
}

qsizetype WsSocket::consume(QByteArrayView data)
{
    // Whatever is past a hang-up, a failure or the peer's close is not read:
    // those clear m_in, which `data` may be a view of.
    qsizetype used = 0;
    if (m_state == State::Handshake) {
        used = consumeHandshake(data);
        if (m_state == State::Handshake)
            return used;
        if (m_state != State::Open)
            return data.size();
    }
    if (m_discardInput || m_hangUpWhenFlushed || m_state == State::Closed)
        return data.size();
    return used + consumeFrames(data.sliced(used));
}

qsizetype WsSocket::consumeHandshake(QByteArrayView data)
{
    const qsizetype end = data.indexOf("\r\n\r\n");
    if (end < 0) {
        if (data.size() > kMaxRequestHeadBytes)
            refuseHandshake("request head too large");
        return 0;
    }
    if (end + 4 > kMaxRequestHeadBytes) {
        refuseHandshake("request head too large");
        return 0;
    }
    if (m_transferHandler && isTransferRequestLine(data.first(end))) {
        handOver(data.toByteArray());
        return data.size();
    }
    UpgradeRequest request;
    if (const char *why = checkUpgrade(data.first(end), request)) {
        refuseHandshake(why);
        return 0;
    }
    const QByteArray accept = QCryptographicHash::hash(QByteArray(request.key).append(kAcceptGuid),
                                                       QCryptographicHash::Sha1)
                                  .toBase64();
    const QByteArray answer = "HTTP/1.1 101 Switching Protocols\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Accept: " +
                              accept + "\r\n\r\n";
    m_handshakeTimer.stop();
    setState(State::Open);
    write(answer, {});
    if (m_state != State::Open)
        return 0;
    emit opened();
    return end + 4;
}

qsizetype WsSocket::consumeFrames(QByteArrayView data)
{
    const QPointer<WsSocket> alive(this);
    qsizetype pos = 0;
    // The rest of a data frame that began after our close frame went out:
    // dropped as it comes, never buffered.
    if (m_skipBytes > 0) {
        const auto skipped = qsizetype(std::min<quint64>(m_skipBytes, quint64(data.size())));
        m_skipBytes -= quint64(skipped);
        pos = skipped;
    }
    while (data.size() - pos >= 2 && !readingHeld()) {
        ws::FrameHead head;
        const ws::HeadRead read =
            ws::readFrameHead(data.data() + pos, size_t(data.size() - pos), head);
        const bool fin = head.fin;
        const auto opcode = Opcode(head.opcode);
        if (head.reserved) {
            failConnection(QWebSocketProtocol::CloseCodeProtocolError,
                           QStringLiteral("Reserved bits set"));
            return data.size();
        }
        if (!head.masked) {
            failConnection(QWebSocketProtocol::CloseCodeProtocolError,
                           QStringLiteral("Client frames must be masked"));
            return data.size();
        }
        if (read == ws::HeadRead::Incomplete)
            break;
        if (read == ws::HeadRead::LengthOutOfRange) {
            failConnection(QWebSocketProtocol::CloseCodeProtocolError,
                           QStringLiteral("Frame length out of range"));
            return data.size();
        }
        const quint64 length = head.length;
        const auto header = qsizetype(head.size);
        const bool control = ws::isControl(quint8(opcode));
        if (control) {
            if (opcode != Opcode::Close && opcode != Opcode::Ping && opcode != Opcode::Pong) {
                failConnection(QWebSocketProtocol::CloseCodeProtocolError,
                               QStringLiteral("Unknown opcode"));
                return data.size();
            }
            if (!fin || length > quint64(kMaxControlPayload)) {
                failConnection(QWebSocketProtocol::CloseCodeProtocolError,
                               QStringLiteral("Fragmented or oversized control frame"));
                return data.size();
            }
        } else {
            const bool inMessage = m_messageOpcode != Opcode::Continuation;
            if (opcode != Opcode::Continuation && opcode != Opcode::Text &&
                opcode != Opcode::Binary) {
                failConnection(QWebSocketProtocol::CloseCodeProtocolError,
                               QStringLiteral("Unknown opcode"));
                return data.size();
            }
            if (inMessage == (opcode != Opcode::Continuation)) {
                failConnection(QWebSocketProtocol::CloseCodeProtocolError,
                               QStringLiteral("Unexpected continuation frame"));
                return data.size();
            }
            if (m_state != State::Open) {
                // Closing: data is not delivered any more, so it is not kept.
                m_message = QByteArray();
                const quint64 here = quint64(data.size() - pos - header);
                if (here < length) {
                    m_skipBytes = length - here;
                    return data.size();
                }
                pos += header + qsizetype(length);
                continue;
            }
            // Refused on the header: a too-large message is never buffered.
            if (length > quint64(m_maxMessageBytes - m_message.size())) {
                // The owner may answer first (an error frame) and close.
                notifyMessageTooLarge();
                if (!alive)
                    return data.size();
                failConnection(QWebSocketProtocol::CloseCodeTooMuchData,
                               QStringLiteral("Message too large"));
                return data.size();
            }
        }
        if (quint64(data.size() - pos - header) < length)
            break;
        QByteArray payload(data.data() + pos + header, qsizetype(length));
        ws::applyMask(payload.data(), size_t(payload.size()), head.mask);
        pos += header + qsizetype(length);
        handleFrame(opcode, fin, std::move(payload));
        if (!alive || m_discardInput || m_hangUpWhenFlushed || m_state == State::Closed)
            return data.size();
    }
    return pos;
}

void WsSocket::handleFrame(Opcode opcode, bool fin, QByteArray payload)
{
    switch (opcode) {
    case Opcode::Close:
        if (payload.size() == 1)
            return failConnection(QWebSocketProtocol::CloseCodeProtocolError,
                                  QStringLiteral("Malformed close frame"));
        if (payload.size() >= 2 && m_state == State::Open) {
            if (!isValidCloseCode(qFromBigEndian<quint16>(payload.constData())))
                return failConnection(QWebSocketProtocol::CloseCodeProtocolError,
                                      QStringLiteral("Invalid close code"));
            if (!isValidUtf8(QByteArrayView(payload).sliced(2)))
                return failConnection(QWebSocketProtocol::CloseCodeWrongDatatype,
                                      QStringLiteral("Close reason is not UTF-8"));
        }
        if (m_state == State::Open) {
            // Echo the peer's code, then hang up once the echo is out.
            setState(State::Closing);
            m_hangUpWhenFlushed = true;
            sendFrame(Opcode::Close, QByteArrayView(payload).first(qMin(payload.size(), 2)));
        } else {
            hangUp();
        }
        return;
    case Opcode::Ping:
        if (m_state != State::Open)
            return;
        if (const quint32 wait = m_pings.take(monotonicMs())) {
            // Past the budget: no pong, and nothing more is read until the
            // next ping would be allowed.
            m_pingHold.start(int(std::clamp<quint32>(wait, kMinPingHoldMs, kMaxPingHoldMs)), this);
            updateReadNotifier();
            return;
        }
        sendFrame(Opcode::Pong, payload);
        return;
    case Opcode::Pong:
        return;
    case Opcode::Text:
    case Opcode::Binary:
        if (!fin) {
            m_messageOpcode = opcode;
            m_message = std::move(payload);
            return;
        }
        break;
    case Opcode::Continuation:
        m_message.append(payload);
        if (!fin)
            return;
        opcode = m_messageOpcode;
        m_messageOpcode = Opcode::Continuation;
        payload = std::exchange(m_message, QByteArray());
        break;
    }
    // Data after our close frame is not delivered; the peer's close may follow.
    if (m_state != State::Open)
        return;
    if (opcode == Opcode::Text)
        notifyTextMessage(QString::fromUtf8(payload));
    else
        notifyBinaryMessage(payload);
}

void WsSocket::refuseHandshake(const char *why)
{
    qCDebug(lcGateway) << "upgrade refused:" << why;
    setState(State::Closing);
    m_discardInput = true;
    m_shutdownWhenFlushed = true;
    m_in = QByteArray();
    startCloseGrace();
    write("HTTP/1.1 400 Bad Request\r\n"
          "Connection: close\r\n"
          "Content-Length: 0\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n",
          {});
}

void WsSocket::failConnection(QWebSocketProtocol::CloseCode code, const QString &reason)
{
    qCDebug(lcGateway) << "closing a connection:" << code << reason;
    m_discardInput = true;
    m_in = QByteArray();
    m_message = QByteArray();
    if (m_state != State::Open)
        return;
    m_shutdownWhenFlushed = true;
    sendClose(code, reason);
}

void WsSocket::close(QWebSocketProtocol::CloseCode code, const QString &reason)
{
    if (m_state == State::Handshake)
        return hangUp();
    if (m_state == State::Open)
        sendClose(code, reason);
}

void WsSocket::sendClose(QWebSocketProtocol::CloseCode code, const QString &reason)
{
    setState(State::Closing);
    QByteArray payload(2, Qt::Uninitialized);
    qToBigEndian<quint16>(quint16(code), payload.data());
    payload += utf8Prefix(reason, kMaxControlPayload - 2);
    startCloseGrace();
    sendFrame(Opcode::Close, payload);
}

void WsSocket::startCloseGrace()
{
    QTimer::singleShot(kCloseGraceMs, this, [this] {
        if (m_state != State::Closed)
            hangUp();
    });
}

void WsSocket::abort()
{
    hangUp();
}

void WsSocket::sendBinaryMessage(const QByteArray &message)
{
    if (m_state == State::Open)
        sendFrame(Opcode::Binary, message);
}

void WsSocket::sendFrame(Opcode opcode, QByteArrayView payload)
{
    std::array<char, ws::kMaxFrameHeadBytes> head;
    const size_t headSize =
        ws::writeFrameHead(quint8(opcode), quint64(payload.size()), head.data());
    write(QByteArrayView(head.data(), qsizetype(headSize)), payload);
}

void WsSocket::write(QByteArrayView head, QByteArrayView body)
{
    if (m_state == State::Closed)
        return;
    // Another thread writing a page to this connection right now means
    // queueing behind it, not waiting for it (that thread may be one that
    // every other yields to).
    std::unique_lock lock(m_shared->mutex, std::try_to_lock);
    // Behind a direct write's unfinished tail everything waits in m_out, and
    // finishDirect flushes it.
    bool behind = !m_out.isEmpty() || (lock.owns_lock() && m_shared->partialAhead);
    if (!behind && (t_writeBatch.depth > 0 || scheduleFlush())) {
        t_writeBatch.pending.append(this);
        queueChunk(head, body);
        if (lock.owns_lock())
            lock.unlock();
        return checkOutput();
    }
    if (!behind && !lock.owns_lock()) {
        lock.lock(); // no flush can come back for it: wait for the other thread
        behind = m_shared->partialAhead;
    }
    if (behind) {
        // Small frames behind a short write share one chunk.
        if (!m_out.isEmpty() && m_out.last().size() + head.size() + body.size() <= kCoalesceBytes) {
            m_out.last().append(head).append(body);
            m_outBytes += head.size() + body.size();
        } else {
            queueChunk(head, body);
        }
        // Behind our own queue the mutex may be another thread's (a page
        // going out): then there is nothing of ours to release.
        if (lock.owns_lock())
            lock.unlock();
        return checkOutput();
    }
    std::array<iovec, 2> parts{{{const_cast<char *>(head.data()), size_t(head.size())},
                                {const_cast<char *>(body.data()), size_t(body.size())}}};
    msghdr message{};
    message.msg_iov = parts.data();
    message.msg_iovlen = body.isEmpty() ? 1 : 2;
    ssize_t sent = ::sendmsg(m_fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            lock.unlock();
            return hangUp();
        }
        sent = 0;
    }
    const qsizetype total = head.size() + body.size();
    if (sent == total) {
        lock.unlock();
        return onDrained();
    }
    // Keep only the unwritten rest.
    QByteArray rest;
    rest.reserve(total - sent);
    if (sent < head.size())
        rest.append(head.sliced(sent)).append(body);
    else
        rest.append(body.sliced(sent - head.size()));
    m_outBytes = rest.size();
    m_out.append(std::move(rest));
    m_shared->queued = true;
    lock.unlock();
    setWriteNotifier(true);
    noteStuck();
    checkOutput();
}

void WsSocket::queueChunk(QByteArrayView head, QByteArrayView body)
{
    QByteArray chunk;
    chunk.reserve(head.size() + body.size());
    chunk.append(head).append(body);
    m_outBytes += chunk.size();
    m_out.append(std::move(chunk));
    m_shared->queued = true;
}

void WsSocket::onWritable()
{
    flush();
}

bool WsSocket::scheduleFlush()
{
    if (t_writeBatch.scheduled)
        return true;
    // Sockets of other threads (none in kithd) write at once.
    QCoreApplication *app = QCoreApplication::instance();
    if (!app || app->thread() != QThread::currentThread())
        return false;
    t_writeBatch.scheduled = true;
    QMetaObject::invokeMethod(
        app,
        [] {
            t_writeBatch.scheduled = false;
            flushPending();
        },
        Qt::QueuedConnection);
    return true;
}

void WsSocket::flushPending()
{
    const QList<QPointer<WsSocket>> pending = std::exchange(t_writeBatch.pending, {});
    for (const QPointer<WsSocket> &socket : pending) {
        if (socket)
            socket->flush();
    }
}

void WsSocket::flush()
{
    if (m_state == State::Closed)
        return;
    // Waits at most for one sendmsg() of another thread's page to this
    // connection (write() queues rather than wait; the flush comes later).
    std::unique_lock lock(m_shared->mutex);
    if (m_shared->partialAhead)
        return; // finishDirect writes the tail first, then flushes
    while (!m_out.isEmpty()) {
        std::array<iovec, kMaxIoVectors> parts;
        int count = 0;
        for (; count < kMaxIoVectors && count < m_out.size(); ++count) {
            const QByteArray &chunk = m_out.at(count);
            const qsizetype skip = count == 0 ? m_outHead : 0;
            parts[count] = {const_cast<char *>(chunk.data() + skip), size_t(chunk.size() - skip)};
        }
        msghdr message{};
        message.msg_iov = parts.data();
        message.msg_iovlen = size_t(count);
        ssize_t sent = ::sendmsg(m_fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0) {
            const bool full = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
            lock.unlock();
            if (!full)
                return hangUp();
            setWriteNotifier(true);
            noteStuck();
            return checkOutput();
        }
        if (sent > 0 && m_stallTimer.isActive())
            m_lastProgressMs = monotonicMs();
        m_outBytes -= sent;
        while (sent > 0) {
            const qsizetype left = m_out.first().size() - m_outHead;
            if (sent < left) {
                m_outHead += sent;
                break;
            }
            sent -= left;
            m_out.removeFirst();
            m_outHead = 0;
        }
    }
    // Drained: give the memory back, including the list's own.
    m_out = QList<QByteArray>();
    m_outHead = 0;
    m_shared->queued = false;
    lock.unlock();
    setWriteNotifier(false);
    m_stallTimer.stop();
    checkOutput();
    if (m_state != State::Closed)
        onDrained();
}

void WsSocket::onDrained()
{
    if (m_hangUpWhenFlushed)
        return hangUp();
    if (m_shutdownWhenFlushed) {
        // Our last bytes, then FIN; the peer's remaining input is read and
        // dropped until its end of stream, so no reset destroys what we sent.
        m_shutdownWhenFlushed = false;
        ::shutdown(m_fd, SHUT_WR);
    }
}

void WsSocket::setWriteNotifier(bool enabled)
{
    if (!m_writeNotifier) {
        if (!enabled)
            return;
        m_writeNotifier = new QSocketNotifier(qintptr(m_fd), QSocketNotifier::Write, this);
        connect(m_writeNotifier, &QSocketNotifier::activated, this, &WsSocket::onWritable);
    }
    m_writeNotifier->setEnabled(enabled);
}

void WsSocket::handOver(QByteArray received)
{
    // Out of this thread's dispatcher before another thread watches the
    // descriptor; the notifiers themselves go later (one of them is calling us).
    m_readNotifier->setEnabled(false);
    m_readNotifier->deleteLater();
    m_readNotifier = nullptr;
    if (m_writeNotifier) {
        m_writeNotifier->setEnabled(false);
        m_writeNotifier->deleteLater();
        m_writeNotifier = nullptr;
    }
    int fd = -1;
    {
        std::lock_guard lock(m_shared->mutex);
        m_state = State::Closed;
        m_shared->open = false;
        m_shared->queued = false;
        m_shared->fd = -1;
        fd = std::exchange(m_fd, -1);
    }
    m_in = QByteArray();
    m_out = QList<QByteArray>();
    m_outHead = 0;
    m_outBytes = 0;
    m_transferHandler(fd, std::move(received));
    QMetaObject::invokeMethod(
        this, [this] { notifyDisconnected(); }, Qt::QueuedConnection);
}

void WsSocket::hangUp()
{
    if (m_state == State::Closed)
        return;
    // Out of the dispatcher before the descriptor is closed; deleted with us.
    m_readNotifier->setEnabled(false);
    if (m_writeNotifier)
        m_writeNotifier->setEnabled(false);
    {
        // No other thread writes to the descriptor once closed (or reused).
        std::lock_guard lock(m_shared->mutex);
        m_state = State::Closed;
        m_shared->open = false;
        m_shared->queued = false;
        m_shared->fd = -1;
        ::close(m_fd);
    }
    m_fd = -1;
    m_in = QByteArray();
    m_message = QByteArray();
    m_out = QList<QByteArray>();
    m_outHead = 0;
    m_outBytes = 0;
    // From the event loop: the owner may be in the middle of a call to us.
    QMetaObject::invokeMethod(
        this, [this] { notifyDisconnected(); }, Qt::QueuedConnection);
}

} // namespace kith::server
