// kill -9 of the server while clients send flat out: after a restart every
// acked message is in the history, seqs are contiguous, and resending what was
// in flight stores each message exactly once. Two of the senders hear nothing
// from the server for the last moments before the kill (their acks are held
// back on the way), so some sends are always committed without their ack.

#include "tcp_relay.h"
#include "test_client.h"
#include "test_server.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QHash>
#include <QSet>
#include <QTest>

#include <algorithm>
#include <memory>
#include <vector>

using namespace kith;
using namespace kith::test;

namespace {

// Enough acks before the kill that it lands in the middle of group commits.
constexpr int kAcksBeforeKill = 400;
constexpr int kWindow = 16; // requests in flight per sender

// One sender connection and everything it posted.
struct Sender
{
    std::unique_ptr<TestClient> client;
    QString conversation;
    QString token;
    QHash<quint32, QString> inFlight;  // request id -> client message id
    QHash<QString, v1::SendAck> acked; // client message id -> ack
    QHash<QString, QString> texts;     // client message id -> text
    int errors = 0;
};

} // namespace

class TestCrashRecovery : public QObject
{
    Q_OBJECT

private slots:
    void ackedMessagesSurviveKill9();

private:
    void postNext(Sender &sender);

    bool m_sending = true;
    int m_totalAcked = 0;
};

void TestCrashRecovery::postNext(Sender &sender)
{
    const QString id = newClientMsgId();
    const QString text =
        QStringLiteral("%1 #%2").arg(sender.client->userId()).arg(sender.texts.size());
    sender.texts.insert(id, text);
    sender.inFlight.insert(
        sender.client->post(TestClient::sendRequest(sender.conversation, text, id)), id);
}

