#include "test_redis.h"

#include <QFileInfo>
#include <QRegularExpression>
#include <QStandardPaths>

#include <csignal>

namespace kith::test {

namespace {
constexpr int kReadyTimeoutMs = 30000;
constexpr int kStopTimeoutMs = 30000;
constexpr int kStartAttempts = 3;
} // namespace

QString TestRedis::serverPath()
{
    const QString configured = qEnvironmentVariable("KITH_REDIS_SERVER");
    if (!configured.isEmpty())
        return configured;
    const QString found = QStandardPaths::findExecutable(QStringLiteral("redis-server"));
    if (!found.isEmpty())
        return found;
    return QStandardPaths::findExecutable(
        QStringLiteral("redis-server"), {QStringLiteral("/usr/bin"), QStringLiteral("/usr/sbin")});
}

bool TestRedis::available(QString *why)
{
    if (serverPath().isEmpty() || !QFileInfo(serverPath()).isExecutable()) {
        *why = QStringLiteral("redis-server not installed (Debian package redis-server)");
        return false;
    }
    return true;
}

TestRedis::~TestRedis()
{
    if (m_server.isRunning())
        (void)m_server.stop(SIGTERM, kStopTimeoutMs);
}

bool TestRedis::start()
{
    if (!m_dir.isValid() || m_server.isRunning())
        return false;
    static const QRegularExpression ready(QStringLiteral("Ready to accept connections"));
    for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
        const bool restart = m_port != 0;
        if (!restart)
            m_port = freeLoopbackPort();
        // Nothing on disk: the bus carries hints, and a restarted Redis is empty.
        const QStringList args = {QStringLiteral("--port"),       QString::number(m_port),
                                  QStringLiteral("--bind"),       QStringLiteral("127.0.0.1"),
                                  QStringLiteral("--dir"),        m_dir.path(),
                                  QStringLiteral("--save"),       QString(),
                                  QStringLiteral("--appendonly"), QStringLiteral("no"),
                                  QStringLiteral("--daemonize"),  QStringLiteral("no")};
        if (m_server.start(serverPath(), args, RunAs(), ready, kReadyTimeoutMs))
            return true;
        if (!restart)
            m_port = 0;
    }
    return false;
}

bool TestRedis::stop()
{
    return m_server.stop(SIGTERM, kStopTimeoutMs);
}

bool TestRedis::kill9()
{
    return m_server.stop(SIGKILL, kStopTimeoutMs);
}

bool TestRedis::isRunning() const
{
    return m_server.isRunning();
}

QString TestRedis::url() const
{
    return QStringLiteral("redis://127.0.0.1:%1").arg(m_port);
}

} // namespace kith::test
