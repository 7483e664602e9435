// Edits, deletions for everyone and reactions end to end: libkithclient on
// two devices of alice and one of bob against a real kithd. Each device folds
// the ops into its copy of the message, a device that was offline catches up
// through the ordinary sync and ends with the server's state, a deleted text
// is gone from the device's file and search index (read as bytes), ops are
// not messages in the views or the unread counts, and kith-cli does the same.
#include "client_fixture.h"
#include "test_server.h"

#include "kith/client/conversation_list_model.h"
#include "kith/client/local_store.h"
#include "kith/client/message_list_model.h"
#include "kith/client/outbox.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QAbstractItemModelTester>
#include <QFile>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace kith;
using namespace kith::client;
using namespace kith::test;

namespace {

// The store's file and its log, as bytes.
QByteArray fileBytes(LocalStore *store)
{
    QByteArray all;
    for (const QString &suffix : {QString(), QStringLiteral("-wal")}) {
        QFile file(store->path() + suffix);
        if (file.open(QIODevice::ReadOnly))
            all += file.readAll();
    }
    return all;
}

v1::Content::KindCase kindAt(LocalStore *store, const QString &chat, quint64 seq)
{
    const auto m = store->message(chat, seq);
    return m ? m->content.kind_case() : v1::Content::KIND_NOT_SET;
}

} // namespace

