#include "node_status.h"

#include "metrics.h"
#include "postgres_store.h"
#include "redis_push_router.h"
#include "sqlite_store.h"

namespace kith::server {

namespace {
const char *stateName(cluster::RedisPushRouter::State state)
{
    using State = cluster::RedisPushRouter::State;
    switch (state) {
    case State::Stopped:
        return "stopped";
    case State::Connecting:
        return "connecting";
    case State::Joining:
        return "joining";
    case State::Ready:
        return "ready";
    case State::Waiting:
        return "unreachable, trying again";
    }
    return "?";
}

QByteArray nodeLabel(const char *key, quint32 node)
{
    return QByteArray("{") + key + "=\"" + QByteArray::number(node) + "\"}";
}
} // namespace

QByteArray renderHealth(const NodeStatus &status)
{
    bool healthy = true;
    QByteArray store = "store " + status.storeLocation.toUtf8();
    if (const auto *postgres = dynamic_cast<const PostgresStore *>(status.store)) {
        const bool reachable = postgres->databaseReachable();
        healthy = healthy && reachable;
        store += reachable ? " reachable" : " unreachable";
        store += "; read connections " + QByteArray::number(postgres->openReadConnections()) +
                 "; batch retries " + QByteArray::number(postgres->batchRetries()) +
                 "; writer reconnects " + QByteArray::number(postgres->writerReconnects());
    } else {
        store += " ok";
    }
    QByteArray bus = "bus ";
    if (status.bus) {
        const cluster::RedisPushRouter::Stats stats = status.bus->stats();
        const bool ready = status.bus->isReady();
        healthy = healthy && ready;
        bus += status.busLocation.toUtf8() + ' ' + stateName(stats.state);
        if (ready)
            bus += "; " + QByteArray::number(stats.nodes.size()) + " other nodes; " +
                   QByteArray::number(stats.remoteUsers) + " users on them";
        if (!stats.lastError.isEmpty())
            bus += "; last error: " + stats.lastError.toUtf8();
    } else {
        bus += "none (one node)";
    }
    QByteArray out = healthy ? "ok\n" : "degraded\n";
    out += "node " + QByteArray::number(status.node) + '\n';
    out += store + '\n';
    out += bus + '\n';
    return out;
}

QByteArray renderNodeMetrics(const NodeStatus &status)
{
    QByteArray out;
    appendMetricFamily(out, "kith_node_id", "gauge", "This node's id on the bus (0: one node).");
    appendMetricSample(out, "kith_node_id", status.node);
    if (const auto *postgres = dynamic_cast<const PostgresStore *>(status.store)) {
        appendMetricFamily(out, "kith_store_reachable", "gauge",
                           "1 while the database answers (as its listening connection sees it).");
        appendMetricSample(out, "kith_store_reachable", postgres->databaseReachable() ? 1 : 0);
        appendMetricFamily(out, "kith_store_read_connections", "gauge",
                           "Read connections to the database open now.");
        appendMetricSample(out, "kith_store_read_connections",
                           quint64(qMax(0, postgres->openReadConnections())));
        appendMetricFamily(out, "kith_store_batch_retries_total", "counter",
                           "Write batches run again (a deadlock, another node's duplicate).");
        appendMetricSample(out, "kith_store_batch_retries_total", postgres->batchRetries());
        appendMetricFamily(out, "kith_store_writer_reconnects_total", "counter",
                           "Times the writer connected again after losing the database.");
        appendMetricSample(out, "kith_store_writer_reconnects_total", postgres->writerReconnects());
    } else if (const auto *sqlite = dynamic_cast<const SqliteStore *>(status.store)) {
        appendMetricFamily(out, "kith_store_read_connections", "gauge",
                           "Read connections to the database open now.");
        appendMetricSample(out, "kith_store_read_connections",
                           quint64(qMax(0, sqlite->openReadConnections())));
    }
    if (!status.bus)
        return out;
    const cluster::RedisPushRouter::Stats stats = status.bus->stats();
    appendMetricFamily(out, "kith_bus_ready", "gauge",
                       "1 while this node routes over the bus (joined, directory read).");
    appendMetricSample(out, "kith_bus_ready", status.bus->isReady() ? 1 : 0);
    appendMetricFamily(out, "kith_bus_nodes", "gauge", "Other nodes alive, as last seen.");
    appendMetricSample(out, "kith_bus_nodes", quint64(stats.nodes.size()));
    appendMetricFamily(out, "kith_bus_remote_users", "gauge",
                       "Users online on other nodes (this node's copy of the directory).");
    appendMetricSample(out, "kith_bus_remote_users", quint64(stats.remoteUsers));
    appendMetricFamily(out, "kith_bus_reconnects_total", "counter",
                       "Times this node joined the bus again after losing it.");
    appendMetricSample(out, "kith_bus_reconnects_total", stats.reconnects);
    appendMetricFamily(out, "kith_bus_published_total", "counter",
                       "Pushes and closes published to another node's channel, by that node.");
    for (const auto &[node, count] : stats.publishedTo)
        appendMetricSample(out, "kith_bus_published_total", count, nodeLabel("to", node));
    appendMetricFamily(out, "kith_bus_published_all_total", "counter",
                       "Messages published to every node (changes of members; closes while "
                       "the directory was stale).");
    appendMetricSample(out, "kith_bus_published_all_total", stats.broadcasts);
    appendMetricFamily(out, "kith_bus_published_bytes_total", "counter",
                       "Bytes of everything this node published.");
    appendMetricSample(out, "kith_bus_published_bytes_total", stats.publishedBytes);
    appendMetricFamily(out, "kith_bus_received_total", "counter",
                       "Messages from other nodes (pushes, closes, changes of members), by "
                       "the node that sent them.");
    for (const auto &[node, count] : stats.receivedFrom)
        appendMetricSample(out, "kith_bus_received_total", count, nodeLabel("from", node));
    appendMetricFamily(out, "kith_bus_received_bytes_total", "counter", "Bytes of those messages.");
    appendMetricSample(out, "kith_bus_received_bytes_total", stats.receivedBytes);
    appendMetricFamily(out, "kith_bus_directory_updates_total", "counter",
                       "Changes of the directory heard from other nodes.");
    appendMetricSample(out, "kith_bus_directory_updates_total", stats.directoryUpdates);
    appendMetricFamily(out, "kith_bus_dropped_total", "counter",
                       "Pushes for other nodes dropped (backlog full while the bus was away, "
                       "or Redis not keeping up); clients repair them.");
    appendMetricSample(out, "kith_bus_dropped_total", stats.dropped);
    appendMetricFamily(out, "kith_bus_malformed_total", "counter",
                       "Messages on the bus this node could not read.");
    appendMetricSample(out, "kith_bus_malformed_total", stats.malformed);
    appendMetricFamily(out, "kith_bus_reaped_total", "counter",
                       "Dead nodes this node cleaned up after.");
    appendMetricSample(out, "kith_bus_reaped_total", stats.reaped);
    appendMetricFamily(out, "kith_bus_backlog_bytes", "gauge",
                       "Pushes waiting for the bus to come back.");
    appendMetricSample(out, "kith_bus_backlog_bytes", quint64(qMax<qint64>(0, stats.backlogBytes)));
    return out;
}

} // namespace kith::server
