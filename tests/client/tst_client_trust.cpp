// Trust on first use against real kithd processes serving wss:// with their
// own self-signed certificate: the first connection stops at "needs trust"
// with the fingerprint and sends nothing; trusting it pins it in the
// account's local store; a restarted kithd with the same key connects
// silently; a kithd with a new key is refused until the new key is accepted
// deliberately. The same through kith-cli (--trust-fingerprint). A
// certificate the system trusts is taken as usual, with no pin.
#include "client_fixture.h"
#include "kith/client/connection.h"
#include "kith/client/local_store.h"
#include "kith/client/outbox.h"
#include "kith/client/transfer_queue.h"
#include "kith/content.h"
#include "kith/conversation_id.h"
#include "kith/fingerprint.h"
#include "test_server.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace kith;
using namespace kith::client;
using namespace kith::test;

namespace {
QByteArray servedFingerprint(const TestServer &server)
{
    const auto cert =
        QSslCertificate::fromPath(QDir(server.dataDir()).filePath(QStringLiteral("tls-cert.pem")));
    return cert.isEmpty() ? QByteArray() : certificateFingerprint(cert.first().toDer());
}

// The next start makes a new key, as after a reinstall (or as an impostor has).
bool replaceKey(TestServer &server)
{
    if (!server.terminate())
        return false;
    const QDir data(server.dataDir());
    return QFile::remove(data.filePath(QStringLiteral("tls-key.pem"))) &&
           QFile::remove(data.filePath(QStringLiteral("tls-cert.pem"))) && server.start();
}

bool waitForState(KithClient *client, KithClient::ConnectionState state)
{
    return TestClient::waitUntil([&] { return client->connectionState() == state; },
                                 kClientTimeoutMs);
}

QString pinIn(KithClient *client)
{
    return client->store()->value(QString::fromLatin1(LocalStore::kKeyPinnedFingerprint));
}
} // namespace

