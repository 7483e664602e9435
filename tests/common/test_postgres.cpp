#include "test_postgres.h"

#include <QCollator>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QStandardPaths>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

namespace kith::test {

namespace {

// initdb and a first start on a loaded 2-core machine take a few seconds.
constexpr int kInitTimeoutMs = 60000;
constexpr int kReadyTimeoutMs = 60000;
constexpr int kStopTimeoutMs = 30000;
constexpr int kPsqlTimeoutMs = 30000;
// A port taken by someone else between the probe and the bind: try another.
constexpr int kStartAttempts = 3;
// The superuser initdb creates (trust authentication, loopback only).
const QString kSuperuser = QStringLiteral("kith");

bool lookUpPostgresUser(RunAs *runAs)
{
    const passwd *user = ::getpwnam("postgres");
    if (!user)
        return false;
    runAs->switchUser = true;
    runAs->uid = user->pw_uid;
    runAs->gid = user->pw_gid;
    return true;
}

} // namespace

QString TestPostgres::binDir()
{
    const QString configured = qEnvironmentVariable("KITH_POSTGRES_BINDIR");
    if (!configured.isEmpty())
        return configured;
    QDir versions(QStringLiteral("/usr/lib/postgresql"));
    QStringList entries = versions.entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    QCollator numeric;
    numeric.setNumericMode(true);
    std::sort(entries.begin(), entries.end(), numeric);
    for (auto it = entries.crbegin(); it != entries.crend(); ++it) {
        const QString bin = versions.filePath(*it + QStringLiteral("/bin"));
        if (QFileInfo(bin + QStringLiteral("/initdb")).isExecutable())
            return bin;
    }
    const QString initdb = QStandardPaths::findExecutable(QStringLiteral("initdb"));
    return initdb.isEmpty() ? QString() : QFileInfo(initdb).absolutePath();
}

bool TestPostgres::available(QString *why)
{
    const QString bin = binDir();
    for (const char *tool : {"initdb", "postgres", "psql"}) {
        if (bin.isEmpty() || !QFileInfo(bin + u'/' + QLatin1String(tool)).isExecutable()) {
            *why = QStringLiteral("PostgreSQL server binaries not installed (no %1; Debian "
                                  "package postgresql)")
                       .arg(QLatin1String(tool));
            return false;
        }
    }
    RunAs runAs;
    if (::geteuid() == 0 && !lookUpPostgresUser(&runAs)) {
        *why = QStringLiteral("running as root and there is no postgres user to run PostgreSQL as");
        return false;
    }
    return true;
}

TestPostgres::TestPostgres()
{
    if (::geteuid() == 0)
        lookUpPostgresUser(&m_runAs);
}

TestPostgres::~TestPostgres()
{
    if (m_server.isRunning())
        (void)m_server.stop(SIGINT, kStopTimeoutMs);
}

bool TestPostgres::start()
{
    if (!m_dir.isValid() || m_server.isRunning())
        return false;
    const QString bin = binDir();
    const QString data = m_dir.filePath(QStringLiteral("data"));
    if (!m_initialised) {
        // The engine's user must reach the folder and own its data folder.
        ::chmod(QFile::encodeName(m_dir.path()).constData(), 0755);
        if (!QDir().mkpath(data))
            return false;
        if (m_runAs.switchUser &&
            ::chown(QFile::encodeName(data).constData(), m_runAs.uid, m_runAs.gid) != 0)
            return false;
        ::chmod(QFile::encodeName(data).constData(), 0700);
        const int status = EngineProcess::run(
            bin + QStringLiteral("/initdb"),
            {QStringLiteral("-D"), data, QStringLiteral("-U"), kSuperuser, QStringLiteral("-A"),
             QStringLiteral("trust"), QStringLiteral("-E"), QStringLiteral("UTF8"),
             QStringLiteral("--no-locale"), QStringLiteral("--no-sync")},
            m_runAs, kInitTimeoutMs);
        if (status != 0)
            return false;
        m_initialised = true;
    }
    static const QRegularExpression ready(
        QStringLiteral("database system is ready to accept connections"));
    for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
        const bool restart = m_port != 0;
        if (!restart)
            m_port = freeLoopbackPort();
        // Loopback TCP only; fsync off: a test survives a crash of the server
        // process (the kernel keeps what it wrote), not of the machine.
        const QStringList args = {
            QStringLiteral("-D"), data,
            QStringLiteral("-p"), QString::number(m_port),
            QStringLiteral("-c"), QStringLiteral("listen_addresses=127.0.0.1"),
            QStringLiteral("-c"), QStringLiteral("unix_socket_directories="),
            QStringLiteral("-c"), QStringLiteral("fsync=off"),
            QStringLiteral("-c"), QStringLiteral("shared_buffers=32MB"),
            QStringLiteral("-c"), QStringLiteral("max_connections=100")};
        if (m_server.start(bin + QStringLiteral("/postgres"), args, m_runAs, ready,
                           kReadyTimeoutMs))
            return true;
        if (!restart)
            m_port = 0;
    }
    return false;
}

bool TestPostgres::stop()
{
    return m_server.stop(SIGINT, kStopTimeoutMs);
}

bool TestPostgres::crash()
{
    return m_server.stop(SIGQUIT, kStopTimeoutMs);
}

bool TestPostgres::isRunning() const
{
    return m_server.isRunning();
}

QString TestPostgres::url(const QString &database) const
{
    return QStringLiteral("postgresql://%1@127.0.0.1:%2/%3")
        .arg(kSuperuser)
        .arg(m_port)
        .arg(database);
}

QByteArray TestPostgres::psql(const QString &database, const QString &sql)
{
    QByteArray output;
    const int status = EngineProcess::run(
        binDir() + QStringLiteral("/psql"),
        {QStringLiteral("-X"), QStringLiteral("-q"), QStringLiteral("-A"), QStringLiteral("-t"),
         QStringLiteral("-v"), QStringLiteral("ON_ERROR_STOP=1"), QStringLiteral("-d"),
         url(database), QStringLiteral("-c"), sql},
        RunAs(), kPsqlTimeoutMs, &output);
    if (status != 0)
        return QByteArray();
    return output.trimmed().isNull() ? QByteArray("") : output.trimmed();
}

bool TestPostgres::createDatabase(const QString &name)
{
    static const QRegularExpression identifier(QStringLiteral("^[a-z_][a-z0-9_]*$"));
    if (!identifier.match(name).hasMatch())
        return false;
    return !psql(QStringLiteral("postgres"), QStringLiteral("CREATE DATABASE %1").arg(name))
                .isNull();
}

} // namespace kith::test
