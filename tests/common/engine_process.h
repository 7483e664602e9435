#pragma once
// EngineProcess: a database engine (PostgreSQL, Redis) that a test starts as
// its own child process: loopback only, in the test's temporary folder,
// optionally as another system user (PostgreSQL refuses to run as root),
// dying with the test process, and stopped by its PID. Used by TestPostgres
// and TestRedis.

#include <QByteArray>
#include <QProcess>
#include <QRegularExpression>
#include <QString>
#include <QStringList>

#include <sys/types.h>

#include <memory>

namespace kith::test {

// Who an engine runs as: the test's own user, or (when the test runs as
// root) a system account.
struct RunAs
{
    bool switchUser = false;
    uid_t uid = 0;
    gid_t gid = 0;
};

class EngineProcess
{
public:
    explicit EngineProcess(QString name);
    ~EngineProcess();
    EngineProcess(const EngineProcess &) = delete;
    EngineProcess &operator=(const EngineProcess &) = delete;

    // Starts `program` and waits until its output matches `ready`; false
    // (with the output logged) when it exits or does not get there in time.
    [[nodiscard]] bool start(const QString &program, const QStringList &args, const RunAs &runAs,
                             const QRegularExpression &ready, int timeoutMs);
    // Sends `signal` to the process (by its PID) and waits for it to exit.
    [[nodiscard]] bool stop(int signal, int timeoutMs);
    [[nodiscard]] bool isRunning() const;
    [[nodiscard]] qint64 pid() const;
    // Everything the process wrote so far (both channels).
    [[nodiscard]] QByteArray output() const { return m_output; }

    // Runs a helper program (initdb, psql, ...) to completion; its exit
    // status, or -1 when it crashed or hung. Output goes to *output.
    static int run(const QString &program, const QStringList &args, const RunAs &runAs,
                   int timeoutMs, QByteArray *output = nullptr);

private:
    void collect();

    QString m_name;
    std::unique_ptr<QProcess> m_process;
    QByteArray m_output;
};

// A loopback TCP port that was free a moment ago (the kernel's choice).
[[nodiscard]] quint16 freeLoopbackPort();

// The text a test skips with when an engine is not installed; CTest reports
// such a test as skipped (SKIP_REGULAR_EXPRESSION), never as passed.
[[nodiscard]] QString skipMessage(const QString &why);

} // namespace kith::test
