// Running kithd: health and metrics over admin HTTP, the admin user commands,
// closed and rate-limited registration, presence, read markers, typing, and a graceful stop
// that keeps what was acked, also while history pages are being served.

#include "test_client.h"
#include "test_server.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QTest>
#include <QWebSocketProtocol>

#include <memory>

using namespace kith;
using namespace kith::test;

namespace {

const QString kPassword = QStringLiteral("password123");

bool isError(const std::optional<v1::Envelope> &e, v1::ErrorCode code)
{
    return e && e->has_error() && e->error().code() == code;
}

struct HttpAnswer
{
    int status = 0;
    QByteArray body;
};

HttpAnswer httpGet(const QUrl &url)
{
    QNetworkAccessManager manager;
    std::unique_ptr<QNetworkReply> reply(manager.get(QNetworkRequest(url)));
    TestClient::waitUntil([&] { return reply->isFinished(); });
    if (!reply->isFinished())
        return {};
    return {reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), reply->readAll()};
}

// The sum of every sample of one metric (all label sets), or -1 when absent.
double metricValue(const QByteArray &text, const QString &name)
{
    const QRegularExpression sample(
        QStringLiteral("^%1(\\{[^}]*\\})?\\s+(\\S+)\\s*$").arg(QRegularExpression::escape(name)),
        QRegularExpression::MultilineOption);
    double sum = -1;
    auto it = sample.globalMatch(QString::fromUtf8(text));
    while (it.hasNext()) {
        const auto match = it.next();
        sum = (sum < 0 ? 0 : sum) + match.captured(2).toDouble();
    }
    return sum;
}

} // namespace

class TestOperations : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void healthz();
    void metricsMoveWithMessages();
    void listenBacklogAsAskedAndHostDropsInMetrics();
    void adminUserCommands();
    void disablingClosesLiveSessions();
    void closedRegistration();
    void registrationsPerHour();
    void presenceOfContacts();
    void directoryAndDisplayNames();
    void readMarkersReachOtherDevicesAndPeer();
    void typingIsPushedAndNotAnswered();
    void sigtermKeepsAckedMessages();
    void sigtermWhilePagesAreServed();

private:
    TestServer m_server;
    std::unique_ptr<TestClient> m_alice, m_bob;
    QString m_conversation;
};

void TestOperations::initTestCase()
{
    QVERIFY(m_server.start());
    m_alice = std::make_unique<TestClient>();
    m_bob = std::make_unique<TestClient>();
    QVERIFY(m_alice->connectAndRegister(m_server.url(), QStringLiteral("alice")));
    QVERIFY(m_bob->connectAndRegister(m_server.url(), QStringLiteral("bob")));
    m_conversation = directConversationId(m_alice->userId(), m_bob->userId());
}

void TestOperations::healthz()
{
    const auto answer = httpGet(m_server.adminUrl().resolved(QUrl(QStringLiteral("healthz"))));
    QCOMPARE(answer.status, 200);
    // First line ok; then one line each on the node, the store and the bus.
    const QList<QByteArray> lines = answer.body.trimmed().split('\n');
    QCOMPARE(lines.size(), 4);
    QCOMPARE(lines.at(0), QByteArrayLiteral("ok"));
    QCOMPARE(lines.at(1), QByteArrayLiteral("node 0"));
    QVERIFY2(lines.at(2).startsWith("store ") && lines.at(2).endsWith("kith.sqlite3 ok"),
             lines.at(2).constData());
    QCOMPARE(lines.at(3), QByteArrayLiteral("bus none (one node)"));
}

