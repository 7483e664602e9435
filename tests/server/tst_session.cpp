// Session and Gateway through a real socket, on an in-process Server: the
// server's pings and idle timeout, frame size limits, and the graceful stop
// (close code 1001, in-flight commits finished and acknowledged first).

#include "commit_gate.h"
#include "server.h"
#include "sqlite_store.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QLoggingCategory>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QWebSocket>

using namespace kith;
using namespace kith::server;

namespace {
constexpr int kWaitMs = 30000;
// Short enough to watch a silent client be pinged and closed within a test.
constexpr int kIdleTimeoutMs = 800;
// For a client that answers: each pong has half of it to arrive (2 s), far
// more than a loaded machine takes to turn one round on loopback.
constexpr int kAnsweringIdleTimeoutMs = 4000;

// A raw protocol client that records every frame it receives.
class RawClient : public QObject
{
public:
    explicit RawClient(quint16 port)
    {
        connect(&socket, &QWebSocket::binaryMessageReceived, this, [this](const QByteArray &frame) {
            if (auto envelope = decodeEnvelope(frame)) {
                received.append(*envelope);
                if (answerPings && envelope->has_ping()) {
                    v1::Envelope pong;
                    pong.set_request_id(envelope->request_id());
                    pong.mutable_pong()->set_nonce(envelope->ping().nonce());
                    send(pong);
                }
            }
        });
        socket.open(QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(port)));
    }

    bool waitConnected()
    {
        QSignalSpy connected(&socket, &QWebSocket::connected);
        return socket.state() == QAbstractSocket::ConnectedState || connected.wait(kWaitMs);
    }
    void send(const v1::Envelope &envelope) { socket.sendBinaryMessage(encodeEnvelope(envelope)); }
    bool hello()
    {
        v1::Envelope hello;
        hello.set_request_id(1);
        hello.mutable_hello()->set_protocol_major(kProtocolMajor);
        send(hello);
        return waitFor([](const v1::Envelope &e) { return e.has_hello_ok(); });
    }
    bool waitFor(const std::function<bool(const v1::Envelope &)> &match)
    {
        QDeadlineTimer deadline(kWaitMs);
        qsizetype seen = 0;
        while (!deadline.hasExpired()) {
            for (; seen < received.size(); ++seen) {
                if (match(received.at(seen)))
                    return true;
            }
            QTest::qWait(20);
        }
        return false;
    }
    bool waitDisconnected()
    {
        if (socket.state() == QAbstractSocket::UnconnectedState)
            return true;
        QSignalSpy disconnected(&socket, &QWebSocket::disconnected);
        return disconnected.wait(kWaitMs);
    }
    [[nodiscard]] bool hasError(v1::ErrorCode code) const
    {
        for (const v1::Envelope &envelope : received) {
            if (envelope.has_error() && envelope.error().code() == code)
                return true;
        }
        return false;
    }
    [[nodiscard]] int pings() const
    {
        return int(std::count_if(received.cbegin(), received.cend(),
                                 [](const v1::Envelope &e) { return e.has_ping(); }));
    }
    [[nodiscard]] const v1::Envelope *answerTo(quint32 requestId) const
    {
        for (const v1::Envelope &envelope : received) {
            if (envelope.request_id() == requestId)
                return &envelope;
        }
        return nullptr;
    }
    // Registers `name` and returns its user id (0 when that failed).
    quint64 registerAs(const std::string &name)
    {
        v1::Envelope registration;
        registration.set_request_id(2);
        registration.mutable_register_()->set_username(name);
        registration.mutable_register_()->set_password("long enough");
        send(registration);
        if (!waitFor([](const v1::Envelope &e) { return e.has_auth_ok() || e.has_error(); }))
            return 0;
        const v1::Envelope *answer = answerTo(2);
        return answer && answer->has_auth_ok() ? answer->auth_ok().user().id() : 0;
    }

    QWebSocket socket;
    QList<v1::Envelope> received;
    bool answerPings = true;
};
} // namespace

class TestSession : public QObject
{
    Q_OBJECT

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Server> m_server;
    kith::test::CommitGate m_gate; // holds the store's writer at COMMIT while closed

