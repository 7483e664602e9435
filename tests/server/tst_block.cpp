// Blocking a user through MessageService: the blocked user's sends, ops and
// typing to the blocker's direct chat get exactly the answer of a chat with a
// user that does not exist (so probing tells nothing), a new direct chat with
// the blocker cannot be started, the blocker stops getting their presence and
// typing (in groups too), the block reaches the blocker's other devices and
// their chat state sync, and unblocking restores everything.

#include "service_fixture.h"

#include "kith/conversation_id.h"

#include <QTest>

using namespace kith;
using namespace kith::server;
using namespace kith::server::test;

namespace {

template<class T> v1::ErrorCode codeOf(const Result<T> &r)
{
    return r.ok() ? v1::ERROR_UNSPECIFIED : r.error().code;
}

v1::Content reactionTo(quint64 target, const std::string &emoji)
{
    v1::Content content;
    content.mutable_reaction()->set_target_seq(target);
    content.mutable_reaction()->set_emoji(emoji);
    return content;
}

v1::TypingRequest typingIn(const QString &chat)
{
    v1::TypingRequest request;
    request.set_conversation_id(toStd(chat));
    request.set_typing(true);
    return request;
}

} // namespace

// The presence pushes about `user` a connection got.
QList<v1::PresencePush> presenceOf(const RecordingConnection *connection, quint64 user)
{
    QList<v1::PresencePush> pushes;
    for (const v1::Envelope &envelope : connection->of(v1::Envelope::kPresence))
        if (envelope.presence().user_id() == user)
            pushes.append(envelope.presence());
    return pushes;
}

class TestBlock : public QObject
{
    Q_OBJECT

    static Result<v1::ChatState> block(ServiceFixture &f, const Caller &caller, quint64 user,
                                       bool blocked = true)
    {
        v1::BlockUserRequest request;
        request.set_user_id(user);
        request.set_blocked(blocked);
        return await<v1::ChatState>([&](QObject *context, auto done) {
            f.messages->blockUser(caller, request, context, done);
        });
    }

private slots:
    void aBlockedUserCannotTellABlockFromNobody()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 mallory = f.addUser(QStringLiteral("mallory"));
        const quint64 nobody = 4242; // no such account
        const QString chat = directConversationId(alice, mallory);
        const QString void_ = directConversationId(mallory, nobody);
        QVERIFY(f.sendText(f.callerFor(mallory), chat, "m1", "hello").ok());
        const auto blocked = block(f, f.callerFor(alice), mallory);
        QVERIFY2(blocked.ok(), qPrintable(blocked.ok() ? QString() : blocked.error().message));
        QCOMPARE(blocked->blocked_user_id(), mallory);
        QVERIFY(blocked->blocked());
        QVERIFY(blocked->conversation_id().empty());

        const Caller asMallory = f.callerFor(mallory);
        // A message, an op and typing: word for word what nobody's chat answers.
        const auto toAlice = f.sendText(asMallory, chat, "m2", "let me in");
        const auto toNobody = f.sendText(asMallory, void_, "m3", "anyone?");
        QCOMPARE(codeOf(toAlice), v1::NOT_FOUND);
        QCOMPARE(codeOf(toNobody), v1::NOT_FOUND);
        QCOMPARE(toAlice.error().message, toNobody.error().message);
        const auto opAlice = f.sendContent(asMallory, chat, "o1", reactionTo(1, "\u2B50"));
        const auto opNobody = f.sendContent(asMallory, void_, "o2", reactionTo(1, "\u2B50"));
        QCOMPARE(codeOf(opAlice), v1::NOT_FOUND);
        QCOMPARE(codeOf(opNobody), v1::NOT_FOUND);
        QCOMPARE(opAlice.error().message, opNobody.error().message);
        const Status typeAlice = f.messages->typing(asMallory, typingIn(chat));
        const Status typeNobody = f.messages->typing(asMallory, typingIn(void_));
        QCOMPARE(typeAlice.error().code, v1::NOT_FOUND);
        QCOMPARE(typeNobody.error().code, v1::NOT_FOUND);
        QCOMPARE(typeAlice.error().message, typeNobody.error().message);
        // Nothing was stored.
        QCOMPARE(f.store->conversation(chat, alice)->max_seq(), 1u);

