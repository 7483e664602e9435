#include "test_avahi.h"

#include <QDeadlineTimer>
#include <QFile>
#include <QStandardPaths>
#include <QTest>

#include <unistd.h>

namespace kith::test {

namespace {
constexpr int kStartTimeoutMs = 30000;

bool waitFor(const std::function<bool()> &condition)
{
    QDeadlineTimer deadline(kStartTimeoutMs);
    while (!condition()) {
        if (deadline.hasExpired())
            return false;
        QTest::qWait(100);
    }
    return true;
}
} // namespace

TestAvahi::~TestAvahi()
{
    for (QProcess *process : {&m_avahi, &m_bus}) {
        if (process->state() != QProcess::NotRunning) {
            process->terminate();
            if (!process->waitForFinished(5000)) {
                process->kill();
                process->waitForFinished();
            }
        }
    }
}

QProcessEnvironment TestAvahi::environment() const
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("DBUS_SYSTEM_BUS_ADDRESS"), m_busAddress);
    return env;
}

void TestAvahi::startInNamespace(QProcess &process, const QString &program, const QStringList &args,
                                 const QString &busAddress) const
{
    QProcessEnvironment env = environment();
    if (!busAddress.isEmpty())
        env.insert(QStringLiteral("DBUS_SYSTEM_BUS_ADDRESS"), busAddress);
    process.setProcessEnvironment(env);
    process.start(m_nsenter,
                  QStringList{QStringLiteral("--net=/proc/%1/ns/net").arg(m_avahi.processId()),
                              QStringLiteral("--"), program} +
                      args);
}

bool TestAvahi::start(QString *whyNot)
{
    if (!m_dir.isValid()) {
        *whyNot = QStringLiteral("no temporary folder");
        return false;
    }
    if (::geteuid() != 0) {
        *whyNot = QStringLiteral("needs root for a network namespace of its own");
        return false;
    }
    const QString dbus = QStandardPaths::findExecutable(QStringLiteral("dbus-daemon"));
    const QString avahi = QStandardPaths::findExecutable(
        QStringLiteral("avahi-daemon"), {QStringLiteral("/usr/sbin"), QStringLiteral("/sbin")});
    m_avahiBrowse = QStandardPaths::findExecutable(QStringLiteral("avahi-browse"));
    m_nsenter = QStandardPaths::findExecutable(QStringLiteral("nsenter"));
    const QString unshare = QStandardPaths::findExecutable(QStringLiteral("unshare"));
    if (dbus.isEmpty() || avahi.isEmpty() || m_avahiBrowse.isEmpty() || m_nsenter.isEmpty() ||
        unshare.isEmpty()) {
        *whyNot = QStringLiteral("needs dbus-daemon, avahi-daemon, avahi-browse, unshare and "
                                 "nsenter (tools/deps.sh installs them)");
        return false;
    }

    // A system bus of the test's own, open to everyone (only this test uses it).
    const QString socket = m_dir.filePath(QStringLiteral("bus"));
    QFile config(m_dir.filePath(QStringLiteral("bus.conf")));
    if (!config.open(QIODevice::WriteOnly)) {
        *whyNot = QStringLiteral("cannot write %1").arg(config.fileName());
        return false;
    }
    config.write(QStringLiteral(
                     "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
                     "1.0//EN\" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
                     "<busconfig><type>system</type><listen>unix:path=%1</listen>"
                     "<auth>EXTERNAL</auth><policy context=\"default\"><allow user=\"*\"/>"
                     "<allow own=\"*\"/><allow send_destination=\"*\"/>"
                     "<allow receive_sender=\"*\"/></policy></busconfig>\n")
                     .arg(socket)
                     .toUtf8());
    config.close();
    m_bus.start(dbus, {QStringLiteral("--config-file=") + config.fileName(),
                       QStringLiteral("--nofork"), QStringLiteral("--print-address")});
    if (!m_bus.waitForStarted() ||
        !waitFor([&] { return m_bus.canReadLine() || m_bus.state() != QProcess::Running; })) {
        *whyNot = QStringLiteral("the private dbus-daemon did not start");
        return false;
    }
    m_busAddress = QString::fromUtf8(m_bus.readLine()).trimmed();
    if (m_busAddress.isEmpty()) {
        *whyNot = QStringLiteral("the private dbus-daemon did not start: %1")
                      .arg(QString::fromUtf8(m_bus.readAllStandardError()));
        return false;
    }

    // avahi-daemon on the namespace's loopback, with multicast turned on.
    QFile avahiConfig(m_dir.filePath(QStringLiteral("avahi.conf")));
    if (!avahiConfig.open(QIODevice::WriteOnly)) {
        *whyNot = QStringLiteral("cannot write %1").arg(avahiConfig.fileName());
        return false;
    }
    avahiConfig.write("[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=lo\n"
                      "enable-dbus=yes\n[publish]\npublish-addresses=yes\n");
    avahiConfig.close();
    m_avahi.setProcessEnvironment(environment());
    m_avahi.setProcessChannelMode(QProcess::MergedChannels);
    m_avahi.start(unshare,
                  {QStringLiteral("-n"), QStringLiteral("-m"), QStringLiteral("sh"),
                   QStringLiteral("-c"),
                   // A /run/avahi-daemon of its own (pid file, socket): a system
                   // avahi-daemon may run beside it.
                   QStringLiteral("mkdir -p /run/avahi-daemon && mount -t tmpfs kith-test "
                                  "/run/avahi-daemon && "
                                  "ip link set lo up && ip link set lo multicast on && exec %1 "
                                  "--no-drop-root --no-chroot --no-rlimits -f %2")
                       .arg(avahi, avahiConfig.fileName())});
    if (!m_avahi.waitForStarted()) {
        *whyNot = QStringLiteral("cannot run unshare");
        return false;
    }
    QByteArray avahiLog;
    const bool up = waitFor([&] {
        avahiLog += m_avahi.readAll();
        return avahiLog.contains("Server startup complete") || m_avahi.state() != QProcess::Running;
    });
    if (!up || !avahiLog.contains("Server startup complete")) {
        *whyNot = QStringLiteral("no avahi-daemon could be started here: %1")
                      .arg(QString::fromUtf8(avahiLog.right(500)).simplified());
        return false;
    }
    return true;
}

} // namespace kith::test
