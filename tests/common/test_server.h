#pragma once
// TestServer runs a real kithd process for a test: loopback only, a temporary
// data folder that survives restarts, and the same ports after a restart so
// clients reconnect to the same URL. Owned by the test; the destructor kills
// the process it started.

#include <QByteArray>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>
#include <QUrl>

#include <memory>

namespace kith::test {

class TestServer
{
public:
    explicit TestServer(QStringList extraArgs = {});
    ~TestServer();
    TestServer(const TestServer &) = delete;
    TestServer &operator=(const TestServer &) = delete;

    // Starts kithd and waits for its ready line; false (with the reason logged)
    // when it does not come up in time.
    [[nodiscard]] bool start();
    // SIGKILL: no chance to finish anything, like a power cut of the process.
    void kill9();
    // Stops the server gracefully if it is running, then starts it again on the
    // same ports and data folder.
    [[nodiscard]] bool restart();
    // SIGTERM and wait; false when it did not exit by itself (it is then killed)
    // or crashed. exitCode receives the process's exit status.
    [[nodiscard]] bool terminate(int *exitCode = nullptr);

    [[nodiscard]] bool isRunning() const;
    [[nodiscard]] QUrl url() const;
    [[nodiscard]] QUrl adminUrl() const;
    [[nodiscard]] QString dataDir() const;
    // One unlabelled sample from the server's /metrics (e.g.
    // "kith_slow_consumers_dropped_total"); -1 when it cannot be read.
    [[nodiscard]] double metric(const QString &name) const;
    // Everything the server (and admin commands) wrote to stderr so far.
    [[nodiscard]] QByteArray stderrLog() const;

    // Runs `kithd <args> --data <dataDir>` (an admin subcommand) to completion;
    // returns its exit status, or -1 when it crashed or hung.
    int runAdmin(const QStringList &args, QByteArray *output = nullptr,
                 const QByteArray &stdinData = {});

    // The kithd binary under test.
    [[nodiscard]] static QString kithdPath();

    // Starts kithd with this open-file limit (soft and hard), as a service
    // manager's LimitNOFILE would; 0 (the default) keeps the test's own.
    void setOpenFileLimit(int files) { m_openFileLimit = files; }

    // Tests speak plain ws:// on loopback (--plain) unless they give --cert or
    // call this: then kithd serves wss:// with the certificate it makes in
    // its data folder, as it does by default.
    void useOwnCertificate() { m_ownCertificate = true; }

private:
    [[nodiscard]] bool waitForReady();
    void appendStderr(const QByteArray &bytes);

    QStringList m_extraArgs;
    QTemporaryDir m_dir;
    std::unique_ptr<QProcess> m_process;
    QByteArray m_stdout;
    QByteArray m_stderr;
    QString m_scheme = QStringLiteral("ws"); // wss when kithd serves TLS
    quint16 m_port = 0;
    quint16 m_adminPort = 0;
    int m_openFileLimit = 0;
    bool m_ownCertificate = false;
};

} // namespace kith::test
