// Two users chat 1:1, each with two online devices: every device of both ends
// up with the same messages, in the same order, with the same seqs; the sending
// connection gets the ack and the other devices get the push.

#include "test_client.h"
#include "test_server.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QHash>
#include <QTest>

#include <limits>
#include <memory>

using namespace kith;
using namespace kith::test;

namespace {

constexpr int kMessagesPerSender = 25;

struct Sent
{
    QString text;
    quint64 senderUserId = 0;
    quint64 senderDeviceId = 0;
    TestClient *connection = nullptr;
    quint64 seq = 0;
    quint64 serverId = 0;
    qint64 serverTimeMs = 0;
};

} // namespace

class TestDirectChat : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void everyDeviceGetsEveryMessageInOrder();
    void syncShowsTheConversationToBoth();
    void pullPagesBothWays();
    void pullLimitIsClampedToAPage();
    void replyQuotesAnEarlierSeq();

private:
    TestServer m_server;
    std::unique_ptr<TestClient> m_alice1, m_alice2, m_bob1, m_bob2;
    QString m_conversation;
    QHash<QString, Sent> m_sent; // by client message id
};

void TestDirectChat::initTestCase()
{
    QVERIFY(m_server.start());
    m_alice1 = std::make_unique<TestClient>();
    m_alice2 = std::make_unique<TestClient>();
    m_bob1 = std::make_unique<TestClient>();
    m_bob2 = std::make_unique<TestClient>();
    QVERIFY(m_alice1->connectAndRegister(m_server.url(), QStringLiteral("alice")));
    QVERIFY(m_alice2->connectAndLogin(m_server.url(), QStringLiteral("alice"),
                                      QStringLiteral("password123"), QStringLiteral("phone")));
    QVERIFY(m_bob1->connectAndRegister(m_server.url(), QStringLiteral("bob")));
    QVERIFY(m_bob2->connectAndLogin(m_server.url(), QStringLiteral("bob"),
                                    QStringLiteral("password123"), QStringLiteral("phone")));
    QCOMPARE(m_alice2->userId(), m_alice1->userId());
    QVERIFY(m_alice2->deviceId() != m_alice1->deviceId());
    QCOMPARE(m_bob2->userId(), m_bob1->userId());
    QVERIFY(m_bob2->deviceId() != m_bob1->deviceId());
    m_conversation = directConversationId(m_alice1->userId(), m_bob1->userId());
}

