// Mentions end to end: libkithclient on two devices of alice and one of bob
// against a real kithd. "@alice" in bob's text becomes a mention; alice's
// devices count her unread mentions per conversation (the list model's
// unreadMentions), and the count stays right across both devices, after an
// edit that adds or drops a mention, a deletion, and a read on the other
// device; a device that was offline catches up to the same count; a mention
// is announced as one even in a muted chat; kith-cli sends and lists them.
#include "client_fixture.h"
#include "test_server.h"

#include "kith/client/conversation_list_model.h"
#include "kith/client/local_store.h"
#include "kith/client/message_list_model.h"
#include "kith/client/outbox.h"
#include "kith/content.h"
#include "kith/protocol.h"

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace kith;
using namespace kith::client;
using namespace kith::test;

class TestClientMentions : public QObject
{
    Q_OBJECT
private:
    std::unique_ptr<TestServer> m_server;
    QTemporaryDir m_dir;
    std::unique_ptr<ClientDevice> m_laptop; // alice
    std::unique_ptr<ClientDevice> m_phone;  // alice
    std::unique_ptr<ClientDevice> m_bob;
    QString m_team;

    static quint64 mentionsOn(ClientDevice &device, const QString &chat)
    {
        const auto row = device->store()->conversation(chat);
        return row ? row->unreadMentions : 9999;
    }

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
        QSignalSpy created(m_bob->get(), &KithClient::groupCreated);
        (*m_bob)->createGroup(QStringLiteral("team"), {QStringLiteral("alice")});
        QTRY_COMPARE_WITH_TIMEOUT(created.size(), 1, kClientTimeoutMs);
        m_team = created.at(0).at(0).toString();
        // Each side knows the members (and their names) to resolve "@name".
        QTRY_COMPARE_WITH_TIMEOUT((*m_bob)->store()->members(m_team).size(), 2, kClientTimeoutMs);
        QTRY_VERIFY_WITH_TIMEOUT((*m_phone)->store()->conversation(m_team).has_value(),
                                 kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT((*m_laptop)->store()->members(m_team).size(), 2,
                                  kClientTimeoutMs);
    }

    void cleanupTestCase()
    {
        m_bob.reset();
        m_phone.reset();
        m_laptop.reset();
        m_server.reset();
    }

    void atNamesAMemberOnlyWithItsPlace()
    {
        const QString text = QStringLiteral("h\u00E9 @alice, @carol and @bob.");
        const QList<v1::Mention> found = (*m_bob)->mentionsIn(m_team, text);
        QCOMPARE(found.size(), 2); // carol is no member
        QCOMPARE(found.at(0).user_id(), quint64((*m_laptop)->userId()));
        const QByteArray utf8 = text.toUtf8();
        QCOMPARE(utf8.mid(found.at(0).offset(), found.at(0).length()), QByteArray("@alice"));
        QCOMPARE(found.at(1).user_id(), quint64((*m_bob)->userId()));
        QCOMPARE(utf8.mid(found.at(1).offset(), found.at(1).length()), QByteArray("@bob"));
        QVERIFY((*m_bob)->mentionsIn(m_team, QStringLiteral("mail alice@example.org")).isEmpty());
    }

