// The outbox against a real kithd: messages written while the server is down
// show as pending, survive a client restart, and reach the server once each
// and in order when it is back — also when the server is killed with a send in
// flight that it stored but whose ack never arrived.
#include "client_fixture.h"
#include "tcp_relay.h"
#include "test_server.h"

#include "kith/client/connection.h"
#include "kith/client/local_store.h"
#include "kith/client/message_list_model.h"
#include "kith/client/outbox.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QAbstractItemModelTester>
#include <QSet>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>

using namespace kith;
using namespace kith::client;
using namespace kith::test;

namespace {
QStringList texts(const QList<v1::Message> &messages, quint64 sender)
{
    QStringList result;
    for (const auto &m : messages)
        if (m.sender_user_id() == sender)
            result << toQString(m.content().text().body());
    return result;
}

bool uniqueClientIds(const QList<v1::Message> &messages)
{
    QSet<QString> seen;
    for (const auto &m : messages) {
        const QString id = toQString(m.client_msg_id());
        if (seen.contains(id))
            return false;
        seen.insert(id);
    }
    return true;
}
} // namespace

class TestClientOutbox : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void queuedWhileServerDownSurvivesRestart()
    {
        TestServer server;
        QVERIFY(server.start());
        QTemporaryDir dir;
        ClientDevice alice(dir.path());
        QVERIFY(alice.registerOn(server.url(), QStringLiteral("alice")));
        TestClient bob;
        QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));
        const quint64 aliceId = quint64(alice->userId());
        const QString direct = directConversationId(aliceId, bob.userId());
        bob.close();

        int exitCode = -1;
        QVERIFY(server.terminate(&exitCode));
        QTRY_VERIFY_WITH_TIMEOUT(!alice->isOnline(), kClientTimeoutMs);

        QStringList sent;
        {
            MessageListModel model(alice.get(), direct);
            QAbstractItemModelTester tester(&model,
                                            QAbstractItemModelTester::FailureReportingMode::QtTest);
            for (int i = 0; i < 10; ++i) {
                sent << QStringLiteral("offline %1").arg(i);
                QVERIFY(!alice->sendMessage(direct, sent.last()).isEmpty());
            }
            QCOMPARE(model.rowCount(), 10);
            for (int r = 0; r < 10; ++r)
                QCOMPARE(model.index(r).data(MessageListModel::SendStatusRole).toInt(),
                         int(MessageListModel::Pending));
        }
        const auto queued = alice->store()->outbox(direct);
        QCOMPARE(queued.size(), 10);

        // The client restarts while the server is still down: nothing is lost.
        alice.restart();
        QVERIFY(alice->openAccount(server.url(), QStringLiteral("alice")));
        QCOMPARE(alice->store()->outbox(direct).size(), 10);
        for (int i = 0; i < 10; ++i)
            QCOMPARE(alice->store()->outbox(direct).at(i).clientMsgId, queued.at(i).clientMsgId);

        MessageListModel model(alice.get(), direct);
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QVERIFY(server.restart());
        alice->connection()->retryNow(); // what a network-up signal does
        QVERIFY(alice.waitSynced());
        QTRY_VERIFY_WITH_TIMEOUT(alice->outbox()->isIdle(), kClientTimeoutMs);
        QVERIFY(alice->store()->outbox().isEmpty());

        QVERIFY(bob.connectAndLogin(server.url(), QStringLiteral("bob")));
        const auto history = bob.pullAll(direct);
        QVERIFY(history);
        QCOMPARE(texts(*history, aliceId), sent);
        QVERIFY(uniqueClientIds(*history));
        QString why;
        QVERIFY2(historyMatchesServer(alice->store(), bob, direct, &why), qPrintable(why));
        QCOMPARE(model.rowCount(), 10);
        for (int r = 0; r < 10; ++r)
            QCOMPARE(model.index(r).data(MessageListModel::SendStatusRole).toInt(),
                     int(MessageListModel::Sent));
    }

    // kith-cli send --stdin queues every line, then sends them one after the
    // other: each send and each change must read a bounded part of the queue,
    // not all of it (3,000 lines took minutes and the connection timed out).
    void aLongQueueIsSentInLinearWork()
    {
        TestServer server(kFastSendArgs);
        QVERIFY(server.start());
        QTemporaryDir dir;
        ClientDevice alice(dir.path());
        QVERIFY(alice.registerOn(server.url(), QStringLiteral("alice")));
        TestClient bob;
        QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));
        const QString direct = directConversationId(quint64(alice->userId()), bob.userId());
        bob.close();

        int exitCode = -1;
        QVERIFY(server.terminate(&exitCode));
        QTRY_VERIFY_WITH_TIMEOUT(!alice->isOnline(), kClientTimeoutMs);
        constexpr int kQueued = 400;
        for (int i = 0; i < kQueued; ++i)
            QVERIFY(!alice->sendMessage(direct, QStringLiteral("line %1").arg(i)).isEmpty());
        const quint64 before = alice->store()->outboxRowsRead();
        QVERIFY(server.restart());
        alice->connection()->retryNow();
        QVERIFY(alice.waitSynced());
        QTRY_VERIFY_WITH_TIMEOUT(alice->outbox()->isIdle(), kClientTimeoutMs);
        QCOMPARE(alice->store()->messageCount(direct), qint64(kQueued));
        // A few rows per message (its head, its ack, the list's summary);
        // reading the whole queue each time would be ~kQueued^2 / 2.
        const quint64 read = alice->store()->outboxRowsRead() - before;
        QVERIFY2(read <= quint64(10 * kQueued), qPrintable(QString::number(read)));
    }

    // The server stores a send and dies before its ack reaches the client
    // (held back on the way): the message is still pending in the outbox
    // when the server is killed, is resent with its id after the restart, and
    // is stored once, like everything else sent before and after it.
    void killedServerWithSendsInFlightStoresEachOnce()
    {
        TestServer server;
        QVERIFY(server.start());
        TcpRelay relay(quint16(server.url().port()));
        QVERIFY(relay.listen());
        QTemporaryDir dir;
        ClientDevice alice(dir.path());
        QVERIFY(alice.registerOn(relay.url(), QStringLiteral("alice")));
        TestClient bob;
        QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));
        const quint64 aliceId = quint64(alice->userId());
        const QString direct = directConversationId(aliceId, bob.userId());

        QStringList sent;
        for (int i = 0; i < 40; ++i) {
            sent << QStringLiteral("burst %1").arg(i);
            QVERIFY(!alice->sendMessage(direct, sent.last()).isEmpty());
        }
        // Let some acks through, then keep the server's answers from alice.
        QTRY_VERIFY_WITH_TIMEOUT(alice->store()->messageCount(direct) >= 3, kClientTimeoutMs);
        relay.holdServerToClient(true);
        // An ack let through just before the hold reaches alice first.
        QTRY_VERIFY_WITH_TIMEOUT(relay.bytesOnTheWayToClients() == 0, kClientTimeoutMs);
        // The outbox has one send on the wire: wait until the server has
        // stored it (bob sees it) while alice, whose ack is held, has not.
        QString inFlight;
        const auto storedButUnacked = [&] {
            const auto history = bob.pullAll(direct);
            const auto pending = alice->store()->outbox(direct);
            if (!history || pending.isEmpty())
                return false;
            inFlight = pending.first().clientMsgId;
            return std::any_of(history->cbegin(), history->cend(), [&](const v1::Message &m) {
                return toQString(m.client_msg_id()) == inFlight;
            });
        };
        QTRY_VERIFY_WITH_TIMEOUT(storedButUnacked(), kClientTimeoutMs);
        server.kill9();
        QTRY_VERIFY_WITH_TIMEOUT(!alice->isOnline(), kClientTimeoutMs);
        QVERIFY2(alice->store()->outboxEntry(inFlight),
                 "the send in flight was acknowledged after all");
        QCOMPARE(alice->store()->outbox(direct).first().clientMsgId, inFlight);

        relay.holdServerToClient(false);
        QVERIFY(server.restart());
        alice->connection()->retryNow();
        QVERIFY(alice.waitSynced());
        QTRY_VERIFY_WITH_TIMEOUT(alice->outbox()->isIdle(), kClientTimeoutMs);

        QVERIFY(bob.connectAndLogin(server.url(), QStringLiteral("bob")));
        const auto history = bob.pullAll(direct);
        QVERIFY(history);
        QCOMPARE(texts(*history, aliceId), sent);
        QVERIFY(uniqueClientIds(*history));
        QString why;
        QVERIFY2(historyMatchesServer(alice->store(), bob, direct, &why), qPrintable(why));
    }

    void refusedMessagesFailAndCanBeDiscarded()
    {
        TestServer server;
        QVERIFY(server.start());
        QTemporaryDir dir;
        ClientDevice alice(dir.path());
        QVERIFY(alice.registerOn(server.url(), QStringLiteral("alice")));
        // A group that does not exist (or that alice is not in): NOT_FOUND.
        const QString nowhere = QStringLiteral("g:999999");
        const QString id = alice->sendMessage(nowhere, QStringLiteral("into the void"));
        QVERIFY(!id.isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT(alice->store()->outboxEntry(id) &&
                                     alice->store()->outboxEntry(id)->status ==
                                         OutboxStatus::Failed,
                                 kClientTimeoutMs);
        QVERIFY(alice->outbox()->isIdle());
        QVERIFY(alice->retryMessage(id));
        QTRY_VERIFY_WITH_TIMEOUT(alice->store()->outboxEntry(id)->status == OutboxStatus::Failed,
                                 kClientTimeoutMs);
        QVERIFY(alice->discardMessage(id));
        QVERIFY(!alice->store()->outboxEntry(id));
    }
};

QTEST_GUILESS_MAIN(TestClientOutbox)
#include "tst_client_outbox.moc"
