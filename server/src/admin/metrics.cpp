#include "metrics.h"

#include "kith/protocol.h"

namespace kith::server {

namespace {
void family(QByteArray &out, const char *name, const char *type, const char *help);
void sample(QByteArray &out, const char *name, quint64 value, const QByteArray &labels = {});
} // namespace

void appendMetricFamily(QByteArray &out, const char *name, const char *type, const char *help)
{
    family(out, name, type, help);
}

void appendMetricSample(QByteArray &out, const char *name, quint64 value, const QByteArray &labels)
{
    sample(out, name, value, labels);
}

namespace {
void family(QByteArray &out, const char *name, const char *type, const char *help)
{
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void sample(QByteArray &out, const char *name, quint64 value, const QByteArray &labels)
{
    out += name;
    out += labels;
    out += ' ';
    out += QByteArray::number(value);
    out += '\n';
}
} // namespace

void Metrics::errorSent(v1::ErrorCode code)
{
    if (v1::ErrorCode_IsValid(code))
        ++m_errors[size_t(code)];
}

quint64 Metrics::errorsSent(v1::ErrorCode code) const
{
    return v1::ErrorCode_IsValid(code) ? m_errors[size_t(code)].load() : 0;
}

QByteArray Metrics::renderPrometheus(const Store::Stats &store, const Gauges &gauges) const
{
    QByteArray out;
    out.reserve(4096);
    family(out, "kith_connections", "gauge", "Open WebSocket connections.");
    sample(out, "kith_connections", m_connectionsOpen);
    family(out, "kith_connections_accepted_total", "counter",
           "WebSocket connections accepted since start.");
    sample(out, "kith_connections_accepted_total", m_connectionsTotal);
    family(out, "kith_accept_errors_total", "counter",
           "Failed accepts (e.g. out of file descriptors).");
    sample(out, "kith_accept_errors_total", m_acceptErrors);
    family(out, "kith_connections_refused_total", "counter",
           "Connections turned away at the connection limit.");
    sample(out, "kith_connections_refused_total", m_connectionsRefused);
    family(out, "kith_unauthenticated_refused_total", "counter",
           "Connections turned away: too many not yet authenticated from their address.");
    sample(out, "kith_unauthenticated_refused_total", m_unauthenticatedRefused);
    family(out, "kith_slow_consumers_dropped_total", "counter",
           "Connections dropped for not reading what was queued for them.");
    sample(out, "kith_slow_consumers_dropped_total", m_slowConsumersDropped);
    family(out, "kith_sessions_authenticated", "gauge", "Connections past authentication.");
    sample(out, "kith_sessions_authenticated", gauges.authenticatedSessions);
    family(out, "kith_users_online", "gauge", "Users with at least one authenticated connection.");
    sample(out, "kith_users_online", gauges.onlineUsers);
    family(out, "kith_frames_received_total", "counter", "Frames received from clients.");
    sample(out, "kith_frames_received_total", m_framesIn);
    family(out, "kith_messages_stored_total", "counter",
           "Messages committed to storage since start (resends not counted).");
    sample(out, "kith_messages_stored_total", store.messagesStored);
    family(out, "kith_messages_pushed_total", "counter",
           "Message pushes delivered to sessions (one per recipient connection).");
    sample(out, "kith_messages_pushed_total", m_messagesPushed);
    family(out, "kith_pushes_total", "counter",
           "All pushes delivered to sessions (messages, read, typing, presence, ...).");
    sample(out, "kith_pushes_total", m_pushes);
    family(out, "kith_compressed_frames_total", "counter",
           "Answers sent as Compressed frames (deflate feature).");
    sample(out, "kith_compressed_frames_total", m_compressedFrames);
    family(out, "kith_compression_raw_bytes_total", "counter",
           "Encoded size of the answers sent compressed, before compression.");
    sample(out, "kith_compression_raw_bytes_total", m_compressionRawBytes);
    family(out, "kith_compression_wire_bytes_total", "counter",
           "Size on the wire of the Compressed frames that carried them.");
    sample(out, "kith_compression_wire_bytes_total", m_compressionWireBytes);
    family(out, "kith_commit_batch_size", "summary",
           "Writes per storage transaction (group commit).");
    sample(out, "kith_commit_batch_size_sum", store.writesCommitted);
    sample(out, "kith_commit_batch_size_count", store.commits);
    family(out, "kith_commit_batch_size_max", "gauge", "Largest storage transaction so far.");
    sample(out, "kith_commit_batch_size_max", store.maxBatch);
    family(out, "kith_store_schema_version", "gauge", "Storage schema version.");
    sample(out, "kith_store_schema_version", quint64(qMax(0, gauges.schemaVersion)));
    family(out, "kith_listen_backlog", "gauge",
           "Backlog of the listening socket (connection attempts the kernel queues).");
    sample(out, "kith_listen_backlog", quint64(qMax(0, gauges.listenBacklog)));
    if (gauges.listenQueueKnown) {
        family(out, "kith_host_listen_overflows_total", "counter",
               "Connection attempts this host's kernel dropped at a full accept queue "
               "(TcpExt ListenOverflows; all sockets of the host).");
        sample(out, "kith_host_listen_overflows_total", gauges.listenOverflows);
        family(out, "kith_host_listen_drops_total", "counter",
               "Connection attempts this host's kernel dropped at a listen queue for any "
               "reason (TcpExt ListenDrops; all sockets of the host).");
        sample(out, "kith_host_listen_drops_total", gauges.listenDrops);
    }
    family(out, "kith_transfers", "gauge", "Open file transfer connections (HTTP).");
    sample(out, "kith_transfers", m_transfersOpen);
    family(out, "kith_transfers_refused_total", "counter",
           "Transfer connections turned away at their limit.");
    sample(out, "kith_transfers_refused_total", m_transfersRefused);
    family(out, "kith_upload_bytes_total", "counter", "File bytes received and stored.");
    sample(out, "kith_upload_bytes_total", m_uploadBytes);
    family(out, "kith_download_bytes_total", "counter", "File bytes sent.");
    sample(out, "kith_download_bytes_total", m_downloadBytes);
    family(out, "kith_uploads_finished_total", "counter", "Uploads verified and stored.");
    sample(out, "kith_uploads_finished_total", m_uploadsFinished);
    family(out, "kith_upload_checksum_mismatches_total", "counter",
           "Uploads dropped because their bytes did not match their SHA-256.");
    sample(out, "kith_upload_checksum_mismatches_total", m_checksumMismatches);
    family(out, "kith_transfer_errors_total", "counter",
           "Transfer requests answered with an error, by class (client: 4xx, server: 5xx).");
    sample(out, "kith_transfer_errors_total", m_transferClientErrors, "{class=\"client\"}");
    sample(out, "kith_transfer_errors_total", m_transferServerErrors, "{class=\"server\"}");
    family(out, "kith_errors_total", "counter", "Error answers sent, by code.");
    for (int code = v1::ErrorCode_MIN + 1; code <= v1::ErrorCode_MAX; ++code) {
        if (!v1::ErrorCode_IsValid(code))
            continue;
        const QByteArray labels =
            QByteArray("{code=\"") + errorCodeName(v1::ErrorCode(code)) + "\"}";
        sample(out, "kith_errors_total", m_errors[size_t(code)], labels);
    }
    return out;
}

} // namespace kith::server
