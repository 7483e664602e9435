#pragma once
// The listening side of kithd's own ws:// layer: a QTcpServer that takes each
// accepted descriptor as it is (no QTcpSocket) and runs the upgrade on a
// WsSocket. Owned by the Gateway; owns each socket until its upgrade succeeds.

#include <QTcpServer>

namespace kith::server {

class WsSocket;

class WsListener final : public QTcpServer
{
    Q_OBJECT
public:
    explicit WsListener(qint64 maxMessageBytes, int handshakeTimeoutMs, QObject *parent = nullptr);

signals:
    // `socket` finished its upgrade; whoever connects here takes it over
    // (setParent), or it stays the listener's until it closes.
    void newWebSocket(kith::server::WsSocket *socket);

protected:
    void incomingConnection(qintptr socketDescriptor) override;

private:
    qint64 m_maxMessageBytes;
    int m_handshakeTimeoutMs;
};

} // namespace kith::server
