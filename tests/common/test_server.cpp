#include "test_server.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QEventLoop>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QTimer>

#include <sys/prctl.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdio>

namespace kith::test {

namespace {

// Generous: a loaded 2-core machine may take a while to open SQLite and migrate.
constexpr int kReadyTimeoutMs = 20000;
// A graceful stop finishes in-flight commits and closes every socket.
constexpr int kStopTimeoutMs = 30000;
// Admin commands hash passwords with Argon2id, which is slow by design.
constexpr int kAdminTimeoutMs = 60000;
// Enough of the server's stderr to diagnose a failure without growing forever.
constexpr qsizetype kMaxStderrBytes = 8 * 1024 * 1024;
// A port just freed by a killed process may take a moment to bind again.
constexpr int kStartAttempts = 3;

// Runs the event loop (so sockets in the test keep being served) until the
// process has finished or the deadline passes.
bool waitForExit(QProcess &process, int timeoutMs)
{
    if (process.state() == QProcess::NotRunning)
        return true;
    QEventLoop loop;
    QObject::connect(&process, &QProcess::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    loop.exec();
    return process.state() == QProcess::NotRunning;
}

// The child dies with the test process, even when the test crashes or CTest
// kills it on a timeout: no kithd is left running behind a test.
void dieWithParent()
{
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
}

} // namespace

TestServer::TestServer(QStringList extraArgs)
    : m_extraArgs(std::move(extraArgs))
{}

TestServer::~TestServer()
{
    if (m_process && m_process->state() != QProcess::NotRunning) {
        m_process->kill();
        m_process->waitForFinished(5000);
    }
}

QString TestServer::kithdPath()
{
#ifdef KITHD_PATH
    return QStringLiteral(KITHD_PATH);
#else
    return qEnvironmentVariable("KITHD");
#endif
}

bool TestServer::start()
{
    if (!m_dir.isValid()) {
        qWarning("TestServer: cannot create a temporary data folder");
        return false;
    }
    if (kithdPath().isEmpty()) {
        qWarning("TestServer: no kithd in this build; set KITHD to its path");
        return false;
    }
    if (isRunning())
        return false;

    for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
        m_process = std::make_unique<QProcess>();
        m_process->setProgram(kithdPath());
        QStringList args{QStringLiteral("--data"), m_dir.path(), QStringLiteral("--listen"),
                         QStringLiteral("127.0.0.1"), QStringLiteral("--port"),
                         QString::number(m_port), QStringLiteral("--admin-port"),
                         QString::number(m_adminPort),
                         // The minimum the server accepts: fast tests, real hashing.
                         QStringLiteral("--argon2-memory-kib"), QStringLiteral("19456"),
                         QStringLiteral("--argon2-ops"), QStringLiteral("2")};
        if (!m_ownCertificate && !m_extraArgs.contains(QStringLiteral("--cert")))
            args.append(QStringLiteral("--plain"));
        args += m_extraArgs;
        m_process->setArguments(args);
        m_process->setChildProcessModifier([files = m_openFileLimit] {
            dieWithParent();
            if (files > 0) {
                const rlimit limit{rlim_t(files), rlim_t(files)};
                ::setrlimit(RLIMIT_NOFILE, &limit);
            }
        });
        QObject::connect(m_process.get(), &QProcess::readyReadStandardError, m_process.get(),
                         [this] { appendStderr(m_process->readAllStandardError()); });
        m_stdout.clear();
        m_process->start();
        if (!m_process->waitForStarted(kReadyTimeoutMs)) {
            qWarning("TestServer: cannot start %s: %s", qPrintable(kithdPath()),
                     qPrintable(m_process->errorString()));
            return false;
        }
        if (waitForReady())
            return true;
        const bool exited = m_process->state() == QProcess::NotRunning;
        if (!exited) {
            m_process->kill();
            m_process->waitForFinished(5000);
        }
        appendStderr(m_process->readAllStandardError());
        qWarning("TestServer: kithd did not become ready (attempt %d, %s); stderr tail:\n%s",
                 attempt, exited ? "it exited" : "timed out", m_stderr.right(4000).constData());
        // Only a restart on a fixed port has a reason to try again.
        if (!exited || m_port == 0)
            return false;
        QEventLoop pause;
        QTimer::singleShot(500 * attempt, &pause, &QEventLoop::quit);
        pause.exec();
    }
    return false;
}

bool TestServer::waitForReady()
{
    static const QRegularExpression readyLine(
        QStringLiteral(R"(kithd ready: (wss?)://[^\s/]+:(\d+)/ admin=http://127\.0\.0\.1:(\d+)/)"));
    QProcess *process = m_process.get();
    QDeadlineTimer deadline(kReadyTimeoutMs);
    while (!deadline.hasExpired()) {
        m_stdout += process->readAllStandardOutput();
        const auto match = readyLine.match(QString::fromUtf8(m_stdout));
        if (match.hasMatch()) {
            m_scheme = match.captured(1);
            m_port = quint16(match.captured(2).toUInt());
            m_adminPort = quint16(match.captured(3).toUInt());
            // From now on stdout is not interesting; keep the pipe drained.
            QObject::connect(process, &QProcess::readyReadStandardOutput, process,
                             [process] { process->readAllStandardOutput(); });
            return m_port != 0 && m_adminPort != 0;
        }
        if (process->state() == QProcess::NotRunning)
            return false;
        QEventLoop loop;
        QObject::connect(process, &QProcess::readyReadStandardOutput, &loop, &QEventLoop::quit);
        QObject::connect(process, &QProcess::finished, &loop, &QEventLoop::quit);
        QTimer::singleShot(int(qMax<qint64>(1, deadline.remainingTime())), &loop,
                           &QEventLoop::quit);
        loop.exec();
    }
    return false;
}

void TestServer::kill9()
{
    if (!isRunning())
        return;
    m_process->kill();
    waitForExit(*m_process, kStopTimeoutMs);
    appendStderr(m_process->readAllStandardError());
}

bool TestServer::restart()
{
    if (isRunning() && !terminate())
        return false;
    return start();
}

bool TestServer::terminate(int *exitCode)
{
    if (!isRunning())
        return false;
    m_process->terminate();
    if (!waitForExit(*m_process, kStopTimeoutMs)) {
        qWarning("TestServer: kithd did not stop on SIGTERM; killing it");
        kill9();
        return false;
    }
    appendStderr(m_process->readAllStandardError());
    if (exitCode)
        *exitCode = m_process->exitCode();
    if (m_process->exitStatus() != QProcess::NormalExit) {
        qWarning("TestServer: kithd crashed on SIGTERM; stderr tail:\n%s",
                 m_stderr.right(4000).constData());
        return false;
    }
    return true;
}

bool TestServer::isRunning() const
{
    return m_process && m_process->state() != QProcess::NotRunning;
}

QUrl TestServer::url() const
{
    return QUrl(QStringLiteral("%1://127.0.0.1:%2/").arg(m_scheme).arg(m_port));
}

QUrl TestServer::adminUrl() const
{
    return QUrl(QStringLiteral("http://127.0.0.1:%1/").arg(m_adminPort));
}

double TestServer::metric(const QString &name) const
{
    QNetworkAccessManager manager;
    std::unique_ptr<QNetworkReply> reply(
        manager.get(QNetworkRequest(adminUrl().resolved(QUrl(QStringLiteral("metrics"))))));
    QEventLoop loop;
    QObject::connect(reply.get(), &QNetworkReply::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(10'000, &loop, &QEventLoop::quit);
    if (!reply->isFinished())
        loop.exec();
    if (!reply->isFinished() || reply->error() != QNetworkReply::NoError)
        return -1;
    const QRegularExpression sample(
        QStringLiteral("^%1\\s+(\\S+)$").arg(QRegularExpression::escape(name)),
        QRegularExpression::MultilineOption);
    const auto match = sample.match(QString::fromUtf8(reply->readAll()));
    return match.hasMatch() ? match.captured(1).toDouble() : -1;
}

QString TestServer::dataDir() const
{
    return m_dir.path();
}

QByteArray TestServer::stderrLog() const
{
    return m_stderr;
}

int TestServer::runAdmin(const QStringList &args, QByteArray *output, const QByteArray &stdinData)
{
    QProcess admin;
    admin.setChildProcessModifier(dieWithParent);
    admin.start(kithdPath(), args + QStringList{QStringLiteral("--data"), m_dir.path()});
    if (!admin.waitForStarted(kAdminTimeoutMs))
        return -1;
    if (!stdinData.isEmpty())
        admin.write(stdinData);
    admin.closeWriteChannel();
    const bool finished = waitForExit(admin, kAdminTimeoutMs);
    if (!finished) {
        admin.kill();
        admin.waitForFinished(5000);
    }
    appendStderr(admin.readAllStandardError());
    if (output)
        *output = admin.readAllStandardOutput();
    if (!finished || admin.exitStatus() != QProcess::NormalExit)
        return -1;
    return admin.exitCode();
}

void TestServer::appendStderr(const QByteArray &bytes)
{
    if (bytes.isEmpty())
        return;
    if (qEnvironmentVariableIsSet("KITH_TEST_SERVER_LOG")) {
        std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stderr);
        std::fflush(stderr);
    }
    m_stderr += bytes;
    if (m_stderr.size() > kMaxStderrBytes)
        m_stderr.remove(0, m_stderr.size() - kMaxStderrBytes);
}

} // namespace kith::test
