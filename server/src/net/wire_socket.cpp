#include "wire_socket.h"

#include <QWebSocket>

namespace kith::server {

QtWireSocket::QtWireSocket(QWebSocket *socket, QObject *parent)
    : WireSocket(parent)
    , m_socket(socket)
{
    socket->setParent(this);
    connect(socket, &QWebSocket::binaryMessageReceived, this,
            [this](const QByteArray &message) { notifyBinaryMessage(message); });
    connect(socket, &QWebSocket::textMessageReceived, this,
            [this](const QString &message) { notifyTextMessage(message); });
    connect(socket, &QWebSocket::disconnected, this, [this] { notifyDisconnected(); });
}

void QtWireSocket::setMaxMessageBytes(qint64 bytes)
{
    if (!m_socket)
        return;
    m_socket->setMaxAllowedIncomingFrameSize(quint64(bytes));
    m_socket->setMaxAllowedIncomingMessageSize(quint64(bytes));
}

void QtWireSocket::sendBinaryMessage(const QByteArray &message)
{
    if (!m_socket)
        return;
    if (m_budget.maxQueuedBytes > 0 &&
        m_socket->bytesToWrite() + message.size() > m_budget.maxQueuedBytes) {
        notifyOutputOverflowed();
        m_socket->abort();
        return;
    }
    m_socket->sendBinaryMessage(message);
}

qint64 QtWireSocket::bytesToWrite() const
{
    return m_socket ? m_socket->bytesToWrite() : 0;
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
