// Three kithd nodes on one PostgreSQL and one Redis, users spread over them:
// a direct chat and a group across nodes arrive pushed in order and stored
// without a gap; a change of members made on one node is seen by the caches
// of the others; a device revoked on one node is cut off on another; presence
// goes to contacts on other nodes (first connection anywhere, last one
// everywhere); and /metrics shows pushes routed to the nodes that hold a
// recipient only.

#include "cluster_fixture.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <QTest>

using namespace kith;
using namespace kith::test;

namespace {

QStringList numbered(const QString &prefix, int count)
{
    QStringList texts;
    for (int i = 1; i <= count; ++i)
        texts << QStringLiteral("%1 %2").arg(prefix).arg(i);
    return texts;
}

bool allAcked(const QHash<QString, std::optional<v1::SendAck>> &acks)
{
    return std::all_of(acks.cbegin(), acks.cend(), [](const auto &ack) { return ack.has_value(); });
}

bool isPresence(const v1::Envelope &push, quint64 userId, bool online)
{
    return push.has_presence() && push.presence().user_id() == userId &&
           push.presence().online() == online;
}

std::optional<v1::Envelope> request(TestClient &client, v1::Envelope envelope)
{
    return client.request(std::move(envelope));
}

QList<quint64> memberIds(TestClient &asker, const QString &groupId)
{
    v1::Envelope list;
    list.mutable_list_members()->set_conversation_id(toStd(groupId));
    const auto answer = request(asker, list);
    QList<quint64> ids;
    if (answer && answer->has_member_list()) {
        for (const auto &member : answer->member_list().members())
            ids.append(member.user().id());
    }
    std::sort(ids.begin(), ids.end());
    return ids;
}

} // namespace

class TestClusterNodes : public QObject
{
    Q_OBJECT

    std::unique_ptr<TestCluster> m_cluster;
    // alice on node 1, bob on node 2, carol on node 3
    TestClient m_alice, m_bob, m_carol;
    QString m_group;

    QUrl url(int node) { return m_cluster->node(node).url(); }

private slots:
    void initTestCase()
    {
        KITH_REQUIRE_POSTGRES();
        KITH_REQUIRE_REDIS();
        m_cluster = std::make_unique<TestCluster>();
        QVERIFY(m_cluster->start(3));
        QVERIFY2(m_cluster->waitReady(), m_cluster->health(0).constData());
        QVERIFY(m_alice.connectAndRegister(url(0), QStringLiteral("alice")));
        QVERIFY(m_bob.connectAndRegister(url(1), QStringLiteral("bob")));
        QVERIFY(m_carol.connectAndRegister(url(2), QStringLiteral("carol")));
        // Each node's copy of the directory holds the others' users.
        QVERIFY(TestClient::waitUntil([&] {
            return isOnlineFor(m_alice, m_bob.userId()) == true &&
                   isOnlineFor(m_alice, m_carol.userId()) == true &&
                   isOnlineFor(m_carol, m_alice.userId()) == true;
        }));
    }

    // A direct chat between nodes 1 and 2: each side's messages are pushed to
    // the other in order, and the history (read through node 3) has every
    // message once, seqs 1..80 without a gap.
    void directChatAcrossNodes()
    {
        const QString chat = directConversationId(m_alice.userId(), m_bob.userId());
        const auto fromAlice = sendAll(m_alice, chat, numbered(QStringLiteral("alice"), 40));
        QVERIFY(allAcked(fromAlice));
        QVERIFY(TestClient::waitUntil([&] { return m_bob.messagePushes(chat).size() == 40; }));
        QVERIFY(contiguousFromOne(seqsOf(m_bob.messagePushes(chat))));
        const auto fromBob = sendAll(m_bob, chat, numbered(QStringLiteral("bob"), 40));
        QVERIFY(allAcked(fromBob));
        QVERIFY(TestClient::waitUntil([&] { return m_alice.messagePushes(chat).size() == 40; }));
        QList<quint64> expected;
        for (quint64 seq = 41; seq <= 80; ++seq)
            expected << seq;
        QCOMPARE(seqsOf(m_alice.messagePushes(chat)), expected);

        TestClient aliceOnThree;
        QVERIFY(aliceOnThree.connectAndLogin(url(2), QStringLiteral("alice")));
        const auto history = aliceOnThree.pullAll(chat);
        QVERIFY(history);
        QCOMPARE(history->size(), 80);
        QVERIFY(contiguousFromOne(seqsOf(*history)));
        QSet<std::string> ids;
        for (int i = 0; i < 80; ++i) {
            const v1::Message &message = history->at(i);
            ids.insert(message.client_msg_id());
            const QString text = toQString(message.content().text().body());
            QCOMPARE(text, i < 40 ? QStringLiteral("alice %1").arg(i + 1)
                                  : QStringLiteral("bob %1").arg(i - 39));
        }
        QCOMPARE(ids.size(), 80);
    }