        // A chat that does not exist yet cannot be started either.
        const quint64 carol = f.addUser(QStringLiteral("carol"));
        QVERIFY(block(f, f.callerFor(carol), mallory).ok());
        const auto toCarol =
            f.sendText(asMallory, directConversationId(carol, mallory), "m4", "hi carol");
        QCOMPARE(codeOf(toCarol), v1::NOT_FOUND);
        QCOMPARE(toCarol.error().message, toNobody.error().message);
        QCOMPARE(f.store->conversationsOf(carol)->size(), 0);

        // The blocker still writes; unblocking lets mallory answer again.
        QVERIFY(f.sendText(f.callerFor(alice), chat, "a1", "go away").ok());
        const auto lifted = block(f, f.callerFor(alice), mallory, false);
        QVERIFY(lifted.ok());
        QVERIFY(!lifted->blocked());
        QVERIFY(lifted->version() > blocked->version());
        QVERIFY(f.sendText(asMallory, chat, "m5", "sorry").ok());
        QVERIFY(f.messages->typing(asMallory, typingIn(chat)).ok());
    }

    void theBlockerStopsGettingPresenceAndTyping()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 mallory = f.addUser(QStringLiteral("mallory"));
        QVERIFY(f.sendText(f.callerFor(mallory), directConversationId(alice, mallory), "m1", "hi")
                    .ok());
        QVERIFY(
            f.sendText(f.callerFor(mallory), directConversationId(bob, mallory), "m2", "hi").ok());
        v1::CreateGroupRequest create;
        create.set_name("team");
        create.add_member_user_ids(bob);
        create.add_member_user_ids(mallory);
        const auto group = await<v1::ConversationState>([&](QObject *context, auto done) {
            f.groups->createGroup(f.callerFor(alice), create, context, done);
        });
        QVERIFY(group.ok());
        const QString team = toQString(group->id());
        RecordingConnection *aliceLaptop = f.connect(alice, 1);
        RecordingConnection *alicePhone = f.connect(alice, 2);
        RecordingConnection *bobPhone = f.connect(bob, 3);
        QVERIFY(block(f, f.callerFor(alice, aliceLaptop, 1), mallory).ok());
        // The block reached alice's other device.
        QCOMPARE(alicePhone->of(v1::Envelope::kChatStatePush).size(), 1);
        QCOMPARE(alicePhone->of(v1::Envelope::kChatStatePush)
                     .at(0)
                     .chat_state_push()
                     .state()
                     .blocked_user_id(),
                 mallory);

        // Who blocks mallory is read once (the block dropped what was kept),
        // for her presence, then kept for her typing.
        const quint64 blockerLoads = f.services->members.blockerLoads();
        RecordingConnection *malloryPhone = f.connect(mallory, 4);
        QCOMPARE(presenceOf(bobPhone, mallory).size(), 1);
        QCOMPARE(presenceOf(aliceLaptop, mallory).size(), 0);
        QCOMPARE(presenceOf(alicePhone, mallory).size(), 0);
        QVERIFY(f.messages->typing(f.callerFor(mallory, malloryPhone, 4), typingIn(team)).ok());
        QCOMPARE(bobPhone->of(v1::Envelope::kTypingPush).size(), 1);
        QCOMPARE(aliceLaptop->of(v1::Envelope::kTypingPush).size(), 0);
        QCOMPARE(alicePhone->of(v1::Envelope::kTypingPush).size(), 0);
        QCOMPARE(f.services->members.blockerLoads(), blockerLoads + 1);
        // Mallory still writes to the group (a block is about the blocker's
        // direct chat), and alice still gets it: groups are not filtered.
        QVERIFY(f.sendText(f.callerFor(mallory, malloryPhone, 4), team, "g1", "hello all").ok());
        QCOMPARE(aliceLaptop->of(v1::Envelope::kMessage).size(), 1);

        // Unblocked: presence and typing come again.
        QVERIFY(block(f, f.callerFor(alice, aliceLaptop, 1), mallory, false).ok());
        f.router->detach(malloryPhone);
        QTRY_COMPARE_WITH_TIMEOUT(presenceOf(aliceLaptop, mallory).size(), 1, kWaitMs);
        QVERIFY(!presenceOf(aliceLaptop, mallory).at(0).online());
    }

    void theBlockerSeesNoPresenceInAnswers()
    {
        // Profiles, directory pages and member lists (group and direct) show
        // a blocked user to the blocker as offline, last seen unknown; to
        // everyone else as they are; and again as they are once unblocked.
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 mallory = f.addUser(QStringLiteral("mallory"));
        const QString direct = directConversationId(alice, mallory);
        QVERIFY(f.sendText(f.callerFor(mallory), direct, "m1", "hi").ok());
        v1::CreateGroupRequest create;
        create.set_name("team");
        create.add_member_user_ids(bob);
        create.add_member_user_ids(mallory);
        const auto group = await<v1::ConversationState>([&](QObject *context, auto done) {
            f.groups->createGroup(f.callerFor(alice), create, context, done);
        });
        QVERIFY(group.ok());
        f.connect(mallory, 4);

        auto profileOf = [&](quint64 asker) {
            v1::GetProfileRequest request;
            request.set_user_id(mallory);
            const auto answer = f.users->profile(f.callerFor(asker), request);
            return answer.ok() ? answer->user() : v1::User();
        };
        auto searchedBy = [&](quint64 asker) {
            v1::SearchUsersRequest request;
            request.set_query("mallory");
            const auto answer = f.users->search(f.callerFor(asker), request);
            return answer.ok() && answer->users_size() == 1 ? answer->users(0) : v1::User();
        };
        auto listedIn = [&](const std::string &chat, quint64 asker) {
            v1::ListMembersRequest request;
            request.set_conversation_id(chat);
            const auto answer = f.groups->listMembers(f.callerFor(asker), request);
            if (answer.ok())
                for (const v1::Member &member : answer->members())
                    if (member.user().id() == mallory)
                        return member.user();
            return v1::User();
        };
        auto shown = [](const v1::User &user) { return user.online() || user.last_seen_ms() != 0; };
        const std::string team = group->id();
        QVERIFY(profileOf(alice).online());
        QVERIFY(listedIn(team, alice).online());

        QVERIFY(block(f, f.callerFor(alice), mallory).ok());
        for (const v1::User &user : {profileOf(alice), searchedBy(alice), listedIn(team, alice),
                                     listedIn(toStd(direct), alice)}) {
            QCOMPARE(user.id(), mallory); // still listed, without presence
            QVERIFY(!shown(user));
        }
        QVERIFY(profileOf(bob).online());
        QVERIFY(searchedBy(bob).online());
        QVERIFY(listedIn(team, bob).online());
        QVERIFY(profileOf(mallory).online()); // herself

        QVERIFY(block(f, f.callerFor(alice), mallory, false).ok());
        QVERIFY(profileOf(alice).online());
        QVERIFY(listedIn(team, alice).online());
    }

    void blockingIsSyncedAndRefusedWhereItMakesNoSense()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 mallory = f.addUser(QStringLiteral("mallory"));
        const Caller asAlice = f.callerFor(alice);
        QCOMPARE(codeOf(block(f, asAlice, alice)), v1::INVALID_ARGUMENT); // yourself
        QCOMPARE(codeOf(block(f, asAlice, 0)), v1::INVALID_ARGUMENT);
        QCOMPARE(codeOf(block(f, asAlice, 9999)), v1::NOT_FOUND);
        QCOMPARE(codeOf(block(f, asAlice, ~0ULL)), v1::NOT_FOUND);
        QVERIFY(block(f, asAlice, mallory).ok());
        // In the chat state sync, as a block row.
        v1::ChatStateSyncRequest sync;
        const auto page = f.messages->chatStateSync(asAlice, sync);
        QVERIFY(page.ok());
        QCOMPARE(page->states_size(), 1);
        QCOMPARE(page->states(0).blocked_user_id(), mallory);
        QVERIFY(page->states(0).blocked());
        QCOMPARE(page->version(), 1u);
        // Mallory learns nothing of it from her own chat state.
        QCOMPARE(f.messages->chatStateSync(f.callerFor(mallory), sync)->states_size(), 0);
    }
};

QTEST_GUILESS_MAIN(TestBlock)
#include "tst_block.moc"
