// Connection and the "deflate" feature, against a scripted stand-in for kithd
// on a loopback WebSocket: the hello asks for deflate, Compressed answers and
// pushes reach their handlers unwrapped, and a Compressed frame that does not
// unwrap drops the connection like any other undecodable frame.
#include "kith/client/connection.h"
#include "kith/compression.h"
#include "kith/protocol.h"

#include <QHostAddress>
#include <QTcpServer>
#include <QTest>
#include <QWebSocket>
#include <QWebSocketServer>

#include <algorithm>
#include <memory>

using namespace kith;
using namespace kith::client;

namespace {

constexpr int kTimeoutMs = 10000;

// One client at a time; every frame it sends is kept, and hello and login
// get the answers a real server would give.
class FakeServer : public QObject
{
    Q_OBJECT
public:
    FakeServer()
    {
        connect(&m_server, &QWebSocketServer::newConnection, this, [this] {
            m_peer.reset(m_server.nextPendingConnection());
            connect(m_peer.get(), &QWebSocket::binaryMessageReceived, this, &FakeServer::onFrame);
        });
    }

    [[nodiscard]] bool listen() { return m_server.listen(QHostAddress::LocalHost); }
    [[nodiscard]] QUrl url() const
    {
        return QUrl(QStringLiteral("ws://127.0.0.1:%1").arg(m_server.serverPort()));
    }
    void sendRaw(const QByteArray &frame) { m_peer->sendBinaryMessage(frame); }
    [[nodiscard]] const QList<v1::Envelope> &received() const { return m_received; }

    // The last request of a kind the client sent, or nullopt.
    [[nodiscard]] std::optional<v1::Envelope> lastOf(v1::Envelope::BodyCase body) const
    {
        for (auto it = m_received.crbegin(); it != m_received.crend(); ++it)
            if (it->body_case() == body)
                return *it;
        return std::nullopt;
    }

private:
    void onFrame(const QByteArray &bytes)
    {
        const auto envelope = decodeEnvelope(bytes);
        if (!envelope)
            return;
        m_received.append(*envelope);
        v1::Envelope answer;
        answer.set_request_id(envelope->request_id());
        if (envelope->has_hello()) {
            auto *ok = answer.mutable_hello_ok();
            ok->set_protocol_major(kProtocolMajor);
            for (const auto &feature : envelope->hello().features())
                if (feature == kDeflateFeature)
                    ok->add_features(kDeflateFeature);
        } else if (envelope->has_login()) {
            answer.mutable_auth_ok()->mutable_user()->set_id(7);
            answer.mutable_auth_ok()->set_device_id(3);
            answer.mutable_auth_ok()->set_token("token");
        } else {
            return; // the test answers the rest
        }
        m_peer->sendBinaryMessage(encodeEnvelope(answer));
    }

    QWebSocketServer m_server{QStringLiteral("fake kithd"), QWebSocketServer::NonSecureMode};
    std::unique_ptr<QWebSocket> m_peer;
    QList<v1::Envelope> m_received;
};

// A history page big and repetitive enough to be sent compressed.
v1::Envelope historyPage(quint32 requestId)
{
    v1::Envelope envelope;
    envelope.set_request_id(requestId);
    auto *page = envelope.mutable_pull_response();
    page->set_conversation_id("d:3:7");
    for (int i = 1; i <= 40; ++i) {
        auto *message = page->add_messages();
        message->set_conversation_id("d:3:7");
        message->set_seq(quint64(i));
        message->set_sender_user_id(i % 2 ? 3 : 7);
        message->mutable_content()->mutable_text()->set_body(
            toStd(QStringLiteral("message number %1 about the release on Thursday").arg(i)));
    }
    page->set_max_seq(40);
    return envelope;
}

Connection::Credentials login()
{
    Connection::Credentials credentials;
    credentials.mode = Connection::Credentials::Mode::Login;
    credentials.username = QStringLiteral("alice");
    credentials.password = QStringLiteral("password123");
    credentials.deviceName = QStringLiteral("test");
    return credentials;
}

} // namespace

class TestClientConnection : public QObject
{
    Q_OBJECT
private slots:
    void init()
    {
        m_server = std::make_unique<FakeServer>();
        QVERIFY(m_server->listen());
        m_connection = std::make_unique<Connection>();
        m_connection->setServerUrl(m_server->url());
        m_connection->start(login());
        QTRY_VERIFY_WITH_TIMEOUT(m_connection->isOnline(), kTimeoutMs);
    }
    void cleanup()
    {
        m_connection.reset();
        m_server.reset();
    }