void TestOperations::metricsMoveWithMessages()
{
    const QUrl url = m_server.adminUrl().resolved(QUrl(QStringLiteral("metrics")));
    const auto before = httpGet(url);
    QCOMPARE(before.status, 200);
    for (const char *name :
         {"kith_connections", "kith_messages_stored_total", "kith_messages_pushed_total"}) {
        QVERIFY2(metricValue(before.body, QString::fromLatin1(name)) >= 0, name);
    }
    QVERIFY(metricValue(before.body, QStringLiteral("kith_connections")) >= 2);

    constexpr int kMessages = 3;
    for (int i = 0; i < kMessages; ++i) {
        const QString id = newClientMsgId();
        const auto ack = m_alice->send(m_conversation, QStringLiteral("counted %1").arg(i), id);
        QVERIFY2(ack && ack->has_send_ack(), describe(ack).constData());
        QVERIFY(m_bob->waitForPush([&](const v1::Envelope &e) {
            return e.has_message() && toQString(e.message().message().client_msg_id()) == id;
        }));
    }
    const auto refused =
        m_alice->send(groupConversationId(999999), QStringLiteral("nowhere"), newClientMsgId());
    QVERIFY2(isError(refused, v1::NOT_FOUND), describe(refused).constData());

    const auto after = httpGet(url);
    QCOMPARE(after.status, 200);
    QVERIFY(metricValue(after.body, QStringLiteral("kith_messages_stored_total")) >=
            metricValue(before.body, QStringLiteral("kith_messages_stored_total")) + kMessages);
    QVERIFY(metricValue(after.body, QStringLiteral("kith_messages_pushed_total")) >=
            metricValue(before.body, QStringLiteral("kith_messages_pushed_total")) + kMessages);
    // The batch sizes, as a summary or a histogram: its count moved too.
    QVERIFY2(metricValue(after.body, QStringLiteral("kith_commit_batch_size_count")) >= kMessages,
             after.body.constData());
    const QRegularExpression notFound(
        QStringLiteral(R"(^kith_errors_total\{[^}]*code="not_found"[^}]*\}\s+([0-9.e+]+))"),
        QRegularExpression::MultilineOption | QRegularExpression::CaseInsensitiveOption);
    const auto match = notFound.match(QString::fromUtf8(after.body));
    QVERIFY2(match.hasMatch(), after.body.constData());
    QVERIFY(match.captured(1).toDouble() >= 1);
}

// kithd listens with the backlog it is given (Qt's own listen() would use
// 50), logs it, and reports it with the host's listen-queue drops.
void TestOperations::listenBacklogAsAskedAndHostDropsInMetrics()
{
    TestServer server({QStringLiteral("--listen-backlog"), QStringLiteral("777")});
    QVERIFY(server.start());
    QVERIFY2(server.stderrLog().contains("backlog 777"), server.stderrLog().constData());
    const auto metrics = httpGet(server.adminUrl().resolved(QUrl(QStringLiteral("metrics"))));
    QCOMPARE(metrics.status, 200);
    QCOMPARE(metricValue(metrics.body, QStringLiteral("kith_listen_backlog")), 777.0);
    QVERIFY2(metricValue(metrics.body, QStringLiteral("kith_host_listen_overflows_total")) >= 0,
             metrics.body.constData());
    QVERIFY(metricValue(metrics.body, QStringLiteral("kith_host_listen_drops_total")) >= 0);
}

