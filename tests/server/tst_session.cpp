// Session and Gateway through a real socket, on an in-process Server: the
// server's pings and idle timeout, frame size limits, and the graceful stop
// (close code 1001, in-flight commits finished and acknowledged first).

#include "commit_gate.h"
#include "gateway.h"
#include "server.h"
#include "sqlite_store.h"
#include "tls_socket.h"
#include "wire_socket.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QWebSocket>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <future>
#include <optional>

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
    // `secure`: wss:// to a kithd with its own certificate, which is trusted
    // unseen here (this test is not about the certificate).
    explicit RawClient(quint16 port, bool secure = false)
    {
        if (secure)
            connect(&socket, &QWebSocket::sslErrors, this, [this] { socket.ignoreSslErrors(); });
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
        socket.open(QUrl(QStringLiteral("%1://127.0.0.1:%2/")
                             .arg(secure ? QStringLiteral("wss") : QStringLiteral("ws"))
                             .arg(port)));
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
    // Sends `request` with `requestId` and waits for the answer with that id.
    std::optional<v1::Envelope> ask(v1::Envelope request, quint32 requestId)
    {
        request.set_request_id(requestId);
        send(request);
        std::optional<v1::Envelope> answer;
        waitFor([&](const v1::Envelope &e) {
            if (e.request_id() != requestId)
                return false;
            answer = e;
            return true;
        });
        return answer;
    }
    // Hello and a new account; false unless auth_ok came.
    bool helloAndRegister(const std::string &name)
    {
        if (!hello())
            return false;
        v1::Envelope registration;
        registration.mutable_register_()->set_username(name);
        registration.mutable_register_()->set_password("long enough");
        const auto answer = ask(registration, 2);
        if (!answer || !answer->has_auth_ok())
            return false;
        token = answer->auth_ok().token();
        userId = answer->auth_ok().user().id();
        return true;
    }
    std::optional<v1::Envelope> resume(const std::string &withToken, quint32 requestId)
    {
        v1::Envelope resume;
        resume.mutable_resume()->set_token(withToken);
        return ask(resume, requestId);
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
    std::string token;
    quint64 userId = 0;
};

bool isError(const std::optional<v1::Envelope> &answer, v1::ErrorCode code)
{
    return answer && answer->has_error() && answer->error().code() == code;
}
} // namespace

class TestSession : public QObject
{
    Q_OBJECT

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<Server> m_server;
    kith::test::CommitGate m_gate; // holds the store's writer at COMMIT while closed

