#include "ws_listener.h"

#include "ws_socket.h"

#include <sys/socket.h>
#include <unistd.h>

namespace kith::server {

namespace {
// Sent to a connection turned away at the limit, before its request is read;
// WebSocket clients report the status, browsers and proxies honour Retry-After.
constexpr char kServerFull[] = "HTTP/1.1 503 Service Unavailable\r\n"
                               "Retry-After: 10\r\n"
                               "Connection: close\r\n"
                               "Content-Length: 0\r\n\r\n";
} // namespace

WsListener::WsListener(qint64 maxMessageBytes, int handshakeTimeoutMs, QObject *parent)
    : QTcpServer(parent)
    , m_maxMessageBytes(maxMessageBytes)
    , m_handshakeTimeoutMs(handshakeTimeoutMs)
{}

void WsListener::incomingConnection(qintptr socketDescriptor)
{
    if (m_limit > 0 && m_open >= m_limit) {
        // Best effort and never blocking: the socket is fresh, its send buffer empty.
        (void)::send(int(socketDescriptor), kServerFull, sizeof kServerFull - 1,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(int(socketDescriptor));
        emit refused(m_open);
        return;
    }
    auto *socket =
        new WsSocket(int(socketDescriptor), m_maxMessageBytes, m_handshakeTimeoutMs, this);
    if (m_admit && !m_admit(socket)) {
        // Nothing was read or queued yet: the answer goes straight out.
        (void)::send(int(socketDescriptor), kServerFull, sizeof kServerFull - 1,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
        delete socket;
        return;
    }
    if (m_transferHandler)
        socket->setTransferHandler(m_transferHandler);
    ++m_open;
    // Counted until the socket is gone, whoever owns it by then.
    connect(socket, &QObject::destroyed, this, [this] { --m_open; });
    // A refused or timed-out upgrade ends here; an accepted one is handed on.
    const auto dropped = connect(socket, &WsSocket::disconnected, socket, &QObject::deleteLater);
    connect(
        socket, &WsSocket::opened, this,
        [this, socket, dropped] {
            disconnect(dropped);
            emit newWebSocket(socket);
        },
        Qt::SingleShotConnection);
}

} // namespace kith::server
