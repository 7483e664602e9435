#pragma once
// kithd as a whole: owns the store, the services, the session registry, the
// WebSocket gateway and the admin HTTP endpoint, and runs the graceful stop.
// Created by main() (and by tests that want a whole server in-process).

#include "config.h"
#include "metrics.h"
#include "store.h"

#include <QObject>

#include <memory>

namespace kith::server {

class AdminHttp;
class AuthService;
class BulkLane;
class Gateway;
class GroupService;
class MessageService;
class PasswordHasher;
class PresenceService;
class SessionRegistry;
class UserService;

class Server : public QObject
{
    Q_OBJECT
public:
    Server(Config config, std::unique_ptr<Store> store, QObject *parent = nullptr);
    ~Server() override;

    // Creates the data folder, opens the store, listens. A one-line error otherwise.
    [[nodiscard]] Status start();
    // "kithd ready: ws://HOST:PORT/ admin=http://127.0.0.1:APORT/"
    [[nodiscard]] QString readyLine() const;
    // Addresses a client on this machine or the LAN can connect to.
    [[nodiscard]] QStringList connectUrls() const;
    [[nodiscard]] quint16 port() const;
    [[nodiscard]] quint16 adminPort() const;

    // Stops accepting, lets in-flight commits finish and their answers go out,
    // closes every socket with 1001, then emits stopped().
    void stop();

signals:
    void stopped();

private:
    [[nodiscard]] QByteArray renderMetrics() const;

    Config m_config;
    std::unique_ptr<Store> m_store;
    Metrics m_metrics;
    int m_schemaVersion = 0;
    bool m_stopping = false;
    bool m_stopEmitted = false;
    // Declared in dependency order: destroyed sessions-first.
    std::unique_ptr<PasswordHasher> m_hasher;
    std::unique_ptr<BulkLane> m_bulk;
    std::unique_ptr<SessionRegistry> m_registry;
    std::unique_ptr<PresenceService> m_presence;
    std::unique_ptr<AuthService> m_auth;
    std::unique_ptr<MessageService> m_messages;
    std::unique_ptr<GroupService> m_groups;
    std::unique_ptr<UserService> m_users;
    std::unique_ptr<Gateway> m_gateway;
    std::unique_ptr<AdminHttp> m_admin;
};

} // namespace kith::server