    // A group whose members are on three nodes: everyone sends at once; each
    // member is pushed every message of the others, and the history read on
    // each node is the same, without a gap.
    void groupAcrossThreeNodes()
    {
        m_group =
            newGroup(m_alice, QStringLiteral("three nodes"), {m_bob.userId(), m_carol.userId()});
        QVERIFY(!m_group.isEmpty());
        // Told on their own nodes, as members online.
        for (TestClient *member : {&m_bob, &m_carol}) {
            QVERIFY(member->waitForPush([&](const v1::Envelope &push) {
                return push.has_conversation() &&
                       toQString(push.conversation().state().id()) == m_group;
            }));
        }
        QList<quint32> posted[3];
        TestClient *members[3] = {&m_alice, &m_bob, &m_carol};
        QHash<quint32, QString> ids[3];
        for (int round = 1; round <= 15; ++round) {
            for (int m = 0; m < 3; ++m) {
                const QString id = newClientMsgId();
                const quint32 rid = members[m]->post(TestClient::sendRequest(
                    m_group, QStringLiteral("member %1 says %2").arg(m).arg(round), id));
                posted[m] << rid;
                ids[m].insert(rid, id);
            }
        }
        for (int m = 0; m < 3; ++m) {
            for (quint32 rid : posted[m]) {
                const auto answer = members[m]->waitForAnswer(rid);
                QVERIFY2(answer && answer->has_send_ack(), describe(answer).constData());
            }
        }
        // 1 event (created) + 45 messages.
        for (int m = 0; m < 3; ++m) {
            QVERIFY2(TestClient::waitUntil([&] {
                         int fromOthers = 0;
                         for (const auto &message : members[m]->messagePushes(m_group))
                             fromOthers += message.sender_user_id() != members[m]->userId() &&
                                           message.content().has_text();
                         return fromOthers == 30;
                     }),
                     qPrintable(QStringLiteral("member %1").arg(m)));
        }
        std::optional<QList<v1::Message>> first;
        for (int m = 0; m < 3; ++m) {
            const auto history = members[m]->pullAll(m_group);
            QVERIFY(history);
            QCOMPARE(history->size(), 46);
            QVERIFY(contiguousFromOne(seqsOf(*history)));
            if (!first) {
                first = history;
                continue;
            }
            for (int i = 0; i < history->size(); ++i)
                QCOMPARE(history->at(i).server_id(), first->at(i).server_id());
        }
        QSet<std::string> stored;
        for (const auto &message : *first)
            stored.insert(message.client_msg_id());
        for (int m = 0; m < 3; ++m)
            for (const QString &id : ids[m])
                QVERIFY(stored.contains(toStd(id)));
    }