void TestDirectChat::everyDeviceGetsEveryMessageInOrder()
{
    // alice's laptop and bob's phone talk at the same time, requests pipelined.
    QHash<quint32, QString> aliceRequests, bobRequests;
    for (int i = 0; i < kMessagesPerSender; ++i) {
        for (TestClient *sender : {m_alice1.get(), m_bob2.get()}) {
            const QString id = newClientMsgId();
            const QString text = QStringLiteral("from %1 #%2").arg(sender->userId()).arg(i);
            const quint32 requestId =
                sender->post(TestClient::sendRequest(m_conversation, text, id));
            (sender == m_alice1.get() ? aliceRequests : bobRequests).insert(requestId, id);
            m_sent.insert(id, Sent{text, sender->userId(), sender->deviceId(), sender});
        }
    }
    for (auto [client, requests] :
         {std::pair{m_alice1.get(), &aliceRequests}, std::pair{m_bob2.get(), &bobRequests}}) {
        for (auto it = requests->cbegin(); it != requests->cend(); ++it) {
            const auto answer = client->waitForAnswer(it.key());
            QVERIFY2(answer && answer->has_send_ack(), describe(answer).constData());
            const auto &ack = answer->send_ack();
            QCOMPARE(toQString(ack.client_msg_id()), it.value());
            QCOMPARE(toQString(ack.conversation_id()), m_conversation);
            QVERIFY(!ack.duplicate());
            Sent &sent = m_sent[it.value()];
            sent.seq = ack.seq();
            sent.serverId = ack.server_id();
            sent.serverTimeMs = ack.server_time_ms();
        }
    }

    // The acks hand out seqs 1..N, each once.
    const int total = int(m_sent.size());
    QCOMPARE(total, 2 * kMessagesPerSender);
    QSet<quint64> seqs, serverIds;
    for (const Sent &sent : std::as_const(m_sent)) {
        seqs.insert(sent.seq);
        serverIds.insert(sent.serverId);
    }
    QCOMPARE(seqs.size(), total);
    QCOMPARE(serverIds.size(), total);
    for (quint64 seq = 1; seq <= quint64(total); ++seq)
        QVERIFY2(seqs.contains(seq), qPrintable(QStringLiteral("no ack with seq %1").arg(seq)));

    // Every device gets a push of every message its own connection did not send,
    // in seq order, carrying what the ack said.
    for (TestClient *device : {m_alice1.get(), m_alice2.get(), m_bob1.get(), m_bob2.get()}) {
        int ownSends = 0;
        for (const Sent &sent : std::as_const(m_sent))
            ownSends += sent.connection == device ? 1 : 0;
        const int expected = total - ownSends;
        QVERIFY2(TestClient::waitUntil(
                     [&] { return device->messagePushes(m_conversation).size() >= expected; }),
                 qPrintable(QStringLiteral("device %1 got %2 of %3 pushes")
                                .arg(device->deviceId())
                                .arg(device->messagePushes(m_conversation).size())
                                .arg(expected)));
        const auto pushes = device->messagePushes(m_conversation);
        QCOMPARE(pushes.size(), expected);
        quint64 previousSeq = 0;
        QSet<quint64> seen;
        for (const auto &message : pushes) {
            QVERIFY2(message.seq() > previousSeq, "pushes out of seq order");
            previousSeq = message.seq();
            const QString id = toQString(message.client_msg_id());
            QVERIFY(m_sent.contains(id));
            const Sent &sent = m_sent.value(id);
            QVERIFY2(sent.connection != device, "the sending connection got its own push");
            QCOMPARE(message.seq(), sent.seq);
            QCOMPARE(message.server_id(), sent.serverId);
            QCOMPARE(message.server_time_ms(), sent.serverTimeMs);
            QCOMPARE(message.sender_user_id(), sent.senderUserId);
            QCOMPARE(message.sender_device_id(), sent.senderDeviceId);
            QCOMPARE(toQString(message.content().text().body()), sent.text);
            seen.insert(message.seq());
        }
        for (const Sent &sent : std::as_const(m_sent)) {
            if (sent.connection == device)
                seen.insert(sent.seq);
        }
        QCOMPARE(seen.size(), total);
    }

    // And the history each device pulls is one and the same, seqs 1..N.
    std::optional<QList<v1::Message>> reference;
    for (TestClient *device : {m_alice1.get(), m_alice2.get(), m_bob1.get(), m_bob2.get()}) {
        const auto history = device->pullAll(m_conversation);
        QVERIFY(history);
        QCOMPARE(history->size(), total);
        for (int i = 0; i < total; ++i) {
            const auto &message = history->at(i);
            QCOMPARE(message.seq(), quint64(i + 1));
            const Sent &sent = m_sent.value(toQString(message.client_msg_id()));
            QCOMPARE(message.server_id(), sent.serverId);
            QCOMPARE(toQString(message.content().text().body()), sent.text);
            if (reference)
                QCOMPARE(message.SerializeAsString(), reference->at(i).SerializeAsString());
        }
        if (!reference)
            reference = history;
    }
    for (TestClient *device : {m_alice1.get(), m_alice2.get(), m_bob1.get(), m_bob2.get()})
        QCOMPARE(device->undecodableFrames(), 0);
}

void TestDirectChat::syncShowsTheConversationToBoth()
{
    for (auto [device, peer] : {std::pair{m_alice2.get(), m_bob1->userId()},
                                std::pair{m_bob1.get(), m_alice1->userId()}}) {
        const auto answer = device->sync();
        QVERIFY2(answer && answer->has_sync_response(), describe(answer).constData());
        const auto &changed = answer->sync_response().changed();
        QCOMPARE(changed.size(), 1);
        const auto &state = changed.at(0);
        QCOMPARE(toQString(state.id()), m_conversation);
        QCOMPARE(state.kind(), v1::DIRECT);
        QCOMPARE(state.peer_user_id(), peer);
        QCOMPARE(state.max_seq(), quint64(2 * kMessagesPerSender));
        QCOMPARE(state.last_message().seq(), quint64(2 * kMessagesPerSender));
    }
}

