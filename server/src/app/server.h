#pragma once
// kithd as a whole: owns the store, the node's push router, the services (one
// Services), the WebSocket gateway and the admin HTTP endpoint, and runs the
// graceful stop.
// Created by main() (and by tests that want a whole server in-process).

#include "config.h"
#include "listen_socket.h"
#include "metrics.h"
#include "node_status.h"
#include "store.h"

#include <QObject>

#include <memory>

namespace kith::server {

class AdminHttp;
class BlobStore;
class BulkLane;
class Gateway;
class LanAnnouncer;
class LocalPushRouter;
class PushRouter;
class Services;
namespace cluster {
class RedisPushRouter;
}

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
    // SHA-256 of the certificate served over wss (empty for plain ws).
    [[nodiscard]] QByteArray fingerprint() const { return m_fingerprint; }
    [[nodiscard]] quint16 port() const;
    [[nodiscard]] quint16 adminPort() const;
    // This node's id on the bus; 0 when it runs alone.
    [[nodiscard]] quint32 nodeId() const { return m_nodeId; }
    [[nodiscard]] const Metrics &metrics() const { return m_metrics; }

    // Stops accepting, lets in-flight commits finish and their answers go out,
    // closes every socket with 1001, then emits stopped().
    void stop();

signals:
    void stopped();

private:
    void announce();
    void checkListenQueue();
    [[nodiscard]] QByteArray renderMetrics() const;
    // One round of the files' sweep (expired uploads, unreferenced files and blobs).
    void sweepFiles();
    [[nodiscard]] QByteArray renderHealth() const;
    [[nodiscard]] NodeStatus nodeStatus() const;
    void finishStop();

    Config m_config;
    std::unique_ptr<Store> m_store;
    std::unique_ptr<BlobStore> m_blobs;
    bool m_sweeping = false;
    Metrics m_metrics;
    int m_schemaVersion = 0;
    ListenQueueCounters m_listenQueue;
    QByteArray m_fingerprint;
    quint32 m_nodeId = 0;
    bool m_stopping = false;
    bool m_stopEmitted = false;
    // Declared in dependency order: destroyed sessions-first.
    std::unique_ptr<BulkLane> m_bulk;
    std::unique_ptr<LocalPushRouter> m_router;
    std::unique_ptr<cluster::RedisPushRouter> m_bus; // with --bus: routes across nodes
    std::unique_ptr<Services> m_services;
    std::unique_ptr<Gateway> m_gateway;
    std::unique_ptr<AdminHttp> m_admin;
    std::unique_ptr<LanAnnouncer> m_announcer;
};

} // namespace kith::server
