// Two devices of one user against a real kithd: messages sent on one appear
// on the other, read state moves on both, typing and group membership reach
// the right people, and a revoked device (or a registration past the server's
// limit) ends in a clean "log in again" state.
// QAbstractItemModelTester watches the models of the second device.
#include "client_fixture.h"
#include "test_server.h"

#include "kith/client/connection.h"
#include "kith/client/conversation_list_model.h"
#include "kith/client/local_store.h"
#include "kith/client/member_list_model.h"
#include "kith/client/message_list_model.h"
#include "kith/client/outbox.h"
#include "kith/client/user_search_model.h"
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

class TestClientDevices : public QObject
{
    Q_OBJECT
private:
    std::unique_ptr<TestServer> m_server;
    QTemporaryDir m_dir;
    std::unique_ptr<ClientDevice> m_laptop;
    std::unique_ptr<ClientDevice> m_phone;
    std::unique_ptr<TestClient> m_bob;
    QString m_direct;

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        m_server = std::make_unique<TestServer>();
        QVERIFY(m_server->start());
        // One user, two devices, each with its own cache file.
        m_laptop = std::make_unique<ClientDevice>(m_dir.filePath(QStringLiteral("laptop")));
        QVERIFY(m_laptop->registerOn(m_server->url(), QStringLiteral("alice")));
        m_phone = std::make_unique<ClientDevice>(m_dir.filePath(QStringLiteral("phone")));
        QVERIFY(m_phone->loginOn(m_server->url(), QStringLiteral("alice")));
        m_bob = std::make_unique<TestClient>();
        QVERIFY(m_bob->connectAndRegister(m_server->url(), QStringLiteral("bob")));
        m_direct = directConversationId(quint64((*m_laptop)->userId()), m_bob->userId());
    }

    void cleanupTestCase()
    {
        m_bob.reset();
        m_phone.reset();
        m_laptop.reset();
        m_server.reset();
    }

    void readStateFollowsTheUserAcrossDevices()
    {
        ConversationListModel *phoneList = (*m_phone)->conversations();
        QAbstractItemModelTester tester(phoneList,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QList<QPair<QString, QString>> texts;
        for (int i = 0; i < 5; ++i)
            texts << qMakePair(m_direct, QStringLiteral("hi %1").arg(i));
        QVERIFY(sendMany(*m_bob, texts));
        for (auto *device : {m_laptop.get(), m_phone.get()})
            QTRY_COMPARE_WITH_TIMEOUT((*device)->store()->messageCount(m_direct), 5,
                                      kClientTimeoutMs);
        const int row = phoneList->indexOf(m_direct);
        QVERIFY(row >= 0);
        QCOMPARE(phoneList->index(row).data(ConversationListModel::UnreadCountRole).toInt(), 5);
        // The peer's name arrives with a profile lookup right after the message.
        QTRY_COMPARE_WITH_TIMEOUT(
            phoneList->index(row).data(ConversationListModel::TitleRole).toString(),
            QStringLiteral("bob"), kClientTimeoutMs);

        (*m_laptop)->markRead(m_direct);
        QTRY_COMPARE_WITH_TIMEOUT((*m_phone)->store()->conversation(m_direct)->readSeq, 5u,
                                  kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(phoneList->index(phoneList->indexOf(m_direct))
                                      .data(ConversationListModel::UnreadCountRole)
                                      .toInt(),
                                  0, kClientTimeoutMs);
        // Bob sees the receipt as the peer.
        QVERIFY(m_bob->waitForPush([this](const v1::Envelope &e) {
            return e.body_case() == v1::Envelope::kRead &&
                   toQString(e.read().conversation_id()) == m_direct && e.read().read_seq() == 5;
        }));
    }

    void sentMessagesAppearOnBothDevices()
    {
        MessageListModel phoneMessages(m_phone->get(), m_direct);
        QAbstractItemModelTester tester(&phoneMessages,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        const int before = phoneMessages.rowCount();
        for (int i = 0; i < 3; ++i)
            QVERIFY(!(*m_laptop)
                         ->sendMessage(m_direct, QStringLiteral("from laptop %1").arg(i))
                         .isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT((*m_laptop)->outbox()->isIdle(), kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(phoneMessages.rowCount(), before + 3, kClientTimeoutMs);
        const QModelIndex last = phoneMessages.index(phoneMessages.rowCount() - 1);
        QCOMPARE(last.data(MessageListModel::TextRole).toString(), QStringLiteral("from laptop 2"));
        QVERIFY(last.data(MessageListModel::IsOwnRole).toBool());
        QCOMPARE(last.data(MessageListModel::SendStatusRole).toInt(), int(MessageListModel::Sent));
        QVERIFY((*m_phone)->store()->outbox().isEmpty());
        QString why;
        QVERIFY2(historyMatchesServer((*m_phone)->store(), *m_bob, m_direct, &why),
                 qPrintable(why));
        QVERIFY2(historyMatchesServer((*m_laptop)->store(), *m_bob, m_direct, &why),
                 qPrintable(why));

        // Bob reads them: the laptop shows "read" on its own messages.
        v1::Envelope mark;
        mark.mutable_mark_read()->set_conversation_id(toStd(m_direct));
        mark.mutable_mark_read()->set_seq(8);
        QVERIFY(m_bob->request(mark));
        MessageListModel laptopMessages(m_laptop->get(), m_direct);
        QAbstractItemModelTester laptopTester(
            &laptopMessages, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QTRY_COMPARE_WITH_TIMEOUT(laptopMessages.index(laptopMessages.rowCount() - 1)
                                      .data(MessageListModel::SendStatusRole)
                                      .toInt(),
                                  int(MessageListModel::Read), kClientTimeoutMs);
    }

    void typingReachesThePeer()
    {
        QSignalSpy typing(m_laptop->get(), &KithClient::typingChanged);
        v1::Envelope env;
        env.mutable_typing()->set_conversation_id(toStd(m_direct));
        env.mutable_typing()->set_typing(true);
        m_bob->sendEnvelope(env);
        QTRY_COMPARE_WITH_TIMEOUT((*m_laptop)->typingUsers(m_direct),
                                  QStringList{QStringLiteral("bob")}, kClientTimeoutMs);
        QVERIFY(!typing.isEmpty());
        (*m_laptop)->setTyping(m_direct, true);
        QVERIFY(m_bob->waitForPush([this](const v1::Envelope &e) {
            return e.body_case() == v1::Envelope::kTypingPush &&
                   toQString(e.typing_push().conversation_id()) == m_direct &&
                   e.typing_push().typing();
        }));
    }

    void groupsReachTheOtherDeviceAndTheMembers()
    {
        QSignalSpy created(m_laptop->get(), &KithClient::groupCreated);
        (*m_laptop)->createGroup(QStringLiteral("team"), {QStringLiteral("bob")});
        QVERIFY(created.wait(kClientTimeoutMs));
        const QString group = created.first().first().toString();
        ConversationListModel *phoneList = (*m_phone)->conversations();
        QAbstractItemModelTester tester(phoneList,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        QTRY_VERIFY_WITH_TIMEOUT(phoneList->indexOf(group) >= 0, kClientTimeoutMs);
        QCOMPARE(phoneList->index(phoneList->indexOf(group))
                     .data(ConversationListModel::TitleRole)
                     .toString(),
                 QStringLiteral("team"));

        MemberListModel members(m_phone->get(), group);
        QAbstractItemModelTester memberTester(
            &members, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QTRY_COMPARE_WITH_TIMEOUT(members.rowCount(), 2, kClientTimeoutMs);
        QStringList names;
        for (int r = 0; r < members.rowCount(); ++r)
            names << members.index(r).data(MemberListModel::UsernameRole).toString();
        names.sort();
        QCOMPARE(names, (QStringList{QStringLiteral("alice"), QStringLiteral("bob")}));

        // The user directory answers a search.
        UserSearchModel *search = (*m_phone)->userSearch();
        QAbstractItemModelTester searchTester(
            search, QAbstractItemModelTester::FailureReportingMode::QtTest);
        search->setQuery(QStringLiteral("bo"));
        QTRY_VERIFY_WITH_TIMEOUT(search->rowCount() >= 1, kClientTimeoutMs);
        QCOMPARE(search->index(0).data(UserSearchModel::UsernameRole).toString(),
                 QStringLiteral("bob"));

        // A system event and a message in the group reach the phone and bob.
        QVERIFY(!(*m_phone)->sendMessage(group, QStringLiteral("hello team")).isEmpty());
        QVERIFY(m_bob->waitForPush([&group](const v1::Envelope &e) {
            return e.body_case() == v1::Envelope::kMessage &&
                   toQString(e.message().message().conversation_id()) == group &&
                   e.message().message().content().text().body() == "hello team";
        }));
        QTRY_COMPARE_WITH_TIMEOUT((*m_laptop)->store()->messageCount(group), 2, kClientTimeoutMs);
    }

    void readMarkerSetOfflineReachesTheServer()
    {
        QList<QPair<QString, QString>> texts{qMakePair(m_direct, QStringLiteral("while away 1")),
                                             qMakePair(m_direct, QStringLiteral("while away 2"))};
        QVERIFY(sendMany(*m_bob, texts));
        const quint64 newest = m_bob->pullAll(m_direct)->last().seq();
        QTRY_COMPARE_WITH_TIMEOUT((*m_laptop)->store()->maxStoredSeq(m_direct), newest,
                                  kClientTimeoutMs);
        (*m_laptop)->connection()->stop();
        (*m_laptop)->markRead(m_direct);
        QCOMPARE((*m_laptop)->store()->conversation(m_direct)->unreadCount, 0u);
        QVERIFY((*m_phone)->store()->conversation(m_direct)->readSeq < newest);
        QVERIFY(m_laptop->resume(m_server->url(), QStringLiteral("alice")));
        QTRY_COMPARE_WITH_TIMEOUT((*m_phone)->store()->conversation(m_direct)->readSeq, newest,
                                  kClientTimeoutMs);
    }

    // The profile page's part: the display name changes for the server, and
    // the device list names this device and logs another one out.
    void profileAndDevicesFromTheFacade()
    {
        QSignalSpy profile(m_laptop->get(), &KithClient::profileChanged);
        (*m_laptop)->setDisplayName(QStringLiteral("Alice Liddell"));
        QTRY_VERIFY_WITH_TIMEOUT(profile.size() >= 1, kClientTimeoutMs);
        QCOMPARE((*m_laptop)->ownDisplayName(), QStringLiteral("Alice Liddell"));
        const auto seenByBob = m_bob->request([] {
            v1::Envelope get;
            get.mutable_get_profile()->set_username("alice");
            return get;
        }());
        QVERIFY(seenByBob && seenByBob->body_case() == v1::Envelope::kUserProfile);
        QCOMPARE(seenByBob->user_profile().user().display_name(), "Alice Liddell");

        ClientDevice tablet(m_dir.filePath(QStringLiteral("tablet")));
        QVERIFY(tablet.loginOn(m_server->url(), QStringLiteral("alice")));
        QSignalSpy devices(m_laptop->get(), &KithClient::devicesChanged);
        (*m_laptop)->refreshDevices();
        QTRY_VERIFY_WITH_TIMEOUT(devices.size() >= 1, kClientTimeoutMs);
        const QVariantList list = (*m_laptop)->devices();
        QVERIFY(list.size() >= 3);
        const QString tabletId =
            tablet->store()->value(QString::fromLatin1(LocalStore::kKeyDeviceId));
        int current = 0;
        bool sawTablet = false;
        for (const QVariant &d : list) {
            current += d.toMap().value(QStringLiteral("current")).toBool() ? 1 : 0;
            sawTablet |= d.toMap().value(QStringLiteral("id")).toString() == tabletId;
        }
        QCOMPARE(current, 1);
        QVERIFY(sawTablet);
        devices.clear();
        (*m_laptop)->revokeDevice(tabletId.toLongLong());
        QTRY_COMPARE_WITH_TIMEOUT(tablet->connectionState(), KithClient::LoginRequired,
                                  kClientTimeoutMs);
        QTRY_VERIFY_WITH_TIMEOUT(devices.size() >= 1, kClientTimeoutMs);
        for (const QVariant &d : (*m_laptop)->devices())
            QVERIFY(d.toMap().value(QStringLiteral("id")).toString() != tabletId);
    }

    void revokedDeviceMustLogInAgain()
    {
        QSignalSpy loggedOut(m_phone->get(), &KithClient::loggedOut);
        v1::Envelope list;
        list.mutable_list_devices();
        TestClient admin;
        QVERIFY(admin.connectAndLogin(m_server->url(), QStringLiteral("alice")));
        const auto devices = admin.request(list);
        QVERIFY(devices && devices->body_case() == v1::Envelope::kDeviceList);
        const QString phoneDevice =
            (*m_phone)->store()->value(QString::fromLatin1(LocalStore::kKeyDeviceId));
        v1::Envelope revoke;
        revoke.mutable_revoke_device()->set_device_id(phoneDevice.toULongLong());
        const auto answer = admin.request(revoke);
        QVERIFY2(answer && answer->body_case() == v1::Envelope::kOk, describe(answer).constData());
        QTRY_COMPARE_WITH_TIMEOUT((*m_phone)->connectionState(), KithClient::LoginRequired,
                                  kClientTimeoutMs);
        QVERIFY(!(*m_phone)->hasSession());
        QCOMPARE(loggedOut.size(), 1);
        // Cached data stays readable; a new login works.
        QVERIFY((*m_phone)->store()->messageCount(m_direct) > 0);
        QVERIFY(m_phone->loginOn(m_server->url(), QStringLiteral("alice")));
        // The laptop was never affected.
        QVERIFY((*m_laptop)->isOnline());
    }

    // Past the server's registrations per hour, the app does not wait half an
    // hour to try again behind a spinner: it asks again, saying why.
    void registrationPastTheLimitAsksAgainWithTheReason()
    {
        TestServer limited({QStringLiteral("--registrations-per-hour"), QStringLiteral("1")});
        QVERIFY(limited.start());
        ClientDevice first(m_dir.filePath(QStringLiteral("first")));
        QVERIFY(first.registerOn(limited.url(), QStringLiteral("carol")));
        ClientDevice second(m_dir.filePath(QStringLiteral("second")));
        second->registerAccount(limited.url(), QStringLiteral("dave"), kPassword);
        QTRY_COMPARE_WITH_TIMEOUT(second->connectionState(), KithClient::LoginRequired,
                                  kClientTimeoutMs);
        QVERIFY2(second->lastError().contains(QStringLiteral("try again")),
                 qPrintable(second->lastError()));
        QVERIFY(!second->isOnline());
    }
};

QTEST_GUILESS_MAIN(TestClientDevices)
#include "tst_client_devices.moc"