    void startServer(int idleTimeoutMs = kIdleTimeoutMs)
    {
        m_server.reset();
        m_dir = std::make_unique<QTemporaryDir>();
        Config config;
        config.listenAddress = QHostAddress(QHostAddress::LocalHost);
        config.port = 0;
        config.adminPort = 0;
        config.dataDir = m_dir->filePath(QStringLiteral("data"));
        config.idleTimeoutMs = idleTimeoutMs;
        SqliteStore::Options options;
        options.beforeCommitForTesting = m_gate.hook();
        m_server = std::make_unique<Server>(
            config, std::make_unique<SqliteStore>(config.databasePath(), options));
        const Status started = m_server->start();
        QVERIFY2(started.ok(), qPrintable(started.ok() ? QString() : started.error().message));
        QVERIFY(m_server->readyLine().startsWith(QLatin1String("kithd ready: ws://127.0.0.1:")));
    }

private slots:
    void initTestCase() { QLoggingCategory::setFilterRules(QStringLiteral("kith.*.info=false")); }
    void init() { startServer(); }
    void cleanup()
    {
        m_gate.open(); // a failed test may have left the writer held
        m_server.reset();
    }

    void silentClientIsPingedThenClosed()
    {
        RawClient client(m_server->port());
        client.answerPings = false;
        QVERIFY(client.waitConnected());
        QVERIFY(client.hello());
        QVERIFY(client.waitFor([](const v1::Envelope &e) { return e.has_ping(); }));
        QVERIFY(client.waitDisconnected());
        QVERIFY(client.hasError(v1::IDLE_TIMEOUT));
        QCOMPARE(client.socket.closeCode(), QWebSocketProtocol::CloseCodeGoingAway);
    }

    void answeringPingsKeepsTheConnection()
    {
        startServer(kAnsweringIdleTimeoutMs);
        RawClient client(m_server->port());
        QVERIFY(client.waitConnected());
        QVERIFY(client.hello());
        // A second ping comes only when the pong to the first restarted the
        // idle timer: without it the server would have closed instead.
        QTRY_VERIFY_WITH_TIMEOUT(client.pings() >= 2, kWaitMs);
        QCOMPARE(client.socket.state(), QAbstractSocket::ConnectedState);
        QVERIFY(!client.hasError(v1::IDLE_TIMEOUT));

        // And the server answers a client's ping with its nonce.
        v1::Envelope ping;
        ping.set_request_id(77);
        ping.mutable_ping()->set_nonce(12345);
        client.send(ping);
        QVERIFY(client.waitFor([](const v1::Envelope &e) {
            return e.has_pong() && e.request_id() == 77 && e.pong().nonce() == 12345;
        }));
    }

    void oversizedFrameIsRefused()
    {
        RawClient client(m_server->port());
        QVERIFY(client.waitConnected());
        QVERIFY(client.hello());
        // Valid protobuf bytes would not matter: the size is checked first.
        client.socket.sendBinaryMessage(QByteArray(int(kMaxFrameBytes) + 1, '\0'));
        QVERIFY(client.waitDisconnected());
        QVERIFY(client.hasError(v1::TOO_LARGE));
        QCOMPARE(client.socket.closeCode(), QWebSocketProtocol::CloseCodeTooMuchData);

        // A healthy client of the same server is unaffected.
        RawClient other(m_server->port());
        QVERIFY(other.waitConnected());
        QVERIFY(other.hello());
    }

    void closingWhileAPasswordIsHashedIsHarmless()
    {
        for (int i = 0; i < 3; ++i) {
            RawClient client(m_server->port());
            QVERIFY(client.waitConnected());
            QVERIFY(client.hello());
            v1::Envelope registration;
            registration.set_request_id(2);
            registration.mutable_register_()->set_username("gone" + std::to_string(i));
            registration.mutable_register_()->set_password("long enough");
            client.send(registration);
            client.socket.flush();
            client.socket.abort();
        }
        // The server outlived its askers, and the accounts were made all the same.
        RawClient watcher(m_server->port());
        QVERIFY(watcher.waitConnected());
        QVERIFY(watcher.hello());
        v1::Envelope registration;
        registration.set_request_id(2);
        registration.mutable_register_()->set_username("watcher");
        registration.mutable_register_()->set_password("long enough");
        watcher.send(registration);
        QVERIFY(watcher.waitFor([](const v1::Envelope &e) { return e.has_auth_ok(); }));
        quint32 requestId = 100;
        const auto found = [&] {
            v1::Envelope profile;
            profile.set_request_id(++requestId);
            profile.mutable_get_profile()->set_username("gone2");
            watcher.send(profile);
            const quint32 asked = requestId;
            bool isProfile = false;
            const bool answered = watcher.waitFor([asked, &isProfile](const v1::Envelope &e) {
                isProfile = e.has_user_profile();
                return e.request_id() == asked;
            });
            return answered && isProfile;
        };
        QTRY_VERIFY_WITH_TIMEOUT(found(), kWaitMs);
    }

