#include "admin_http.h"

#include "logging.h"

#include <QHttpServerResponse>

namespace kith::server {

AdminHttp::AdminHttp(std::function<QByteArray()> metrics, std::function<QByteArray()> health,
                     QObject *parent)
    : QObject(parent)
    , m_metrics(std::move(metrics))
    , m_health(std::move(health))
{
    m_http.route(QStringLiteral("/healthz"), QHttpServerRequest::Method::Get, [this] {
        return QHttpServerResponse("text/plain", m_health ? m_health() : QByteArray("ok\n"));
    });
    m_http.route(QStringLiteral("/metrics"), QHttpServerRequest::Method::Get,
                 [this] { return QHttpServerResponse("text/plain; version=0.0.4", m_metrics()); });
}

Status AdminHttp::listen(quint16 port)
{
    m_port = m_http.listen(QHostAddress::LocalHost, port);
    if (m_port == 0)
        return makeError(v1::INTERNAL,
                         QStringLiteral("Cannot listen for admin HTTP on 127.0.0.1:%1").arg(port));
    qCInfo(lcAdmin) << "admin HTTP on 127.0.0.1 port" << m_port;
    return Done{};
}

} // namespace kith::server