void TestOperations::adminUserCommands()
{
    QByteArray output;
    QCOMPARE(
        m_server.runAdmin({QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("dave"),
                           QStringLiteral("--display-name"), QStringLiteral("Dave Admin-Made"),
                           QStringLiteral("--password"), QStringLiteral("davepass123")}),
        0);
    // The password from the first line of stdin.
    QCOMPARE(
        m_server.runAdmin({QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("erin")},
                          nullptr, QByteArrayLiteral("erinpass123\n")),
        0);
    // A name that is taken is an error.
    QVERIFY(
        m_server.runAdmin({QStringLiteral("user"), QStringLiteral("add"), QStringLiteral("alice"),
                           QStringLiteral("--password"), QStringLiteral("whatever123")}) != 0);

    {
        TestClient dave;
        QVERIFY(dave.connectAndLogin(m_server.url(), QStringLiteral("dave"),
                                     QStringLiteral("davepass123")));
        TestClient erin;
        QVERIFY(erin.connectAndLogin(m_server.url(), QStringLiteral("erin"),
                                     QStringLiteral("erinpass123")));
        v1::Envelope profile;
        profile.mutable_get_profile()->set_username("dave");
        const auto answer = erin.request(profile);
        QVERIFY2(answer && answer->has_user_profile(), describe(answer).constData());
        QCOMPARE(toQString(answer->user_profile().user().display_name()),
                 QStringLiteral("Dave Admin-Made"));
    }

    QCOMPARE(m_server.runAdmin({QStringLiteral("user"), QStringLiteral("list")}, &output), 0);
    const QStringList lines = QString::fromUtf8(output).split(u'\n', Qt::SkipEmptyParts);
    const auto lineOf = [&](const QString &name) {
        for (const QString &line : lines) {
            if (line.split(u' ').value(1) == name)
                return line;
        }
        return QString();
    };
    QVERIFY2(!lineOf(QStringLiteral("alice")).isEmpty(), output.constData());
    QVERIFY2(!lineOf(QStringLiteral("dave")).isEmpty(), output.constData());
    QVERIFY2(!lineOf(QStringLiteral("erin")).isEmpty(), output.constData());
    QCOMPARE(lineOf(QStringLiteral("alice")).split(u' ').value(0).toULongLong(), m_alice->userId());

    QCOMPARE(m_server.runAdmin(
                 {QStringLiteral("user"), QStringLiteral("disable"), QStringLiteral("dave")}),
             0);
    QCOMPARE(m_server.runAdmin({QStringLiteral("user"), QStringLiteral("list")}, &output), 0);
    QVERIFY2(output.contains("disabled"), output.constData());
    {
        TestClient dave;
        QVERIFY(dave.connectTo(m_server.url()));
        QVERIFY(dave.hello());
        const auto refused = dave.login(QStringLiteral("dave"), QStringLiteral("davepass123"));
        QVERIFY2(isError(refused, v1::ACCOUNT_DISABLED), describe(refused).constData());
    }
    QCOMPARE(m_server.runAdmin(
                 {QStringLiteral("user"), QStringLiteral("enable"), QStringLiteral("dave")}),
             0);
    QCOMPARE(
        m_server.runAdmin({QStringLiteral("user"), QStringLiteral("hide"), QStringLiteral("dave")}),
        0);
    QCOMPARE(m_server.runAdmin({QStringLiteral("user"), QStringLiteral("list")}, &output), 0);
    QVERIFY2(output.contains(" hidden"), output.constData());
    QCOMPARE(m_server.runAdmin(
                 {QStringLiteral("user"), QStringLiteral("unhide"), QStringLiteral("dave")}),
             0);
    QCOMPARE(m_server.runAdmin(
                 {QStringLiteral("user"), QStringLiteral("hide"), QStringLiteral("nobody-here")}),
             1);
    QCOMPARE(m_server.runAdmin(
                 {QStringLiteral("user"), QStringLiteral("passwd"), QStringLiteral("dave")},
                 nullptr, QByteArrayLiteral("davepass456\n")),
             0);
    {
        TestClient dave;
        QVERIFY(dave.connectTo(m_server.url()));
        QVERIFY(dave.hello());
        const auto old = dave.login(QStringLiteral("dave"), QStringLiteral("davepass123"));
        QVERIFY2(isError(old, v1::AUTH_FAILED), describe(old).constData());
        const auto fresh = dave.login(QStringLiteral("dave"), QStringLiteral("davepass456"));
        QVERIFY2(fresh && fresh->has_auth_ok(), describe(fresh).constData());
    }
    QVERIFY(m_server.runAdmin({QStringLiteral("user"), QStringLiteral("disable"),
                               QStringLiteral("nobody")}) != 0);
}

void TestOperations::disablingClosesLiveSessions()
{
    TestClient frank;
    QVERIFY(frank.connectAndRegister(m_server.url(), QStringLiteral("frank")));
    TestClient bystander;
    QVERIFY(bystander.connectAndRegister(m_server.url(), QStringLiteral("grace")));

    // Disabled from another process while frank is connected: the server
    // notices within its account sweep and closes frank's session only.
    QCOMPARE(m_server.runAdmin(
                 {QStringLiteral("user"), QStringLiteral("disable"), QStringLiteral("frank")}),
             0);
    const auto closing =
        frank.waitForPush([](const v1::Envelope &e) { return e.has_error(); }, 20000);
    QVERIFY2(isError(closing, v1::ACCOUNT_DISABLED), describe(closing).constData());
    QVERIFY(frank.waitForDisconnected());

    QVERIFY(bystander.isConnected());
    const auto answer = bystander.send(directConversationId(bystander.userId(), m_alice->userId()),
                                       QStringLiteral("still here"), newClientMsgId());
    QVERIFY2(answer && answer->has_send_ack(), describe(answer).constData());
}

