#pragma once
// The admin HTTP endpoint on loopback: GET /healthz and GET /metrics
// (Prometheus text). Owned by the Server.

#include "kith/result.h"

#include <QHttpServer>
#include <QObject>

#include <functional>

namespace kith::server {

class AdminHttp : public QObject
{
    Q_OBJECT
public:
    // `metrics` renders the current /metrics body; `health` the /healthz one
    // (its first line "ok", or "degraded" when the store or the bus cannot be
    // reached; the process answers either way). Without it: "ok".
    explicit AdminHttp(std::function<QByteArray()> metrics, std::function<QByteArray()> health = {},
                       QObject *parent = nullptr);

    // Listens on 127.0.0.1 only: the admin port is never exposed to the LAN.
    [[nodiscard]] Status listen(quint16 port);
    [[nodiscard]] quint16 port() const { return m_port; }

private:
    QHttpServer m_http;
    std::function<QByteArray()> m_metrics;
    std::function<QByteArray()> m_health;
    quint16 m_port = 0;
};

} // namespace kith::server