class TestClientTrust : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase()
    {
        if (!QSslSocket::supportsSsl())
            QSKIP("Qt has no TLS backend here");
        QStandardPaths::setTestModeEnabled(true);
    }

    void libraryPinsOnFirstUseAndRefusesANewKey()
    {
        TestServer server;
        server.useOwnCertificate();
        QVERIFY(server.start());
        QCOMPARE(server.url().scheme(), QStringLiteral("wss"));
        const QByteArray first = servedFingerprint(server);
        QCOMPARE(first.size(), 32);

        QTemporaryDir dir;
        ClientDevice device(dir.path());
        device->registerAccount(server.url(), QStringLiteral("alice"), kPassword);
        QVERIFY(waitForState(device.get(), KithClient::TrustRequired));
        QCOMPARE(device->trustFingerprint(), fingerprintHex(first));
        QCOMPARE(device->trustWords(), fingerprintWords(first).join(QLatin1Char(' ')));
        QVERIFY(!device->trustKeyChanged());
        QVERIFY(device->lastError().contains(
            QLatin1String("compare this with what your admin printed")));
        QVERIFY(pinIn(device.get()).isEmpty());
        // Nothing reached the server: the registration was not sent.
        QByteArray users;
        QCOMPARE(server.runAdmin({QStringLiteral("user"), QStringLiteral("list")}, &users), 0);
        QVERIFY2(!users.contains("alice"), users.constData());

        // Only the fingerprint that was shown is taken.
        QByteArray other = first;
        other[0] = char(other[0] ^ 1);
        QVERIFY(!device->trustServer(fingerprintHex(other)));
        QCOMPARE(device->connectionState(), KithClient::TrustRequired);
        QVERIFY(device->trustServer(QString::fromLatin1(first.toHex())));
        QVERIFY(device.waitSynced());
        QCOMPARE(pinIn(device.get()), QString::fromLatin1(first.toHex()));

        // Same key after a restart: connects without asking.
        QVERIFY(server.restart());
        device.restart();
        QSignalSpy asked(device->connection(), &Connection::trustRequired);
        QVERIFY(device.resume(server.url(), QStringLiteral("alice")));
        QCOMPARE(asked.count(), 0);

        // A new key: refused, with both the reason and the new fingerprint.
        QVERIFY(replaceKey(server));
        const QByteArray second = servedFingerprint(server);
        QVERIFY(second != first);
        device.restart();
        QVERIFY(device->openAccount(server.url(), QStringLiteral("alice")));
        QVERIFY(waitForState(device.get(), KithClient::TrustRequired));
        QVERIFY(device->trustKeyChanged());
        QCOMPARE(device->trustFingerprint(), fingerprintHex(second));
        QVERIFY2(device->lastError().contains(QLatin1String("key changed")),
                 qPrintable(device->lastError()));
        QCOMPARE(pinIn(device.get()), QString::fromLatin1(first.toHex()));
        // It stays refused: no retry behind the user's back.
        QVERIFY(!TestClient::waitUntil([&] { return device->isOnline(); }, 2000));
        // Accepted deliberately: pinned and connected.
        QVERIFY(device->trustServer(fingerprintHex(second)));
        QVERIFY(device.waitSynced());
        QCOMPARE(pinIn(device.get()), QString::fromLatin1(second.toHex()));
    }

    void cliTrustsOnlyTheGivenFingerprint()
    {
        TestServer server;
        server.useOwnCertificate();
        QVERIFY(server.start());
        const QByteArray first = servedFingerprint(server);
        QTemporaryDir home;
        const QStringList serverArgs{QStringLiteral("--server"), server.url().toString()};
        const QStringList registerArgs =
            serverArgs + QStringList{QStringLiteral("register"), QStringLiteral("bob"), kPassword};

        QByteArray err;
        QCOMPARE(runCli(home.path(), registerArgs, nullptr, &err), 1);
        QVERIFY2(err.contains("self-signed") &&
                     err.contains("Compare this with what your admin printed") &&
                     err.contains(fingerprintHex(first).toLatin1()),
                 err.constData());

        QByteArray wrong = first;
        wrong[31] = char(wrong[31] ^ 0x10);
        QCOMPARE(runCli(home.path(),
                        QStringList{QStringLiteral("--trust-fingerprint"), fingerprintHex(wrong)} +
                            registerArgs,
                        nullptr, &err),
                 1);
        QVERIFY2(err.contains("mismatch"), err.constData());

        QByteArray out;
        QCOMPARE(runCli(home.path(),
                        QStringList{QStringLiteral("--trust-fingerprint"), fingerprintHex(first)} +
                            registerArgs,
                        &out, &err),
                 0);
        QVERIFY2(out.startsWith("registered bob"), err.constData());
        // Pinned: later commands need no flag.
        QCOMPARE(
            runCli(home.path(), serverArgs + QStringList{QStringLiteral("sync")}, nullptr, &err),
            0);

        QVERIFY(replaceKey(server));
        const QByteArray second = servedFingerprint(server);
        QCOMPARE(
            runCli(home.path(), serverArgs + QStringList{QStringLiteral("sync")}, nullptr, &err),
            1);
        QVERIFY2(err.contains("key changed") && err.contains(fingerprintHex(second).toLatin1()),
                 err.constData());
        // The old fingerprint does not open the door to the new key.
        QCOMPARE(runCli(home.path(),
                        serverArgs + QStringList{QStringLiteral("--trust-fingerprint"),
                                                 fingerprintHex(first), QStringLiteral("sync")},
                        nullptr, &err),
                 1);
        QVERIFY2(err.contains("mismatch"), err.constData());
        QCOMPARE(runCli(home.path(),
                        serverArgs + QStringList{QStringLiteral("--trust-fingerprint"),
                                                 fingerprintHex(second), QStringLiteral("sync")},
                        nullptr, &err),
                 0);
        QCOMPARE(
            runCli(home.path(), serverArgs + QStringList{QStringLiteral("sync")}, nullptr, &err),
            0);
    }

    // A certificate the system trusts connects as usual: no prompt, no pin.
    void filesGoOverTlsToThePinnedKeyOnly()
    {
        TestServer server;
        server.useOwnCertificate();
        QVERIFY(server.start());
        const QByteArray key = servedFingerprint(server);
        QTemporaryDir dir;
        ClientDevice alice(dir.filePath(QStringLiteral("alice")));
        ClientDevice bob(dir.filePath(QStringLiteral("bob")));
        for (ClientDevice *device : {&alice, &bob}) {
            (*device)->registerAccount(
                server.url(), device == &alice ? QStringLiteral("alice") : QStringLiteral("bob"),
                kPassword);
            QVERIFY(waitForState(device->get(), KithClient::TrustRequired));
            QVERIFY((*device)->trustServer(fingerprintHex(key)));
            QVERIFY(device->waitSynced());
        }
        const QString direct =
            directConversationId(quint64(alice->userId()), quint64(bob->userId()));

        // More than kithd keeps waiting for a TLS peer, so both ways go in pieces.
        QByteArray bytes(900 * 1024 + 3, Qt::Uninitialized);
        for (qsizetype i = 0; i < bytes.size(); ++i)
            bytes[i] = char((i * 131) ^ (i >> 7));
        const QString path = dir.filePath(QStringLiteral("report.pdf"));
        {
            QFile file(path);
            QVERIFY(file.open(QIODevice::WriteOnly));
            QCOMPARE(file.write(bytes), bytes.size());
        }
        QSignalSpy failedUp(alice->transfers(), &TransferQueue::failed);
        QVERIFY(alice->transfers()->sendFile(direct, path, QStringLiteral("over TLS")).ok());
        QTRY_VERIFY_WITH_TIMEOUT(alice->store()->transfers().isEmpty() && alice->outbox()->isIdle(),
                                 kClientTimeoutMs);
        QCOMPARE(failedUp.count(), 0);

        // Bob reads the message's FileRef from the server and fetches it.
        TestClient reader;
        QSslConfiguration any = QSslConfiguration::defaultConfiguration();
        any.setPeerVerifyMode(QSslSocket::VerifyNone);
        reader.setSslConfiguration(any);
        QVERIFY(reader.connectAndLogin(server.url(), QStringLiteral("bob")));
        const auto history = reader.pullAll(direct);
        QVERIFY(history);
        v1::FileRef ref;
        for (const v1::Message &m : *history)
            if (m.content().has_file())
                ref = m.content().file();
        QCOMPARE(ref.size(), quint64(bytes.size()));
        QSignalSpy done(bob->transfers(), &TransferQueue::finished);
        const QString saved = dir.filePath(QStringLiteral("saved.pdf"));
        QVERIFY(bob->transfers()->download(ref, saved).ok());
        QVERIFY(done.wait(kClientTimeoutMs));
        QFile copy(saved);
        QVERIFY(copy.open(QIODevice::ReadOnly));
        QVERIFY(copy.readAll() == bytes);

        // With another key pinned (as if someone in between showed theirs), a
        // transfer fails at once with the reason and sends nothing.
        QByteArray other = key;
        other[0] = char(other[0] ^ 1);
        bob->connection()->setPinnedFingerprint(other);
        QSignalSpy failed(bob->transfers(), &TransferQueue::failed);
        QVERIFY(bob->transfers()->download(ref, dir.filePath(QStringLiteral("again.pdf"))).ok());
        QVERIFY(failed.wait(kClientTimeoutMs));
        QVERIFY2(failed.first().at(1).toString().contains(QLatin1String("certificate")),
                 qPrintable(failed.first().at(1).toString()));
        QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("again.pdf"))));
    }

    void trustedAuthorityNeedsNoPin()
    {
        const QString openssl = QStandardPaths::findExecutable(QStringLiteral("openssl"));
        if (openssl.isEmpty())
            QSKIP("no openssl to make a test certificate");
        QTemporaryDir certDir;
        const QString cert = certDir.filePath(QStringLiteral("cert.pem"));
        const QString key = certDir.filePath(QStringLiteral("key.pem"));
        QProcess make;
        make.start(openssl,
                   {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"),
                    QStringLiteral("ec"), QStringLiteral("-pkeyopt"),
                    QStringLiteral("ec_paramgen_curve:P-256"), QStringLiteral("-nodes"),
                    QStringLiteral("-keyout"), key, QStringLiteral("-out"), cert,
                    QStringLiteral("-days"), QStringLiteral("2"), QStringLiteral("-subj"),
                    QStringLiteral("/CN=127.0.0.1"), QStringLiteral("-addext"),
                    QStringLiteral("subjectAltName=IP:127.0.0.1")});
        QVERIFY(make.waitForFinished(60000));
        QCOMPARE(make.exitCode(), 0);
        // The system's trust store, as far as this process is concerned.
        const QSslConfiguration saved = QSslConfiguration::defaultConfiguration();
        QSslConfiguration trusting = saved;
        trusting.addCaCertificates(QSslCertificate::fromPath(cert));
        QSslConfiguration::setDefaultConfiguration(trusting);

        TestServer server({QStringLiteral("--cert"), cert, QStringLiteral("--key"), key});
        QVERIFY(server.start());
        QTemporaryDir dir;
        ClientDevice device(dir.path());
        QSignalSpy asked(device->connection(), &Connection::trustRequired);
        const bool registered = device.registerOn(server.url(), QStringLiteral("carol"));
        QSslConfiguration::setDefaultConfiguration(saved);
        QVERIFY(registered);
        QCOMPARE(asked.count(), 0);
        QVERIFY(pinIn(device.get()).isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestClientTrust)
#include "tst_client_trust.moc"
