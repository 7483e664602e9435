// The app's list of servers on the LAN: LanServersModel (through LanBrowser)
// finds the kithd instances announcing `_kith._tcp`, with the name, port,
// address, registration flag and fingerprint they announce, and drops each
// when its kithd stops. Without an avahi-daemon to ask it says it is not
// available, with an empty list.
//
// kithd runs in the network namespace of an avahi-daemon of the test's own
// (TestAvahi), and this process browses through that daemon's private system
// bus. Needs root for the namespace; skipped with "kith-test-skip: <why>"
// where it cannot run. libdbus reads the system bus's address once a
// process, so each test function runs in a process of its own (CMake runs
// them one by one).

#include "test_avahi.h"
#include "test_server.h"

#include "kith/client/lan_browser.h"
#include "kith/client/lan_servers_model.h"
#include "kith/fingerprint.h"

#include <QDir>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QSslCertificate>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace kith;
using namespace kith::client;
using namespace kith::test;

namespace {
constexpr int kTimeoutMs = 30000;

bool waitFor(const std::function<bool()> &condition)
{
    QDeadlineTimer deadline(kTimeoutMs);
    while (!condition()) {
        if (deadline.hasExpired())
            return false;
        QTest::qWait(50);
    }
    return true;
}

int rowNamed(const LanServersModel &model, const QString &name)
{
    for (int row = 0; row < model.rowCount(); ++row)
        if (model.get(row).value(QStringLiteral("name")).toString() == name)
            return row;
    return -1;
}
} // namespace

class TestClientLan : public QObject
{
    Q_OBJECT

private slots:
    void findsServersAndDropsThemWhenTheyStop();
    void checksWhatTxtRecordsSay();
    void withoutAvahiDaemonNotAvailable();

private:
    struct Kithd
    {
        QTemporaryDir data;
        QProcess process;
        quint16 port = 0;
        QString fingerprintHex;
    };
    // Starts the test's avahi-daemon once (the process keeps its first bus);
    // false after printing why it cannot run here.
    [[nodiscard]] bool startAvahi();
    // kithd in the namespace, announcing as `name`.
    [[nodiscard]] bool startKithd(Kithd &kithd, const QString &name, const QString &registration);

    TestAvahi m_avahi;
    bool m_avahiStarted = false;
};

bool TestClientLan::startAvahi()
{
    if (m_avahiStarted)
        return true;
    QString whyNot;
    if (!LanBrowser::isBuiltIn())
        whyNot = QStringLiteral("libkithclient was built without Avahi");
    else if (!m_avahi.start(&whyNot))
        whyNot = whyNot.isEmpty() ? QStringLiteral("no avahi-daemon") : whyNot;
    else
        m_avahiStarted = true;
    if (!m_avahiStarted) {
        std::printf("kith-test-skip: %s\n", qPrintable(whyNot));
        std::fflush(stdout);
        return false;
    }
    qputenv("DBUS_SYSTEM_BUS_ADDRESS", m_avahi.busAddress().toUtf8());
    return true;
}

bool TestClientLan::startKithd(Kithd &kithd, const QString &name, const QString &registration)
{
    m_avahi.startInNamespace(
        kithd.process, TestServer::kithdPath(),
        {QStringLiteral("--data"), kithd.data.path(), QStringLiteral("--listen"),
         QStringLiteral("0.0.0.0"), QStringLiteral("--port"), QStringLiteral("0"),
         QStringLiteral("--admin-port"), QStringLiteral("0"), QStringLiteral("--name"), name,
         QStringLiteral("--registration"), registration});
    if (!kithd.process.waitForStarted())
        return false;
    QByteArray out;
    static const QRegularExpression ready(QStringLiteral(R"(kithd ready: wss://[^\s/]+:(\d+)/)"));
    QRegularExpressionMatch match;
    const bool up = waitFor([&] {
        out += kithd.process.readAllStandardOutput();
        match = ready.match(QString::fromUtf8(out));
        return (match.hasMatch() && out.contains("\nfingerprint ")) ||
               kithd.process.state() != QProcess::Running;
    });
    if (!up || kithd.process.state() != QProcess::Running) {
        qWarning() << "kithd did not start:" << out << kithd.process.readAllStandardError();
        return false;
    }
    kithd.port = match.captured(1).toUShort();
    const auto cert =
        QSslCertificate::fromPath(QDir(kithd.data.path()).filePath(QStringLiteral("tls-cert.pem")));
    if (cert.size() != 1)
        return false;
    kithd.fingerprintHex =
        QString::fromLatin1(certificateFingerprint(cert.first().toDer()).toHex());
    return true;
}

