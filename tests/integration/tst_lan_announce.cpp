// kithd announces itself on the LAN as DNS-SD `_kith._tcp` through
// avahi-daemon, with TXT records for its name, the protocol version, the
// certificate's fingerprint and whether registration is open; it withdraws
// the service when it stops. Where there is no avahi-daemon it says so in
// one line and serves anyway.
//
// The test runs a private D-Bus system bus and avahi-daemon of its own in a
// new network (and mount) namespace whose loopback has multicast on, and kithd in that
// namespace (so it can listen on every address without being reachable from
// anywhere else); it browses with avahi-browse over the private bus. It
// needs root for the namespace: without it, or without the programs, it is
// skipped with "kith-test-skip: <why>".

#include "test_server.h"

#include "kith/fingerprint.h"
#include "kith/protocol.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <unistd.h>

using namespace kith;
using namespace kith::test;

namespace {
constexpr int kTimeoutMs = 30000;

bool waitFor(const std::function<bool()> &condition, int timeoutMs = kTimeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!condition()) {
        if (deadline.hasExpired())
            return false;
        QTest::qWait(100);
    }
    return true;
}
} // namespace

class TestLanAnnounce : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void cleanupTestCase();
    void announcedWithTxtAndWithdrawnOnStop();
    void withoutAvahiDaemonServesAnyway();

private:
    void skip(const QString &why);
    [[nodiscard]] QProcessEnvironment busEnvironment(const QString &address) const;
    // `avahi-browse -rpt _kith._tcp`: the resolved lines ("=;...").
    [[nodiscard]] QStringList browse();
    // Starts kithd in avahi-daemon's network namespace; its stdout so far.
    [[nodiscard]] bool startKithd(QProcess &kithd, const QString &dataDir, const QStringList &args,
                                  QByteArray *out);

    QTemporaryDir m_dir;
    QString m_busAddress;
    QProcess m_bus;
    QProcess m_avahi;
    QString m_avahiBrowse;
    QString m_nsenter;
};

void TestLanAnnounce::skip(const QString &why)
{
    std::printf("kith-test-skip: %s\n", qPrintable(why));
    std::fflush(stdout);
}

QProcessEnvironment TestLanAnnounce::busEnvironment(const QString &address) const
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("DBUS_SYSTEM_BUS_ADDRESS"), address);
    return env;
}

void TestLanAnnounce::initTestCase()
{
    QVERIFY(m_dir.isValid());
    if (::geteuid() != 0) {
        skip(QStringLiteral("needs root for a network namespace of its own"));
        QSKIP("not root");
    }
    const QString dbus = QStandardPaths::findExecutable(QStringLiteral("dbus-daemon"));
    const QString avahi = QStandardPaths::findExecutable(
        QStringLiteral("avahi-daemon"), {QStringLiteral("/usr/sbin"), QStringLiteral("/sbin")});
    m_avahiBrowse = QStandardPaths::findExecutable(QStringLiteral("avahi-browse"));
    m_nsenter = QStandardPaths::findExecutable(QStringLiteral("nsenter"));
    const QString unshare = QStandardPaths::findExecutable(QStringLiteral("unshare"));
    if (dbus.isEmpty() || avahi.isEmpty() || m_avahiBrowse.isEmpty() || m_nsenter.isEmpty() ||
        unshare.isEmpty()) {
        skip(QStringLiteral("needs dbus-daemon, avahi-daemon, avahi-browse, unshare and nsenter "
                            "(tools/deps.sh installs them)"));
        QSKIP("missing programs");
    }

    // A system bus of the test's own, open to everyone (only this test uses it).
    const QString socket = m_dir.filePath(QStringLiteral("bus"));
    QFile config(m_dir.filePath(QStringLiteral("bus.conf")));
    QVERIFY(config.open(QIODevice::WriteOnly));
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
    QVERIFY(m_bus.waitForStarted());
    QVERIFY(waitFor([&] { return m_bus.canReadLine() || m_bus.state() != QProcess::Running; }));
    m_busAddress = QString::fromUtf8(m_bus.readLine()).trimmed();
    if (m_busAddress.isEmpty()) {
        skip(QStringLiteral("the private dbus-daemon did not start: %1")
                 .arg(QString::fromUtf8(m_bus.readAllStandardError())));
        QSKIP("no bus");
    }

    // avahi-daemon on the namespace's loopback, with multicast turned on.
    QFile avahiConfig(m_dir.filePath(QStringLiteral("avahi.conf")));
    QVERIFY(avahiConfig.open(QIODevice::WriteOnly));
    avahiConfig.write("[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=lo\n"
                      "enable-dbus=yes\n[publish]\npublish-addresses=yes\n");
    avahiConfig.close();
    m_avahi.setProcessEnvironment(busEnvironment(m_busAddress));
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
    QVERIFY(m_avahi.waitForStarted());
    QByteArray avahiLog;
    const bool up = waitFor([&] {
        avahiLog += m_avahi.readAll();
        return avahiLog.contains("Server startup complete") || m_avahi.state() != QProcess::Running;
    });
    if (!up || !avahiLog.contains("Server startup complete")) {
        skip(QStringLiteral("no avahi-daemon could be started here: %1")
                 .arg(QString::fromUtf8(avahiLog.right(500)).simplified()));
        QSKIP("no avahi-daemon");
    }
}

void TestLanAnnounce::cleanupTestCase()
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

