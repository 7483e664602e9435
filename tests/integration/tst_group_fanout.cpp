// A group of 50 members, all online, five of them sending at once: every member
// sees seqs 1..N exactly once and in order, system events included.

#include "test_client.h"
#include "test_server.h"

#include "kith/protocol.h"

#include <QSet>
#include <QTest>

#include <memory>
#include <vector>

using namespace kith;
using namespace kith::test;

namespace {

constexpr int kMembers = 50;
// Members added by the creator at creation; the rest join in one add_members.
constexpr int kInitialMembers = 40;
constexpr int kSenders = 5;
constexpr int kMessagesPerSender = 20;
// GROUP_CREATED, MEMBERS_ADDED and GROUP_RENAMED come before the messages.
constexpr quint64 kSystemEvents = 3;
constexpr quint64 kTotal = kSystemEvents + kSenders * kMessagesPerSender;

} // namespace

class TestGroupFanout : public QObject
{
    Q_OBJECT

private slots:
    void everyMemberSeesEverySeqOnceInOrder();
    void membershipChangesReachEveryone();
};

void TestGroupFanout::everyMemberSeesEverySeqOnceInOrder()
{
    // Every member registers from loopback: more than an hour's default.
    TestServer server({QStringLiteral("--registrations-per-hour"), QStringLiteral("0")});
    QVERIFY(server.start());

    std::vector<std::unique_ptr<TestClient>> members;
    for (int i = 0; i < kMembers; ++i) {
        members.push_back(std::make_unique<TestClient>());
        QVERIFY2(
            members.back()->connectAndRegister(server.url(), QStringLiteral("member%1").arg(i)),
            qPrintable(QStringLiteral("member%1").arg(i)));
    }
    TestClient &owner = *members[0];

    v1::Envelope create;
    create.mutable_create_group()->set_name("fifty");
    for (int i = 1; i < kInitialMembers; ++i)
        create.mutable_create_group()->add_member_user_ids(members[i]->userId());
    const auto created = owner.request(create);
    QVERIFY2(created && created->has_conversation(), describe(created).constData());
    const auto &createdState = created->conversation().state();
    const QString group = toQString(createdState.id());
    QCOMPARE(createdState.kind(), v1::GROUP);
    QCOMPARE(createdState.my_role(), v1::OWNER);
    QCOMPARE(createdState.member_count(), quint32(kInitialMembers));
    QCOMPARE(createdState.max_seq(), quint64(1));

    v1::Envelope add;
    add.mutable_add_members()->set_conversation_id(toStd(group));
    for (int i = kInitialMembers; i < kMembers; ++i)
        add.mutable_add_members()->add_user_ids(members[i]->userId());
    const auto added = owner.request(add);
    QVERIFY2(added && added->has_ok(), describe(added).constData());

    v1::Envelope rename;
    rename.mutable_rename_group()->set_conversation_id(toStd(group));
    rename.mutable_rename_group()->set_name("fifty and counting");
    const auto renamed = owner.request(rename);
    QVERIFY2(renamed && renamed->has_ok(), describe(renamed).constData());

    // Everyone but the creator learns of the group by a conversation push.
    for (int i = 1; i < kMembers; ++i) {
        const auto push = members[i]->waitForPush([&](const v1::Envelope &e) {
            return e.has_conversation() && toQString(e.conversation().state().id()) == group;
        });
        QVERIFY2(push, qPrintable(QStringLiteral("member%1 got no conversation push").arg(i)));
    }

    // Five members send at once, pipelined.
    QList<QList<quint32>> requests(kSenders);
    QHash<QString, int> senderOf; // client message id -> member index
    for (int n = 0; n < kMessagesPerSender; ++n) {
        for (int s = 0; s < kSenders; ++s) {
            const QString id = newClientMsgId();
            senderOf.insert(id, s);
            requests[s].append(members[s]->post(
                TestClient::sendRequest(group, QStringLiteral("m%1 #%2").arg(s).arg(n), id)));
        }
    }
    QList<QSet<quint64>> ackedSeqs(kSenders);
    for (int s = 0; s < kSenders; ++s) {
        quint64 previous = 0;
        for (quint32 requestId : std::as_const(requests[s])) {
            const auto answer = members[s]->waitForAnswer(requestId);
            QVERIFY2(answer && answer->has_send_ack(), describe(answer).constData());
            // One connection's sends are answered in the order they were sent.
            QVERIFY(answer->send_ack().seq() > previous);
            previous = answer->send_ack().seq();
            ackedSeqs[s].insert(previous);
        }
    }

    // The owner's own group changes were answered to it, not pushed back; the
    // initial members were in the group for every event; the added ones from
    // the MEMBERS_ADDED event on. Everything else arrives as a push.
    for (int i = 0; i < kMembers; ++i) {
        TestClient &member = *members[i];
        const quint64 firstPushed = i == 0 ? kSystemEvents + 1 : i < kInitialMembers ? 1 : 2;
        const int ownAcks = i < kSenders ? int(ackedSeqs[i].size()) : 0;
        const int expectedPushes = int(kTotal - firstPushed + 1) - ownAcks;
        // Whether the actor's own connection also gets its events pushed is left
        // open by the protocol; only what follows them is counted for it.
        const auto pushesToCount = [&] {
            auto all = member.messagePushes(group);
            all.removeIf([&](const v1::Message &m) { return m.seq() < firstPushed; });
            return all;
        };
        const bool complete =
            TestClient::waitUntil([&] { return pushesToCount().size() >= expectedPushes; });
        const auto pushes = pushesToCount();
        QVERIFY2(complete, qPrintable(QStringLiteral("member%1 got %2 of %3 pushes")
                                          .arg(i)
                                          .arg(pushes.size())
                                          .arg(expectedPushes)));
        QCOMPARE(pushes.size(), expectedPushes);

        QSet<quint64> seen;
        quint64 previous = 0;
        for (const auto &message : pushes) {
            QVERIFY2(message.seq() > previous,
                     qPrintable(QStringLiteral("member%1: seq %2 after %3")
                                    .arg(i)
                                    .arg(message.seq())
                                    .arg(previous)));
            previous = message.seq();
            seen.insert(message.seq());
            if (message.seq() <= kSystemEvents) {
                QVERIFY(message.content().has_system());
                QCOMPARE(message.sender_user_id(), owner.userId());
            } else {
                const int sender = senderOf.value(toQString(message.client_msg_id()), -1);
                QVERIFY(sender >= 0);
                QVERIFY2(sender != i, "a sender got a push of its own message");
                QCOMPARE(message.sender_user_id(), members[sender]->userId());
            }
        }
        if (i < kSenders)
            seen.unite(ackedSeqs[i]);
        for (quint64 seq = firstPushed; seq <= kTotal; ++seq)
            QVERIFY2(seen.contains(seq),
                     qPrintable(QStringLiteral("member%1 misses seq %2").arg(i).arg(seq)));
        QCOMPARE(member.undecodableFrames(), 0);
    }

    // The stored stream, as any member pulls it: the three events, then the messages.
    const auto history = members[kMembers - 1]->pullAll(group);
    QVERIFY(history);
    QCOMPARE(quint64(history->size()), kTotal);
    for (qsizetype n = 0; n < history->size(); ++n)
        QCOMPARE(history->at(n).seq(), quint64(n + 1));
    QCOMPARE(history->at(0).content().system().kind(), v1::SystemEvent::GROUP_CREATED);
    QCOMPARE(history->at(0).content().system().user_ids_size(), kInitialMembers - 1);
    QCOMPARE(history->at(1).content().system().kind(), v1::SystemEvent::MEMBERS_ADDED);
    QCOMPARE(history->at(1).content().system().user_ids_size(), kMembers - kInitialMembers);
    QCOMPARE(history->at(2).content().system().kind(), v1::SystemEvent::GROUP_RENAMED);
    QCOMPARE(toQString(history->at(2).content().system().name()),
             QStringLiteral("fifty and counting"));

    // A member that neither acted nor sent got the whole stream pushed, byte for byte.
    const auto pushed = members[kSenders]->messagePushes(group);
    QCOMPARE(quint64(pushed.size()), kTotal);
    for (qsizetype n = 0; n < pushed.size(); ++n)
        QCOMPARE(pushed.at(n).SerializeAsString(), history->at(n).SerializeAsString());

    v1::Envelope list;
    list.mutable_list_members()->set_conversation_id(toStd(group));
    const auto memberList = members[7]->request(list);
    QVERIFY2(memberList && memberList->has_member_list(), describe(memberList).constData());
    QCOMPARE(memberList->member_list().members_size(), kMembers);
}