    // With the server gone, each failed attempt waits longer: attempt k
    // (from 0) waits between half and all of min(1 s * 2^k, 60 s), shown
    // as whole seconds in nextRetryIn, and never longer than the cap.
    void retryDelaysDoubleUpToTheCap()
    {
        m_connection.reset();
        quint16 deadPort = 0;
        {
            QTcpServer probe; // a port nobody listens on once it is closed
            QVERIFY(probe.listen(QHostAddress::LocalHost));
            deadPort = probe.serverPort();
        }
        Connection connection;
        connection.setServerUrl(QUrl(QStringLiteral("ws://127.0.0.1:%1").arg(deadPort)));
        QList<int> waits; // nextRetryIn as each wait begins
        connect(&connection, &Connection::stateChanged, this, [&](Connection::State state) {
            if (state != Connection::State::WaitingToRetry)
                return;
            waits.append(connection.nextRetryIn());
            // Skip the wait: the next attempt fails at once, and its delay grows.
            QMetaObject::invokeMethod(&connection, &Connection::retryNow, Qt::QueuedConnection);
        });
        connection.start(login());
        // Past the cap a wait is drawn from 30..60 s; a cap of 64 s instead
        // (2^6 s uncapped) draws past 60 s one time in eight, so 54 waits at
        // the cap show it but for a chance under one in a thousand.
        constexpr int kAttempts = 60;
        QTRY_VERIFY_WITH_TIMEOUT(waits.size() >= kAttempts, kTimeoutMs);
        connection.stop();
        for (int attempt = 0; attempt < kAttempts; ++attempt) {
            const int ceilingMs = std::min(Connection::kMaxRetryDelayMs,
                                           Connection::kMinRetryDelayMs << std::min(attempt, 6));
            const int lowest = std::max(1, ceilingMs / 2000);
            const int highest = ceilingMs / 1000;
            QVERIFY2(waits.at(attempt) >= lowest && waits.at(attempt) <= highest,
                     qPrintable(QStringLiteral("attempt %1 waits %2 s, not %3..%4 s")
                                    .arg(attempt)
                                    .arg(waits.at(attempt))
                                    .arg(lowest)
                                    .arg(highest)));
        }
    }

    void helloAsksForDeflate()
    {
        const auto hello = m_server->lastOf(v1::Envelope::kHello);
        QVERIFY(hello);
        const auto &features = hello->hello().features();
        QCOMPARE(std::count(features.begin(), features.end(), std::string(kDeflateFeature)), 1);
        QCOMPARE(m_connection->helloOk().features_size(), 1);
        QCOMPARE(m_connection->helloOk().features(0), std::string(kDeflateFeature));
    }

    void compressedAnswerReachesTheHandlerUnwrapped()
    {
        std::optional<Result<v1::Envelope>> got;
        v1::Envelope pull;
        pull.mutable_pull()->set_conversation_id("d:3:7");
        const quint32 id =
            m_connection->request(pull, [&](Result<v1::Envelope> answer) { got = answer; });
        QVERIFY(id != 0);
        QTRY_VERIFY_WITH_TIMEOUT(m_server->lastOf(v1::Envelope::kPull), kTimeoutMs);

        const v1::Envelope page = historyPage(id);
        const QByteArray frame = compressEnvelope(page);
        QVERIFY(!frame.isEmpty());
        m_server->sendRaw(frame);
        QTRY_VERIFY_WITH_TIMEOUT(got.has_value(), kTimeoutMs);
        QVERIFY2(got->ok(), qPrintable(got->ok() ? QString() : got->error().message));
        QCOMPARE(got->value().body_case(), v1::Envelope::kPullResponse);
        QCOMPARE(encodeEnvelope(got->value()), encodeEnvelope(page));
        QVERIFY(m_connection->isOnline());
    }

    void compressedPushIsEmittedUnwrapped()
    {
        QList<v1::Envelope> pushes;
        QObject scope; // ends the connection with this function
        connect(m_connection.get(), &Connection::pushReceived, &scope,
                [&](const v1::Envelope &envelope) { pushes.append(envelope); });
        v1::Envelope push;
        auto *message = push.mutable_message()->mutable_message();
        message->set_conversation_id("d:3:7");
        message->set_seq(41);
        message->mutable_content()->mutable_text()->set_body(
            toStd(QStringLiteral("a long line that repeats itself. ").repeated(40)));
        const QByteArray frame = compressEnvelope(push);
        QVERIFY(!frame.isEmpty());
        m_server->sendRaw(frame);
        QTRY_COMPARE_WITH_TIMEOUT(pushes.size(), 1, kTimeoutMs);
        QCOMPARE(pushes.at(0).body_case(), v1::Envelope::kMessage);
        QCOMPARE(encodeEnvelope(pushes.at(0)), encodeEnvelope(push));
    }

    void badCompressedFrameDropsTheConnection()
    {
        std::optional<Result<v1::Envelope>> got;
        v1::Envelope pull;
        pull.mutable_pull()->set_conversation_id("d:3:7");
        const quint32 id =
            m_connection->request(pull, [&](Result<v1::Envelope> answer) { got = answer; });
        QTRY_VERIFY_WITH_TIMEOUT(m_server->lastOf(v1::Envelope::kPull), kTimeoutMs);
        // Recorded as they happen: the client reconnects on its own soon after.
        QList<Connection::State> states;
        QStringList errors;
        QObject scope; // ends the connections with this function
        connect(m_connection.get(), &Connection::stateChanged, &scope,
                [&](Connection::State state) { states.append(state); });
        connect(m_connection.get(), &Connection::lastErrorChanged, &scope,
                [&](const QString &error) { errors.append(error); });

        auto outer = decodeEnvelope(compressEnvelope(historyPage(id)));
        QVERIFY(outer && outer->has_compressed());
        outer->mutable_compressed()->set_raw_size(outer->compressed().raw_size() + 1);
        m_server->sendRaw(encodeEnvelope(*outer));

        QTRY_VERIFY_WITH_TIMEOUT(got.has_value(), kTimeoutMs);
        QVERIFY(!got->ok());
        QVERIFY(!states.isEmpty());
        QCOMPARE(states.first(), Connection::State::WaitingToRetry);
        QVERIFY(!errors.isEmpty());
        QCOMPARE(errors.first(),
                 QStringLiteral("The server sent a frame that is not a Kith envelope"));
    }

private:
    std::unique_ptr<FakeServer> m_server;
    std::unique_ptr<Connection> m_connection;
};

QTEST_GUILESS_MAIN(TestClientConnection)
#include "tst_client_connection.moc"
