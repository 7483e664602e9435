#pragma once
// The WebSocket front door: listens (ws on kithd's own WsListener, or wss with
// a certificate on QWebSocketServer), sets each accepted socket's limits before
// it reads a byte, and gives it a Session. Owned by the Server; owns the
// sessions.

#include "kith/result.h"
#include "request_budgets.h"
#include "session.h"
#include "transfer_server.h"

#include <QElapsedTimer>
#include <QHostAddress>
#include <QObject>
#include <QSet>
#include <QWebSocketServer>

#include <memory>

class QThread;

namespace kith::server {

struct GatewayOptions
{
    QHostAddress address = QHostAddress::AnyIPv4;
    quint16 port = 7400;
    QString certFile; // both set: wss
    QString keyFile;
    SessionLimits limits;
    // Connections open at once; past it new ones are turned away. <= 0: no limit.
    int maxConnections = 0;
    // Connection attempts the kernel queues before kithd accepts them;
    // <= 0: the system's maximum (net.core.somaxconn).
    int listenBacklog = 0;
    // Connections from one remote address that have not authenticated yet
    // (upgrading, or before auth_ok); past it new ones are turned away. 0: no limit.
    int maxUnauthenticatedPerAddress = 64;
    // Bytes queued per connection, and how long they may sit untaken.
    OutputBudget outputBudget{1024 * 1024, 30'000};
    RequestBudgetOptions budgets;
    // File transfers (HTTP on the same port, over TLS with wss).
    TransferOptions transfers;
};

class TlsListener;
class TlsSocket;
class WsListener;
class WsSocket;

class Gateway : public QObject
{
    Q_OBJECT
public:
    Gateway(const ServiceSet &services, GatewayOptions options, QObject *parent = nullptr);
    ~Gateway() override;

    [[nodiscard]] Status listen();
    [[nodiscard]] quint16 port() const;
    [[nodiscard]] bool secure() const;

    // Shutdown, in order: no new connections; no new requests; close all.
    void stopAccepting();
    void refuseNewRequests();
    void closeAll();
    // Ends every file transfer and their thread (before the store closes).
    void stopTransfers();
    [[nodiscard]] int transferCount() const
    {
        return m_transfers ? m_transfers->openTransfers() : 0;
    }
    [[nodiscard]] int sessionCount() const { return int(m_sessions.size()); }
    // The backlog the listening socket was given.
    [[nodiscard]] int listenBacklog() const { return m_backlog; }

signals:
    void allSessionsClosed();

private:
    [[nodiscard]] Status listenSecure();
    [[nodiscard]] Status listenPlain();
    [[nodiscard]] Result<int> openSocket() const;
    [[nodiscard]] Error listenError(v1::ErrorCode code, const QString &why) const;
    void onNewConnection();
    void onNewWebSocket(WsSocket *socket);
    // Gives `socket` a Session, or closes it when the server is stopping.
    void adopt(WireSocket *socket);
    void onAcceptError(QAbstractSocket::SocketError error, const QString &reason);
    void onRefused(int open);
    void pauseAccepting();
    void resumeAccepting();
    // Ends the TLS thread; the listener and the sockets it holds go with it.
    void stopTlsThread();
    // The per-address count of connections not yet authenticated: true
    // (counted) when `socket` may join it, false when its address is full.
    [[nodiscard]] bool admitUnauthenticated(QObject *socket, const QHostAddress &peer);
    void releaseUnauthenticated(QObject *socket);

    ServiceSet m_services;
    GatewayOptions m_options;
    int m_backlog = 0;
    RequestBudgets m_budgets;
    QHash<QObject *, QString> m_unauthenticated; // socket -> its remote address
    QHash<QString, int> m_unauthenticatedByAddress;
    // Before the listeners, which hand connections to them.
    std::unique_ptr<TransferServer> m_transfers;
    std::unique_ptr<QWebSocketServer> m_server; // wss: upgrades what m_tls hands it
    // wss: the TLS handshakes run on a thread of their own, off the sessions'
    // loop; m_tls lives on it (deleted there as it ends) and is spoken to with
    // queued calls only.
    std::unique_ptr<QThread> m_tlsThread;
    TlsListener *m_tls = nullptr;
    quint16 m_tlsPort = 0;
    std::unique_ptr<WsListener> m_listener; // ws
    // wss: the TLS sockets handed to m_server and not upgraded yet, by their
    // peer's address and port (QWebSocket does not say which socket it wraps;
    // its session holds that socket's reading).
    QHash<std::pair<QString, quint16>, TlsSocket *> m_upgrading;
    QSet<Session *> m_sessions;
    quint64 m_nextConnectionId = 1;
    bool m_stopping = false;
    QElapsedTimer m_lastRefusalLog; // refusals are logged at most every kRefusalLogMs
    int m_refusedUnlogged = 0;
};

} // namespace kith::server