void TestDirectChat::pullPagesBothWays()
{
    const quint64 total = 2 * kMessagesPerSender;
    const auto forward = m_bob1->pullAll(m_conversation);
    QVERIFY(forward);
    QCOMPARE(quint64(forward->size()), total);

    // Newest first in pages of 7, each page continuing below the last one.
    QList<v1::Message> backward;
    quint64 before = 0; // from the newest message
    for (int page = 0; page < 20; ++page) {
        v1::Envelope request;
        auto *pull = request.mutable_pull();
        pull->set_conversation_id(toStd(m_conversation));
        pull->set_direction(v1::PullRequest::BACKWARD);
        pull->set_before_seq(before);
        pull->set_limit(7);
        const auto answer = m_alice2->request(request);
        QVERIFY2(answer && answer->has_pull_response(), describe(answer).constData());
        const auto &response = answer->pull_response();
        QVERIFY(response.messages_size() <= 7);
        QCOMPARE(response.max_seq(), total);
        for (const auto &message : response.messages())
            backward.append(message);
        if (!response.has_more())
            break;
        QVERIFY(response.messages_size() > 0);
        before = response.messages().rbegin()->seq();
    }
    QCOMPARE(quint64(backward.size()), total);
    for (qsizetype n = 0; n < backward.size(); ++n) {
        QCOMPARE(backward.at(n).SerializeAsString(),
                 forward->at(forward->size() - 1 - n).SerializeAsString());
    }

    // A bounded forward range, and the default page size for limit 0.
    v1::Envelope range;
    range.mutable_pull()->set_conversation_id(toStd(m_conversation));
    range.mutable_pull()->set_from_seq(10);
    range.mutable_pull()->set_to_seq(14);
    const auto ranged = m_bob2->request(range);
    QVERIFY2(ranged && ranged->has_pull_response(), describe(ranged).constData());
    QCOMPARE(ranged->pull_response().messages_size(), 5);
    QCOMPARE(ranged->pull_response().messages(0).seq(), quint64(10));
    QCOMPARE(ranged->pull_response().messages(4).seq(), quint64(14));
    QVERIFY(!ranged->pull_response().has_more());

    v1::Envelope defaults;
    defaults.mutable_pull()->set_conversation_id(toStd(m_conversation));
    const auto page = m_bob2->request(defaults);
    QVERIFY2(page && page->has_pull_response(), describe(page).constData());
    QCOMPARE(quint32(page->pull_response().messages_size()),
             qMin<quint32>(kDefaultPullLimit, total));
    QCOMPARE(page->pull_response().messages(0).seq(), quint64(1));
}

// docs/protocol.md: a limit above 200 is clamped to 200, not refused: on a
// conversation longer than a page, such a pull gets exactly a full page.
void TestDirectChat::pullLimitIsClampedToAPage()
{
    TestClient carol;
    QVERIFY(carol.connectAndRegister(m_server.url(), QStringLiteral("carol")));
    const QString chat = directConversationId(m_alice1->userId(), carol.userId());
    const quint64 total = kMaxPullLimit + 5;
    QList<quint32> requests;
    for (quint64 i = 0; i < total; ++i)
        requests << m_alice1->post(
            TestClient::sendRequest(chat, QStringLiteral("long %1").arg(i), newClientMsgId()));
    for (const quint32 requestId : std::as_const(requests)) {
        const auto ack = m_alice1->waitForAnswer(requestId);
        QVERIFY2(ack && ack->has_send_ack(), describe(ack).constData());
    }

    for (const quint32 limit :
         {kMaxPullLimit + 1, quint32(1000), std::numeric_limits<quint32>::max()}) {
        v1::Envelope greedy;
        greedy.mutable_pull()->set_conversation_id(toStd(chat));
        greedy.mutable_pull()->set_limit(limit);
        const auto answer = carol.request(greedy);
        QVERIFY2(answer && answer->has_pull_response(), describe(answer).constData());
        const auto &page = answer->pull_response();
        QCOMPARE(quint32(page.messages_size()), kMaxPullLimit);
        QCOMPARE(page.messages(0).seq(), quint64(1));
        QCOMPARE(page.messages(int(kMaxPullLimit) - 1).seq(), quint64(kMaxPullLimit));
        QVERIFY(page.has_more());
        QCOMPARE(page.max_seq(), total);
    }
}

void TestDirectChat::replyQuotesAnEarlierSeq()
{
    v1::Envelope reply =
        TestClient::sendRequest(m_conversation, QStringLiteral("agreed"), newClientMsgId());
    reply.mutable_send()->mutable_content()->set_reply_to_seq(3);
    const auto ack = m_bob1->request(reply);
    QVERIFY2(ack && ack->has_send_ack(), describe(ack).constData());
    const auto pushed = m_alice1->waitForPush([&](const v1::Envelope &e) {
        return e.has_message() && e.message().message().seq() == ack->send_ack().seq();
    });
    QVERIFY(pushed);
    QCOMPARE(pushed->message().message().content().reply_to_seq(), quint64(3));

    // A quote of a seq the conversation does not have yet is refused.
    v1::Envelope dangling =
        TestClient::sendRequest(m_conversation, QStringLiteral("what?"), newClientMsgId());
    dangling.mutable_send()->mutable_content()->set_reply_to_seq(ack->send_ack().seq() + 100);
    const auto refused = m_bob1->request(dangling);
    QVERIFY2(refused && refused->has_error(), describe(refused).constData());
    QCOMPARE(refused->error().code(), v1::INVALID_ARGUMENT);
}

QTEST_GUILESS_MAIN(TestDirectChat)
#include "tst_direct_chat.moc"
