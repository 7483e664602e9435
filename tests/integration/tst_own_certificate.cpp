// kithd without --cert: its first start makes a key and a self-signed
// certificate in the data folder (owner-only files) and serves wss:// with
// them; later starts reuse them, so the fingerprint printed at start and by
// `kithd fingerprint` stays what clients pinned. Plain ws:// is refused off
// loopback unless asked for with --insecure-plain.

#include "test_client.h"
#include "test_server.h"

#include "kith/fingerprint.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>

using namespace kith;
using namespace kith::test;

namespace {
constexpr int kProcessTimeoutMs = 30000;

QByteArray fileBytes(const QString &path)
{
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

int modeOf(const QString &path)
{
    struct stat info
    {};
    if (::stat(QFile::encodeName(path).constData(), &info) != 0)
        return -1;
    return int(info.st_mode & 0777);
}

// A client that takes any certificate, so the test can look at the one served.
QSslConfiguration acceptingAnyCertificate()
{
    QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
    tls.setPeerVerifyMode(QSslSocket::VerifyNone);
    return tls;
}

// Runs kithd with these arguments until it exits; its exit code, -1 when it
// crashed or hung.
int runKithd(const QStringList &args, QByteArray *out, QByteArray *err)
{
    QProcess process;
    process.start(TestServer::kithdPath(), args);
    if (!process.waitForFinished(kProcessTimeoutMs)) {
        process.kill();
        process.waitForFinished();
        return -1;
    }
    if (out)
        *out = process.readAllStandardOutput();
    if (err)
        *err = process.readAllStandardError();
    return process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
}
} // namespace

class TestOwnCertificate : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void firstStartMakesItAndLaterStartsReuseIt();
    void fingerprintPrintedAtStartAndByCommand();
    void plainRefusedOffLoopback();
    void certificateWithoutKeyIsRefused();
};

void TestOwnCertificate::initTestCase()
{
    if (!QSslSocket::supportsSsl())
        QSKIP("Qt has no TLS backend here");
    QVERIFY2(!TestServer::kithdPath().isEmpty(), "no kithd to test");
}

void TestOwnCertificate::firstStartMakesItAndLaterStartsReuseIt()
{
    TestServer server;
    server.useOwnCertificate();
    const QString cert = QDir(server.dataDir()).filePath(QStringLiteral("tls-cert.pem"));
    const QString key = QDir(server.dataDir()).filePath(QStringLiteral("tls-key.pem"));
    QVERIFY(!QFile::exists(cert));
    QVERIFY(server.start());
    QCOMPARE(server.url().scheme(), QStringLiteral("wss"));
    QVERIFY(QFile::exists(cert));
    QVERIFY(QFile::exists(key));
    QCOMPARE(modeOf(key), 0600);
    QCOMPARE(modeOf(cert), 0600);
    const QByteArray certBytes = fileBytes(cert);
    const QByteArray keyBytes = fileBytes(key);
    const auto onDisk = QSslCertificate::fromData(certBytes);
    QCOMPARE(onDisk.size(), 1);
    QVERIFY(onDisk.first().isSelfSigned());
    // No temporary files left behind.
    QCOMPARE(QDir(server.dataDir())
                 .entryList({QStringLiteral("tls-*")}, QDir::Files | QDir::Hidden)
                 .size(),
             2);

    // A wss client chats, and it is this certificate that it was shown.
    TestClient alice;
    alice.setSslConfiguration(acceptingAnyCertificate());
    QVERIFY(alice.connectAndRegister(server.url(), QStringLiteral("alice")));
    QCOMPARE(alice.peerCertificate(), onDisk.first());
    alice.close();

    // Plain ws to the wss port gets nowhere.
    QUrl plain = server.url();
    plain.setScheme(QStringLiteral("ws"));
    TestClient plainClient;
    QVERIFY(!plainClient.connectTo(plain, 10000));

    QVERIFY(server.restart());
    QCOMPARE(fileBytes(cert), certBytes);
    QCOMPARE(fileBytes(key), keyBytes);
    TestClient again;
    again.setSslConfiguration(acceptingAnyCertificate());
    QVERIFY(again.connectAndLogin(server.url(), QStringLiteral("alice")));
    QCOMPARE(again.peerCertificate(), onDisk.first());

    // Another data folder is another server: another key.
    TestServer other;
    other.useOwnCertificate();
    QVERIFY(other.start());
    QVERIFY(fileBytes(QDir(other.dataDir()).filePath(QStringLiteral("tls-key.pem"))) != keyBytes);
}