void TestGroupFanout::membershipChangesReachEveryone()
{
    TestServer server;
    QVERIFY(server.start());
    TestClient alice, bob, bobPhone, carol, dave;
    QVERIFY(alice.connectAndRegister(server.url(), QStringLiteral("alice")));
    QVERIFY(bob.connectAndRegister(server.url(), QStringLiteral("bob")));
    QVERIFY(bobPhone.connectAndLogin(server.url(), QStringLiteral("bob"),
                                     QStringLiteral("password123"), QStringLiteral("phone")));
    QVERIFY(carol.connectAndRegister(server.url(), QStringLiteral("carol")));
    QVERIFY(dave.connectAndRegister(server.url(), QStringLiteral("dave")));

    v1::Envelope create;
    create.mutable_create_group()->set_name("trio");
    create.mutable_create_group()->add_member_user_ids(bob.userId());
    create.mutable_create_group()->add_member_user_ids(carol.userId());
    const auto created = alice.request(create);
    QVERIFY2(created && created->has_conversation(), describe(created).constData());
    const QString group = toQString(created->conversation().state().id());
    const auto isGroupPush = [&](const v1::Envelope &e) {
        return e.has_conversation() && toQString(e.conversation().state().id()) == group;
    };
    const auto systemEvent = [&](TestClient &member, v1::SystemEvent::Kind kind) {
        return member.waitForPush([&](const v1::Envelope &e) {
            return e.has_message() && toQString(e.message().message().conversation_id()) == group &&
                   e.message().message().content().system().kind() == kind;
        });
    };
    for (TestClient *member : {&bob, &bobPhone, &carol}) {
        const auto push = member->waitForPush(isGroupPush);
        QVERIFY(push);
        QCOMPARE(toQString(push->conversation().state().title()), QStringLiteral("trio"));
        QCOMPARE(push->conversation().state().my_role(), v1::MEMBER);
        QCOMPARE(push->conversation().state().member_count(), quint32(3));
    }

    v1::Envelope add;
    add.mutable_add_members()->set_conversation_id(toStd(group));
    add.mutable_add_members()->add_user_ids(dave.userId());
    const auto added = alice.request(add);
    QVERIFY2(added && added->has_ok(), describe(added).constData());
    const auto daveSees = dave.waitForPush(isGroupPush);
    QVERIFY(daveSees);
    QCOMPARE(daveSees->conversation().state().member_count(), quint32(4));
    for (TestClient *member : {&bob, &carol, &dave}) {
        const auto event = systemEvent(*member, v1::SystemEvent::MEMBERS_ADDED);
        QVERIFY(event);
        QCOMPARE(event->message().message().content().system().actor_user_id(), alice.userId());
        QCOMPARE(event->message().message().content().system().user_ids(0), dave.userId());
    }

    // bob leaves from his laptop: his phone loses the group, the others see him go.
    v1::Envelope leave;
    leave.mutable_leave_group()->set_conversation_id(toStd(group));
    const auto left = bob.request(leave);
    QVERIFY2(left && left->has_ok(), describe(left).constData());
    QVERIFY(bobPhone.waitForPush([&](const v1::Envelope &e) {
        return e.has_conversation_removed() &&
               toQString(e.conversation_removed().conversation_id()) == group;
    }));
    for (TestClient *member : {&carol, &dave}) {
        const auto event = systemEvent(*member, v1::SystemEvent::MEMBER_LEFT);
        QVERIFY(event);
        QCOMPARE(event->message().message().content().system().actor_user_id(), bob.userId());
    }

    // The owner leaves: the longest-standing member (carol, there from the
    // start; dave came later) becomes owner and may rename.
    const auto ownerLeft = alice.request(leave);
    QVERIFY2(ownerLeft && ownerLeft->has_ok(), describe(ownerLeft).constData());
    v1::Envelope list;
    list.mutable_list_members()->set_conversation_id(toStd(group));
    const auto members = dave.request(list);
    QVERIFY2(members && members->has_member_list(), describe(members).constData());
    QCOMPARE(members->member_list().members_size(), 2);
    for (const auto &member : members->member_list().members())
        QCOMPARE(member.role(), member.user().id() == carol.userId() ? v1::OWNER : v1::MEMBER);

    v1::Envelope rename;
    rename.mutable_rename_group()->set_conversation_id(toStd(group));
    rename.mutable_rename_group()->set_name("duo");
    const auto renamed = carol.request(rename);
    QVERIFY2(renamed && renamed->has_ok(), describe(renamed).constData());
    const auto renameEvent = systemEvent(dave, v1::SystemEvent::GROUP_RENAMED);
    QVERIFY(renameEvent);
    QCOMPARE(toQString(renameEvent->message().message().content().system().name()),
             QStringLiteral("duo"));

    // dave's view after a sync: the new name, and a history of every change in order.
    const auto sync = dave.sync();
    QVERIFY2(sync && sync->has_sync_response(), describe(sync).constData());
    QCOMPARE(sync->sync_response().changed_size(), 1);
    const auto &state = sync->sync_response().changed(0);
    QCOMPARE(toQString(state.title()), QStringLiteral("duo"));
    QCOMPARE(state.member_count(), quint32(2));
    QVERIFY(state.metadata_version() > daveSees->conversation().state().metadata_version());
    const auto history = dave.pullAll(group);
    QVERIFY(history);
    QList<v1::SystemEvent::Kind> kinds;
    for (qsizetype n = 0; n < history->size(); ++n) {
        QCOMPARE(history->at(n).seq(), quint64(n + 1));
        kinds.append(history->at(n).content().system().kind());
    }
    const QList<v1::SystemEvent::Kind> expected{
        v1::SystemEvent::GROUP_CREATED, v1::SystemEvent::MEMBERS_ADDED,
        v1::SystemEvent::MEMBER_LEFT, v1::SystemEvent::MEMBER_LEFT, v1::SystemEvent::GROUP_RENAMED};
    QCOMPARE(kinds, expected);

    // Those who left can no longer read it.
    for (TestClient *gone : {&alice, &bob}) {
        const auto pull = gone->pull(group, 1);
        QVERIFY2(pull && pull->has_error() && pull->error().code() == v1::NOT_FOUND,
                 describe(pull).constData());
    }
}

QTEST_GUILESS_MAIN(TestGroupFanout)
#include "tst_group_fanout.moc"