void TestOperations::closedRegistration()
{
    TestServer closed({QStringLiteral("--registration"), QStringLiteral("closed")});
    QVERIFY(closed.start());
    TestClient client;
    QVERIFY(client.connectTo(closed.url()));
    const auto hello = client.hello();
    QVERIFY2(hello && hello->has_hello_ok(), describe(hello).constData());
    QVERIFY(!hello->hello_ok().registration_open());
    const auto refused = client.registerUser(QStringLiteral("walkin"), kPassword);
    QVERIFY2(isError(refused, v1::REGISTRATION_CLOSED), describe(refused).constData());

    QCOMPARE(closed.runAdmin({QStringLiteral("user"), QStringLiteral("add"),
                              QStringLiteral("invited"), QStringLiteral("--password"), kPassword}),
             0);
    TestClient invited;
    QVERIFY(invited.connectAndLogin(closed.url(), QStringLiteral("invited"), kPassword));
}

// Past the hour's registrations from one address, a register is refused with
// a hint, the connection stays usable, and the accounts made log in.
void TestOperations::registrationsPerHour()
{
    TestServer limited({QStringLiteral("--registrations-per-hour"), QStringLiteral("2")});
    QVERIFY(limited.start());
    TestClient first;
    TestClient second;
    QVERIFY(first.connectAndRegister(limited.url(), QStringLiteral("early1")));
    QVERIFY(second.connectAndRegister(limited.url(), QStringLiteral("early2")));

    TestClient late;
    QVERIFY(late.connectTo(limited.url()));
    const auto hello = late.hello();
    QVERIFY2(hello && hello->has_hello_ok(), describe(hello).constData());
    const auto refused = late.registerUser(QStringLiteral("late"), kPassword);
    QVERIFY2(isError(refused, v1::RATE_LIMITED), describe(refused).constData());
    QVERIFY(refused->error().retry_after_ms() > 0);
    QVERIFY(late.isConnected());
    const auto loggedIn = late.login(QStringLiteral("early1"), kPassword);
    QVERIFY2(loggedIn && loggedIn->has_auth_ok(), describe(loggedIn).constData());
    QVERIFY(limited.stderrLog().contains("registration refused"));
}

void TestOperations::presenceOfContacts()
{
    // alice and bob share a conversation (metricsMoveWithMessages wrote to it).
    const QString bobToken = m_bob->token();
    const quint64 bobId = m_bob->userId();
    m_alice->clearPushes();
    m_bob->close();
    const auto offline = m_alice->waitForPush(
        [&](const v1::Envelope &e) { return e.has_presence() && e.presence().user_id() == bobId; });
    QVERIFY(offline);
    QVERIFY(!offline->presence().online());
    QCOMPARE(offline->request_id(), quint32(0));

    m_bob = std::make_unique<TestClient>();
    QVERIFY(m_bob->connectAndResume(m_server.url(), bobToken));
    const auto online = m_alice->waitForPush(
        [&](const v1::Envelope &e) { return e.has_presence() && e.presence().user_id() == bobId; });
    QVERIFY(online);
    QVERIFY(online->presence().online());
}

void TestOperations::directoryAndDisplayNames()
{
    v1::Envelope search;
    search.mutable_search_users()->set_query("ali");
    const auto found = m_bob->request(search);
    QVERIFY2(found && found->has_user_list(), describe(found).constData());
    bool sawAlice = false;
    for (const auto &user : found->user_list().users()) {
        sawAlice |= user.id() == m_alice->userId();
        QVERIFY(
            toQString(user.username()).contains(QStringLiteral("ali")) ||
            toQString(user.display_name()).contains(QStringLiteral("ali"), Qt::CaseInsensitive));
    }
    QVERIFY(sawAlice);

    v1::Envelope rename;
    rename.mutable_set_display_name()->set_display_name("Alice in Kith");
    const auto renamed = m_alice->request(rename);
    QVERIFY2(renamed && renamed->has_user_profile(), describe(renamed).constData());
    QCOMPARE(toQString(renamed->user_profile().user().display_name()),
             QStringLiteral("Alice in Kith"));

    v1::Envelope profile;
    profile.mutable_get_profile()->set_user_id(m_alice->userId());
    const auto seen = m_bob->request(profile);
    QVERIFY2(seen && seen->has_user_profile(), describe(seen).constData());
    QCOMPARE(toQString(seen->user_profile().user().username()), QStringLiteral("alice"));
    QCOMPARE(toQString(seen->user_profile().user().display_name()),
             QStringLiteral("Alice in Kith"));

    v1::Envelope nobody;
    nobody.mutable_get_profile()->set_username("nobody-here");
    const auto missing = m_bob->request(nobody);
    QVERIFY2(isError(missing, v1::NOT_FOUND), describe(missing).constData());
}