QStringList TestLanAnnounce::browse()
{
    QProcess browser;
    browser.setProcessEnvironment(busEnvironment(m_busAddress));
    browser.start(m_avahiBrowse, {QStringLiteral("-rpt"), QStringLiteral("_kith._tcp")});
    if (!browser.waitForFinished(kTimeoutMs)) {
        browser.kill();
        browser.waitForFinished();
        return {};
    }
    QStringList resolved;
    for (const QString &line : QString::fromUtf8(browser.readAllStandardOutput()).split(u'\n'))
        if (line.startsWith(u'='))
            resolved.append(line);
    return resolved;
}

bool TestLanAnnounce::startKithd(QProcess &kithd, const QString &dataDir, const QStringList &args,
                                 QByteArray *out)
{
    kithd.setProcessEnvironment(busEnvironment(m_busAddress));
    kithd.start(m_nsenter,
                QStringList{QStringLiteral("--net=/proc/%1/ns/net").arg(m_avahi.processId()),
                            QStringLiteral("--"), TestServer::kithdPath(), QStringLiteral("--data"),
                            dataDir, QStringLiteral("--listen"), QStringLiteral("0.0.0.0"),
                            QStringLiteral("--port"), QStringLiteral("0"),
                            QStringLiteral("--admin-port"), QStringLiteral("0")} +
                    args);
    if (!kithd.waitForStarted())
        return false;
    return waitFor([&] {
               *out += kithd.readAllStandardOutput();
               return out->contains("\nfingerprint ") || kithd.state() != QProcess::Running;
           }) &&
           kithd.state() == QProcess::Running;
}

void TestLanAnnounce::announcedWithTxtAndWithdrawnOnStop()
{
    QTemporaryDir data;
    QProcess kithd;
    QByteArray out;
    QVERIFY2(startKithd(kithd, data.path(),
                        {QStringLiteral("--name"), QStringLiteral("Kith test office"),
                         QStringLiteral("--registration"), QStringLiteral("closed")},
                        &out),
             kithd.readAllStandardError().constData());
    static const QRegularExpression ready(QStringLiteral(R"(kithd ready: wss://[^\s/]+:(\d+)/)"));
    const auto match = ready.match(QString::fromUtf8(out));
    QVERIFY2(match.hasMatch(), out.constData());
    const QString port = match.captured(1);

    QString line;
    QVERIFY2(waitFor([&] {
                 for (const QString &l : browse())
                     if (l.contains(QLatin1String("Kith\\032test\\032office")))
                         line = l;
                 return !line.isEmpty();
             }),
             kithd.readAllStandardError().constData());
    // =;lo;IPv4;NAME;_kith._tcp;local;HOST;ADDRESS;PORT;"k=v" "k=v" ...
    const QStringList fields = line.split(u';');
    QVERIFY2(fields.size() >= 10, qPrintable(line));
    QCOMPARE(fields.at(4), QStringLiteral("_kith._tcp"));
    QCOMPARE(fields.at(8), port);
    const QString txt = fields.mid(9).join(u';');

    const auto cert =
        QSslCertificate::fromPath(QDir(data.path()).filePath(QStringLiteral("tls-cert.pem")));
    QCOMPARE(cert.size(), 1);
    const QByteArray sha = certificateFingerprint(cert.first().toDer());
    for (const QString &record :
         {QStringLiteral("\"name=Kith test office\""),
          QStringLiteral("\"proto=%1.%2\"").arg(kProtocolMajor).arg(kProtocolMinor),
          QStringLiteral("\"tls=1\""), QStringLiteral("\"reg=closed\""),
          QStringLiteral("\"fp=%1\"").arg(QString::fromLatin1(sha.toHex()))})
        QVERIFY2(txt.contains(record), qPrintable(record + QStringLiteral(" not in ") + txt));

    // A stop withdraws it.
    kithd.terminate();
    QVERIFY(kithd.waitForFinished(kTimeoutMs));
    QCOMPARE(kithd.exitCode(), 0);
    QVERIFY(waitFor([&] {
        const QStringList lines = browse();
        return std::none_of(lines.cbegin(), lines.cend(), [](const QString &l) {
            return l.contains(QLatin1String("Kith\\032test\\032office"));
        });
    }));
}

void TestLanAnnounce::withoutAvahiDaemonServesAnyway()
{
    QTemporaryDir data;
    QProcess kithd;
    kithd.setProcessEnvironment(
        busEnvironment(QStringLiteral("unix:path=%1").arg(m_dir.filePath(QStringLiteral("none")))));
    kithd.start(m_nsenter, {QStringLiteral("--net=/proc/%1/ns/net").arg(m_avahi.processId()),
                            QStringLiteral("--"), TestServer::kithdPath(), QStringLiteral("--data"),
                            data.path(), QStringLiteral("--listen"), QStringLiteral("0.0.0.0"),
                            QStringLiteral("--port"), QStringLiteral("0"),
                            QStringLiteral("--admin-port"), QStringLiteral("0")});
    QVERIFY(kithd.waitForStarted());
    QByteArray out;
    QByteArray err;
    QVERIFY(waitFor([&] {
        out += kithd.readAllStandardOutput();
        err += kithd.readAllStandardError();
        return (out.contains("kithd ready: wss://") && err.contains("not announcing")) ||
               kithd.state() != QProcess::Running;
    }));
    QVERIFY2(kithd.state() == QProcess::Running, err.constData());
    QCOMPARE(err.count("not announcing on the LAN: no avahi-daemon"), 1);
    kithd.terminate();
    QVERIFY(kithd.waitForFinished(kTimeoutMs));
    QCOMPARE(kithd.exitStatus(), QProcess::NormalExit);
    QCOMPARE(kithd.exitCode(), 0);
}

QTEST_GUILESS_MAIN(TestLanAnnounce)
#include "tst_lan_announce.moc"
