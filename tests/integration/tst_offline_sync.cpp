// A receiver that is offline while 500 messages arrive in 20 conversations
// reconnects, syncs from what it holds and pulls what it lacks: it ends with
// exactly the server's history, no gaps and no duplicates.

#include "test_client.h"
#include "test_server.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QHash>
#include <QTest>

#include <memory>
#include <vector>

using namespace kith;
using namespace kith::test;

namespace {

constexpr int kSenders = 20;
constexpr int kOfflineMessages = 500;
// One conversation gets more than a pull page (200) so the receiver has to page.
constexpr int kBigConversationMessages = 215;
constexpr int kOtherConversationMessages =
    (kOfflineMessages - kBigConversationMessages) / (kSenders - 1);
static_assert(kBigConversationMessages + (kSenders - 1) * kOtherConversationMessages ==
              kOfflineMessages);

v1::ConversationCursor cursorOf(const v1::ConversationState &state)
{
    v1::ConversationCursor cursor;
    cursor.set_conversation_id(state.id());
    cursor.set_max_seq(state.max_seq());
    cursor.set_read_seq(state.read_seq());
    cursor.set_metadata_version(state.metadata_version());
    cursor.set_peer_read_seq(state.peer_read_seq());
    return cursor;
}

} // namespace

class TestOfflineSync : public QObject
{
    Q_OBJECT

private slots:
    void receiverCatchesUpWithEveryConversation();
};

void TestOfflineSync::receiverCatchesUpWithEveryConversation()
{
    TestServer server;
    QVERIFY(server.start());

    auto receiver = std::make_unique<TestClient>();
    QVERIFY(receiver->connectAndRegister(server.url(), QStringLiteral("receiver")));
    const QString token = receiver->token();
    QVERIFY(!token.isEmpty());

    std::vector<std::unique_ptr<TestClient>> senders;
    QStringList conversations;
    for (int i = 0; i < kSenders; ++i) {
        senders.push_back(std::make_unique<TestClient>());
        QVERIFY(
            senders.back()->connectAndRegister(server.url(), QStringLiteral("sender%1").arg(i)));
        conversations.append(directConversationId(senders.back()->userId(), receiver->userId()));
    }

    // While online the receiver gets a first message of each conversation and
    // keeps it, like a client's local store.
    for (int i = 0; i < kSenders; ++i) {
        const auto answer =
            senders[i]->send(conversations[i], QStringLiteral("hello"), newClientMsgId());
        QVERIFY2(answer && answer->has_send_ack(), describe(answer).constData());
        QCOMPARE(answer->send_ack().seq(), quint64(1));
    }
    QHash<QString, QList<v1::Message>> held;
    for (const QString &conversation : std::as_const(conversations)) {
        const auto first = receiver->waitForPush([&](const v1::Envelope &e) {
            return e.has_message() &&
                   toQString(e.message().message().conversation_id()) == conversation;
        });
        QVERIFY2(first, qPrintable(QStringLiteral("no push for %1").arg(conversation)));
        QCOMPARE(first->message().message().seq(), quint64(1));
        held[conversation].append(first->message().message());
    }
    const auto firstSync = receiver->sync();
    QVERIFY2(firstSync && firstSync->has_sync_response(), describe(firstSync).constData());
    QCOMPARE(firstSync->sync_response().changed_size(), kSenders);
    QList<v1::ConversationCursor> cursors;
    for (const auto &state : firstSync->sync_response().changed()) {
        QVERIFY(conversations.contains(toQString(state.id())));
        QCOMPARE(state.max_seq(), quint64(1));
        cursors.append(cursorOf(state));
    }
    receiver->close();
    QVERIFY(!receiver->isConnected());

    // 500 messages in 20 conversations while the receiver is away, all senders at once.
    QList<QList<quint32>> requests(kSenders);
    QHash<QString, int> expectedCount;
    for (int i = 0; i < kSenders; ++i) {
        const int count = i == 0 ? kBigConversationMessages : kOtherConversationMessages;
        expectedCount[conversations[i]] = 1 + count;
        for (int n = 0; n < count; ++n) {
            requests[i].append(senders[i]->post(TestClient::sendRequest(
                conversations[i], QStringLiteral("offline #%1").arg(n), newClientMsgId())));
        }
    }
    for (int i = 0; i < kSenders; ++i) {
        quint64 expectedSeq = 2;
        for (quint32 requestId : std::as_const(requests[i])) {
            const auto answer = senders[i]->waitForAnswer(requestId);
            QVERIFY2(answer && answer->has_send_ack(), describe(answer).constData());
            QCOMPARE(answer->send_ack().seq(), expectedSeq++);
        }
    }

    // Back online: resume, sync from what is held, pull what is missing.
    receiver = std::make_unique<TestClient>();
    QVERIFY(receiver->connectAndResume(server.url(), token));
    const auto catchUp = receiver->sync(cursors);
    QVERIFY2(catchUp && catchUp->has_sync_response(), describe(catchUp).constData());
    QCOMPARE(catchUp->sync_response().gone_conversation_ids_size(), 0);
    QCOMPARE(catchUp->sync_response().changed_size(), kSenders);
    QList<v1::ConversationCursor> newCursors;
    for (const auto &state : catchUp->sync_response().changed()) {
        const QString id = toQString(state.id());
        QVERIFY(expectedCount.contains(id));
        QCOMPARE(state.max_seq(), quint64(expectedCount.value(id)));
        // The receiver has read nothing and sent nothing: everything is unread.
        QCOMPARE(state.read_seq(), quint64(0));
        QCOMPARE(state.unread_count(), state.max_seq());
        newCursors.append(cursorOf(state));

        const quint64 heldMax = held.value(id).constLast().seq();
        const auto missing = receiver->pullAll(id, heldMax + 1);
        QVERIFY2(missing, qPrintable(QStringLiteral("pull of %1 failed").arg(id)));
        held[id] += *missing;
    }

    // What the receiver now holds is exactly what another member pulls.
    for (int i = 0; i < kSenders; ++i) {
        const QString &id = conversations[i];
        const auto truth = senders[i]->pullAll(id);
        QVERIFY(truth);
        const QList<v1::Message> &mine = held.value(id);
        QCOMPARE(mine.size(), expectedCount.value(id));
        QCOMPARE(truth->size(), mine.size());
        for (qsizetype n = 0; n < mine.size(); ++n) {
            QCOMPARE(mine.at(n).seq(), quint64(n + 1));
            QCOMPARE(mine.at(n).SerializeAsString(), truth->at(n).SerializeAsString());
        }
    }

    // Holding all of it, a sync reports nothing new.
    const auto upToDate = receiver->sync(newCursors);
    QVERIFY2(upToDate && upToDate->has_sync_response(), describe(upToDate).constData());
    QCOMPARE(upToDate->sync_response().changed_size(), 0);
    QCOMPARE(upToDate->sync_response().gone_conversation_ids_size(), 0);
}

QTEST_GUILESS_MAIN(TestOfflineSync)
#include "tst_offline_sync.moc"
