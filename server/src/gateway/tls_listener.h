#pragma once
// The listening side of wss:// (kithd serving TLS itself): a QTcpServer that
// runs each connection's TLS handshake and then looks at its first request
// line, without reading it, to tell a WebSocket upgrade from a file transfer
// (a path under /v1/), as WsListener does for ws://. Each goes on as it came:
// an upgrade to QWebSocketServer::handleConnection, a transfer to the
// transfer thread. Owned by the Gateway; owns each socket until it is handed
// on.
//
// Budgets of the connections not handed on yet: the handshake and the first
// line within one timeout, so many at once in all and per remote address
// (past either, a new connection is closed before its handshake starts).

#include <QHash>
#include <QSslConfiguration>
#include <QTcpServer>

class QSslSocket;
class QTimer;

namespace kith::server {

class TlsListener final : public QTcpServer
{
    Q_OBJECT
public:
    struct Limits
    {
        int timeoutMs = 10'000;
        int maxPending = 1024;
        int maxPendingPerAddress = 64; // <= 0: no limit per address
    };

    TlsListener(QSslConfiguration tls, Limits limits, QObject *parent = nullptr);
    ~TlsListener() override;

    [[nodiscard]] int pendingConnections() const { return int(m_pending.size()); }

signals:
    // The socket (encrypted, nothing read from it, no parent) asks for a
    // WebSocket upgrade; whoever connects here takes it.
    void upgradeRequested(QSslSocket *socket);
    // Its first request is a file transfer; the same.
    void transferRequested(QSslSocket *socket);
    // A connection closed before its handshake, past the budgets.
    void refused();

protected:
    void incomingConnection(qintptr socketDescriptor) override;

private:
    void look(QSslSocket *socket);
    void drop(QSslSocket *socket);
    // Out of the pending set and this listener's hands.
    void release(QSslSocket *socket);

    QSslConfiguration m_tls;
    Limits m_limits;
    struct Pending
    {
        QString address;
        QTimer *timeout = nullptr; // the socket's child
    };
    QHash<QSslSocket *, Pending> m_pending;
    QHash<QString, int> m_pendingByAddress;
};

} // namespace kith::server
