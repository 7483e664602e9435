#pragma once
// TestAvahi: an avahi-daemon of a test's own, for tests of announcing and
// browsing `_kith._tcp`. It runs a private D-Bus system bus and avahi-daemon
// in a new network (and mount) namespace whose loopback has multicast on;
// programs started with startInNamespace() share that network, and any
// process with environment() (or DBUS_SYSTEM_BUS_ADDRESS set to
// busAddress()) talks to that daemon. Needs root for the namespace: start()
// says why not otherwise, and the test skips with "kith-test-skip: <why>".

#include <QProcess>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>

namespace kith::test {

class TestAvahi
{
public:
    TestAvahi() = default;
    ~TestAvahi();
    TestAvahi(const TestAvahi &) = delete;
    TestAvahi &operator=(const TestAvahi &) = delete;

    // False with *whyNot when it cannot run here (not root, programs missing,
    // the daemon would not start).
    [[nodiscard]] bool start(QString *whyNot);

    // The private system bus ("unix:path=...").
    [[nodiscard]] QString busAddress() const { return m_busAddress; }
    // This process's environment with the private bus as the system bus.
    [[nodiscard]] QProcessEnvironment environment() const;
    // `avahi-browse`'s path (found by start()).
    [[nodiscard]] QString avahiBrowse() const { return m_avahiBrowse; }
    // Starts `program args` in the namespace's network, with environment()
    // (or with `busAddress` as the system bus, when given).
    void startInNamespace(QProcess &process, const QString &program, const QStringList &args,
                          const QString &busAddress = {}) const;

private:
    QTemporaryDir m_dir;
    QString m_busAddress;
    QProcess m_bus;
    QProcess m_avahi;
    QString m_avahiBrowse;
    QString m_nsenter;
};

} // namespace kith::test
