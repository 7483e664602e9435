#include "ws_listener.h"

#include "ws_socket.h"

namespace kith::server {

WsListener::WsListener(qint64 maxMessageBytes, int handshakeTimeoutMs, QObject *parent)
    : QTcpServer(parent)
    , m_maxMessageBytes(maxMessageBytes)
    , m_handshakeTimeoutMs(handshakeTimeoutMs)
{}

void WsListener::incomingConnection(qintptr socketDescriptor)
{
    auto *socket =
        new WsSocket(int(socketDescriptor), m_maxMessageBytes, m_handshakeTimeoutMs, this);
    // A refused or timed-out upgrade ends here; an accepted one is handed on.
    const auto dropped = connect(socket, &WsSocket::disconnected, socket, &QObject::deleteLater);
    connect(socket, &WsSocket::opened, this, [this, socket, dropped] {
        disconnect(dropped);
        socket->disconnect(this);
        emit newWebSocket(socket);
    });
}

} // namespace kith::server
