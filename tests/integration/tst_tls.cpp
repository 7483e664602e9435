// kithd with a certificate and key serves wss: clients that trust the
// certificate chat as usual, plain ws and untrusting clients get nowhere.

#include "engine_process.h"
#include "test_client.h"
#include "test_server.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QProcess>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace kith;
using namespace kith::test;

class TestTls : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void trustingClientsChatOverWss();
    void plainWsIsRefused();
    void untrustingClientIsRefused();

private:
    QTemporaryDir m_certDir;
    QSslConfiguration m_trusting;
    std::unique_ptr<TestServer> m_server;
};

void TestTls::initTestCase()
{
    if (!QSslSocket::supportsSsl())
        QSKIP(qPrintable(skipMessage(QStringLiteral("Qt has no TLS backend here"))));
    const QString openssl = QStandardPaths::findExecutable(QStringLiteral("openssl"));
    if (openssl.isEmpty())
        QSKIP(qPrintable(skipMessage(QStringLiteral("no openssl to make a test certificate"))));
    QVERIFY(m_certDir.isValid());
    const QString cert = m_certDir.filePath(QStringLiteral("cert.pem"));
    const QString key = m_certDir.filePath(QStringLiteral("key.pem"));
    // A self-signed certificate for the loopback address the server listens on.
    QProcess make;
    make.start(openssl,
               {QStringLiteral("req"), QStringLiteral("-x509"), QStringLiteral("-newkey"),
                QStringLiteral("rsa:2048"), QStringLiteral("-nodes"), QStringLiteral("-keyout"),
                key, QStringLiteral("-out"), cert, QStringLiteral("-days"), QStringLiteral("2"),
                QStringLiteral("-subj"), QStringLiteral("/CN=127.0.0.1"), QStringLiteral("-addext"),
                QStringLiteral("subjectAltName=IP:127.0.0.1")});
    QVERIFY(make.waitForFinished(60000));
    QVERIFY2(make.exitCode() == 0, make.readAllStandardError().constData());
    const auto certificates = QSslCertificate::fromPath(cert);
    QCOMPARE(certificates.size(), 1);

    m_trusting = QSslConfiguration::defaultConfiguration();
    m_trusting.setCaCertificates(certificates);

    m_server = std::make_unique<TestServer>(
        QStringList{QStringLiteral("--cert"), cert, QStringLiteral("--key"), key});
    QVERIFY(m_server->start());
    QCOMPARE(m_server->url().scheme(), QStringLiteral("wss"));
}

void TestTls::trustingClientsChatOverWss()
{
    TestClient alice;
    TestClient bob;
    alice.setSslConfiguration(m_trusting);
    bob.setSslConfiguration(m_trusting);
    QVERIFY(alice.connectAndRegister(m_server->url(), QStringLiteral("alice")));
    QVERIFY(bob.connectAndRegister(m_server->url(), QStringLiteral("bob")));
    const QString conversation = directConversationId(alice.userId(), bob.userId());
    const QString id = newClientMsgId();
    const auto ack = alice.send(conversation, QStringLiteral("over TLS"), id);
    QVERIFY2(ack && ack->has_send_ack(), describe(ack).constData());
    const auto push = bob.waitForPush([&](const v1::Envelope &e) {
        return e.has_message() && toQString(e.message().message().client_msg_id()) == id;
    });
    QVERIFY(push);
    QCOMPARE(toQString(push->message().message().content().text().body()),
             QStringLiteral("over TLS"));
}

void TestTls::plainWsIsRefused()
{
    QUrl plain = m_server->url();
    plain.setScheme(QStringLiteral("ws"));
    TestClient client;
    QVERIFY(!client.connectTo(plain, 10000));
}

void TestTls::untrustingClientIsRefused()
{
    // The default trust store does not know the self-signed certificate.
    TestClient client;
    QVERIFY(!client.connectTo(m_server->url(), 10000));
}

QTEST_GUILESS_MAIN(TestTls)
#include "tst_tls.moc"
