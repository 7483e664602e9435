#include "test_haproxy.h"

#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QStandardPaths>

#include <sys/resource.h>

#include <csignal>

namespace kith::test {

namespace {
constexpr int kReadyTimeoutMs = 30000;
constexpr int kStopTimeoutMs = 30000;
// HAProxy holds two descriptors per connection and refuses to start when the
// process may not open that many: the test's cap on connections fits its limit.
constexpr int kMaxConnections = 2000;
} // namespace

TestHaproxy::~TestHaproxy()
{
    if (m_process.isRunning())
        (void)m_process.stop(SIGTERM, kStopTimeoutMs);
}

QString TestHaproxy::path()
{
    const QString configured = qEnvironmentVariable("KITH_HAPROXY");
    if (!configured.isEmpty())
        return configured;
    const QString found = QStandardPaths::findExecutable(QStringLiteral("haproxy"));
    if (!found.isEmpty())
        return found;
    return QStandardPaths::findExecutable(QStringLiteral("haproxy"),
                                          {QStringLiteral("/usr/sbin"), QStringLiteral("/sbin")});
}

bool TestHaproxy::available(QString *why)
{
    if (path().isEmpty() || !QFileInfo(path()).isExecutable()) {
        *why = QStringLiteral("haproxy not installed (Debian package haproxy)");
        return false;
    }
    return true;
}

QString TestHaproxy::sampleConfig()
{
#ifdef KITH_HAPROXY_SAMPLE
    return QStringLiteral(KITH_HAPROXY_SAMPLE);
#else
    return {};
#endif
}

bool TestHaproxy::start(const QList<quint16> &nodePorts)
{
    if (!m_dir.isValid() || m_process.isRunning())
        return false;
    QFile sample(sampleConfig());
    if (!sample.open(QIODevice::ReadOnly)) {
        qWarning("TestHaproxy: cannot read the sample config %s", qPrintable(sample.fileName()));
        return false;
    }
    // The sample as shipped, but for where it listens, its nodes and its cap.
    QStringList lines;
    bool serversWritten = false;
    static const QRegularExpression bind(QStringLiteral(R"(^(\s*)bind\s)"));
    static const QRegularExpression server(QStringLiteral(R"(^(\s*)server\s)"));
    static const QRegularExpression maxconn(QStringLiteral(R"(^(\s*)maxconn\s)"));
    if (m_port == 0)
        m_port = freeLoopbackPort();
    for (const QString &line : QString::fromUtf8(sample.readAll()).split(u'\n')) {
        if (const auto bound = bind.match(line); bound.hasMatch()) {
            lines << bound.captured(1) + QStringLiteral("bind 127.0.0.1:%1").arg(m_port);
        } else if (const auto node = server.match(line); node.hasMatch()) {
            if (serversWritten)
                continue;
            serversWritten = true;
            for (qsizetype i = 0; i < nodePorts.size(); ++i)
                lines << node.captured(1) + QStringLiteral("server node%1 127.0.0.1:%2")
                                                .arg(i + 1)
                                                .arg(nodePorts[i]);
        } else if (const auto cap = maxconn.match(line); cap.hasMatch()) {
            lines << cap.captured(1) + QStringLiteral("maxconn %1").arg(kMaxConnections);
        } else {
            lines << line;
        }
    }
    if (!serversWritten) {
        qWarning("TestHaproxy: the sample config names no server");
        return false;
    }
    QFile config(configPath());
    if (!config.open(QIODevice::WriteOnly) || config.write(lines.join(u'\n').toUtf8()) < 0)
        return false;
    config.close();
    static const QRegularExpression ready(QStringLiteral("Loading success"));
    // -W: a master process that says when its worker runs; -db: in the foreground.
    return m_process.start(
        path(), {QStringLiteral("-W"), QStringLiteral("-db"), QStringLiteral("-f"), configPath()},
        RunAs(), ready, kReadyTimeoutMs);
}

bool TestHaproxy::stop()
{
    return m_process.stop(SIGTERM, kStopTimeoutMs);
}

QUrl TestHaproxy::url() const
{
    return QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(m_port));
}

} // namespace kith::test