void TestOperations::readMarkersReachOtherDevicesAndPeer()
{
    TestClient alicePhone;
    QVERIFY(alicePhone.connectAndLogin(m_server.url(), QStringLiteral("alice"), kPassword,
                                       QStringLiteral("phone")));
    quint64 last = 0;
    for (int i = 0; i < 3; ++i) {
        const auto ack =
            m_bob->send(m_conversation, QStringLiteral("read me %1").arg(i), newClientMsgId());
        QVERIFY2(ack && ack->has_send_ack(), describe(ack).constData());
        last = ack->send_ack().seq();
    }
    // Sending moved bob's own marker: nothing of his own is unread.
    const auto bobSync = m_bob->sync();
    QVERIFY2(bobSync && bobSync->has_sync_response(), describe(bobSync).constData());
    bool found = false;
    for (const auto &state : bobSync->sync_response().changed()) {
        if (toQString(state.id()) != m_conversation)
            continue;
        found = true;
        QCOMPARE(state.max_seq(), last);
        QCOMPARE(state.read_seq(), last);
        QCOMPARE(state.unread_count(), quint64(0));
    }
    QVERIFY(found);

    v1::Envelope markRead;
    markRead.mutable_mark_read()->set_conversation_id(toStd(m_conversation));
    markRead.mutable_mark_read()->set_seq(last);
    const auto ok = m_alice->request(markRead);
    QVERIFY2(ok && ok->has_ok(), describe(ok).constData());

    const auto isAliceRead = [&](const v1::Envelope &e) {
        return e.has_read() && toQString(e.read().conversation_id()) == m_conversation &&
               e.read().user_id() == m_alice->userId() && e.read().read_seq() == last;
    };
    const auto onPhone = alicePhone.waitForPush(isAliceRead);
    QVERIFY(onPhone);
    QCOMPARE(onPhone->read().unread_count(), quint64(0));
    QVERIFY(m_bob->waitForPush(isAliceRead));

    // The receipt is part of bob's state too.
    const auto receipt = m_bob->sync();
    QVERIFY2(receipt && receipt->has_sync_response(), describe(receipt).constData());
    for (const auto &state : receipt->sync_response().changed()) {
        if (toQString(state.id()) == m_conversation)
            QCOMPARE(state.peer_read_seq(), last);
    }
}

void TestOperations::typingIsPushedAndNotAnswered()
{
    m_alice->clearPushes();
    v1::Envelope typing;
    typing.set_request_id(0);
    typing.mutable_typing()->set_conversation_id(toStd(m_conversation));
    typing.mutable_typing()->set_typing(true);
    m_alice->sendEnvelope(typing);

    const auto push = m_bob->waitForPush([](const v1::Envelope &e) { return e.has_typing_push(); });
    QVERIFY(push);
    QCOMPARE(toQString(push->typing_push().conversation_id()), m_conversation);
    QCOMPARE(push->typing_push().user_id(), m_alice->userId());
    QVERIFY(push->typing_push().typing());

    // The server handles one connection's frames in order: once a ping sent
    // after the typing is answered, any answer to the typing would have come.
    v1::Envelope ping;
    ping.mutable_ping()->set_nonce(42);
    const auto pong = m_alice->request(ping);
    QVERIFY2(pong && pong->has_pong(), describe(pong).constData());
    QCOMPARE(pong->pong().nonce(), quint64(42));
    for (const auto &frame : m_alice->pushes())
        QVERIFY2(!frame.has_ok() && !frame.has_error(), describe(frame).constData());
}

void TestOperations::sigtermKeepsAckedMessages()
{
    const QString id = newClientMsgId();
    const auto ack = m_alice->send(m_conversation, QStringLiteral("before the stop"), id);
    QVERIFY2(ack && ack->has_send_ack(), describe(ack).constData());

    int exitCode = -1;
    QVERIFY(m_server.terminate(&exitCode));
    QCOMPARE(exitCode, 0);
    QVERIFY(m_alice->waitForDisconnected());
    QCOMPARE(m_alice->closeCode(), int(QWebSocketProtocol::CloseCodeGoingAway));

    QVERIFY(m_server.start());
    TestClient bob;
    QVERIFY(bob.connectAndLogin(m_server.url(), QStringLiteral("bob"), kPassword));
    const auto history = bob.pullAll(m_conversation);
    QVERIFY(history);
    QVERIFY(!history->isEmpty());
    QCOMPARE(toQString(history->constLast().client_msg_id()), id);
    QCOMPARE(history->constLast().seq(), ack->send_ack().seq());
}

