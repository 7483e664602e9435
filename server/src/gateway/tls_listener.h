#pragma once
// The listening side of wss:// (kithd serving TLS itself): a QTcpServer that
// runs each connection's TLS handshake and then looks at its first request
// line, without reading it, to tell a WebSocket upgrade from a file transfer
// (a path under /v1/), as WsListener does for ws://. Each goes on as it came:
// an upgrade to QWebSocketServer::handleConnection, a transfer to the
// transfer thread. Owned by the Gateway; owns each socket until it is handed
// on.
//
// It runs on a thread of its own (the Gateway's TLS thread), so that the
// handshakes' CPU (a few ms each) is not spent on the loop that serves the
// sessions. Each socket handed on is moved first to the thread the listener
// was made on (the gateway's), and the signal that hands it on is queued
// there. Everything else of it (the budgets, the timeouts, the peek) stays on
// the listener's thread; the gateway talks to it with queued calls only.
//
// Budgets of the connections not handed on yet: the handshake and the first
// line within one timeout, so many at once in all and per remote address
// (past either, a new connection is closed before its handshake starts).

#include <QHash>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QTcpServer>

class QThread;
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

    // Sockets are handed on to the thread this is made on.
    TlsListener(QSslConfiguration tls, Limits limits, QObject *parent = nullptr);
    ~TlsListener() override; // on its own thread: frees the sockets not handed on yet

    [[nodiscard]] int pendingConnections() const { return int(m_pending.size()); }

signals:
    // The socket (encrypted, nothing read from it, no parent, on the thread
    // the listener was made on) asks for a WebSocket upgrade; whoever
    // connects here takes it.
    void upgradeRequested(QSslSocket *socket);
    // Its first request is a file transfer; the same.
    void transferRequested(QSslSocket *socket);
    // A connection closed before its handshake, past the budgets.
    void refused();
    // acceptError() with the reason, read on the listener's thread.
    void acceptFailed(QAbstractSocket::SocketError error, const QString &reason);

protected:
    void incomingConnection(qintptr socketDescriptor) override;

private:
    void look(QSslSocket *socket);
    void drop(QSslSocket *socket);
    // Out of the pending set and this listener's hands.
    void release(QSslSocket *socket);
    // From the event loop: to the gateway's thread, then `signal` with it.
    void handOn(QSslSocket *socket, void (TlsListener::*signal)(QSslSocket *));

    QThread *const m_handTo; // the thread the listener was made on
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
