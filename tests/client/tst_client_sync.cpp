// Sync against a real kithd: a device that was offline while 2,000 messages
// arrived in 50 conversations ends with exactly the server's history, and
// pushes lost on the way (dropped by the test hook) are detected by their seq
// gap and pulled — with QAbstractItemModelTester on the models throughout.
#include "client_fixture.h"
#include "test_server.h"

#include "kith/client/connection.h"
#include "kith/client/conversation_list_model.h"
#include "kith/client/local_store.h"
#include "kith/client/message_list_model.h"
#include "kith/client/sync_engine.h"
#include "kith/compression.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace kith;
using namespace kith::client;
using namespace kith::test;

class TestClientSync : public QObject
{
    Q_OBJECT
private slots:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }

    void offlineCatchUpEqualsServerHistory()
    {
        TestServer server(kFastSendArgs +
                          QStringList{QStringLiteral("--group-change-rate"), QStringLiteral("0")});
        QVERIFY(server.start());
        QTemporaryDir dir;
        ClientDevice alice(dir.path());
        QVERIFY(alice.registerOn(server.url(), QStringLiteral("alice")));
        const quint64 aliceId = quint64(alice->userId());

        TestClient bob;
        QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));

        // 50 conversations: one direct chat and 49 groups.
        QStringList conversations{directConversationId(aliceId, bob.userId())};
        for (int g = 0; g < 49; ++g) {
            const auto id = createGroup(bob, QStringLiteral("group %1").arg(g), {aliceId});
            QVERIFY(id);
            conversations << *id;
        }
        // Some history while alice is online, so she holds part of it.
        QList<QPair<QString, QString>> early;
        for (int c = 0; c < 10; ++c)
            for (int i = 0; i < 5; ++i)
                early << qMakePair(conversations.at(c),
                                   QStringLiteral("early %1/%2").arg(c).arg(i));
        QVERIFY(sendMany(bob, early));
        QTRY_VERIFY_WITH_TIMEOUT(alice->store()->messageCount(conversations.at(9)) >= 5,
                                 kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(alice->store()->conversationIds().size(), 50, kClientTimeoutMs);

        alice.stop();
        const double compressedBefore =
            server.metric(QStringLiteral("kith_compressed_frames_total"));
        QVERIFY(compressedBefore >= 0);
        QList<QPair<QString, QString>> late;
        for (int i = 0; i < 40; ++i)
            for (const auto &c : conversations)
                late << qMakePair(c, QStringLiteral("late %1 in %2").arg(i).arg(c));
        QCOMPARE(late.size(), 2000);
        QVERIFY(sendMany(bob, late));

        // Back online: the cached list shows at once, then catches up.
        alice.restart();
        ConversationListModel *list = alice->conversations();
        QAbstractItemModelTester listTester(list,
                                            QAbstractItemModelTester::FailureReportingMode::QtTest);
        QVERIFY(alice->openAccount(server.url(), QStringLiteral("alice")));
        QCOMPARE(list->rowCount(), 50); // from disk, before any network
        MessageListModel messages(alice.get(), conversations.at(3));
        QAbstractItemModelTester messageTester(
            &messages, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QVERIFY(alice.waitSynced());
        // The catch-up came compressed: the client asked for deflate, the
        // server agreed, and the big answers (the sync of 50 conversations,
        // 40-message pages) were sent as Compressed frames.
        const auto &features = alice->connection()->helloOk().features();
        QVERIFY(std::find(features.begin(), features.end(), std::string(kDeflateFeature)) !=
                features.end());
        QVERIFY(server.metric(QStringLiteral("kith_compressed_frames_total")) > compressedBefore);

        for (const auto &c : conversations) {
            QString why;
            QVERIFY2(historyMatchesServer(alice->store(), bob, c, &why), qPrintable(why));
        }
        QCOMPARE(list->rowCount(), 50);
        // Unread: everything bob wrote in the direct chat (alice never read it).
        const int row = list->indexOf(conversations.at(0));
        QVERIFY(row >= 0);
        QCOMPARE(list->index(row).data(ConversationListModel::UnreadCountRole).toInt(), 45);
        QCOMPARE(
            messages.index(messages.rowCount() - 1).data(MessageListModel::TextRole).toString(),
            QStringLiteral("late 39 in %1").arg(conversations.at(3)));
    }

    // More conversations than one sync page holds (100 by default): the
    // client asks for page after page and ends with all of them.
    void syncOfManyConversationsComesInPages()
    {
        TestServer server(QStringList{QStringLiteral("--group-change-rate"), QStringLiteral("0")});
        QVERIFY(server.start());
        QTemporaryDir dir;
        ClientDevice alice(dir.path());
        QVERIFY(alice.registerOn(server.url(), QStringLiteral("alice")));
        const quint64 aliceId = quint64(alice->userId());
        alice.stop();
        TestClient bob;
        QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));
        QSet<QString> groups;
        for (int g = 0; g < 230; ++g) {
            const auto id = createGroup(bob, QStringLiteral("crowd %1").arg(g), {aliceId});
            QVERIFY(id);
            groups.insert(*id);
        }
        alice.restart();
        QVERIFY(alice->openAccount(server.url(), QStringLiteral("alice")));
        QVERIFY(alice.waitSynced());
        const QStringList held = alice->store()->conversationIds();
        QCOMPARE(QSet<QString>(held.cbegin(), held.cend()), groups);
    }

    void droppedPushesArePulledByTheirGap()
    {
        TestServer server(kFastSendArgs);
        QVERIFY(server.start());
        QTemporaryDir dir;
        ClientDevice alice(dir.path());
        QVERIFY(alice.registerOn(server.url(), QStringLiteral("alice")));
        TestClient bob;
        QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));
        const QString direct = directConversationId(quint64(alice->userId()), bob.userId());

        // Lose every third push, and later a run longer than one pull page.
        alice->syncEngine()->setPushFilterForTesting([](const v1::Envelope &env) {
            if (env.body_case() != v1::Envelope::kMessage)
                return true;
            const quint64 seq = env.message().message().seq();
            return !((seq < 30 && seq % 3 == 1) || (seq > 30 && seq < 281));
        });
        QSignalSpy onlineChanges(alice->connection(), &Connection::onlineChanged);
        MessageListModel model(alice.get(), direct);
        QAbstractItemModelTester tester(&model,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);

        QList<QPair<QString, QString>> first;
        for (int i = 1; i <= 30; ++i)
            first << qMakePair(direct, QStringLiteral("m%1").arg(i));
        QVERIFY(sendMany(bob, first));
        QTRY_COMPARE_WITH_TIMEOUT(alice->store()->messageCount(direct), 30, kClientTimeoutMs);
        if (model.rowCount() != 30) {
            for (int r = 0; r < model.rowCount(); ++r)
                qWarning() << r << model.index(r).data(MessageListModel::SeqRole)
                           << model.index(r).data(MessageListModel::TextRole);
        }
        QCOMPARE(model.rowCount(), 30);

        QList<QPair<QString, QString>> second;
        for (int i = 31; i <= 281; ++i)
            second << qMakePair(direct, QStringLiteral("m%1").arg(i));
        QVERIFY(sendMany(bob, second));
        QTRY_COMPARE_WITH_TIMEOUT(alice->store()->messageCount(direct), 281, kClientTimeoutMs);
        QVERIFY(alice->store()->missingRanges(direct).isEmpty());
        QString why;
        QVERIFY2(historyMatchesServer(alice->store(), bob, direct, &why), qPrintable(why));
        // Repaired by pulls on the live connection, not by a reconnect.
        QCOMPARE(onlineChanges.size(), 0);
        // The window stayed bounded and ends at the newest message.
        QVERIFY(model.rowCount() <= MessageListModel::kMaxWindowRows);
        QCOMPARE(model.index(model.rowCount() - 1).data(MessageListModel::SeqRole).toULongLong(),
                 281u);
    }
};

QTEST_GUILESS_MAIN(TestClientSync)
#include "tst_client_sync.moc"