    // Node 2 has the group's members cached (bob listed them); dave, on node
    // 2 too, is added on node 1: node 2 forgets what it had, so bob sees him
    // listed and dave may type there at once. Carol, removed on node 1, is
    // refused on node 3.
    void membersChangedOnOneNodeAreSeenOnAnother()
    {
        QVERIFY(!m_group.isEmpty());
        QCOMPARE(memberIds(m_bob, m_group).size(), 3);
        QCOMPARE(memberIds(m_carol, m_group).size(), 3);
        TestClient dave;
        QVERIFY(dave.connectAndRegister(url(1), QStringLiteral("dave")));
        QVERIFY(TestClient::waitUntil([&] { return isOnlineFor(m_alice, dave.userId()) == true; }));
        v1::Envelope add;
        add.mutable_add_members()->set_conversation_id(toStd(m_group));
        add.mutable_add_members()->add_user_ids(dave.userId());
        const auto added = request(m_alice, add);
        QVERIFY2(added && !added->has_error(), describe(added).constData());
        QVERIFY(dave.waitForPush([&](const v1::Envelope &push) {
            return push.has_conversation() &&
                   toQString(push.conversation().state().id()) == m_group;
        }));
        QVERIFY(memberIds(m_bob, m_group).contains(dave.userId()));

        m_alice.clearPushes();
        v1::Envelope typing;
        typing.mutable_typing()->set_conversation_id(toStd(m_group));
        typing.mutable_typing()->set_typing(true);
        const auto typed = request(dave, typing);
        QVERIFY2(typed && typed->has_ok(), describe(typed).constData());
        QVERIFY(m_alice.waitForPush([&](const v1::Envelope &push) {
            return push.has_typing_push() && push.typing_push().user_id() == dave.userId();
        }));

        v1::Envelope remove;
        remove.mutable_remove_member()->set_conversation_id(toStd(m_group));
        remove.mutable_remove_member()->set_user_id(m_carol.userId());
        const auto removed = request(m_alice, remove);
        QVERIFY2(removed && !removed->has_error(), describe(removed).constData());
        QVERIFY(m_carol.waitForPush(
            [&](const v1::Envelope &push) { return push.has_conversation_removed(); }));
        const auto refused = request(m_carol, typing);
        QVERIFY2(refused && refused->has_error() && refused->error().code() == v1::NOT_FOUND,
                 describe(refused).constData());
        QVERIFY(memberIds(m_carol, m_group).isEmpty());
    }

    // Alice's second device, on node 2, is revoked from node 1: node 1 sees
    // it online, and its connection on node 2 is told and closed.
    void aDeviceRevokedOnOneNodeIsCutOffOnAnother()
    {
        TestClient second;
        QVERIFY(second.connectAndLogin(url(1), QStringLiteral("alice"),
                                       QStringLiteral("password123"), QStringLiteral("second")));
        const auto listed = [&]() -> std::optional<v1::Device> {
            v1::Envelope list;
            list.mutable_list_devices();
            const auto answer = request(m_alice, list);
            if (!answer || !answer->has_device_list())
                return std::nullopt;
            for (const auto &device : answer->device_list().devices())
                if (device.id() == second.deviceId())
                    return device;
            return std::nullopt;
        };
        QVERIFY(TestClient::waitUntil([&] {
            const auto device = listed();
            return device && device->online();
        }));
        v1::Envelope revoke;
        revoke.mutable_revoke_device()->set_device_id(second.deviceId());
        const auto revoked = request(m_alice, revoke);
        QVERIFY2(revoked && revoked->has_ok(), describe(revoked).constData());
        QVERIFY(second.waitForPush([](const v1::Envelope &push) {
            return push.has_error() && push.error().code() == v1::TOKEN_INVALID;
        }));
        QVERIFY(second.waitForDisconnected());
        QVERIFY(!listed());
        QVERIFY(m_alice.isConnected());
    }