    void unreadMentionsFollowEditsDeletesAndReadsOnEveryDevice()
    {
        ClientDevice &bob = *m_bob;
        // Muted on alice's laptop (and so on her phone): a mention is still announced.
        (*m_laptop)->muteConversation(m_team, kMutedForever);
        QTRY_VERIFY_WITH_TIMEOUT((*m_phone)->isMuted(m_team), kClientTimeoutMs);
        QSignalSpy announced(m_laptop->get(), &KithClient::messageReceived);

        QVERIFY(!bob->sendMessage(m_team, QStringLiteral("@alice can you look")).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(mentionsOn(*m_laptop, m_team), 1u, kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(mentionsOn(*m_phone, m_team), 1u, kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(announced.size(), 1, kClientTimeoutMs);
        QVERIFY(announced.at(0).at(5).toBool()); // mentionsMe
        const quint64 named = (*m_laptop)->store()->conversation(m_team)->maxSeq;

        // The list model's role, and the message's own.
        ConversationListModel *list = (*m_laptop)->conversations();
        const int row = list->indexOf(m_team);
        QVERIFY(row >= 0);
        QCOMPARE(list->index(row).data(ConversationListModel::UnreadMentionsRole).toInt(), 1);
        QVERIFY(list->roleNames().values().contains("unreadMentions"));
        MessageListModel view;
        view.setClient(m_laptop->get());
        view.setConversationId(m_team);
        QVERIFY(view.rowCount() > 0);
        const QModelIndex last = view.index(view.rowCount() - 1);
        QVERIFY(last.data(MessageListModel::MentionsMeRole).toBool());
        const QVariantMap place =
            last.data(MessageListModel::MentionsRole).toList().value(0).toMap();
        QCOMPARE(place.value(QStringLiteral("start")).toInt(), 0);
        QCOMPARE(place.value(QStringLiteral("length")).toInt(), 6);

        // A message without a mention is announced as a plain one.
        QVERIFY(!bob->sendMessage(m_team, QStringLiteral("lunch?")).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(announced.size(), 2, kClientTimeoutMs);
        QVERIFY(!announced.at(1).at(5).toBool());
        const quint64 plain = (*m_laptop)->store()->conversation(m_team)->maxSeq;
        QCOMPARE(plain, named + 1);
        QTRY_COMPARE_WITH_TIMEOUT((*m_phone)->store()->maxStoredSeq(m_team), plain,
                                  kClientTimeoutMs);
        QCOMPARE(mentionsOn(*m_phone, m_team), 1u);
        QCOMPARE(mentionsOn(*m_laptop, m_team), 1u);

        // The phone goes offline; meanwhile an edit adds a mention to the
        // plain one and another takes it out of the first.
        m_phone->stop();
        QVERIFY(
            !bob->editMessage(m_team, qint64(plain), QStringLiteral("lunch, @alice?")).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(mentionsOn(*m_laptop, m_team), 2u, kClientTimeoutMs);
        QVERIFY(!bob->editMessage(m_team, qint64(named), QStringLiteral("can you look")).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(mentionsOn(*m_laptop, m_team), 1u, kClientTimeoutMs);
        QVERIFY(!(*m_laptop)->store()->message(m_team, named)->content.mentions_size());

        // Back online, the phone reaches the same count through the ordinary sync.
        m_phone->restart();
        QVERIFY(m_phone->resume(m_server->url(), QStringLiteral("alice")));
        QVERIFY(m_phone->waitSynced());
        QTRY_COMPARE_WITH_TIMEOUT(mentionsOn(*m_phone, m_team), 1u, kClientTimeoutMs);
        QVERIFY(mentionsUser((*m_phone)->store()->message(m_team, plain)->content,
                             quint64((*m_phone)->userId())));

        // A deleted message mentions nobody.
        QVERIFY(!bob->deleteMessage(m_team, qint64(plain)).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(mentionsOn(*m_laptop, m_team), 0u, kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(mentionsOn(*m_phone, m_team), 0u, kClientTimeoutMs);

        // Read on the phone: the laptop's count goes with it.
        QVERIFY(!bob->sendMessage(m_team, QStringLiteral("@alice again")).isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(mentionsOn(*m_laptop, m_team), 1u, kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(mentionsOn(*m_phone, m_team), 1u, kClientTimeoutMs);
        (*m_phone)->markRead(m_team);
        QCOMPARE(mentionsOn(*m_phone, m_team), 0u);
        QTRY_COMPARE_WITH_TIMEOUT(mentionsOn(*m_laptop, m_team), 0u, kClientTimeoutMs);
        QTRY_COMPARE_WITH_TIMEOUT(list->index(list->indexOf(m_team))
                                      .data(ConversationListModel::UnreadMentionsRole)
                                      .toInt(),
                                  0, kClientTimeoutMs);
        // One's own mention of oneself is no unread mention.
        QVERIFY(!(*m_laptop)->sendMessage(m_team, QStringLiteral("note to @alice")).isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT((*m_laptop)->outbox()->isIdle(), kClientTimeoutMs);
        QCOMPARE(mentionsOn(*m_laptop, m_team), 0u);
    }

    void cliSendsMentionsAndListsThem()
    {
        const QString bobHome = m_dir.filePath(QStringLiteral("cli-bob"));
        const QString aliceHome = m_dir.filePath(QStringLiteral("cli-alice"));
        const QStringList server{QStringLiteral("--server"), m_server->url().toString()};
        QByteArray out, err;
        QCOMPARE(runCli(bobHome,
                        server + QStringList{QStringLiteral("--user"), QStringLiteral("bob"),
                                             QStringLiteral("--password"), kPassword,
                                             QStringLiteral("send"), QStringLiteral("team"),
                                             QStringLiteral("@alice from the cli, @nobody")},
                        &out, &err),
                 0);
        QTRY_COMPARE_WITH_TIMEOUT(mentionsOn(*m_laptop, m_team), 1u, kClientTimeoutMs);
        const quint64 seq = (*m_laptop)->store()->conversation(m_team)->maxSeq;
        const auto sent = (*m_laptop)->store()->message(m_team, seq);
        QVERIFY(sent);
        QCOMPARE(sent->content.mentions_size(), 1);
        QCOMPARE(sent->content.mentions(0).user_id(), quint64((*m_laptop)->userId()));

        QCOMPARE(runCli(aliceHome,
                        server + QStringList{QStringLiteral("--user"), QStringLiteral("alice"),
                                             QStringLiteral("--password"), kPassword,
                                             QStringLiteral("chats")},
                        &out, &err),
                 0);
        const QByteArray line = out.mid(out.indexOf(m_team.toUtf8()));
        QVERIFY2(line.left(line.indexOf('\n')).endsWith("1 mentions"), out.constData());
    }
};

QTEST_MAIN(TestClientMentions)
#include "tst_client_mentions.moc"