void TestOwnCertificate::fingerprintPrintedAtStartAndByCommand()
{
    QTemporaryDir data;
    QVERIFY(data.isValid());
    QProcess kithd;
    kithd.start(TestServer::kithdPath(),
                {QStringLiteral("--data"), data.path(), QStringLiteral("--listen"),
                 QStringLiteral("127.0.0.1"), QStringLiteral("--port"), QStringLiteral("0"),
                 QStringLiteral("--admin-port"), QStringLiteral("0")});
    QVERIFY(kithd.waitForStarted(kProcessTimeoutMs));
    static const QRegularExpression line(
        QStringLiteral(R"(^fingerprint (([0-9A-F]{4} ){15}[0-9A-F]{4}) \(([a-z ]+)\)$)"),
        QRegularExpression::MultilineOption);
    QByteArray out;
    QRegularExpressionMatch printed;
    QTRY_VERIFY_WITH_TIMEOUT((out += kithd.readAllStandardOutput(),
                              printed = line.match(QString::fromUtf8(out)), printed.hasMatch()),
                             kProcessTimeoutMs);
    QVERIFY2(out.contains("kithd ready: wss://"), out.constData());
    kithd.terminate();
    QVERIFY(kithd.waitForFinished(kProcessTimeoutMs));

    const auto cert =
        QSslCertificate::fromPath(QDir(data.path()).filePath(QStringLiteral("tls-cert.pem")));
    QCOMPARE(cert.size(), 1);
    const QByteArray sha = certificateFingerprint(cert.first().toDer());
    QCOMPARE(printed.captured(1), fingerprintHex(sha));
    QCOMPARE(printed.captured(3).split(QLatin1Char(' ')), fingerprintWords(sha));

    QByteArray command;
    QByteArray err;
    QCOMPARE(runKithd({QStringLiteral("fingerprint"), QStringLiteral("--data"), data.path()},
                      &command, &err),
             0);
    const QStringList lines =
        QString::fromUtf8(command).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 2);
    QCOMPARE(lines.at(0), fingerprintHex(sha));
    QCOMPARE(lines.at(1), fingerprintWords(sha).join(QLatin1Char(' ')));

    // Before the first start there is nothing to print, and it says why.
    QTemporaryDir empty;
    QCOMPARE(runKithd({QStringLiteral("fingerprint"), QStringLiteral("--data"), empty.path()},
                      nullptr, &err),
             1);
    QVERIFY2(err.contains("first start"), err.constData());
}

void TestOwnCertificate::plainRefusedOffLoopback()
{
    QTemporaryDir data;
    QByteArray err;
    for (const char *address : {"0.0.0.0", "::"}) {
        QCOMPARE(runKithd({QStringLiteral("--plain"), QStringLiteral("--listen"),
                           QString::fromLatin1(address), QStringLiteral("--port"),
                           QStringLiteral("0"), QStringLiteral("--admin-port"), QStringLiteral("0"),
                           QStringLiteral("--data"), data.path()},
                          nullptr, &err),
                 2);
        QVERIFY2(err.contains("loopback only") && err.contains("--insecure-plain"),
                 err.constData());
    }
    // Nothing was served, so nothing was made.
    QVERIFY(!QFile::exists(QDir(data.path()).filePath(QStringLiteral("tls-key.pem"))));

    // On loopback plain ws is allowed, and it is what tests use.
    TestServer server;
    QVERIFY(server.start());
    QCOMPARE(server.url().scheme(), QStringLiteral("ws"));
    QVERIFY(!QFile::exists(QDir(server.dataDir()).filePath(QStringLiteral("tls-key.pem"))));
}

void TestOwnCertificate::certificateWithoutKeyIsRefused()
{
    TestServer server;
    server.useOwnCertificate();
    QVERIFY(server.start());
    QVERIFY(server.terminate());
    const QString cert = QDir(server.dataDir()).filePath(QStringLiteral("tls-cert.pem"));
    const QByteArray before = fileBytes(cert);
    QVERIFY(QFile::remove(QDir(server.dataDir()).filePath(QStringLiteral("tls-key.pem"))));
    // A new key would silently change what clients pinned: kithd says so instead.
    QByteArray err;
    QCOMPARE(
        runKithd({QStringLiteral("--listen"), QStringLiteral("127.0.0.1"), QStringLiteral("--port"),
                  QStringLiteral("0"), QStringLiteral("--admin-port"), QStringLiteral("0"),
                  QStringLiteral("--data"), server.dataDir()},
                 nullptr, &err),
        1);
    QVERIFY2(err.contains("key") && err.contains("missing"), err.constData());
    QCOMPARE(fileBytes(cert), before);
}

QTEST_GUILESS_MAIN(TestOwnCertificate)
#include "tst_own_certificate.moc"