    void startServer(const std::function<void(Config &)> &tweak = {})
    {
        m_server.reset();
        m_dir = std::make_unique<QTemporaryDir>();
        Config config;
        config.listenAddress = QHostAddress(QHostAddress::LocalHost);
        config.plain = true; // the raw client speaks ws://
        config.port = 0;
        config.adminPort = 0;
        config.dataDir = m_dir->filePath(QStringLiteral("data"));
        config.idleTimeoutMs = kIdleTimeoutMs;
        if (tweak)
            tweak(config);
        SqliteStore::Options options;
        options.beforeCommitForTesting = m_gate.hook();
        m_server = std::make_unique<Server>(
            config, std::make_unique<SqliteStore>(config.databasePath(), options));
        const Status started = m_server->start();
        QVERIFY2(started.ok(), qPrintable(started.ok() ? QString() : started.error().message));
        QVERIFY(m_server->readyLine().startsWith(
            config.plain ? QLatin1String("kithd ready: ws://127.0.0.1:")
                         : QLatin1String("kithd ready: wss://127.0.0.1:")));
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
        startServer([](Config &config) { config.idleTimeoutMs = kAnsweringIdleTimeoutMs; });
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

    // A client that floods protocol pings gets pongs up to a burst and then
    // at the ping rate (5/s after 20), not one pong each: answers it never
    // reads no longer pile up one for one, and before authentication too.
    void pingFloodIsAnsweredWithinItsBudget()
    {
        RawClient client(m_server->port());
        QVERIFY(client.waitConnected());
        client.answerPings = false;
        QVERIFY(client.hello());
        constexpr int kPings = 200;
        for (int i = 0; i < kPings; ++i) {
            v1::Envelope ping;
            ping.set_request_id(quint32(100 + i));
            ping.mutable_ping()->set_nonce(quint64(i));
            client.send(ping);
        }
        // Frames are handled in order: once this is answered, every ping was.
        v1::Envelope sync;
        sync.mutable_sync();
        QVERIFY(isError(client.ask(sync, 9), v1::NOT_AUTHENTICATED));
        const auto pongs = std::count_if(client.received.cbegin(), client.received.cend(),
                                         [](const v1::Envelope &e) { return e.has_pong(); });
        QVERIFY2(pongs >= 20, qPrintable(QString::number(pongs)));
        // The rest of the 200 would take half a minute at 5/s.
        QVERIFY2(pongs < kPings / 2, qPrintable(QString::number(pongs)));
        QCOMPARE(client.socket.state(), QAbstractSocket::ConnectedState);
    }

    // Before authentication a frame may be small: a large one is refused
    // on its header (TOO_LARGE, then 1009) and never buffered; after it, a
    // frame may be as large as the protocol says.
    void framesAreSmallUntilAuthenticated()
    {
        RawClient client(m_server->port());
        QVERIFY(client.waitConnected());
        QVERIFY(client.hello());
        client.socket.sendBinaryMessage(QByteArray(int(kMaxPreAuthFrameBytes) + 1, '\0'));
        QVERIFY(client.waitDisconnected());
        QVERIFY(client.hasError(v1::TOO_LARGE));
        QCOMPARE(client.socket.closeCode(), QWebSocketProtocol::CloseCodeTooMuchData);

        RawClient user(m_server->port());
        QVERIFY(user.waitConnected());
        QVERIFY(user.helloAndRegister("big"));
        v1::Envelope send;
        send.mutable_send()->set_conversation_id("d:" + std::to_string(user.userId) + ":" +
                                                 std::to_string(user.userId + 1000));
        send.mutable_send()->set_client_msg_id("m1");
        send.mutable_send()->mutable_content()->mutable_text()->set_body(
            std::string(kMaxTextBytes, 'x'));
        const auto answer = user.ask(send, 3);
        QVERIFY(answer);
        QVERIFY(!isError(answer, v1::TOO_LARGE)); // NOT_FOUND: no such peer; the frame was read
        QCOMPARE(user.socket.state(), QAbstractSocket::ConnectedState);
    }

    // One address may hold only so many connections that have not
    // authenticated; one that authenticates makes room.
    void unauthenticatedConnectionsPerAddressAreCapped()
    {
        startServer([](Config &config) { config.maxUnauthenticatedPerAddress = 3; });
        std::vector<std::unique_ptr<RawClient>> waiting;
        for (int i = 0; i < 3; ++i) {
            waiting.push_back(std::make_unique<RawClient>(m_server->port()));
            QVERIFY(waiting.back()->waitConnected());
        }
        {
            RawClient refused(m_server->port());
            QSignalSpy connected(&refused.socket, &QWebSocket::connected);
            QTRY_COMPARE_WITH_TIMEOUT(refused.socket.state(), QAbstractSocket::UnconnectedState,
                                      kWaitMs);
            QCOMPARE(connected.count(), 0);
        }
        QVERIFY(waiting.front()->helloAndRegister("first"));
        RawClient admitted(m_server->port());
        QVERIFY(admitted.waitConnected());
        QVERIFY(admitted.hello());
    }

    // An account holds at most so many authenticated connections; a closed
    // one makes room.
    void sessionsPerUserAreCapped()
    {
        startServer([](Config &config) { config.maxSessionsPerUser = 2; });
        RawClient first(m_server->port());
        QVERIFY(first.waitConnected());
        QVERIFY(first.helloAndRegister("many"));
        auto second = std::make_unique<RawClient>(m_server->port());
        QVERIFY(second->waitConnected());
        QVERIFY(second->hello());
        const auto resumed = second->resume(first.token, 2);
        QVERIFY(resumed && resumed->has_auth_ok());
        RawClient third(m_server->port());
        QVERIFY(third.waitConnected());
        QVERIFY(third.hello());
        QVERIFY(isError(third.resume(first.token, 2), v1::TOO_MANY_SESSIONS));
        QCOMPARE(third.socket.state(), QAbstractSocket::ConnectedState);
        // Once the server has seen the second one go, the third gets in.
        QCOMPARE(m_server->metrics().connectionsOpen(), quint64(3));
        second.reset();
        QTRY_COMPARE_WITH_TIMEOUT(m_server->metrics().connectionsOpen(), quint64(2), kWaitMs);
        const auto again = third.resume(first.token, 11);
        QVERIFY2(again && again->has_auth_ok(), again ? again->DebugString().c_str() : "none");
    }

    // Every request an authenticated user can make takes a token of its
    // kind's budget first: a hostile client that sends more than the burst
    // gets RATE_LIMITED with a retry time, and the connection stays.
    void everyRequestKindHasABudget_data()
    {
        QTest::addColumn<QList<v1::Envelope>>("requests");
        const auto make = [](const std::function<void(v1::Envelope &)> &fill) {
            v1::Envelope envelope;
            fill(envelope);
            return envelope;
        };
        const std::string group = "g:1";
        const auto twice = [](const v1::Envelope &envelope) {
            return QList<v1::Envelope>{envelope, envelope};
        };
        QTest::addRow("send") << twice(make([](auto &e) {
            e.mutable_send()->set_conversation_id("g:1");
            e.mutable_send()->set_client_msg_id("x");
            e.mutable_send()->mutable_content()->mutable_text()->set_body("hi");
        }));
        QTest::addRow("pull") << twice(
            make([&](auto &e) { e.mutable_pull()->set_conversation_id(group); }));
        QTest::addRow("sync") << twice(make([](auto &e) { e.mutable_sync(); }));
        QTest::addRow("list_members")
            << twice(make([&](auto &e) { e.mutable_list_members()->set_conversation_id(group); }));
        QTest::addRow("search_users")
            << twice(make([](auto &e) { e.mutable_search_users()->set_query("bud"); }));
        QTest::addRow("get_profile")
            << twice(make([](auto &e) { e.mutable_get_profile()->set_user_id(1); }));
        QTest::addRow("list_devices") << twice(make([](auto &e) { e.mutable_list_devices(); }));
        QTest::addRow("mark_read") << twice(make([&](auto &e) {
            e.mutable_mark_read()->set_conversation_id(group);
            e.mutable_mark_read()->set_seq(1);
        }));
        QTest::addRow("leave_group")
            << twice(make([&](auto &e) { e.mutable_leave_group()->set_conversation_id(group); }));
        QTest::addRow("set_display_name")
            << twice(make([](auto &e) { e.mutable_set_display_name()->set_display_name("B"); }));
        QTest::addRow("set_avatar")
            << twice(make([](auto &e) { e.mutable_set_avatar()->set_color(3); }));
        QTest::addRow("revoke_device")
            << twice(make([](auto &e) { e.mutable_revoke_device()->set_device_id(999); }));
        // A logout that went through would close the connection: another
        // write takes the token first.
        QTest::addRow("logout") << QList<v1::Envelope>{
            make([](auto &e) { e.mutable_revoke_device()->set_device_id(999); }),
            make([](auto &e) { e.mutable_logout(); })};
        QTest::addRow("create_group")
            << twice(make([](auto &e) { e.mutable_create_group()->set_name("g"); }));
        QTest::addRow("add_members") << twice(make([&](auto &e) {
            e.mutable_add_members()->set_conversation_id(group);
            e.mutable_add_members()->add_user_ids(1);
        }));
        QTest::addRow("remove_member") << twice(make([&](auto &e) {
            e.mutable_remove_member()->set_conversation_id(group);
            e.mutable_remove_member()->set_user_id(1);
        }));
        QTest::addRow("rename_group") << twice(make([&](auto &e) {
            e.mutable_rename_group()->set_conversation_id(group);
            e.mutable_rename_group()->set_name("n");
        }));
        QTest::addRow("set_group_avatar") << twice(make([&](auto &e) {
            e.mutable_set_group_avatar()->set_conversation_id(group);
            e.mutable_set_group_avatar()->set_color(2);
        }));
        QTest::addRow("set_chat_state") << twice(make([&](auto &e) {
            e.mutable_set_chat_state()->set_conversation_id(group);
            e.mutable_set_chat_state()->set_archived(true);
        }));
        QTest::addRow("block_user") << twice(make([](auto &e) {
            e.mutable_block_user()->set_user_id(999);
            e.mutable_block_user()->set_blocked(true);
        }));
        QTest::addRow("chat_state_sync")
            << twice(make([](auto &e) { e.mutable_chat_state_sync()->set_after_version(0); }));
        QTest::addRow("typing") << twice(make([&](auto &e) {
            e.mutable_typing()->set_conversation_id(group);
            e.mutable_typing()->set_typing(true);
        }));
    }
    void everyRequestKindHasABudget()
    {
        QFETCH(QList<v1::Envelope>, requests);
        startServer([](Config &config) {
            for (double *rate : {&config.sendRate, &config.readRate, &config.writeRate,
                                 &config.groupChangeRate, &config.typingRate})
                *rate = 0.001; // one token in over fifteen minutes
            for (double *burst : {&config.sendBurst, &config.readBurst, &config.writeBurst,
                                  &config.groupChangeBurst, &config.typingBurst})
                *burst = 1;
        });
        RawClient client(m_server->port());
        QVERIFY(client.waitConnected());
        QVERIFY(client.helloAndRegister("budget"));
        const auto first = client.ask(requests.at(0), 10);
        QVERIFY(first);
        QVERIFY2(!isError(first, v1::RATE_LIMITED), first->DebugString().c_str());
        const auto second = client.ask(requests.at(1), 11);
        QVERIFY2(isError(second, v1::RATE_LIMITED),
                 second ? second->DebugString().c_str() : "none");
        QVERIFY(second->error().retry_after_ms() > 0);
        QCOMPARE(client.socket.state(), QAbstractSocket::ConnectedState);
    }

    // A hostile admin changing the group's picture over and over with the
    // default budgets: the group changes' burst goes through, past it the
    // requests get RATE_LIMITED with a wait, as renames do, and the
    // connection stays.
    void rapidGroupAvatarChangesAreLimited()
    {
        // Longer than the holds: a held client's pongs wait too.
        startServer([](Config &config) { config.idleTimeoutMs = kWaitMs; });
        RawClient client(m_server->port());
        QVERIFY(client.waitConnected());
        QVERIFY(client.helloAndRegister("painter"));
        v1::Envelope create;
        create.mutable_create_group()->set_name("studio");
        const auto created = client.ask(create, 10);
        QVERIFY2(created && created->has_conversation(),
                 created ? created->DebugString().c_str() : "none");
        const std::string group = created->conversation().state().id();
        const int burst = int(Config{}.groupChangeBurst);
        int allowed = 0;
        int limited = 0;
        for (int i = 0; i < burst + 5; ++i) {
            v1::Envelope change;
            change.mutable_set_group_avatar()->set_conversation_id(group);
            change.mutable_set_group_avatar()->set_color(quint32(i % 16) + 1);
            const auto answer = client.ask(change, quint32(100 + i));
            QVERIFY2(answer, qPrintable(QString::number(i)));
            if (answer->has_ok()) {
                ++allowed;
            } else {
                QVERIFY2(isError(answer, v1::RATE_LIMITED), answer->DebugString().c_str());
                QVERIFY(answer->error().retry_after_ms() > 0);
                ++limited;
            }
        }
        // The group's creation took one token of the same budget.
        QVERIFY2(allowed >= burst - 1 && allowed < burst + 5, qPrintable(QString::number(allowed)));
        QVERIFY(limited > 0);
        QCOMPARE(client.socket.state(), QAbstractSocket::ConnectedState);
    }

    // A client refused for its rate is not read again until it may send:
    // what it sent meanwhile waits (in TCP) and is answered then, instead
    // of each frame costing a refusal at once. After the burst, no two
    // refusals come in a row (each is followed by a hold that lasts until a
    // token is there); without the hold, every request after the burst was
    // refused within the same moment. The same over wss://, where the hold
    // is the TLS socket's; every request is answered, in order.
    void refusedClientIsNotReadUntilItMaySend_data()
    {
        QTest::addColumn<bool>("secure");
        // Large frames: more than a held socket takes, so that what follows
        // a hold is still in TCP (or in TLS records not decrypted yet); small
        // ones are all in the socket's buffer already.
        QTest::addColumn<int>("padding");
        QTest::addRow("ws") << false << 0;
        QTest::addRow("ws, large frames") << false << 24 * 1024;
        QTest::addRow("wss") << true << 0;
        QTest::addRow("wss, large frames") << true << 24 * 1024;
    }
    void refusedClientIsNotReadUntilItMaySend()
    {
        QFETCH(bool, secure);
        QFETCH(int, padding);
        startServer([secure](Config &config) {
            config.plain = !secure;
            config.typingRate = 4;
            config.typingBurst = 2;
            // No ping (and pong) within the test: nothing else arrives to
            // have what waits read.
            config.idleTimeoutMs = 4 * kWaitMs;
        });
        RawClient client(m_server->port(), secure);
        QVERIFY(client.waitConnected());
        QVERIFY(client.helloAndRegister("eager"));
        constexpr quint32 kFirst = 100;
        constexpr quint32 kCount = 8;
        const std::string conversation = "g:1" + std::string(size_t(padding), '1');
        for (quint32 id = kFirst; id < kFirst + kCount; ++id) {
            v1::Envelope typing;
            typing.set_request_id(id);
            typing.mutable_typing()->set_conversation_id(conversation);
            typing.mutable_typing()->set_typing(true);
            client.send(typing);
        }
        QVERIFY(client.waitFor(
            [](const v1::Envelope &e) { return e.request_id() == kFirst + kCount - 1; }));
        QList<bool> refused;
        auto previous = client.received.cbegin();
        for (quint32 id = kFirst; id < kFirst + kCount; ++id) {
            const auto answer =
                std::find_if(client.received.cbegin(), client.received.cend(),
                             [id](const v1::Envelope &e) { return e.request_id() == id; });
            QVERIFY2(answer != client.received.cend(), qPrintable(QString::number(id)));
            QVERIFY2(answer > previous, qPrintable(QString::number(id))); // in order
            previous = answer;
            refused << (answer->has_error() && answer->error().code() == v1::RATE_LIMITED);
        }
        // The burst is taken, the next refused.
        QCOMPARE(refused.mid(0, 3), (QList<bool>{false, false, true}));
        for (qsizetype i = 3; i < refused.size(); ++i)
            QVERIFY2(!(refused[i] && refused[i - 1]), qPrintable(QString::number(i)));
        QVERIFY(refused.count(false) >= 4);
        QCOMPARE(client.socket.state(), QAbstractSocket::ConnectedState);
    }

    // A client that floods wss:// past its rate budget is held, not refused
    // frame by frame: while held, kithd reads none of its frames (its TLS
    // socket takes a few KiB, then TCP pushes back), so one refusal comes
    // per hold (a second here) however much it wrote. Before, every frame
    // was read and refused at once. A bystander is answered meanwhile.
    void floodOverWssIsHeld()
    {
        startServer([](Config &config) {
            config.plain = false;
            config.typingRate = 0.001; // one token in over fifteen minutes
            config.typingBurst = 1;
            // Longer than the holds: a held client's pongs wait too.
            config.idleTimeoutMs = kWaitMs;
        });
        RawClient flooder(m_server->port(), true);
        RawClient bystander(m_server->port(), true);
        QVERIFY(flooder.waitConnected());
        QVERIFY(bystander.waitConnected());
        QVERIFY(flooder.helloAndRegister("flooder"));
        QVERIFY(bystander.helloAndRegister("bystander"));
        const Metrics &metrics = m_server->metrics();
        const quint64 readBefore = metrics.framesIn();
        // About 4 MB in all: more than the socket buffers on both ends take.
        constexpr quint32 kFlood = 20000;
        v1::Envelope typing;
        typing.mutable_typing()->set_conversation_id("g:" + std::string(200, '1'));
        typing.mutable_typing()->set_typing(true);
        QElapsedTimer elapsed;
        elapsed.start();
        for (quint32 i = 0; i < kFlood; ++i) {
            typing.set_request_id(1000 + i);
            flooder.send(typing);
        }
        QTRY_VERIFY_WITH_TIMEOUT(metrics.errorsSent(v1::RATE_LIMITED) >= 3, kWaitMs);
        v1::Envelope ping;
        ping.mutable_ping()->set_nonce(7);
        const auto pong = bystander.ask(ping, 99);
        QVERIFY(pong && pong->has_pong());

        const quint64 refused = metrics.errorsSent(v1::RATE_LIMITED);
        const quint64 read = metrics.framesIn() - readBefore;
        const qint64 ms = elapsed.elapsed();
        // Each refusal holds the reading for a second (the longest rate hold):
        // a bound that grows with the time taken, however slow the machine.
        QVERIFY2(refused <= quint64(ms / 1000 + 2),
                 qPrintable(QStringLiteral("%1 refusals in %2 ms").arg(refused).arg(ms)));
        // The flooder's frames read: the one the burst allowed and one per
        // refusal (the bystander's ping and a frame being read now aside).
        QVERIFY2(read <= refused + 3,
                 qPrintable(QStringLiteral("%1 frames read, %2 refused").arg(read).arg(refused)));
        QCOMPARE(flooder.socket.state(), QAbstractSocket::ConnectedState);
    }

    // The TLS handshakes run on a thread of their own, not on the loop that
    // serves the sessions: a client's handshake completes while that loop
    // (this test's thread) is stuck and runs nothing, and its upgrade is
    // answered once the loop runs again. Before, the handshake waited for the
    // loop, and 1,000 connections arriving over wss:// held every session
    // back for a second or more (docs/performance.md, round 15).
    void tlsHandshakeCompletesWhileTheSessionLoopIsBusy()
    {
        startServer([](Config &config) { config.plain = false; });
        const quint16 port = m_server->port();
        std::promise<bool> encrypted;
        std::future<bool> handshake = encrypted.get_future();
        std::atomic<bool> done{false};
        QByteArray answer; // written by the client thread until `done`
        std::unique_ptr<QThread> client(QThread::create([&] {
            QSslSocket socket;
            socket.setPeerVerifyMode(QSslSocket::VerifyNone);
            socket.connectToHostEncrypted(QStringLiteral("127.0.0.1"), port);
            const bool ok = socket.waitForEncrypted(kWaitMs);
            encrypted.set_value(ok);
            if (ok) {
                socket.write(
                    "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n");
                for (int i = 0; i < kWaitMs / 100 && !answer.contains("\r\n\r\n"); ++i)
                    if (socket.waitForReadyRead(100) || socket.bytesAvailable() > 0)
                        answer += socket.readAll();
            }
            done.store(true);
        }));
        const auto join = qScopeGuard([&client] { client->wait(); });
        client->start();
        // This thread runs no event until the handshake is over (or given up).
        QCOMPARE(handshake.wait_for(std::chrono::milliseconds(2 * kWaitMs)),
                 std::future_status::ready);
        QVERIFY(handshake.get());
        QTRY_VERIFY_WITH_TIMEOUT(done.load(), 2 * kWaitMs);
        QVERIFY2(answer.startsWith("HTTP/1.1 101"), answer.constData());
    }

    // Connections that stall in their TLS handshake (half a ClientHello, then
    // nothing) wait on the TLS thread within its budgets: a connected wss://
    // client is answered meanwhile, the one past the per-address limit is
    // closed at once, and the server shuts down with the others still
    // pending (the TLS thread frees them as it ends, and they see the close).
    void stalledTlsHandshakesAreHeldOffTheSessionLoop()
    {
        startServer([](Config &config) {
            config.plain = false;
            config.maxUnauthenticatedPerAddress = 8;
        });
        RawClient client(m_server->port(), true);
        QVERIFY(client.waitConnected());
        QVERIFY(client.hello());

        // A TLS record head that promises 512 bytes of handshake, and 16 of them.
        const QByteArray halfHello =
            QByteArray("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + QByteArray(5, '\x5a');
        std::vector<std::unique_ptr<QTcpSocket>> stalled;
        for (int i = 0; i < 8; ++i) {
            auto socket = std::make_unique<QTcpSocket>();
            socket->connectToHost(QHostAddress::LocalHost, m_server->port());
            QVERIFY(socket->waitForConnected(kWaitMs));
            socket->write(halfHello);
            stalled.push_back(std::move(socket));
        }
        // All eight are held: the server answers its client meanwhile.
        v1::Envelope ping;
        ping.set_request_id(77);
        ping.mutable_ping()->set_nonce(12345);
        client.send(ping);
        QVERIFY(client.waitFor([](const v1::Envelope &e) {
            return e.has_pong() && e.request_id() == 77 && e.pong().nonce() == 12345;
        }));
        // The ninth from the same address is past its limit, closed unread.
        QTcpSocket refused;
        refused.connectToHost(QHostAddress::LocalHost, m_server->port());
        QVERIFY(refused.waitForConnected(kWaitMs));
        refused.write(halfHello);
        QTRY_COMPARE_WITH_TIMEOUT(refused.state(), QAbstractSocket::UnconnectedState, kWaitMs);
        for (const auto &socket : stalled)
            QCOMPARE(socket->state(), QAbstractSocket::ConnectedState);

        m_server.reset();
        for (const auto &socket : stalled)
            QTRY_COMPARE_WITH_TIMEOUT(socket->state(), QAbstractSocket::UnconnectedState, kWaitMs);
    }

    // A flood of 10,000 WebSocket ping frames gets pongs within the budget
    // (20 at once, then 5/s), not one each at once: past it kithd reads no
    // more of the flooder until the next pong is allowed, so the flood waits
    // in TCP. Over wss:// QWebSocket answers every ping it reads, so there
    // the TLS socket counts the pongs and holds the reading; before, all
    // 10,000 were answered within a second or so. Two bystanders go on
    // chatting meanwhile.
    void wsPingFloodIsAnsweredWithinItsBudget_data()
    {
        QTest::addColumn<bool>("secure");
        QTest::addRow("ws") << false;
        QTest::addRow("wss") << true;
    }
    void wsPingFloodIsAnsweredWithinItsBudget()
    {
        QFETCH(bool, secure);
        startServer([secure](Config &config) {
            config.plain = !secure;
            // No protocol pings within the test.
            config.idleTimeoutMs = 4 * kWaitMs;
        });
        RawClient flooder(m_server->port(), secure);
        RawClient sender(m_server->port(), secure);
        RawClient receiver(m_server->port(), secure);
        QVERIFY(flooder.waitConnected());
        QVERIFY(sender.waitConnected());
        QVERIFY(receiver.waitConnected());
        QVERIFY(flooder.hello());
        QVERIFY(sender.helloAndRegister("sender"));
        QVERIFY(receiver.helloAndRegister("receiver"));
        int pongs = 0;
        connect(&flooder.socket, &QWebSocket::pong, this, [&pongs] { ++pongs; });

        QElapsedTimer elapsed;
        elapsed.start();
        constexpr int kPings = 10000;
        for (int i = 0; i < kPings; ++i)
            flooder.socket.ping(QByteArray::number(i));
        const std::string chat = directConversationId(sender.userId, receiver.userId).toStdString();
        for (quint32 i = 0; i < 3; ++i) {
            const std::string id = "during-the-flood-" + std::to_string(i);
            v1::Envelope send;
            send.mutable_send()->set_conversation_id(chat);
            send.mutable_send()->set_client_msg_id(id);
            send.mutable_send()->mutable_content()->mutable_text()->set_body("still here");
            const auto ack = sender.ask(send, 10 + i);
            QVERIFY2(ack && ack->has_send_ack(), ack ? ack->DebugString().c_str() : "no answer");
            QVERIFY(receiver.waitFor([&id](const v1::Envelope &e) {
                return e.has_message() && e.message().message().client_msg_id() == id;
            }));
        }
        // The burst, then more at the rate: the flooder is held, not dropped.
        QTRY_VERIFY_WITH_TIMEOUT(pongs > int(kWsPingBurst) + 3, kWaitMs);
        const qint64 ms = elapsed.elapsed();
        // A bound that grows with the time taken, however slow the machine
        // (and one more for a ping being read as the budget ran out).
        const int bound = int(kWsPingBurst + kWsPingRate * double(ms) / 1000.0) + 2;
        QVERIFY2(pongs <= bound,
                 qPrintable(QStringLiteral("%1 pongs in %2 ms").arg(pongs).arg(ms)));
        QCOMPARE(flooder.socket.state(), QAbstractSocket::ConnectedState);
    }

    // A client that asks for pages of history and never reads its socket:
    // kithd stops reading its requests once half the connection's budget
    // is queued, and drops it when none of that is taken in time, instead of
    // queueing every answer (the memory grew by hundreds of MiB before).
    void clientThatDoesNotReadIsDropped()
    {
        startServer([](Config &config) {
            config.maxQueuedBytes = 1024 * 1024;
            config.drainTimeoutMs = 1000;
        });
        RawClient writer(m_server->port());
        QVERIFY(writer.waitConnected());
        QVERIFY(writer.helloAndRegister("writer"));
        v1::Envelope group;
        group.mutable_create_group()->set_name("pages");
        const auto created = writer.ask(group, 3);
        QVERIFY(created && created->has_conversation());
        const std::string conversation = created->conversation().state().id();
        for (int i = 0; i < 16; ++i) {
            v1::Envelope send;
            send.mutable_send()->set_conversation_id(conversation);
            send.mutable_send()->set_client_msg_id("big" + std::to_string(i));
            send.mutable_send()->mutable_content()->mutable_text()->set_body(
                std::string(60 * 1024, char('a' + i)));
            const auto ack = writer.ask(send, quint32(10 + i));
            QVERIFY(ack && ack->has_send_ack());
        }

        // The reader: a raw socket with a small receive buffer, reading nothing.
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        QVERIFY(fd >= 0);
        const auto closeFd = qScopeGuard([fd] { ::close(fd); });
        const int small = 4096;
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(m_server->port());
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        QCOMPARE(::connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address), 0);
        QByteArray bytes = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        const auto frame = [](const v1::Envelope &envelope) {
            const QByteArray payload = encodeEnvelope(envelope);
            QByteArray out;
            out.append(char(0x82));
            if (payload.size() < 126) {
                out.append(char(0x80 | payload.size()));
            } else {
                out.append(char(0x80 | 126));
                out.append(char(payload.size() >> 8)).append(char(payload.size() & 0xFF));
            }
            out.append(QByteArray(4, '\0')); // a zero mask leaves the payload as it is
            return out + payload;
        };
        v1::Envelope hello;
        hello.set_request_id(1);
        hello.mutable_hello()->set_protocol_major(kProtocolMajor);
        v1::Envelope resume;
        resume.set_request_id(2);
        resume.mutable_resume()->set_token(writer.token);
        bytes += frame(hello) + frame(resume);
        for (int i = 0; i < 200; ++i) {
            v1::Envelope pull;
            pull.set_request_id(quint32(100 + i));
            pull.mutable_pull()->set_conversation_id(conversation);
            pull.mutable_pull()->set_limit(200);
            bytes += frame(pull);
        }
        QCOMPARE(::write(fd, bytes.constData(), size_t(bytes.size())), ssize_t(bytes.size()));
        // Dropped past the budget, or, when the answers come slowly enough for
        // the hold to keep the queue under it (a loaded machine), once nothing
        // was taken for the stall time (30 s): the wait covers both.
        QTRY_COMPARE_WITH_TIMEOUT(m_server->metrics().slowConsumersDropped(), quint64(1),
                                  GatewayOptions{}.outputBudget.stallTimeoutMs + kWaitMs);
        // The writer, who reads, was never in trouble.
        v1::Envelope ping;
        ping.mutable_ping()->set_nonce(5);
        const auto pong = writer.ask(ping, 999);
        QVERIFY(pong && pong->has_pong());
    }

    // A wss:// connection's TLS socket takes from the kernel, and so
    // decrypts in one turn of the loop, at most the largest frame its client
    // may send and 16 KiB more, held or not; a ws:// socket reads 64 KiB a
    // turn. (Before, it took all the kernel had: 512 connections flooding
    // pings at once kept the loop busy for over half a second.)
    void wssSocketReadsASliceBeyondTheLargestFrame()
    {
        auto *tls = new TlsSocket;
        auto *webSocket = new QWebSocket;
        tls->setParent(webSocket);
        QtWireSocket wire(webSocket, tls);
        wire.setMaxMessageBytes(kMaxPreAuthFrameBytes);
        QCOMPARE(tls->readBufferSize(), kMaxPreAuthFrameBytes + 16 * 1024);
        wire.holdReading(true);
        QCOMPARE(tls->readBufferSize(), TlsSocket::kHeldBufferBytes);
        wire.holdReading(false);
        QCOMPARE(tls->readBufferSize(), kMaxPreAuthFrameBytes + 16 * 1024);
        wire.setMaxMessageBytes(kMaxFrameBytes); // authenticated
        QCOMPARE(tls->readBufferSize(), kMaxFrameBytes + 16 * 1024);
        wire.holdReading(true);
        wire.holdReading(false);
        QCOMPARE(tls->readBufferSize(), kMaxFrameBytes + 16 * 1024);
    }

    // The same over wss://: the TLS socket stops reading past half the
    // budget, and the client is dropped once nothing is taken in time (or
    // past the budget). Before, a wss:// client's answers were not counted
    // against the budget once encrypted, and all its requests were read.
    void clientThatDoesNotReadIsDroppedOverWss()
    {
        startServer([](Config &config) {
            config.plain = false;
            config.maxQueuedBytes = 1024 * 1024;
            config.drainTimeoutMs = 1000;
        });
        RawClient writer(m_server->port(), true);
        QVERIFY(writer.waitConnected());
        QVERIFY(writer.helloAndRegister("writer"));
        v1::Envelope group;
        group.mutable_create_group()->set_name("pages");
        const auto created = writer.ask(group, 3);
        QVERIFY(created && created->has_conversation());
        const std::string conversation = created->conversation().state().id();
        for (int i = 0; i < 16; ++i) {
            v1::Envelope send;
            send.mutable_send()->set_conversation_id(conversation);
            send.mutable_send()->set_client_msg_id("big" + std::to_string(i));
            send.mutable_send()->mutable_content()->mutable_text()->set_body(
                std::string(60 * 1024, char('a' + i)));
            const auto ack = writer.ask(send, quint32(10 + i));
            QVERIFY(ack && ack->has_send_ack());
        }

        // The reader: TLS and the upgrade by hand, then requests, and it
        // takes no more than a few KiB of what comes back.
        QSslSocket reader;
        reader.setReadBufferSize(4096);
        connect(&reader, &QSslSocket::sslErrors, &reader, [&reader] { reader.ignoreSslErrors(); });
        QSignalSpy encrypted(&reader, &QSslSocket::encrypted);
        reader.connectToHostEncrypted(QStringLiteral("127.0.0.1"), m_server->port());
        QVERIFY(encrypted.wait(kWaitMs));
        // The upgrade first: QWebSocketServer drops what comes behind the
        // request in the same read.
        reader.write("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
        QTRY_VERIFY_WITH_TIMEOUT(reader.peek(512).contains("\r\n\r\n"), kWaitMs);
        QVERIFY(reader.peek(512).startsWith("HTTP/1.1 101"));
        QByteArray bytes;
        const auto frame = [](const v1::Envelope &envelope) {
            const QByteArray payload = encodeEnvelope(envelope);
            QByteArray out;
            out.append(char(0x82));
            if (payload.size() < 126) {
                out.append(char(0x80 | payload.size()));
            } else {
                out.append(char(0x80 | 126));
                out.append(char(payload.size() >> 8)).append(char(payload.size() & 0xFF));
            }
            out.append(QByteArray(4, '\0')); // a zero mask leaves the payload as it is
            return out + payload;
        };
        v1::Envelope hello;
        hello.set_request_id(1);
        hello.mutable_hello()->set_protocol_major(kProtocolMajor);
        v1::Envelope resume;
        resume.set_request_id(2);
        resume.mutable_resume()->set_token(writer.token);
        bytes += frame(hello) + frame(resume);
        constexpr int kPulls = 200;
        for (int i = 0; i < kPulls; ++i) {
            v1::Envelope pull;
            pull.set_request_id(quint32(100 + i));
            pull.mutable_pull()->set_conversation_id(conversation);
            pull.mutable_pull()->set_limit(200);
            bytes += frame(pull);
        }
        const quint64 readBefore = m_server->metrics().framesIn();
        QCOMPARE(reader.write(bytes), qint64(bytes.size()));
        QTRY_COMPARE_WITH_TIMEOUT(m_server->metrics().slowConsumersDropped(), quint64(1),
                                  GatewayOptions{}.outputBudget.stallTimeoutMs + kWaitMs);
        // Its reading was held: most of its requests were never read.
        const quint64 read = m_server->metrics().framesIn() - readBefore;
        QVERIFY2(read < quint64(kPulls / 2), qPrintable(QString::number(read)));
        v1::Envelope ping;
        ping.mutable_ping()->set_nonce(5);
        const auto pong = writer.ask(ping, 999);
        QVERIFY(pong && pong->has_pong());
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
