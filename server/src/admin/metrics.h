#pragma once
// Counters for /metrics, in Prometheus text format. Owned by the Server;
// sessions, the registry and the gateway bump them.

#include "store.h"

#include <QByteArray>

#include <array>
#include <atomic>

namespace kith::server {

// Prometheus text for the parts of /metrics rendered elsewhere (the store's
// own numbers, the bus): a family's HELP and TYPE lines, and one sample.
void appendMetricFamily(QByteArray &out, const char *name, const char *type, const char *help);
void appendMetricSample(QByteArray &out, const char *name, quint64 value,
                        const QByteArray &labels = {});

class Metrics
{
public:
    // Live numbers that are not counters, read when /metrics is rendered.
    struct Gauges
    {
        quint64 authenticatedSessions = 0;
        quint64 onlineUsers = 0;
        int schemaVersion = 0;
        int listenBacklog = 0;
        // The host's listen-queue drops (/proc/net/netstat), when known.
        bool listenQueueKnown = false;
        quint64 listenOverflows = 0;
        quint64 listenDrops = 0;
    };

    void connectionOpened()
    {
        ++m_connectionsOpen;
        ++m_connectionsTotal;
    }
    void connectionClosed() { --m_connectionsOpen; }
    void acceptFailed() { ++m_acceptErrors; }
    void connectionRefused() { ++m_connectionsRefused; }
    // Turned away: too many connections from one address not yet authenticated.
    void unauthenticatedRefused() { ++m_unauthenticatedRefused; }
    // Dropped by its output budget: it did not read what was queued for it.
    void slowConsumerDropped() { ++m_slowConsumersDropped; }
    void framesReceived(quint64 n = 1) { m_framesIn += n; }
    void messagesPushed(quint64 deliveries) { m_messagesPushed += deliveries; }
    void pushesDelivered(quint64 deliveries) { m_pushes += deliveries; }
    void errorSent(v1::ErrorCode code);
    // A frame sent as Compressed: its encoded size before and after.
    void frameCompressed(quint64 rawBytes, quint64 wireBytes)
    {
        ++m_compressedFrames;
        m_compressionRawBytes += rawBytes;
        m_compressionWireBytes += wireBytes;
    }

    // File transfers (HTTP on the same port, served by the transfer thread).
    void transferOpened() { ++m_transfersOpen; }
    void transferClosed() { --m_transfersOpen; }
    void transferRefused() { ++m_transfersRefused; }
    void uploadBytes(quint64 n) { m_uploadBytes += n; }
    void downloadBytes(quint64 n) { m_downloadBytes += n; }
    void uploadFinished() { ++m_uploadsFinished; }
    void checksumMismatch() { ++m_checksumMismatches; }
    void transferError(int status)
    {
        status < 500 ? ++m_transferClientErrors : ++m_transferServerErrors;
    }

    [[nodiscard]] quint64 connectionsOpen() const { return m_connectionsOpen; }
    [[nodiscard]] quint64 transfersOpen() const { return m_transfersOpen; }
    [[nodiscard]] quint64 messagesPushed() const { return m_messagesPushed; }
    [[nodiscard]] quint64 slowConsumersDropped() const { return m_slowConsumersDropped; }
    // WebSocket messages read from clients, in all.
    [[nodiscard]] quint64 framesIn() const { return m_framesIn; }
    [[nodiscard]] quint64 errorsSent(v1::ErrorCode code) const;

    [[nodiscard]] QByteArray renderPrometheus(const Store::Stats &store,
                                              const Gauges &gauges) const;

private:
    std::atomic<quint64> m_connectionsOpen{0};
    std::atomic<quint64> m_connectionsTotal{0};
    std::atomic<quint64> m_acceptErrors{0};
    std::atomic<quint64> m_connectionsRefused{0};
    std::atomic<quint64> m_unauthenticatedRefused{0};
    std::atomic<quint64> m_slowConsumersDropped{0};
    std::atomic<quint64> m_framesIn{0};
    std::atomic<quint64> m_messagesPushed{0};
    std::atomic<quint64> m_pushes{0};
    std::atomic<quint64> m_compressedFrames{0};
    std::atomic<quint64> m_compressionRawBytes{0};
    std::atomic<quint64> m_compressionWireBytes{0};
    std::array<std::atomic<quint64>, v1::ErrorCode_ARRAYSIZE> m_errors{};
    std::atomic<quint64> m_transfersOpen{0};
    std::atomic<quint64> m_transfersRefused{0};
    std::atomic<quint64> m_uploadBytes{0};
    std::atomic<quint64> m_downloadBytes{0};
    std::atomic<quint64> m_uploadsFinished{0};
    std::atomic<quint64> m_checksumMismatches{0};
    std::atomic<quint64> m_transferClientErrors{0};
    std::atomic<quint64> m_transferServerErrors{0};
};

} // namespace kith::server
