// Two users chat 1:1, each with two online devices: every device of both ends
// up with the same messages, in the same order, with the same seqs; the sending
// connection gets the ack and the other devices get the push.

#include "test_client.h"
#include "test_server.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QHash>
#include <QTest>

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

QTEST_GUILESS_MAIN(TestDirectChat)
#include "tst_direct_chat.moc"