class TestClientMessageOps : public QObject
{
    Q_OBJECT
private:
    std::unique_ptr<TestServer> m_server;
    QTemporaryDir m_dir;
    std::unique_ptr<ClientDevice> m_laptop; // alice
    std::unique_ptr<ClientDevice> m_phone;  // alice
    std::unique_ptr<ClientDevice> m_bob;
    std::unique_ptr<TestClient> m_check; // bob's plain protocol view of the server
    QString m_direct;

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        m_server = std::make_unique<TestServer>();
        QVERIFY(m_server->start());
        m_laptop = std::make_unique<ClientDevice>(m_dir.filePath(QStringLiteral("laptop")));
        QVERIFY(m_laptop->registerOn(m_server->url(), QStringLiteral("alice")));
        m_phone = std::make_unique<ClientDevice>(m_dir.filePath(QStringLiteral("phone")));
        QVERIFY(m_phone->loginOn(m_server->url(), QStringLiteral("alice")));
        m_bob = std::make_unique<ClientDevice>(m_dir.filePath(QStringLiteral("bob")));
        QVERIFY(m_bob->registerOn(m_server->url(), QStringLiteral("bob")));
        m_check = std::make_unique<TestClient>();
        QVERIFY(m_check->connectAndLogin(m_server->url(), QStringLiteral("bob"), kPassword));
        m_direct =
            directConversationId(quint64((*m_laptop)->userId()), quint64((*m_bob)->userId()));
    }

    void cleanupTestCase()
    {
        m_check.reset();
        m_bob.reset();
        m_phone.reset();
        m_laptop.reset();
        m_server.reset();
    }

    void offlineDeviceCatchesUpOnEditsReactionsAndDeletes()
    {
        LocalStore *bob = (*m_bob)->store();
        LocalStore *laptop = (*m_laptop)->store();
        const QString secret = QStringLiteral("zebracrossing");
        QVERIFY(!(*m_laptop)
                     ->sendMessage(m_direct, QStringLiteral("meet at the %1").arg(secret))
                     .isEmpty());
        QVERIFY(!(*m_laptop)->sendMessage(m_direct, QStringLiteral("typo hree")).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(bob->messageCount(m_direct), 2, kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT((*m_phone)->store()->messageCount(m_direct), 2, kClientTimeoutMs);
        const QString phoneFile = (*m_phone)->store()->path();
        QVERIFY(fileBytes((*m_phone)->store()).contains(secret.toUtf8()));
        m_phone->stop(); // offline from here

        MessageListModel bobView;
        QAbstractItemModelTester tester(&bobView,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        bobView.setClient(m_bob->get());
        bobView.setConversationId(m_direct);
        QCOMPARE(bobView.rowCount(), 2);

        QVERIFY(!(*m_laptop)->editMessage(m_direct, 2, QStringLiteral("typo here")).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(bob->message(m_direct, 2)->content.text().body(), "typo here",
                                  kClientTimeoutMs);
        QCOMPARE(bob->message(m_direct, 2)->content.edited_ms(),
                 bob->message(m_direct, 3)->serverTimeMs);
        QCOMPARE(bobView.rowCount(), 2); // the op is no bubble
        QVERIFY(bobView.index(1).data(MessageListModel::EditedRole).toBool());
        QCOMPARE(bobView.index(1).data(MessageListModel::TextRole).toString(),
                 QStringLiteral("typo here"));

        const QString thumbs = QStringLiteral("\U0001F44D");
        QVERIFY(!(*m_bob)->toggleReaction(m_direct, 2, thumbs).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(laptop->message(m_direct, 2)->content.reactions_size(), 1,
                                  kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(bobView.index(1)
                                      .data(MessageListModel::ReactionsRole)
                                      .toList()
                                      .value(0)
                                      .toMap()
                                      .value(QStringLiteral("mine"))
                                      .toBool(),
                                  true, kClientTimeoutMs);
        // A reaction is not a message to read: alice's chat stays read.
        ConversationListModel *aliceList = (*m_laptop)->conversations();
        const int row = aliceList->indexOf(m_direct);
        QVERIFY(row >= 0);
        QCOMPARE(aliceList->index(row).data(ConversationListModel::UnreadCountRole).toInt(), 0);

        QVERIFY(!(*m_laptop)->deleteMessage(m_direct, 1).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(kindAt(bob, m_direct, 1), v1::Content::kDeleted,
                                  kClientTimeoutMs);
        QVERIFY(bobView.index(0).data(MessageListModel::DeletedRole).toBool());
        QVERIFY(bob->search(secret).isEmpty());
        QVERIFY(!fileBytes(bob).contains(secret.toUtf8()));
        QTRY_COMPARE_WITH_TIMEOUT(kindAt(laptop, m_direct, 1), v1::Content::kDeleted,
                                  kClientTimeoutMs);
        QVERIFY(!fileBytes(laptop).contains(secret.toUtf8()));
        // A toggle takes bob's reaction back.
        QVERIFY(!(*m_bob)->toggleReaction(m_direct, 2, thumbs).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(laptop->message(m_direct, 2)->content.reactions_size(), 0,
                                  kClientTimeoutMs);

        // The phone comes back: the ordinary sync brings it to the server's state.
        m_phone->restart();
        QVERIFY(m_phone->resume(m_server->url(), QStringLiteral("alice")));
        LocalStore *phone = (*m_phone)->store();
        QCOMPARE(phone->path(), phoneFile);
        QString why;
        QTRY_VERIFY2_WITH_TIMEOUT(historyMatchesServer(phone, *m_check, m_direct, &why),
                                  qPrintable(why), kClientTimeoutMs);
        QVERIFY2(historyMatchesServer(bob, *m_check, m_direct, &why), qPrintable(why));
        QVERIFY2(historyMatchesServer(laptop, *m_check, m_direct, &why), qPrintable(why));
        QCOMPARE(kindAt(phone, m_direct, 1), v1::Content::kDeleted);
        QCOMPARE(phone->message(m_direct, 2)->content.text().body(), "typo here");
        QVERIFY(phone->search(secret).isEmpty());
        QVERIFY(!fileBytes(phone).contains(secret.toUtf8()));
        QCOMPARE(phone->messageCount(m_direct), 2);
    }

    // Only one thing happened while the phone was away, a deletion of a
    // message it holds: the deletion is the newest entry, which comes with
    // the conversation's state (no gap to pull), and is folded in all the same.
    void anOpThatIsTheNewestEntryIsFoldedInOnReconnect()
    {
        LocalStore *bob = (*m_bob)->store();
        LocalStore *laptop = (*m_laptop)->store();
        const quint64 before = laptop->conversation(m_direct)->maxSeq;
        QVERIFY(!(*m_laptop)->sendMessage(m_direct, QStringLiteral("soon gone")).isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT(laptop->conversation(m_direct)->maxSeq > before, kClientTimeoutMs);
        const quint64 seq = laptop->conversation(m_direct)->maxSeq;
        QTRY_VERIFY_WITH_TIMEOUT((*m_phone)->store()->message(m_direct, seq).has_value(),
                                 kClientTimeoutMs);
        QCOMPARE((*m_phone)->store()->message(m_direct, seq)->content.text().body(), "soon gone");
        QTRY_COMPARE_WITH_TIMEOUT(bob->conversation(m_direct)->maxSeq, seq, kClientTimeoutMs);
        m_phone->stop();
        QVERIFY(!(*m_laptop)->deleteMessage(m_direct, qint64(seq)).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(kindAt(bob, m_direct, seq), v1::Content::kDeleted,
                                  kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(bob->conversation(m_direct)->maxSeq, seq + 1, kClientTimeoutMs);
        m_phone->restart();
        QVERIFY(m_phone->resume(m_server->url(), QStringLiteral("alice")));
        QTRY_COMPARE_WITH_TIMEOUT(kindAt((*m_phone)->store(), m_direct, seq), v1::Content::kDeleted,
                                  kClientTimeoutMs);
        QVERIFY((*m_phone)->store()->search(QStringLiteral("soon gone")).isEmpty());
    }

    void refusedOpsAreDroppedWithAReason()
    {
        LocalStore *bob = (*m_bob)->store();
        const quint64 before = bob->conversation(m_direct)->maxSeq;
        QSignalSpy failed(m_bob->get(), &KithClient::operationFailed);
        // Bob editing alice's message.
        QVERIFY(!(*m_bob)->editMessage(m_direct, 2, QStringLiteral("mine now")).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, kClientTimeoutMs);
        QTRY_VERIFY_WITH_TIMEOUT((*m_bob)->outbox()->isIdle(), kClientTimeoutMs);
        QVERIFY(bob->outbox(m_direct).isEmpty());
        // Refused before anything is queued: not one emoji.
        QVERIFY((*m_bob)->react(m_direct, 2, QStringLiteral("nice")).isEmpty());
        QCOMPARE(failed.size(), 2);
        QCOMPARE(bob->conversation(m_direct)->maxSeq, before);
        QCOMPARE(bob->message(m_direct, 2)->content.text().body(), "typo here");
    }

    void cliEditsReactsAndDeletes()
    {
        const QString home = m_dir.filePath(QStringLiteral("cli-home"));
        QByteArray out, err;
        QCOMPARE(runCli(home,
                        {QStringLiteral("--server"), m_server->url().toString(),
                         QStringLiteral("--user"), QStringLiteral("bob"),
                         QStringLiteral("--password"), kPassword, QStringLiteral("send"),
                         QStringLiteral("alice"), QStringLiteral("from the cli")},
                        &out, &err),
                 0);
        const QStringList server{QStringLiteral("--server"), m_server->url().toString()};
        QCOMPARE(runCli(home,
                        server + QStringList{QStringLiteral("history"), QStringLiteral("alice"),
                                             QStringLiteral("--seqs")},
                        &out, &err),
                 0);
        const QList<QByteArray> lines = out.trimmed().split('\n');
        QVERIFY2(lines.last().endsWith("bob: from the cli"), out.constData());
        const QByteArray seq = lines.last().mid(1, lines.last().indexOf(' ') - 1);
        QCOMPARE(runCli(home,
                        server + QStringList{QStringLiteral("edit"), QStringLiteral("alice"),
                                             QString::fromLatin1(seq),
                                             QStringLiteral("edited in the cli")},
                        &out, &err),
                 0);
        QCOMPARE(runCli(home,
                        server + QStringList{QStringLiteral("react"), QStringLiteral("alice"),
                                             QString::fromLatin1(seq), QStringLiteral("\u2B50")},
                        &out, &err),
                 0);
        QCOMPARE(runCli(home,
                        server + QStringList{QStringLiteral("history"), QStringLiteral("alice")},
                        &out, &err),
                 0);
        QVERIFY2(out.contains("bob: edited in the cli (edited) [\u2B50 1]"), out.constData());
        // The app's library on alice's laptop sees it too.
        LocalStore *laptop = (*m_laptop)->store();
        QTRY_COMPARE_WITH_TIMEOUT(
            laptop->message(m_direct, seq.toULongLong())->content.edited_ms() != 0, true,
            kClientTimeoutMs);
        // Someone else's message: refused, exit 1 with the reason.
        QCOMPARE(runCli(home,
                        server + QStringList{QStringLiteral("delete"), QStringLiteral("alice"),
                                             QStringLiteral("2")},
                        &out, &err),
                 1);
        QVERIFY2(err.contains("author"), err.constData());
        QCOMPARE(runCli(home,
                        server + QStringList{QStringLiteral("delete"), QStringLiteral("alice"),
                                             QString::fromLatin1(seq)},
                        &out, &err),
                 0);
        QCOMPARE(runCli(home,
                        server + QStringList{QStringLiteral("history"), QStringLiteral("alice")},
                        &out, &err),
                 0);
        QVERIFY2(out.contains("bob: (message deleted)"), out.constData());
        QVERIFY(!out.contains("edited in the cli"));
    }
};

QTEST_MAIN(TestClientMessageOps)
#include "tst_client_message_ops.moc"
