#include "tls_socket.h"

#include "kith/ws_frame.h"
#include "logging.h"

#include <QTimerEvent>

#include <algorithm>

namespace kith::server {

void TlsSocket::setHeld(bool held)
{
    if (m_held == held)
        return;
    const bool wasHeld = isHeld();
    m_held = held;
    applyHold(wasHeld);
}

void TlsSocket::applyHold(bool wasHeld)
{
    const bool held = isHeld();
    if (held == wasHeld)
        return;
    // The socket below reads from the kernel again at once.
    setReadBufferSize(held ? kHeldBufferBytes : m_unheldBufferBytes);
    // Whole messages may wait from before the hold: no readyRead() would
    // come for them until the peer sent more. Announced from the event loop,
    // not from inside whoever released the hold (possibly QWebSocket's own
    // call).
    if (!held && !m_announcePosted) {
        m_announcePosted = true;
        QMetaObject::invokeMethod(this, &TlsSocket::announceBuffered, Qt::QueuedConnection);
    }
}

void TlsSocket::setUnheldReadLimit(qint64 bytes)
{
    m_unheldBufferBytes = bytes;
    if (!isHeld())
        setReadBufferSize(bytes);
}

void TlsSocket::startPingBudget()
{
    m_written = Written::UpgradeHead;
    m_headEndMatched = 0;
}

qint64 TlsSocket::bytesAvailable() const
{
    return isHeld() ? 0 : QSslSocket::bytesAvailable();
}

bool TlsSocket::canReadLine() const
{
    return !isHeld() && QSslSocket::canReadLine();
}

qint64 TlsSocket::writeData(const char *data, qint64 len)
{
    const qint64 written = QSslSocket::writeData(data, len);
    if (written > 0 && m_written != Written::Unwatched)
        watchWritten(data, written);
    return written;
}

// Follows the frames through however QWebSocket splits its writes (a head
// and its payload apart, for a pong), looking at heads only.
void TlsSocket::watchWritten(const char *data, qint64 len)
{
    const char *p = data;
    const char *const end = data + len;
    while (p < end) {
        switch (m_written) {
        case Written::Unwatched:
            return;
        case Written::UpgradeHead: {
            static constexpr char kEnd[] = "\r\n\r\n";
            for (; p < end && m_headEndMatched < 4; ++p)
                m_headEndMatched = *p == kEnd[m_headEndMatched] ? m_headEndMatched + 1
                                   : *p == '\r'                 ? 1
                                                                : 0;
            if (m_headEndMatched == 4)
                m_written = Written::FrameHead;
            break;
        }
        case Written::Payload: {
            const quint64 skip = std::min(m_payloadLeft, quint64(end - p));
            p += skip;
            m_payloadLeft -= skip;
            if (m_payloadLeft == 0)
                m_written = Written::FrameHead;
            break;
        }
        case Written::FrameHead: {
            m_head[m_headBytes++] = quint8(*p++);
            ws::FrameHead head;
            const ws::HeadRead read =
                ws::readFrameHead(reinterpret_cast<const char *>(m_head.data()), m_headBytes, head);
            if (read == ws::HeadRead::Incomplete && m_headBytes < m_head.size())
                break;
            m_headBytes = 0;
            if (read != ws::HeadRead::Complete) {
                // Not what QWebSocket writes: the budget cannot follow it (the
                // output budget still bounds what is queued).
                qCWarning(lcGateway) << "cannot follow the frames written to a wss:// connection;"
                                        " its WebSocket pings are not counted";
                m_written = Written::Unwatched;
                return;
            }
            m_payloadLeft = head.length;
            m_written = m_payloadLeft > 0 ? Written::Payload : Written::FrameHead;
            if (head.opcode == ws::kPong)
                pongWritten();
            break;
        }
        }
    }
}

void TlsSocket::pongWritten()
{
    const qint64 now = monotonicMs();
    // Past the budget (a ping read before a hold could stop it): it went out
    // all the same, as QWebSocket cannot be told otherwise.
    quint32 wait = m_pings.take(now);
    // The last token taken: the next ping is not read until one is back.
    if (wait == 0)
        wait = m_pings.waitMs(now);
    if (wait == 0)
        return;
    const bool wasHeld = isHeld();
    m_pingHold.start(int(std::clamp<quint32>(wait, kMinPingHoldMs, kMaxPingHoldMs)), this);
    applyHold(wasHeld);
}

void TlsSocket::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_pingHold.timerId())
        return QSslSocket::timerEvent(event);
    // A timer may fire a little early: held until the token is really there.
    if (const quint32 wait = m_pings.waitMs(monotonicMs())) {
        m_pingHold.start(int(std::clamp<quint32>(wait, kMinPingHoldMs, kMaxPingHoldMs)), this);
        return;
    }
    m_pingHold.stop();
    applyHold(true);
}

void TlsSocket::announceBuffered()
{
    m_announcePosted = false;
    if (isHeld() || state() != ConnectedState)
        return;
    // What is still encrypted is read on by the TLS layer once QWebSocket
    // has taken what is decrypted.
    if (QSslSocket::bytesAvailable() > 0)
        emit readyRead();
}

} // namespace kith::server
