#include "wire_socket.h"

#include <QWebSocket>

namespace kith::server {

QtWireSocket::QtWireSocket(QWebSocket *socket, QObject *parent)
    : WireSocket(parent)
    , m_socket(socket)
{
    socket->setParent(this);
    connect(socket, &QWebSocket::binaryMessageReceived, this, &WireSocket::binaryMessageReceived);
    connect(socket, &QWebSocket::textMessageReceived, this, &WireSocket::textMessageReceived);
    connect(socket, &QWebSocket::disconnected, this, &WireSocket::disconnected);
}

void QtWireSocket::sendBinaryMessage(const QByteArray &message)
{
    if (m_socket)
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
