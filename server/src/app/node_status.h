#pragma once
// What /healthz and this node's part of /metrics say about where kithd keeps
// and routes things: which node this is, whether the store and the bus can
// be reached, and their own counters (PostgreSQL's read pool, retries and
// reconnects; the bus's traffic by node, which shows that pushes are routed).
// Rendered by the Server on the session loop.

#include <QByteArray>
#include <QString>

namespace kith::server {

class Store;
namespace cluster {
class RedisPushRouter;
}

struct NodeStatus
{
    quint32 node = 0; // 0: one node, no bus
    const Store *store = nullptr;
    QString storeLocation; // without a password
    const cluster::RedisPushRouter *bus = nullptr;
    QString busLocation; // without a password
};

// First line "ok", or "degraded" when the store or the bus cannot be reached
// (the node serves what it can either way); then a line each on the node,
// the store and the bus.
[[nodiscard]] QByteArray renderHealth(const NodeStatus &status);
// Prometheus text: kith_node_id, kith_store_*, kith_bus_*.
[[nodiscard]] QByteArray renderNodeMetrics(const NodeStatus &status);

} // namespace kith::server