void TestClientLan::findsServersAndDropsThemWhenTheyStop()
{
    if (!startAvahi())
        QSKIP("cannot run here");
    LanServersModel model;
    QSignalSpy countChanged(&model, &LanServersModel::countChanged);
    model.setActive(true);
    QVERIFY2(model.isAvailable(), qPrintable(model.unavailableReason()));
    QCOMPARE(model.rowCount(), 0);

    Kithd office;
    Kithd lab;
    QVERIFY(startKithd(office, QStringLiteral("Office Kith"), QStringLiteral("open")));
    QVERIFY(startKithd(lab, QStringLiteral("Lab Kith"), QStringLiteral("closed")));

    QVERIFY2(waitFor([&] {
                 return rowNamed(model, QStringLiteral("Office Kith")) >= 0 &&
                        rowNamed(model, QStringLiteral("Lab Kith")) >= 0;
             }),
             qPrintable(QStringLiteral("%1 rows").arg(model.rowCount())));
    QCOMPARE(model.rowCount(), 2);
    // Sorted by name.
    QCOMPARE(rowNamed(model, QStringLiteral("Lab Kith")), 0);

    const QVariantMap officeRow = model.get(rowNamed(model, QStringLiteral("Office Kith")));
    QCOMPARE(officeRow.value(QStringLiteral("port")).toInt(), int(office.port));
    QCOMPARE(officeRow.value(QStringLiteral("registrationOpen")).toBool(), true);
    QCOMPARE(officeRow.value(QStringLiteral("tls")).toBool(), true);
    QCOMPARE(officeRow.value(QStringLiteral("fingerprint")).toString(), office.fingerprintHex);
    // avahi-daemon only has the namespace's loopback.
    QCOMPARE(officeRow.value(QStringLiteral("address")).toString(), QStringLiteral("127.0.0.1"));
    QVERIFY(officeRow.value(QStringLiteral("host")).toString().endsWith(QLatin1String(".local")));
    QCOMPARE(officeRow.value(QStringLiteral("url")).toString(),
             QStringLiteral("wss://127.0.0.1:%1/").arg(office.port));

    const QVariantMap labRow = model.get(rowNamed(model, QStringLiteral("Lab Kith")));
    QCOMPARE(labRow.value(QStringLiteral("port")).toInt(), int(lab.port));
    QCOMPARE(labRow.value(QStringLiteral("registrationOpen")).toBool(), false);
    QCOMPARE(labRow.value(QStringLiteral("fingerprint")).toString(), lab.fingerprintHex);
    QVERIFY(office.fingerprintHex != lab.fingerprintHex);

    // A stopped kithd withdraws its announcement, and its row goes.
    office.process.terminate();
    QVERIFY(office.process.waitForFinished(kTimeoutMs));
    QVERIFY(waitFor([&] { return rowNamed(model, QStringLiteral("Office Kith")) < 0; }));
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.get(0).value(QStringLiteral("name")).toString(), QStringLiteral("Lab Kith"));

    // Not looking any more: the list empties, and browsing again finds what is there.
    model.setActive(false);
    QCOMPARE(model.rowCount(), 0);
    model.setActive(true);
    QVERIFY(waitFor([&] { return rowNamed(model, QStringLiteral("Lab Kith")) >= 0; }));
    QCOMPARE(model.rowCount(), 1);

    lab.process.terminate();
    QVERIFY(lab.process.waitForFinished(kTimeoutMs));
    QVERIFY(waitFor([&] { return model.rowCount() == 0; }));
    QVERIFY(countChanged.count() >= 4);
}

// Anyone on the LAN can announce `_kith._tcp` with any TXT: what does not
// fit is cut or left out, never trusted.
void TestClientLan::checksWhatTxtRecordsSay()
{
    if (!startAvahi())
        QSKIP("cannot run here");
    const QString publish = QStandardPaths::findExecutable(QStringLiteral("avahi-publish"));
    if (publish.isEmpty()) {
        std::printf("kith-test-skip: needs avahi-publish (avahi-utils)\n");
        std::fflush(stdout);
        QSKIP("no avahi-publish");
    }
    LanServersModel model;
    model.setActive(true);
    QVERIFY2(model.isAvailable(), qPrintable(model.unavailableReason()));

    const QString longName(200, u'x');
    QProcess announcer;
    announcer.setProcessEnvironment(m_avahi.environment());
    announcer.start(publish,
                    {QStringLiteral("-s"), QStringLiteral("Odd one"), QStringLiteral("_kith._tcp"),
                     QStringLiteral("7999"), QStringLiteral("name=") + longName,
                     QStringLiteral("fp=") + QString(64, u'z'), QStringLiteral("reg=maybe"),
                     QStringLiteral("tls=0"), QStringLiteral("proto=") + QString(40, u'9'),
                     QStringLiteral("junk")});
    QVERIFY(announcer.waitForStarted());
    QVERIFY2(waitFor([&] { return model.rowCount() == 1; }),
             announcer.readAllStandardError().constData());
    const QVariantMap row = model.get(0);
    QCOMPARE(row.value(QStringLiteral("name")).toString(), QString(80, u'x'));
    QCOMPARE(row.value(QStringLiteral("fingerprint")).toString(), QString());
    QCOMPARE(row.value(QStringLiteral("registrationOpen")).toBool(), false);
    QCOMPARE(row.value(QStringLiteral("tls")).toBool(), false);
    QCOMPARE(row.value(QStringLiteral("port")).toInt(), 7999);
    QCOMPARE(row.value(QStringLiteral("url")).toString(), QStringLiteral("ws://127.0.0.1:7999/"));

    announcer.terminate();
    QVERIFY(announcer.waitForFinished(kTimeoutMs));
    QVERIFY(waitFor([&] { return model.rowCount() == 0; }));
}

void TestClientLan::withoutAvahiDaemonNotAvailable()
{
    // A system bus that is not there: no avahi-daemon to ask (also what a
    // build without Avahi says, in its own words).
    QTemporaryDir dir;
    qputenv("DBUS_SYSTEM_BUS_ADDRESS",
            QStringLiteral("unix:path=%1").arg(dir.filePath(QStringLiteral("none"))).toUtf8());
    LanServersModel model;
    QSignalSpy availableChanged(&model, &LanServersModel::availableChanged);
    model.setActive(true);
    QVERIFY(model.isActive());
    QVERIFY(!model.isAvailable());
    QVERIFY2(model.unavailableReason().contains(LanBrowser::isBuiltIn()
                                                    ? QLatin1String("no avahi-daemon")
                                                    : QLatin1String("without Avahi")),
             qPrintable(model.unavailableReason()));
    QCOMPARE(model.rowCount(), 0);
    model.setActive(false);
    QVERIFY(!model.isAvailable());
}

QTEST_GUILESS_MAIN(TestClientLan)
#include "tst_client_lan.moc"
