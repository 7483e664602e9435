// Pins and one user's own chat state end to end: libkithclient on two devices
// of alice and one of bob against a real kithd. A pin shows in every member's
// pinned bar; mute, archive and delete for me reach alice's other device at
// once and, when it was offline, after it reconnects; a message deleted for
// alice leaves her devices' files and search index (read as bytes) and her
// views, and stays with bob; kith-cli does the same.
#include "client_fixture.h"
#include "test_server.h"

#include "kith/client/conversation_list_model.h"
#include "kith/client/local_store.h"
#include "kith/client/message_list_model.h"
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

qint64 mutedUntil(LocalStore *store, const QString &chat)
{
    const auto row = store->conversation(chat);
    return row ? row->mutedUntilMs : 0;
}

bool archived(LocalStore *store, const QString &chat)
{
    const auto row = store->conversation(chat);
    return row && row->archived;
}

} // namespace

class TestClientChatState : public QObject
{
    Q_OBJECT
private:
    std::unique_ptr<TestServer> m_server;
    QTemporaryDir m_dir;
    std::unique_ptr<ClientDevice> m_laptop; // alice
    std::unique_ptr<ClientDevice> m_phone;  // alice
    std::unique_ptr<ClientDevice> m_bob;
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
        m_direct =
            directConversationId(quint64((*m_laptop)->userId()), quint64((*m_bob)->userId()));
    }

    void cleanupTestCase()
    {
        m_bob.reset();
        m_phone.reset();
        m_laptop.reset();
        m_server.reset();
    }

    void pinsShowInEveryMembersPinnedBar()
    {
        QVERIFY(!(*m_bob)->sendMessage(m_direct, QStringLiteral("the plan")).isEmpty());
        QVERIFY(!(*m_bob)->sendMessage(m_direct, QStringLiteral("chatter")).isEmpty());
        LocalStore *laptop = (*m_laptop)->store();
        LocalStore *bob = (*m_bob)->store();
        QTRY_COMPARE_WITH_TIMEOUT(laptop->messageCount(m_direct), 2, kClientTimeoutMs);
        // Bob's open chat marks the bubble pinned as the pin arrives (the
        // app's bubble menu offers Unpin then).
        MessageListModel bobView;
        bobView.setClient(m_bob->get());
        bobView.setConversationId(m_direct);
        QTRY_VERIFY(bobView.rowOfSeq(1) >= 0);
        const auto pinnedInView = [&bobView] {
            return bobView.index(bobView.rowOfSeq(1)).data(MessageListModel::PinnedRole).toBool();
        };
        QVERIFY(!pinnedInView());
        QVERIFY(!(*m_laptop)->pinMessage(m_direct, 1).isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT(pinnedInView(), kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(bob->pinnedMessages(m_direct).size(), 1, kClientTimeoutMs);
        QCOMPARE(bob->pinnedMessages(m_direct).at(0).seq, 1u);
        QCOMPARE(bob->pinnedMessages(m_direct).at(0).content.pinned_by_user_id(),
                 quint64((*m_laptop)->userId()));
        QTRY_COMPARE_WITH_TIMEOUT(laptop->pinnedMessages(m_direct).size(), 1, kClientTimeoutMs);
        const QVariantList bar = (*m_bob)->pinnedMessages(m_direct);
        QCOMPARE(bar.size(), 1);
        QCOMPARE(bar.at(0).toMap().value(QStringLiteral("text")).toString(),
                 QStringLiteral("the plan"));
        QCOMPARE(bob->messageCount(m_direct), 2); // the pin is no bubble
        // Bob unpins it; alice's phone had it pinned and now does not.
        QTRY_COMPARE_WITH_TIMEOUT((*m_phone)->store()->pinnedMessages(m_direct).size(), 1,
                                  kClientTimeoutMs);
        QVERIFY(!(*m_bob)->pinMessage(m_direct, 1, false).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT((*m_phone)->store()->pinnedMessages(m_direct).size(), 0,
                                  kClientTimeoutMs);
        QTRY_VERIFY_WITH_TIMEOUT(!pinnedInView(), kClientTimeoutMs);
    }

    void chatStateReachesTheOtherDeviceAtOnce()
    {
        LocalStore *laptop = (*m_laptop)->store();
        LocalStore *phone = (*m_phone)->store();
        (*m_laptop)->muteConversation(m_direct, kMutedForever);
        QTRY_COMPARE_WITH_TIMEOUT(mutedUntil(phone, m_direct), kMutedForever, kClientTimeoutMs);
        QCOMPARE(mutedUntil(laptop, m_direct), kMutedForever);
        QVERIFY(laptop->conversation(m_direct)->isMutedAt(0));
        (*m_phone)->muteConversation(m_direct, 0);
        QTRY_COMPARE_WITH_TIMEOUT(mutedUntil(laptop, m_direct), 0, kClientTimeoutMs);
        QVERIFY(!laptop->conversation(m_direct)->isMutedAt(0));
        // Bob's settings are his own.
        QCOMPARE(mutedUntil((*m_bob)->store(), m_direct), 0);
        QCOMPARE(laptop->chatStateVersion(), 2u);
        QTRY_COMPARE_WITH_TIMEOUT(phone->chatStateVersion(), 2u, kClientTimeoutMs);
    }

    void offlineDeviceCatchesUpOnMuteArchiveAndDeleteForMe()
    {
        LocalStore *laptop = (*m_laptop)->store();
        LocalStore *bob = (*m_bob)->store();
        const QString secret = QStringLiteral("quokkasandwich");
        QVERIFY(!(*m_bob)
                     ->sendMessage(m_direct, QStringLiteral("the %1 is mine").arg(secret))
                     .isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(laptop->messageCount(m_direct), 3, kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT((*m_phone)->store()->messageCount(m_direct), 3, kClientTimeoutMs);
        const quint64 secretSeq = laptop->conversation(m_direct)->maxSeq;
        QVERIFY(fileBytes((*m_phone)->store()).contains(secret.toUtf8()));
        m_phone->stop(); // offline from here

        MessageListModel view;
        QAbstractItemModelTester tester(&view,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        view.setClient(m_laptop->get());
        view.setConversationId(m_direct);
        QCOMPARE(view.rowCount(), 3);

        (*m_laptop)->muteConversation(m_direct, kMutedForever);
        (*m_laptop)->archiveConversation(m_direct, true);
        (*m_laptop)->hideMessage(m_direct, qint64(secretSeq));
        QTRY_VERIFY_WITH_TIMEOUT(laptop->isHidden(m_direct, secretSeq), kClientTimeoutMs);
        QTRY_VERIFY_WITH_TIMEOUT(archived(laptop, m_direct), kClientTimeoutMs);
        QCOMPARE(mutedUntil(laptop, m_direct), kMutedForever);
        // Gone from alice's view, count, search and file; bob keeps it.
        QTRY_COMPARE_WITH_TIMEOUT(view.rowCount(), 2, kClientTimeoutMs);
        QCOMPARE(laptop->messageCount(m_direct), 2);
        QVERIFY(laptop->search(secret).isEmpty());
        QVERIFY(!fileBytes(laptop).contains(secret.toUtf8()));
        QCOMPARE(bob->messageCount(m_direct), 3);
        QCOMPARE(bob->search(secret).size(), 1);

        // The phone comes back: it asks for the changes after its version.
        m_phone->restart();
        QVERIFY(m_phone->resume(m_server->url(), QStringLiteral("alice")));
        LocalStore *phone = (*m_phone)->store();
        QTRY_VERIFY_WITH_TIMEOUT(phone->isHidden(m_direct, secretSeq), kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(mutedUntil(phone, m_direct), kMutedForever, kClientTimeoutMs);
        QVERIFY(archived(phone, m_direct));
        QCOMPARE(phone->chatStateVersion(), laptop->chatStateVersion());
        QCOMPARE(phone->messageCount(m_direct), 2);
        QVERIFY(phone->search(secret).isEmpty());
        QVERIFY(!fileBytes(phone).contains(secret.toUtf8()));
        // The seq stays held: nothing is pulled again.
        QVERIFY(phone->missingRanges(m_direct).isEmpty());
    }

    void aNewDeviceHidesWhatItPullsLater()
    {
        // A device that has never held the chat learns of the hidden seq and
        // then pulls the message: it never shows it.
        ClientDevice tablet(m_dir.filePath(QStringLiteral("tablet")));
        QVERIFY(tablet.loginOn(m_server->url(), QStringLiteral("alice")));
        QVERIFY(tablet.waitSynced());
        LocalStore *store = tablet->store();
        QTRY_COMPARE_WITH_TIMEOUT(store->messageCount(m_direct), 2, kClientTimeoutMs);
        QVERIFY(store->missingRanges(m_direct).isEmpty());
        QVERIFY(store->search(QStringLiteral("quokkasandwich")).isEmpty());
        QVERIFY(!fileBytes(store).contains("quokkasandwich"));
        QVERIFY(archived(store, m_direct));
    }

    void refusedChangesSayWhy()
    {
        QSignalSpy failed(m_bob->get(), &KithClient::operationFailed);
        (*m_bob)->hideMessage(m_direct, 999);
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, kClientTimeoutMs);
        (*m_bob)->muteConversation(QStringLiteral("g:777"), kMutedForever);
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 2, kClientTimeoutMs);
        QCOMPARE((*m_bob)->store()->chatStateVersion(), 0u);
    }

    void blocksReachTheOtherDeviceAndStopTheBlockedUser()
    {
        LocalStore *phone = (*m_phone)->store();
        const quint64 bobId = quint64((*m_bob)->userId());
        QSignalSpy bobFailed(m_bob->get(), &KithClient::operationFailed);
        // The phone's conversation list says so on the direct chat's row (the
        // app's "You blocked this user" state).
        ConversationListModel *list = (*m_phone)->conversations();
        const auto blockedInList = [list, this] {
            return list->index(list->indexOf(m_direct))
                .data(ConversationListModel::PeerBlockedRole)
                .toBool();
        };
        QVERIFY(list->indexOf(m_direct) >= 0);
        QVERIFY(!blockedInList());
        (*m_laptop)->blockUser(qint64(bobId));
        QTRY_VERIFY_WITH_TIMEOUT(phone->isBlocked(bobId), kClientTimeoutMs);
        QTRY_VERIFY_WITH_TIMEOUT(blockedInList(), kClientTimeoutMs);
        QVERIFY((*m_laptop)->isBlocked(qint64(bobId)));
        // Bob's message is refused as if alice did not exist, and alice gets nothing.
        const qint64 before = phone->messageCount(m_direct);
        QVERIFY(!(*m_bob)->sendMessage(m_direct, QStringLiteral("hello?")).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(bobFailed.size(), 1, kClientTimeoutMs);
        QVERIFY2(bobFailed.at(0).at(0).toString().contains(QStringLiteral("No such conversation")),
                 qPrintable(bobFailed.at(0).at(0).toString()));
        (*m_laptop)->blockUser(qint64(bobId), false);
        QTRY_VERIFY_WITH_TIMEOUT(!phone->isBlocked(bobId), kClientTimeoutMs);
        QTRY_VERIFY_WITH_TIMEOUT(!blockedInList(), kClientTimeoutMs);
        QVERIFY(!(*m_bob)->sendMessage(m_direct, QStringLiteral("hello again")).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(phone->messageCount(m_direct), before + 1, kClientTimeoutMs);
    }

    void cliPinsMutesArchivesAndHides()
    {
        const QString home = m_dir.filePath(QStringLiteral("cli-home"));
        QByteArray out, err;
        QCOMPARE(runCli(home,
                        {QStringLiteral("--server"), m_server->url().toString(),
                         QStringLiteral("--user"), QStringLiteral("bob"),
                         QStringLiteral("--password"), kPassword, QStringLiteral("sync")},
                        &out, &err),
                 0);
        const QStringList server{QStringLiteral("--server"), m_server->url().toString()};
        auto cli = [&](const QStringList &args) { return runCli(home, server + args, &out, &err); };
        QCOMPARE(cli({QStringLiteral("pin"), QStringLiteral("alice"), QStringLiteral("2")}), 0);
        QCOMPARE(cli({QStringLiteral("pins"), QStringLiteral("alice")}), 0);
        QVERIFY2(out.trimmed().endsWith("bob: chatter (pinned)"), out.constData());
        QCOMPARE(out.trimmed().count('\n'), 0);
        QCOMPARE(cli({QStringLiteral("mute"), QStringLiteral("alice"), QStringLiteral("8")}), 0);
        QCOMPARE(cli({QStringLiteral("archive"), QStringLiteral("alice")}), 0);
        QCOMPARE(cli({QStringLiteral("chat-state"), QStringLiteral("alice")}), 0);
        QVERIFY2(out.contains("muted: until ") && out.contains("archived: yes"), out.constData());
        QCOMPARE(cli({QStringLiteral("unmute"), QStringLiteral("alice")}), 0);
        QCOMPARE(cli({QStringLiteral("unarchive"), QStringLiteral("alice")}), 0);
        QCOMPARE(cli({QStringLiteral("chat-state"), QStringLiteral("alice")}), 0);
        QVERIFY2(out.contains("muted: no") && out.contains("archived: no"), out.constData());
        QCOMPARE(cli({QStringLiteral("hide"), QStringLiteral("alice"), QStringLiteral("1")}), 0);
        QCOMPARE(cli({QStringLiteral("history"), QStringLiteral("alice")}), 0);
        QVERIFY2(!out.contains("the plan") && out.contains("chatter"), out.constData());
        // Bob's app library saw the same changes on its own connection.
        LocalStore *bob = (*m_bob)->store();
        QTRY_VERIFY_WITH_TIMEOUT(bob->isHidden(m_direct, 1), kClientTimeoutMs);
        QCOMPARE(mutedUntil(bob, m_direct), 0);
        // A seq that is not there: exit 1 with the reason.
        QCOMPARE(cli({QStringLiteral("hide"), QStringLiteral("alice"), QStringLiteral("999")}), 1);
        QVERIFY2(err.contains("No such message"), err.constData());
        // Blocking from the cli, listed, and lifted.
        QCOMPARE(cli({QStringLiteral("block"), QStringLiteral("alice")}), 0);
        QCOMPARE(cli({QStringLiteral("blocked")}), 0);
        QCOMPARE(out.trimmed(), QByteArray("alice"));
        QTRY_VERIFY_WITH_TIMEOUT(bob->isBlocked(quint64((*m_laptop)->userId())), kClientTimeoutMs);
        QCOMPARE(cli({QStringLiteral("block"), QStringLiteral("bob")}), 1); // yourself
        QVERIFY2(err.contains("yourself"), err.constData());
        QCOMPARE(cli({QStringLiteral("unblock"), QStringLiteral("alice")}), 0);
        QCOMPARE(cli({QStringLiteral("blocked")}), 0);
        QCOMPARE(out.trimmed(), QByteArray());
        // The directory: alice by a part of her name, then hidden by the admin.
        QCOMPARE(cli({QStringLiteral("users"), QStringLiteral("ali")}), 0);
        QVERIFY2(out.startsWith("alice "), out.constData());
        QCOMPARE(m_server->runAdmin(
                     {QStringLiteral("user"), QStringLiteral("hide"), QStringLiteral("alice")}),
                 0);
        QCOMPARE(cli({QStringLiteral("users"), QStringLiteral("ali")}), 0);
        QCOMPARE(out.trimmed(), QByteArray());
        QCOMPARE(cli({QStringLiteral("send"), QStringLiteral("alice"),
                      QStringLiteral("still reachable by name")}),
                 0);
        QCOMPARE(m_server->runAdmin(
                     {QStringLiteral("user"), QStringLiteral("unhide"), QStringLiteral("alice")}),
                 0);
        // Alice still has the message bob hid for himself.
        QVERIFY((*m_laptop)->store()->message(m_direct, 1).has_value());
        QCOMPARE((*m_laptop)->store()->message(m_direct, 1)->hidden, false);
    }
};

QTEST_MAIN(TestClientChatState)
#include "tst_client_chat_state.moc"