// A stop that comes while history pages are read off the loop and sends flow:
// kithd finishes the work in hand and exits cleanly, and every send it acked
// is there after the restart, at the seq in its ack.
void TestOperations::sigtermWhilePagesAreServed()
{
    QVERIFY(m_server.isRunning());
    TestClient alice;
    TestClient bob;
    QVERIFY(alice.connectAndLogin(m_server.url(), QStringLiteral("alice"), kPassword));
    QVERIFY(bob.connectAndLogin(m_server.url(), QStringLiteral("bob"), kPassword));

    // Enough history that every pull is a full page.
    QList<quint32> filling;
    for (int i = 0; i < 200; ++i) {
        filling << alice.post(TestClient::sendRequest(
            m_conversation, QStringLiteral("history %1").arg(i), newClientMsgId()));
    }
    for (const quint32 requestId : filling) {
        const auto ack = alice.waitForAnswer(requestId);
        QVERIFY2(ack && ack->has_send_ack(), describe(ack).constData());
    }

    QHash<quint32, QString> sends; // request id -> client message id
    QList<quint32> sendOrder;
    for (int i = 0; i < 50; ++i) {
        const QString id = newClientMsgId();
        const quint32 requestId = alice.post(TestClient::sendRequest(
            m_conversation, QStringLiteral("during the stop %1").arg(i), id));
        sends.insert(requestId, id);
        sendOrder << requestId;
    }
    QList<quint32> pulls;
    for (int i = 0; i < 400; ++i)
        pulls << bob.post(TestClient::pullRequest(m_conversation, 1, 200));
    // The first page answered: the lane is still at work on the others.
    const auto firstPage = bob.waitForAnswer(pulls.first());
    QVERIFY2(firstPage && firstPage->has_pull_response(), describe(firstPage).constData());
    QHash<QString, quint64> acked; // client message id -> seq
    const auto firstAck = alice.waitForAnswer(sendOrder.first());
    QVERIFY2(firstAck && firstAck->has_send_ack(), describe(firstAck).constData());
    acked.insert(sends.value(sendOrder.first()), firstAck->send_ack().seq());
    int exitCode = -1;
    QVERIFY(m_server.terminate(&exitCode));
    QCOMPARE(exitCode, 0);
    QVERIFY(alice.waitForDisconnected());

    // A connection's frames are handled in order, and every send handed to
    // the store before the stop began is committed and acknowledged before
    // the close: so the answers, in send order, are acks, then SHUTTING_DOWN
    // (read after the stop began), then none (not read before the close).
    enum Answer { Acked, Refused, Unanswered };
    Answer previous = Acked; // the first send's ack was taken above
    for (const quint32 requestId : sendOrder.mid(1)) {
        const auto answer = alice.takeAnswer(requestId);
        Answer kind = Unanswered;
        if (answer && answer->has_send_ack()) {
            kind = Acked;
            acked.insert(sends.value(requestId), answer->send_ack().seq());
        } else if (answer) {
            QVERIFY2(answer->has_error() && answer->error().code() == v1::SHUTTING_DOWN,
                     describe(answer).constData());
            kind = Refused;
        }
        QVERIFY2(kind >= previous,
                 qPrintable(QStringLiteral("send %1 answered out of order (%2 after %3)")
                                .arg(sendOrder.indexOf(requestId))
                                .arg(int(kind))
                                .arg(int(previous))));
        previous = kind;
    }

    QVERIFY(m_server.start());
    TestClient reader;
    QVERIFY(reader.connectAndLogin(m_server.url(), QStringLiteral("bob"), kPassword));
    const auto history = reader.pullAll(m_conversation);
    QVERIFY(history);
    QHash<QString, quint64> stored;
    for (const v1::Message &message : *history)
        stored.insert(toQString(message.client_msg_id()), message.seq());
    for (auto it = acked.cbegin(); it != acked.cend(); ++it) {
        QVERIFY2(stored.contains(it.key()), qPrintable(it.key()));
        QCOMPARE(stored.value(it.key()), it.value());
    }
}

QTEST_GUILESS_MAIN(TestOperations)
#include "tst_operations.moc"
