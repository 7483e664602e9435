// One client message id sent 50 times — at once, one after another, after a
// reconnect and after a server restart — is stored once and always gets the
// original ack; only the first is not a duplicate.

#include "test_client.h"
#include "test_server.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QTest>

#include <memory>

using namespace kith;
using namespace kith::test;

namespace {

constexpr int kConcurrentSends = 10;
constexpr int kSequentialSends = 10;
constexpr int kAfterReconnectSends = 15;
constexpr int kAfterRestartSends = 15;
static_assert(kConcurrentSends + kSequentialSends + kAfterReconnectSends + kAfterRestartSends ==
              50);

} // namespace

class TestIdempotency : public QObject
{
    Q_OBJECT

private slots:
    void resendsGetTheOriginalAck();

private:
    // Sends the repeated message once more and checks its ack against the first.
    void resendAndCompare(TestClient &client);

    QString m_conversation;
    QString m_clientMsgId;
    QString m_text;
    v1::SendAck m_original;
    int m_sends = 0;
    int m_originals = 0;
};

void TestIdempotency::resendAndCompare(TestClient &client)
{
    const auto answer = client.send(m_conversation, m_text, m_clientMsgId);
    QVERIFY2(answer && answer->has_send_ack(), describe(answer).constData());
    const auto &ack = answer->send_ack();
    ++m_sends;
    QVERIFY2(ack.duplicate(), qPrintable(QStringLiteral("resend %1 not a duplicate").arg(m_sends)));
    QCOMPARE(ack.seq(), m_original.seq());
    QCOMPARE(ack.server_id(), m_original.server_id());
    QCOMPARE(ack.server_time_ms(), m_original.server_time_ms());
    QCOMPARE(toQString(ack.client_msg_id()), m_clientMsgId);
    QCOMPARE(toQString(ack.conversation_id()), m_conversation);
}

void TestIdempotency::resendsGetTheOriginalAck()
{
    TestServer server;
    QVERIFY(server.start());
    auto alice = std::make_unique<TestClient>();
    TestClient bob;
    QVERIFY(alice->connectAndRegister(server.url(), QStringLiteral("alice")));
    QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));
    const QString aliceToken = alice->token();
    m_conversation = directConversationId(alice->userId(), bob.userId());
    m_clientMsgId = newClientMsgId();
    m_text = QStringLiteral("exactly once");

    const auto before = alice->send(m_conversation, QStringLiteral("before"), newClientMsgId());
    QVERIFY2(before && before->has_send_ack(), describe(before).constData());

    // Ten copies in flight at once, as a client retrying too eagerly would send them.
    QList<quint32> burst;
    for (int i = 0; i < kConcurrentSends; ++i)
        burst.append(alice->post(TestClient::sendRequest(m_conversation, m_text, m_clientMsgId)));
    QList<v1::SendAck> burstAcks;
    for (quint32 requestId : std::as_const(burst)) {
        const auto answer = alice->waitForAnswer(requestId);
        QVERIFY2(answer && answer->has_send_ack(), describe(answer).constData());
        burstAcks.append(answer->send_ack());
        ++m_sends;
    }
    for (const auto &ack : std::as_const(burstAcks)) {
        if (!ack.duplicate()) {
            m_original = ack;
            ++m_originals;
        }
    }
    QCOMPARE(m_originals, 1);
    QCOMPARE(m_original.seq(), before->send_ack().seq() + 1);
    for (const auto &ack : std::as_const(burstAcks)) {
        QCOMPARE(ack.seq(), m_original.seq());
        QCOMPARE(ack.server_id(), m_original.server_id());
        QCOMPARE(ack.server_time_ms(), m_original.server_time_ms());
    }

    for (int i = 0; i < kSequentialSends && !QTest::currentTestFailed(); ++i)
        resendAndCompare(*alice);
    if (QTest::currentTestFailed())
        return;

    // Bob got one push of it, not eleven: the push of a later message comes
    // after any push the resends could have caused.
    const QString afterId = newClientMsgId();
    const auto after = alice->send(m_conversation, QStringLiteral("after"), afterId);
    QVERIFY2(after && after->has_send_ack(), describe(after).constData());
    QCOMPARE(after->send_ack().seq(), m_original.seq() + 1);
    QVERIFY(bob.waitForPush([&](const v1::Envelope &e) {
        return e.has_message() && toQString(e.message().message().client_msg_id()) == afterId;
    }));
    int pushesOfRepeated = 0;
    for (const auto &message : bob.messagePushes(m_conversation))
        pushesOfRepeated += toQString(message.client_msg_id()) == m_clientMsgId ? 1 : 0;
    QCOMPARE(pushesOfRepeated, 1);

    // A new connection of the same device.
    alice->close();
    alice = std::make_unique<TestClient>();
    QVERIFY(alice->connectAndResume(server.url(), aliceToken));
    for (int i = 0; i < kAfterReconnectSends && !QTest::currentTestFailed(); ++i)
        resendAndCompare(*alice);
    if (QTest::currentTestFailed())
        return;

    // A server restart: the key is in storage, not in memory.
    QVERIFY(server.restart());
    alice = std::make_unique<TestClient>();
    QVERIFY(alice->connectAndResume(server.url(), aliceToken));
    for (int i = 0; i < kAfterRestartSends && !QTest::currentTestFailed(); ++i)
        resendAndCompare(*alice);
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(m_sends, 50);

    // The history holds it once, between "before" and "after".
    TestClient bobAgain;
    QVERIFY(bobAgain.connectAndLogin(server.url(), QStringLiteral("bob")));
    const auto history = bobAgain.pullAll(m_conversation);
    QVERIFY(history);
    QCOMPARE(history->size(), 3);
    QCOMPARE(toQString(history->at(0).content().text().body()), QStringLiteral("before"));
    QCOMPARE(toQString(history->at(1).client_msg_id()), m_clientMsgId);
    QCOMPARE(history->at(1).seq(), m_original.seq());
    QCOMPARE(history->at(1).server_id(), m_original.server_id());
    QCOMPARE(history->at(1).server_time_ms(), m_original.server_time_ms());
    QCOMPARE(toQString(history->at(2).client_msg_id()), afterId);

    // A new message after all that continues the seq without a gap.
    const auto next = alice->send(m_conversation, QStringLiteral("next"), newClientMsgId());
    QVERIFY2(next && next->has_send_ack(), describe(next).constData());
    QCOMPARE(next->send_ack().seq(), m_original.seq() + 2);
    QVERIFY(!next->send_ack().duplicate());
}

QTEST_GUILESS_MAIN(TestIdempotency)
#include "tst_idempotency.moc"
