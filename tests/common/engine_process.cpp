#include "engine_process.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QEventLoop>
#include <QTcpServer>
#include <QTimer>

#include <grp.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

namespace kith::test {

namespace {

// Enough of an engine's log to diagnose a failure without growing forever.
constexpr qsizetype kMaxOutputBytes = 4 * 1024 * 1024;

// In the child, before exec: become the engine's user, then ask to die with
// the test (the setting does not survive a change of user, so it comes last).
void childSetup(const RunAs &runAs)
{
    if (runAs.switchUser) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(runAs.gid) != 0 || ::setuid(runAs.uid) != 0)
            ::_exit(126);
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
}

// Runs the event loop until the process has finished or the deadline passes
// (without an application, or while it goes, just waits).
bool waitForExit(QProcess &process, int timeoutMs)
{
    if (process.state() == QProcess::NotRunning)
        return true;
    if (!QCoreApplication::instance() || QCoreApplication::closingDown())
        return process.waitForFinished(timeoutMs);
    QEventLoop loop;
    QObject::connect(&process, &QProcess::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    loop.exec();
    return process.state() == QProcess::NotRunning;
}

} // namespace

EngineProcess::EngineProcess(QString name)
    : m_name(std::move(name))
{}

EngineProcess::~EngineProcess()
{
    if (isRunning()) {
        ::kill(pid_t(m_process->processId()), SIGKILL);
        m_process->waitForFinished(5000);
    }
}

bool EngineProcess::start(const QString &program, const QStringList &args, const RunAs &runAs,
                          const QRegularExpression &ready, int timeoutMs)
{
    if (isRunning())
        return false;
    m_process = std::make_unique<QProcess>();
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    m_process->setChildProcessModifier([runAs] { childSetup(runAs); });
    const qsizetype seen = m_output.size();
    m_process->start(program, args);
    if (!m_process->waitForStarted(timeoutMs)) {
        qWarning("%s: cannot start %s: %s", qPrintable(m_name), qPrintable(program),
                 qPrintable(m_process->errorString()));
        return false;
    }
    QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        collect();
        if (ready.match(QString::fromUtf8(m_output.mid(seen))).hasMatch()) {
            QObject::connect(m_process.get(), &QProcess::readyRead, m_process.get(),
                             [this] { collect(); });
            return true;
        }
        if (m_process->state() == QProcess::NotRunning)
            break;
        QEventLoop loop;
        QObject::connect(m_process.get(), &QProcess::readyRead, &loop, &QEventLoop::quit);
        QObject::connect(m_process.get(), &QProcess::finished, &loop, &QEventLoop::quit);
        QTimer::singleShot(int(qMax<qint64>(1, deadline.remainingTime())), &loop,
                           &QEventLoop::quit);
        loop.exec();
    }
    collect();
    qWarning("%s: not ready (%s); its output:\n%s", qPrintable(m_name),
             m_process->state() == QProcess::NotRunning ? "it exited" : "timed out",
             m_output.mid(seen).right(4000).constData());
    if (isRunning()) {
        ::kill(pid_t(m_process->processId()), SIGKILL);
        m_process->waitForFinished(5000);
    }
    return false;
}

bool EngineProcess::stop(int signal, int timeoutMs)
{
    if (!isRunning())
        return false;
    ::kill(pid_t(m_process->processId()), signal);
    if (!waitForExit(*m_process, timeoutMs)) {
        qWarning("%s: did not stop on signal %d; killing it", qPrintable(m_name), signal);
        ::kill(pid_t(m_process->processId()), SIGKILL);
        m_process->waitForFinished(5000);
        collect();
        return false;
    }
    collect();
    return true;
}

bool EngineProcess::isRunning() const
{
    return m_process && m_process->state() != QProcess::NotRunning;
}

qint64 EngineProcess::pid() const
{
    return isRunning() ? m_process->processId() : 0;
}

void EngineProcess::collect()
{
    if (!m_process)
        return;
    const QByteArray bytes = m_process->readAll();
    if (bytes.isEmpty())
        return;
    if (qEnvironmentVariableIsSet("KITH_TEST_ENGINE_LOG")) {
        std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stderr);
        std::fflush(stderr);
    }
    m_output += bytes;
    if (m_output.size() > kMaxOutputBytes)
        m_output.remove(0, m_output.size() - kMaxOutputBytes);
}

int EngineProcess::run(const QString &program, const QStringList &args, const RunAs &runAs,
                       int timeoutMs, QByteArray *output)
{
    QProcess process;
    process.setProcessChannelMode(QProcess::MergedChannels);
    process.setChildProcessModifier([runAs] { childSetup(runAs); });
    process.start(program, args);
    if (!process.waitForStarted(timeoutMs))
        return -1;
    process.closeWriteChannel();
    const bool finished = waitForExit(process, timeoutMs);
    if (!finished) {
        process.kill();
        process.waitForFinished(5000);
    }
    const QByteArray text = process.readAll();
    if (output)
        *output = text;
    if (!finished || process.exitStatus() != QProcess::NormalExit)
        return -1;
    if (process.exitCode() != 0)
        qWarning("%s exited with %d:\n%s", qPrintable(program), process.exitCode(),
                 text.right(2000).constData());
    return process.exitCode();
}

quint16 freeLoopbackPort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return 0;
    return probe.serverPort();
}

QString skipMessage(const QString &why)
{
    return QStringLiteral("kith-test-skip: ") + why;
}

} // namespace kith::test
