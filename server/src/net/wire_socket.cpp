#include "wire_socket.h"

#include "logging.h"
#include "rate_limit.h"
#include "tls_socket.h"

#include <QTimerEvent>
#include <QWebSocket>

namespace kith::server {

namespace {
constexpr qint64 kReadSliceBytes = 16 * 1024;
} // namespace

QtWireSocket::QtWireSocket(QWebSocket *socket, TlsSocket *tls, QObject *parent)
    : WireSocket(parent)
    , m_socket(socket)
    , m_tls(tls)
{
    socket->setParent(this);
    connect(socket, &QWebSocket::binaryMessageReceived, this,
            [this](const QByteArray &message) { notifyBinaryMessage(message); });
    connect(socket, &QWebSocket::textMessageReceived, this,
            [this](const QString &message) { notifyTextMessage(message); });
    connect(socket, &QWebSocket::disconnected, this, [this] {
        m_stallTimer.stop();
        notifyDisconnected();
    });
    // Said when the kernel took encrypted bytes (or plain ones, without TLS).
    connect(socket, &QWebSocket::bytesWritten, this, [this] { onWritten(); });
}

void QtWireSocket::setOutputBudget(const OutputBudget &budget)
{
    m_budget = budget;
    checkOutput();
}

void QtWireSocket::setMaxMessageBytes(qint64 bytes)
{
    if (!m_socket)
        return;
    m_socket->setMaxAllowedIncomingFrameSize(quint64(bytes));
    m_socket->setMaxAllowedIncomingMessageSize(quint64(bytes));
    // A flood is read and decrypted a slice per turn of the loop, as a ws://
    // socket reads a chunk per turn: the largest frame the client may send
    // now (QWebSocket waits until a frame's whole payload is there) and a
    // little more. 24 KiB before authentication, 272 KiB after.
    if (m_tls)
        m_tls->setUnheldReadLimit(bytes + kReadSliceBytes);
}

void QtWireSocket::holdReading(bool hold)
{
    if (m_holdByOwner == hold)
        return;
    m_holdByOwner = hold;
    applyHold();
}

void QtWireSocket::applyHold()
{
    if (m_tls)
        m_tls->setHeld(m_holdByOwner || m_holdByOutput);
}

void QtWireSocket::sendBinaryMessage(const QByteArray &message)
{
    if (!m_socket || m_dropped)
        return;
    if (m_budget.maxQueuedBytes > 0 && bytesToWrite() + message.size() > m_budget.maxQueuedBytes) {
        qCInfo(lcGateway) << "dropping a connection that does not read:" << bytesToWrite()
                          << "bytes queued for it";
        m_dropped = true;
        m_stallTimer.stop();
        notifyOutputOverflowed();
        m_socket->abort();
        return;
    }
    m_socket->sendBinaryMessage(message);
    checkOutput();
}

qint64 QtWireSocket::bytesToWrite() const
{
    if (!m_socket)
        return 0;
    return m_socket->bytesToWrite() + (m_tls ? m_tls->encryptedBytesToWrite() : 0);
}

void QtWireSocket::onWritten()
{
    m_lastProgressMs = monotonicMs();
    checkOutput();
}

void QtWireSocket::checkOutput()
{
    if (!m_socket || m_dropped)
        return;
    const qint64 queued = bytesToWrite();
    const qint64 max = m_budget.maxQueuedBytes;
    if (max > 0) {
        const bool high = m_holdByOutput ? queued >= max / 4 : queued >= max / 2;
        if (high != m_holdByOutput) {
            m_holdByOutput = high;
            applyHold();
            notifyOutputPressure(high);
        }
    }
    // Started once per stall period at most, not per message.
    if (queued > 0 && m_budget.stallTimeoutMs > 0 && !m_stallTimer.isActive()) {
        m_lastProgressMs = monotonicMs();
        m_stallTimer.start(m_budget.stallTimeoutMs, this);
    }
}

void QtWireSocket::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_stallTimer.timerId())
        return WireSocket::timerEvent(event);
    m_stallTimer.stop();
    const qint64 queued = bytesToWrite();
    if (!m_socket || m_dropped || queued == 0)
        return;
    const qint64 stalled = monotonicMs() - m_lastProgressMs;
    if (stalled < m_budget.stallTimeoutMs) {
        m_stallTimer.start(int(m_budget.stallTimeoutMs - stalled), this);
        return;
    }
    qCInfo(lcGateway) << "dropping a connection that took none of" << queued << "queued bytes in"
                      << stalled << "ms";
    m_dropped = true;
    notifyOutputOverflowed();
    m_socket->abort();
}

void QtWireSocket::close(QWebSocketProtocol::CloseCode code, const QString &reason)
{
    if (m_socket)
        m_socket->close(code, reason);
}

void QtWireSocket::abort()
{
    if (m_socket)
        m_socket->abort();
}

QHostAddress QtWireSocket::peerAddress() const
{
    return m_socket ? m_socket->peerAddress() : QHostAddress();
}

} // namespace kith::server