void TestCrashRecovery::ackedMessagesSurviveKill9()
{
    // Rate limits are not under test here: let everyone send flat out and the
    // reader poll. Nor is the output budget: the held connections' pushes
    // pile up in kithd, and past half the budget it would stop reading the
    // very sends this test waits to see stored.
    TestServer server({QStringLiteral("--send-rate"), QStringLiteral("1000000"),
                       QStringLiteral("--send-burst"), QStringLiteral("1000000"),
                       QStringLiteral("--read-rate"), QStringLiteral("0"),
                       QStringLiteral("--max-queued-bytes"), QStringLiteral("1073741824"),
                       QStringLiteral("--drain-timeout-ms"), QStringLiteral("600000")});
    QVERIFY(server.start());

    TcpRelay relay(quint16(server.url().port()));
    QVERIFY(relay.listen());
    std::vector<Sender> senders(4);
    for (int i = 0; i < 4; ++i) {
        senders[i].client = std::make_unique<TestClient>();
        // 0 and 2 (one per conversation) through the relay.
        const QUrl url = i % 2 == 0 ? relay.url() : server.url();
        QVERIFY(senders[i].client->connectAndRegister(url, QStringLiteral("sender%1").arg(i)));
        senders[i].token = senders[i].client->token();
    }
    // Two in one direct chat, two in one group: concurrent senders per conversation.
    const QString direct =
        directConversationId(senders[0].client->userId(), senders[1].client->userId());
    v1::Envelope create;
    create.mutable_create_group()->set_name("crash");
    for (int i : {0, 1, 3})
        create.mutable_create_group()->add_member_user_ids(senders[i].client->userId());
    const auto created = senders[2].client->request(create);
    QVERIFY2(created && created->has_conversation(), describe(created).constData());
    const QString group = toQString(created->conversation().state().id());
    senders[0].conversation = direct;
    senders[1].conversation = direct;
    senders[2].conversation = group;
    senders[3].conversation = group;

    for (Sender &sender : senders) {
        connect(sender.client.get(), &TestClient::answered, this, [this, &sender](quint32 id) {
            const auto answer = sender.client->takeAnswer(id);
            const QString clientMsgId = sender.inFlight.take(id);
            if (!answer || clientMsgId.isEmpty())
                return;
            if (answer->has_send_ack()) {
                sender.acked.insert(clientMsgId, answer->send_ack());
                ++m_totalAcked;
            } else {
                qWarning("send answered with %s", describe(answer).constData());
                ++sender.errors;
            }
            if (m_sending)
                postNext(sender);
        });
        for (int i = 0; i < kWindow; ++i)
            postNext(sender);
    }

    QVERIFY2(TestClient::waitUntil([this] { return m_totalAcked >= kAcksBeforeKill; }, 120000),
             qPrintable(QStringLiteral("only %1 acks").arg(m_totalAcked)));
    // From here senders 0 and 2 get no answers, so they send nothing new; the
    // server stores what they have in flight. Once a reader sees all of it,
    // the kill comes, with those sends committed and their acks never sent.
    // What the relay let through before the hold (acks among a backlog of
    // pushes) still reaches them first: until it has, their sends in flight
    // may yet be acked, and a look at them proves nothing.
    relay.holdServerToClient(true);
    bool drained = false;
    TestClient reader;
    QVERIFY(reader.connectAndResume(server.url(), senders[0].token));
    // Pulled on from where the last look ended: the other two senders go on
    // flat out, and reading the whole history again on each look would fall
    // further behind them with every one.
    QSet<QString> storedIds;
    QHash<QString, quint64> nextSeq{{direct, 1}, {group, 1}};
    const auto heldSendsStored = [&] {
        if (!drained) {
            // Once in their receive queues, the held clients read it during
            // the pulls below, before the look that follows them.
            drained = relay.bytesOnTheWayToClients() == 0;
            return false;
        }
        for (const QString &conversation : {direct, group}) {
            const auto history = reader.pullAll(conversation, nextSeq.value(conversation));
            if (!history)
                return false;
            for (const v1::Message &message : *history) {
                storedIds.insert(toQString(message.client_msg_id()));
                nextSeq[conversation] =
                    std::max<quint64>(nextSeq.value(conversation), message.seq() + 1);
            }
        }
        const QSet<QString> &stored = storedIds;
        for (const Sender *held : {&senders[0], &senders[2]}) {
            if (held->inFlight.isEmpty())
                return false;
            for (const QString &id : held->inFlight) {
                if (!stored.contains(id))
                    return false;
            }
        }
        return true;
    };
    // A kithd that died meanwhile ends the wait with its last words, not a timeout.
    const bool stored =
        TestClient::waitUntil([&] { return !server.isRunning() || heldSendsStored(); }, 120000);
    QVERIFY2(server.isRunning(), server.stderrLog().right(800).constData());
    QVERIFY(stored);
    server.kill9();
    m_sending = false;
    // Acks the server wrote before it died are still read from the sockets.
    for (Sender &sender : senders)
        QVERIFY(sender.client->waitForDisconnected());
    int inFlight = 0;
    for (Sender &sender : senders) {
        QCOMPARE(sender.errors, 0);
        inFlight += int(sender.inFlight.size());
    }
    // Each sender keeps kWindow sends posted, so the kill always leaves some
    // unanswered: the resends below are what this test is about.
    QVERIFY2(inFlight > 0, "nothing was in flight at the kill");
    qInfo("killed with %d acks; %d requests in flight", m_totalAcked, inFlight);

    QVERIFY(server.start());
    for (Sender &sender : senders) {
        sender.client = std::make_unique<TestClient>();
        QVERIFY(sender.client->connectAndResume(server.url(), sender.token));
    }

    // Every acked message is there with the seq and server id of its ack, and the
    // seqs run 1..max without a gap.
    QHash<QString, v1::Message> storedBeforeResend; // client message id -> message
    for (const QString &conversation : {direct, group}) {
        TestClient *member =
            conversation == direct ? senders[0].client.get() : senders[2].client.get();
        const auto history = member->pullAll(conversation);
        QVERIFY(history);
        QHash<QString, v1::Message> byClientId;
        for (qsizetype n = 0; n < history->size(); ++n) {
            const auto &message = history->at(n);
            QCOMPARE(message.seq(), quint64(n + 1));
            if (message.content().has_system())
                continue;
            const QString id = toQString(message.client_msg_id());
            QVERIFY2(!byClientId.contains(id), "a message is stored twice");
            byClientId.insert(id, message);
            storedBeforeResend.insert(id, message);
        }
        for (const Sender &sender : senders) {
            if (sender.conversation != conversation)
                continue;
            for (auto it = sender.acked.cbegin(); it != sender.acked.cend(); ++it) {
                QVERIFY2(byClientId.contains(it.key()),
                         qPrintable(QStringLiteral("acked seq %1 lost").arg(it->seq())));
                const auto &kept = byClientId.value(it.key());
                QCOMPARE(kept.seq(), it->seq());
                QCOMPARE(kept.server_id(), it->server_id());
                QCOMPARE(toQString(kept.content().text().body()), sender.texts.value(it.key()));
            }
        }
    }

    // Resending what was in flight (as a client's outbox would) stores each
    // message once: one that was committed before the kill (its ack lost)
    // gets that original back as a duplicate; one that was not is new.
    int committedUnacked = 0;
    for (Sender &sender : senders) {
        for (const QString &id : sender.inFlight) {
            const auto answer =
                sender.client->send(sender.conversation, sender.texts.value(id), id);
            QVERIFY2(answer && answer->has_send_ack(), describe(answer).constData());
            const v1::SendAck &ack = answer->send_ack();
            const auto original = storedBeforeResend.constFind(id);
            if (original != storedBeforeResend.cend()) {
                ++committedUnacked;
                QVERIFY2(ack.duplicate(), "a resend of a stored message was not a duplicate");
                QCOMPARE(ack.seq(), original->seq());
                QCOMPARE(ack.server_id(), original->server_id());
            } else {
                QVERIFY2(!ack.duplicate(), "a message never stored came back as a duplicate");
            }
            sender.acked.insert(id, ack);
        }
        sender.inFlight.clear();
    }
    qInfo("of those, %d were committed before the kill without their ack", committedUnacked);
    QVERIFY2(committedUnacked > 0, "no send was committed without its ack");
    for (const QString &conversation : {direct, group}) {
        const auto history = senders[conversation == direct ? 1 : 3].client->pullAll(conversation);
        QVERIFY(history);
        QSet<QString> ids;
        int expected = 0;
        for (const Sender &sender : senders)
            expected += sender.conversation == conversation ? int(sender.texts.size()) : 0;
        for (qsizetype n = 0; n < history->size(); ++n) {
            const auto &message = history->at(n);
            QCOMPARE(message.seq(), quint64(n + 1));
            if (!message.content().has_system())
                ids.insert(toQString(message.client_msg_id()));
        }
        QCOMPARE(int(ids.size()), expected);
        for (const Sender &sender : senders) {
            if (sender.conversation != conversation)
                continue;
            for (auto it = sender.acked.cbegin(); it != sender.acked.cend(); ++it) {
                QVERIFY(ids.contains(it.key()));
                QCOMPARE(history->at(qsizetype(it->seq() - 1)).client_msg_id(),
                         it.key().toStdString());
            }
        }
    }
}

QTEST_GUILESS_MAIN(TestCrashRecovery)
#include "tst_crash_recovery.moc"
