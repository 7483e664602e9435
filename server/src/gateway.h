#pragma once
// The WebSocket front door: listens (ws, or wss with a certificate), sets each
// accepted socket's limits before it reads a byte, and gives it a Session.
// Owned by the Server; owns the sessions.

#include "kith/result.h"
#include "session.h"

#include <QHostAddress>
#include <QObject>
#include <QSet>
#include <QWebSocketServer>

#include <memory>

namespace kith::server {

struct GatewayOptions
{
    QHostAddress address = QHostAddress::AnyIPv4;
    quint16 port = 7400;
    QString certFile; // both set: wss
    QString keyFile;
    SessionLimits limits;
};

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
    [[nodiscard]] int sessionCount() const { return int(m_sessions.size()); }

signals:
    void allSessionsClosed();

private:
    void onNewConnection();
    void onAcceptError(QAbstractSocket::SocketError error);

    ServiceSet m_services;
    GatewayOptions m_options;
    std::unique_ptr<QWebSocketServer> m_server;
    QSet<Session *> m_sessions;
    quint64 m_nextConnectionId = 1;
    bool m_stopping = false;
};

} // namespace kith::server
