// GroupService: create, add, remove, leave, rename, list members; role checks,
// input checks, and who is told what (event messages, conversation and
// conversation_removed pushes).

#include "service_fixture.h"

#include <QTest>

using namespace kith;
using namespace kith::server;
using namespace kith::server::test;

class TestGroups : public QObject
{
    Q_OBJECT

    static Result<v1::ConversationState> create(ServiceFixture &f, const Caller &caller,
                                                const std::string &name,
                                                const QList<quint64> &members)
    {
        v1::CreateGroupRequest request;
        request.set_name(name);
        for (quint64 id : members)
            request.add_member_user_ids(id);
        return await<v1::ConversationState>([&](QObject *context, auto done) {
            f.groups->createGroup(caller, request, context, done);
        });
    }
    static Status add(ServiceFixture &f, const Caller &caller, const std::string &id,
                      const QList<quint64> &users)
    {
        v1::AddMembersRequest request;
        request.set_conversation_id(id);
        for (quint64 user : users)
            request.add_user_ids(user);
        return await<Done>([&](QObject *context, auto done) {
            f.groups->addMembers(caller, request, context, done);
        });
    }
    static Status remove(ServiceFixture &f, const Caller &caller, const std::string &id,
                         quint64 user)
    {
        v1::RemoveMemberRequest request;
        request.set_conversation_id(id);
        request.set_user_id(user);
        return await<Done>([&](QObject *context, auto done) {
            f.groups->removeMember(caller, request, context, done);
        });
    }
    static Status leave(ServiceFixture &f, const Caller &caller, const std::string &id)
    {
        v1::LeaveGroupRequest request;
        request.set_conversation_id(id);
        return await<Done>([&](QObject *context, auto done) {
            f.groups->leaveGroup(caller, request, context, done);
        });
    }
    static Status rename(ServiceFixture &f, const Caller &caller, const std::string &id,
                         const std::string &name)
    {
        v1::RenameGroupRequest request;
        request.set_conversation_id(id);
        request.set_name(name);
        return await<Done>([&](QObject *context, auto done) {
            f.groups->renameGroup(caller, request, context, done);
        });
    }
    static QMap<quint64, v1::Role> roles(ServiceFixture &f, const Caller &caller,
                                         const std::string &id)
    {
        v1::ListMembersRequest request;
        request.set_conversation_id(id);
        QMap<quint64, v1::Role> out;
        const auto list = f.groups->listMembers(caller, request);
        if (list.ok()) {
            for (const v1::Member &member : list->members())
                out.insert(member.user().id(), member.role());
        }
        return out;
    }

private slots:
    void createTellsEveryone()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 owner = f.addUser(QStringLiteral("owner"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 carol = f.addUser(QStringLiteral("carol"));
        RecordingConnection *ownerLaptop = f.connect(owner, 1);
        RecordingConnection *ownerPhone = f.connect(owner, 2);
        RecordingConnection *bobPhone = f.connect(bob, 3);

        const auto group =
            create(f, f.callerFor(owner, ownerLaptop), "  Climbing  ", {bob, carol, bob});
        QVERIFY2(group.ok(), qPrintable(group.ok() ? QString() : group.error().message));
        QCOMPARE(group->kind(), v1::GROUP);
        QCOMPARE(group->title(), "Climbing");
        QCOMPARE(group->my_role(), v1::OWNER);
        QCOMPARE(group->member_count(), 3u);
        QCOMPARE(group->max_seq(), 1u);
        QVERIFY(QString::fromStdString(group->id()).startsWith(QLatin1String("g:")));

        // Members who gained access learn of the group, then get the event.
        QCOMPARE(bobPhone->of(v1::Envelope::kConversation).size(), 1);
        const v1::ConversationState bobView =
            bobPhone->of(v1::Envelope::kConversation).at(0).conversation().state();
        QCOMPARE(bobView.my_role(), v1::MEMBER);
        QCOMPARE(bobView.id(), group->id());
        QCOMPARE(bobPhone->of(v1::Envelope::kMessage).size(), 1);
        const v1::Message event = bobPhone->of(v1::Envelope::kMessage).at(0).message().message();
        QCOMPARE(event.seq(), 1u);
        QCOMPARE(event.content().system().kind(), v1::SystemEvent::GROUP_CREATED);
        QCOMPARE(ownerPhone->of(v1::Envelope::kConversation).size(), 1);
        // The creating connection has the answer instead of a conversation push.
        QCOMPARE(ownerLaptop->of(v1::Envelope::kConversation).size(), 0);

        QCOMPARE(
            roles(f, f.callerFor(carol), group->id()),
            (QMap<quint64, v1::Role>{{owner, v1::OWNER}, {bob, v1::MEMBER}, {carol, v1::MEMBER}}));
    }

    void createRefusesBadInput()
    {
        ServiceFixture f;
        const quint64 owner = f.addUser(QStringLiteral("owner"));
        QCOMPARE(create(f, f.callerFor(owner), "   ", {}).error().code, v1::INVALID_ARGUMENT);
        QCOMPARE(create(f, f.callerFor(owner), std::string(kMaxGroupNameChars + 1, 'n'), {})
                     .error()
                     .code,
                 v1::INVALID_ARGUMENT);
        QCOMPARE(create(f, f.callerFor(owner), "ghosts", {999}).error().code, v1::INVALID_ARGUMENT);
        QCOMPARE(create(f, f.callerFor(owner), "zero", {0}).error().code, v1::INVALID_ARGUMENT);
        const auto alone = create(f, f.callerFor(owner), "just me", {});
        QVERIFY(alone.ok());
        QCOMPARE(alone->member_count(), 1u);
    }

    // docs/protocol.md: at most 500 members per group request.
    void membersPerRequestAreBounded()
    {
        ServiceFixture f;
        const quint64 owner = f.addUser(QStringLiteral("owner"));
        QObject context;
        QList<quint64> ids;
        for (int i = 0; i < 501; ++i)
            f.store->createUser(QStringLiteral("m%1").arg(i, 3, 10, QLatin1Char('0')), {},
                                QByteArray("not-a-hash"), &context,
                                [&ids](Result<UserRecord> user) {
                                    if (user.ok())
                                        ids.append(user->id);
                                });
        QTRY_COMPARE_WITH_TIMEOUT(ids.size(), 501, kWaitMs);
        QCOMPARE(create(f, f.callerFor(owner), "too many", ids).error().code, v1::INVALID_ARGUMENT);
        const auto big = create(f, f.callerFor(owner), "full", ids.mid(0, 500));
        QVERIFY(big.ok());
        QCOMPARE(big->member_count(), 501u);
        const auto small = create(f, f.callerFor(owner), "small", {});
        QVERIFY(small.ok());
        QCOMPARE(add(f, f.callerFor(owner), small->id(), ids).error().code, v1::INVALID_ARGUMENT);
        QVERIFY(add(f, f.callerFor(owner), small->id(), ids.mid(1, 500)).ok());
    }

    void rolesDecideWhoMayChangeTheGroup()
    {
        ServiceFixture f;
        const quint64 owner = f.addUser(QStringLiteral("owner"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 carol = f.addUser(QStringLiteral("carol"));
        const quint64 dave = f.addUser(QStringLiteral("dave"));
        const auto group = create(f, f.callerFor(owner), "team", {bob, carol});
        QVERIFY(group.ok());
        const std::string id = group->id();

        // Plain members may not add, remove or rename.
        QCOMPARE(add(f, f.callerFor(bob), id, {dave}).error().code, v1::PERMISSION_DENIED);
        QCOMPARE(remove(f, f.callerFor(bob), id, carol).error().code, v1::PERMISSION_DENIED);
        QCOMPARE(rename(f, f.callerFor(bob), id, "mine").error().code, v1::PERMISSION_DENIED);
        // Outsiders learn nothing: NOT_FOUND, as for a group that does not exist.
        QCOMPARE(add(f, f.callerFor(dave), id, {dave}).error().code, v1::NOT_FOUND);
        QCOMPARE(rename(f, f.callerFor(dave), id, "mine").error().code, v1::NOT_FOUND);
        QCOMPARE(leave(f, f.callerFor(dave), id).error().code, v1::NOT_FOUND);
        QCOMPARE(rename(f, f.callerFor(owner), "g:98765", "x").error().code, v1::NOT_FOUND);
        v1::ListMembersRequest list;
        list.set_conversation_id(id);
        QCOMPARE(f.groups->listMembers(f.callerFor(dave), list).error().code, v1::NOT_FOUND);
        // Direct chats are not groups.
        QCOMPARE(add(f, f.callerFor(owner), toStd(directConversationId(owner, bob)), {dave})
                     .error()
                     .code,
                 v1::INVALID_ARGUMENT);
        QCOMPARE(remove(f, f.callerFor(owner), id, owner).error().code, v1::INVALID_ARGUMENT);

        RecordingConnection *bobPhone = f.connect(bob, 2);
        RecordingConnection *davePhone = f.connect(dave, 3);
        QVERIFY(add(f, f.callerFor(owner), id, {dave}).ok());
        QCOMPARE(davePhone->of(v1::Envelope::kConversation).size(), 1);
        QCOMPARE(davePhone->of(v1::Envelope::kMessage).size(), 1);
        QCOMPARE(davePhone->of(v1::Envelope::kMessage)
                     .at(0)
                     .message()
                     .message()
                     .content()
                     .system()
                     .kind(),
                 v1::SystemEvent::MEMBERS_ADDED);
        QCOMPARE(bobPhone->of(v1::Envelope::kMessage).size(), 1);

        QVERIFY(rename(f, f.callerFor(owner), id, "the team").ok());
        const auto renamed = f.store->conversation(toQString(id), bob);
        QVERIFY(renamed.ok());
        QCOMPARE(renamed->title(), "the team");

        QVERIFY(remove(f, f.callerFor(owner), id, bob).ok());
        QCOMPARE(bobPhone->of(v1::Envelope::kConversationRemoved).size(), 1);
        QCOMPARE(bobPhone->of(v1::Envelope::kConversationRemoved)
                     .at(0)
                     .conversation_removed()
                     .conversation_id(),
                 id);
        // The removal event goes to those still in, not to the removed.
        QCOMPARE(bobPhone->of(v1::Envelope::kMessage).size(), 2);  // added + renamed
        QCOMPARE(davePhone->of(v1::Envelope::kMessage).size(), 3); // added, renamed, removed
        QCOMPARE(f.sendText(f.callerFor(bob), toQString(id), "late", "hello?").error().code,
                 v1::NOT_FOUND);

        QVERIFY(leave(f, f.callerFor(carol), id).ok());
        QCOMPARE(roles(f, f.callerFor(owner), id),
                 (QMap<quint64, v1::Role>{{owner, v1::OWNER}, {dave, v1::MEMBER}}));

        // An owner who leaves hands the group on.
        QVERIFY(leave(f, f.callerFor(owner), id).ok());
        QCOMPARE(roles(f, f.callerFor(dave), id), (QMap<quint64, v1::Role>{{dave, v1::OWNER}}));

        // Every change is in the stream, with contiguous seqs.
        v1::PullRequest pull;
        pull.set_conversation_id(id);
        const auto page = f.messages->pull(f.callerFor(dave), pull);
        QVERIFY(page.ok());
        QCOMPARE(page->messages_size(), 6);
        for (int i = 0; i < page->messages_size(); ++i)
            QCOMPARE(page->messages(i).seq(), quint64(i + 1));
    }

    // Mark read, typing and member lists ask the membership cache, which the
    // committed group changes keep current: no store read per request, and
    // a removed member is refused at once.
    void membershipFollowsGroupChanges()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 carol = f.addUser(QStringLiteral("carol"));
        RecordingConnection *bobLaptop = f.connect(bob, 2);
        const Caller owner = f.callerFor(alice);
        const auto group = create(f, owner, "team", {bob});
        QVERIFY(group.ok());
        const std::string id = group->id();
        const quint64 loadsAfterCreate = f.services->members.loads();

        v1::TypingRequest typing;
        typing.set_conversation_id(id);
        typing.set_typing(true);
        QVERIFY(f.messages->typing(f.callerFor(bob, bobLaptop), typing).ok());
        QCOMPARE(f.messages->typing(f.callerFor(carol), typing).error().code, v1::NOT_FOUND);

        QVERIFY(add(f, owner, id, {carol}).ok());
        QVERIFY(f.messages->typing(f.callerFor(carol), typing).ok());
        QCOMPARE(roles(f, f.callerFor(carol), id).size(), 3);

        QVERIFY(remove(f, owner, id, bob).ok());
        QCOMPARE(f.messages->typing(f.callerFor(bob, bobLaptop), typing).error().code,
                 v1::NOT_FOUND);
        v1::MarkReadRequest read;
        read.set_conversation_id(id);
        read.set_seq(1);
        QCOMPARE(await<Done>([&](QObject *context, auto done) {
                     f.messages->markRead(f.callerFor(bob), read, context, done);
                 })
                     .error()
                     .code,
                 v1::NOT_FOUND);
        QCOMPARE(roles(f, owner, id).keys(), (QList<quint64>{alice, carol}));
        // Every answer above came from the members the changes carried.
        QCOMPARE(f.services->members.loads(), loadsAfterCreate);
    }

    void listMembersOfADirectChat()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        v1::ListMembersRequest list;
        list.set_conversation_id(toStd(directConversationId(alice, bob)));
        QCOMPARE(roles(f, f.callerFor(alice), list.conversation_id()),
                 (QMap<quint64, v1::Role>{{alice, v1::MEMBER}, {bob, v1::MEMBER}}));
    }
};

QTEST_GUILESS_MAIN(TestGroups)
#include "tst_groups.moc"
