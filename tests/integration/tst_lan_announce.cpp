// kithd announces itself on the LAN as DNS-SD `_kith._tcp` through
// avahi-daemon, with TXT records for its name, the protocol version, the
// certificate's fingerprint and whether registration is open; it withdraws
// the service when it stops. Where there is no avahi-daemon it says so in
// one line and serves anyway.
//
// The test runs kithd in the network namespace of an avahi-daemon of its own
// (TestAvahi: a private D-Bus system bus, multicast on the namespace's
// loopback), so it can listen on every address without being reachable from
// anywhere else, and browses with avahi-browse over the private bus. It
// needs root for the namespace: without it, or without the programs, it is
// skipped with "kith-test-skip: <why>".

#include "test_avahi.h"
#include "test_server.h"

#include "kith/fingerprint.h"
#include "kith/protocol.h"

#include <QDir>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

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
    void announcedWithTxtAndWithdrawnOnStop();
    void withoutAvahiDaemonServesAnyway();

private:
    // `avahi-browse -rpt _kith._tcp`: the resolved lines ("=;...").
    [[nodiscard]] QStringList browse();
    // Starts kithd in avahi-daemon's network namespace; its stdout so far.
    [[nodiscard]] bool startKithd(QProcess &kithd, const QString &dataDir, const QStringList &args,
                                  QByteArray *out);

    TestAvahi m_avahi;
};

void TestLanAnnounce::initTestCase()
{
    QString whyNot;
    if (!m_avahi.start(&whyNot)) {
        std::printf("kith-test-skip: %s\n", qPrintable(whyNot));
        std::fflush(stdout);
        QSKIP(qPrintable(whyNot));
    }
}

QStringList TestLanAnnounce::browse()
{
    QProcess browser;
    browser.setProcessEnvironment(m_avahi.environment());
    browser.start(m_avahi.avahiBrowse(), {QStringLiteral("-rpt"), QStringLiteral("_kith._tcp")});
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
    m_avahi.startInNamespace(kithd, TestServer::kithdPath(),
                             QStringList{QStringLiteral("--data"), dataDir,
                                         QStringLiteral("--listen"), QStringLiteral("0.0.0.0"),
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
    // The same namespace, but a system bus that is not there.
    m_avahi.startInNamespace(
        kithd, TestServer::kithdPath(),
        {QStringLiteral("--data"), data.path(), QStringLiteral("--listen"),
         QStringLiteral("0.0.0.0"), QStringLiteral("--port"), QStringLiteral("0"),
         QStringLiteral("--admin-port"), QStringLiteral("0")},
        QStringLiteral("unix:path=%1").arg(data.filePath(QStringLiteral("none"))));
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