    // Erin, on node 3, becomes alice's contact by a first message sent on
    // node 1 (node 3 forgets erin's contacts then). Her last connection going
    // is told to alice on node 1; her coming back on node 2 too; a second
    // connection on another node changes nothing until the last one goes.
    void presenceConvergesAcrossNodes()
    {
        TestClient erin;
        QVERIFY(erin.connectAndRegister(url(2), QStringLiteral("erin")));
        const quint64 erinId = erin.userId();
        const QString chat = directConversationId(m_alice.userId(), erinId);
        QVERIFY(m_alice.send(chat, QStringLiteral("hello erin"), newClientMsgId()));
        QVERIFY(erin.waitForPush([](const v1::Envelope &push) { return push.has_message(); }));
        m_alice.clearPushes();

        erin.close();
        QVERIFY(m_alice.waitForPush(
            [&](const v1::Envelope &push) { return isPresence(push, erinId, false); }));
        // The push and a profile read agree soon after (a read can meet the
        // read budget the polls above spent, or a node's view a moment old).
        QVERIFY(TestClient::waitUntil([&] { return isOnlineFor(m_alice, erinId) == false; }));

        TestClient erinOnTwo;
        QVERIFY(erinOnTwo.connectAndLogin(url(1), QStringLiteral("erin")));
        QVERIFY(m_alice.waitForPush(
            [&](const v1::Envelope &push) { return isPresence(push, erinId, true); }));
        QVERIFY(TestClient::waitUntil([&] { return isOnlineFor(m_alice, erinId) == true; }));

        // Node 1 claims erin in Redis after her login is answered: until node
        // 2 has heard of the claim, her leaving node 2 could still be the last
        // one out, and her coming to node 1 the first one in.
        const double remoteOnTwo = m_cluster->metric(1, QStringLiteral("kith_bus_remote_users"));
        TestClient erinOnOne;
        QVERIFY(erinOnOne.connectAndLogin(url(0), QStringLiteral("erin")));
        QVERIFY(TestClient::waitUntil([&] {
            return m_cluster->metric(1, QStringLiteral("kith_bus_remote_users")) == remoteOnTwo + 1;
        }));
        erinOnTwo.close();
        // Still online: her connection on node 1 holds her.
        QVERIFY(TestClient::waitUntil([&] {
            return m_cluster->metric(1, QStringLiteral("kith_users_online")) == 1 &&
                   isOnlineFor(m_bob, erinId) == true;
        }));
        // What node 2 published before bob's message reached alice before it.
        const QString bobAndAlice = directConversationId(m_alice.userId(), m_bob.userId());
        QVERIFY(m_bob.send(bobAndAlice, QStringLiteral("barrier"), newClientMsgId()));
        QVERIFY(m_alice.waitForPush([](const v1::Envelope &push) {
            return push.has_message() &&
                   push.message().message().content().text().body() == "barrier";
        }));
        for (const auto &push : m_alice.pushes())
            QVERIFY2(!push.has_presence() || push.presence().user_id() != erinId,
                     (push.DebugString() + m_cluster->busLog().toStdString()).c_str());
        erinOnOne.close();
        QVERIFY(m_alice.waitForPush(
            [&](const v1::Envelope &push) { return isPresence(push, erinId, false); }));
        QVERIFY(TestClient::waitUntil([&] { return isOnlineFor(m_carol, erinId) == false; }));
    }

    // Pushes were routed: node 3 got the pushes for carol and erin, and none
    // for the direct chat between nodes 1 and 2 (80 messages).
    void pushesAreRoutedNotBroadcast()
    {
        const double oneToTwo = m_cluster->metric(0, QStringLiteral("kith_bus_published_total"),
                                                  QStringLiteral("to=\"2\""));
        const double oneToThree = m_cluster->metric(0, QStringLiteral("kith_bus_published_total"),
                                                    QStringLiteral("to=\"3\""));
        const double threeFromOne = m_cluster->metric(2, QStringLiteral("kith_bus_received_total"),
                                                      QStringLiteral("from=\"1\""));
        QVERIFY2(oneToTwo >= 40, qPrintable(QString::number(oneToTwo)));
        // Node 3 holds carol (15 group messages from alice), erin and her chat.
        QVERIFY2(oneToThree >= 15 && oneToThree < 40, qPrintable(QString::number(oneToThree)));
        QVERIFY2(threeFromOne >= 15 && threeFromOne < 40,
                 qPrintable(QString::number(threeFromOne)));
        for (int node = 0; node < 3; ++node) {
            QCOMPARE(m_cluster->metric(node, QStringLiteral("kith_bus_dropped_total")), 0.0);
            QCOMPARE(m_cluster->metric(node, QStringLiteral("kith_bus_malformed_total")), 0.0);
        }
    }
};

QTEST_GUILESS_MAIN(TestClusterNodes)
#include "tst_cluster_nodes.moc"