    // What SIGTERM runs: sends the server has handed to the store, held there
    // uncommitted when the stop begins, are committed and acknowledged
    // before the connections close, and are stored at the seqs of their acks.
    void stopFinishesInFlightCommitsAndSendsTheirAcks()
    {
        RawClient alice(m_server->port());
        RawClient bob(m_server->port());
        QVERIFY(alice.waitConnected());
        QVERIFY(bob.waitConnected());
        QVERIFY(alice.hello());
        QVERIFY(bob.hello());
        const quint64 aliceId = alice.registerAs("alice");
        const quint64 bobId = bob.registerAs("bob");
        QVERIFY(aliceId != 0 && bobId != 0);
        const QString direct = directConversationId(aliceId, bobId);

        constexpr quint32 kFirstRequest = 100;
        constexpr int kSends = 20;
        m_gate.close();
        for (int i = 0; i < kSends; ++i) {
            v1::Envelope send;
            send.set_request_id(kFirstRequest + i);
            send.mutable_send()->set_conversation_id(toStd(direct));
            send.mutable_send()->set_client_msg_id("inflight-" + std::to_string(i));
            send.mutable_send()->mutable_content()->mutable_text()->set_body("in flight");
            alice.send(send);
        }
        // A connection's frames are handled in order: once the ping after the
        // sends is answered, every send has been handed to the store.
        v1::Envelope ping;
        ping.set_request_id(kFirstRequest + kSends);
        ping.mutable_ping()->set_nonce(7);
        alice.send(ping);
        QVERIFY(alice.waitFor([](const v1::Envelope &e) { return e.has_pong(); }));
        QTRY_VERIFY_WITH_TIMEOUT(m_gate.waitHeld(0), kWaitMs);
        for (int i = 0; i < kSends; ++i)
            QVERIFY2(!alice.answerTo(kFirstRequest + i), "answered before its commit");

        // Nothing runs on this thread between the two: the acks can only go
        // out from within stop().
        m_gate.open();
        m_server->stop();
        QVERIFY(alice.waitDisconnected());
        QCOMPARE(alice.socket.closeCode(), QWebSocketProtocol::CloseCodeGoingAway);
        for (int i = 0; i < kSends; ++i) {
            const v1::Envelope *answer = alice.answerTo(kFirstRequest + i);
            QVERIFY2(answer && answer->has_send_ack(),
                     qPrintable(QStringLiteral("send %1 got no ack before the close").arg(i)));
            QCOMPARE(answer->send_ack().seq(), quint64(i + 1));
        }

        SqliteStore reopened(databasePathIn(m_dir->filePath(QStringLiteral("data"))));
        QVERIFY(reopened.open().ok());
        PullQuery query;
        query.conversationId = direct;
        query.limit = kMaxPullLimit;
        const Result<PullPage> page = reopened.pull(query);
        QVERIFY(page.ok());
        QCOMPARE(page->messages.size(), kSends);
        for (int i = 0; i < kSends; ++i) {
            QCOMPARE(page->messages.at(i).seq(), quint64(i + 1));
            QCOMPARE(page->messages.at(i).client_msg_id(), "inflight-" + std::to_string(i));
        }
        reopened.close();
    }

    void stopClosesWithGoingAway()
    {
        RawClient client(m_server->port());
        QVERIFY(client.waitConnected());
        QVERIFY(client.hello());
        v1::Envelope registration;
        registration.set_request_id(2);
        registration.mutable_register_()->set_username("stopper");
        registration.mutable_register_()->set_password("long enough");
        client.send(registration);
        QVERIFY(client.waitFor([](const v1::Envelope &e) { return e.has_auth_ok(); }));

        QSignalSpy stopped(m_server.get(), &Server::stopped);
        m_server->stop();
        QVERIFY(client.waitDisconnected());
        QCOMPARE(client.socket.closeCode(), QWebSocketProtocol::CloseCodeGoingAway);
        QVERIFY(stopped.count() == 1 || stopped.wait(kWaitMs));

        // Nobody is accepted any more.
        RawClient late(m_server->port());
        QSignalSpy lateConnected(&late.socket, &QWebSocket::connected);
        QTRY_COMPARE_WITH_TIMEOUT(late.socket.state(), QAbstractSocket::UnconnectedState, kWaitMs);
        QCOMPARE(lateConnected.count(), 0);
    }
};

QTEST_GUILESS_MAIN(TestSession)
#include "tst_session.moc"
