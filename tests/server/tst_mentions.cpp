// Mentions through MessageService: only members may be named (one answer for
// a user who is not a member and one who does not exist; a sender who is not
// in the group learns nothing of its members), a hostile list of 10,000 is
// refused before anything in it is looked up, places must lie in the text,
// a muted member still gets the message that names them, and an edit's
// mentions replace the target's for whoever pulls it later.

#include "service_fixture.h"

#include "kith/content.h"
#include "kith/conversation_id.h"

#include <QTest>

using namespace kith;
using namespace kith::server;
using namespace kith::server::test;

namespace {

v1::Content textMentioning(const std::string &body, const QList<quint64> &users)
{
    v1::Content content;
    content.mutable_text()->set_body(body);
    for (quint64 user : users)
        content.add_mentions()->set_user_id(user);
    return content;
}

v1::ErrorCode codeOf(const Result<v1::SendAck> &r)
{
    return r.ok() ? v1::ERROR_UNSPECIFIED : r.error().code;
}

} // namespace

class TestMentions : public QObject
{
    Q_OBJECT

    struct Team
    {
        quint64 alice = 0, bob = 0, carol = 0;
        QString id;
    };

    // alice (owner) and bob in a group; carol exists and is not in it.
    static Team team(ServiceFixture &f)
    {
        Team t;
        t.alice = f.addUser(QStringLiteral("alice"));
        t.bob = f.addUser(QStringLiteral("bob"));
        t.carol = f.addUser(QStringLiteral("carol"));
        v1::CreateGroupRequest create;
        create.set_name("team");
        create.add_member_user_ids(t.bob);
        const auto group = await<v1::ConversationState>([&](QObject *context, auto done) {
            f.groups->createGroup(f.callerFor(t.alice), create, context, done);
        });
        if (group.ok())
            t.id = toQString(group->id());
        return t;
    }

    static quint64 maxSeqOf(ServiceFixture &f, const QString &chat, quint64 user)
    {
        const auto state = f.store->conversation(chat, user);
        return state.ok() ? state->max_seq() : 0;
    }

    static v1::Message pullOne(ServiceFixture &f, quint64 user, const QString &chat, quint64 seq)
    {
        v1::PullRequest request;
        request.set_conversation_id(toStd(chat));
        request.set_from_seq(seq);
        request.set_to_seq(seq);
        request.set_limit(1);
        const auto page = f.messages->pull(f.callerFor(user), request);
        return page.ok() && page->messages_size() == 1 ? page->messages(0) : v1::Message();
    }

private slots:
    void onlyMembersCanBeMentioned()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const Team t = team(f);
        QVERIFY(!t.id.isEmpty());
        const quint64 before = maxSeqOf(f, t.id, t.alice);

        const auto ok = f.sendContent(f.callerFor(t.alice), t.id, "m1",
                                      textMentioning("@bob and me", {t.bob, t.alice}));
        QVERIFY2(ok.ok(), qPrintable(ok.ok() ? QString() : ok.error().message));

        // Not a member, and no such user: one answer, word for word.
        const auto outsider =
            f.sendContent(f.callerFor(t.alice), t.id, "m2", textMentioning("@carol", {t.carol}));
        const auto nobody =
            f.sendContent(f.callerFor(t.alice), t.id, "m3", textMentioning("@who", {987654321}));
        QCOMPARE(codeOf(outsider), v1::INVALID_ARGUMENT);
        QCOMPARE(codeOf(nobody), v1::INVALID_ARGUMENT);
        QCOMPARE(outsider.error().message, nobody.error().message);
        // One bad name among good ones refuses the message.
        QCOMPARE(codeOf(f.sendContent(f.callerFor(t.alice), t.id, "m4",
                                      textMentioning("@bob @carol", {t.bob, t.carol}))),
                 v1::INVALID_ARGUMENT);
        QCOMPARE(maxSeqOf(f, t.id, t.alice), before + 1);

        // carol, not in the group, probing whether bob is: the answer of a
        // send there without mentions, and of a group that does not exist.
        const auto probe =
            f.sendContent(f.callerFor(t.carol), t.id, "p1", textMentioning("@bob", {t.bob}));
        const auto plain = f.sendText(f.callerFor(t.carol), t.id, "p2", "hello?");
        const auto nowhere = f.sendContent(f.callerFor(t.carol), QStringLiteral("g:4242"), "p3",
                                           textMentioning("@bob", {t.bob}));
        QCOMPARE(codeOf(probe), v1::NOT_FOUND);
        QCOMPARE(codeOf(plain), v1::NOT_FOUND);
        QCOMPARE(codeOf(nowhere), v1::NOT_FOUND);
        QCOMPARE(probe.error().message, plain.error().message);
        QCOMPARE(probe.error().message, nowhere.error().message);

        // A direct chat's members are its two users.
        const QString direct = directConversationId(t.alice, t.bob);
        QVERIFY(f.sendContent(f.callerFor(t.alice), direct, "d1", textMentioning("@bob", {t.bob}))
                    .ok());
        QCOMPARE(codeOf(f.sendContent(f.callerFor(t.alice), direct, "d2",
                                      textMentioning("@carol", {t.carol}))),
                 v1::INVALID_ARGUMENT);
    }

    void hostileMentionListsAreRefused()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const Team t = team(f);
        QVERIFY(!t.id.isEmpty());
        const Caller asAlice = f.callerFor(t.alice);
        // Warm the member list the checks use, then count the store reads.
        QVERIFY(f.sendContent(asAlice, t.id, "w1", textMentioning("@bob", {t.bob})).ok());
        const quint64 loads = f.services->members.loads();
        const quint64 before = maxSeqOf(f, t.id, t.alice);

        // 10,000 mentions (about 60 KB, under the frame limit): refused on
        // their count, before any of them is looked up.
        QList<quint64> many;
        for (int i = 0; i < 10'000; ++i)
            many.append(1'000'000 + quint64(i));
        const auto flood = f.sendContent(asAlice, t.id, "h1", textMentioning("@all", many));
        QCOMPARE(codeOf(flood), v1::INVALID_ARGUMENT);
        QVERIFY(flood.error().message.contains(QString::number(kMaxMentions)));
        // At the bound and one past it (the same member named again counts).
        const QList<quint64> atBound(kMaxMentions, t.bob);
        QVERIFY(f.sendContent(asAlice, t.id, "h2", textMentioning("@bob", atBound)).ok());
        QCOMPARE(
            codeOf(f.sendContent(asAlice, t.id, "h3",
                                 textMentioning("@bob", QList<quint64>(kMaxMentions + 1, t.bob)))),
            v1::INVALID_ARGUMENT);
        QCOMPARE(f.services->members.loads(), loads);

        // Places outside the text or inside a character, user 0, and
        // mentions on what has no text.
        v1::Content past = textMentioning("@bob", {t.bob});
        past.mutable_mentions(0)->set_offset(1);
        past.mutable_mentions(0)->set_length(4000000000u);
        QCOMPARE(codeOf(f.sendContent(asAlice, t.id, "b1", past)), v1::INVALID_ARGUMENT);
        v1::Content split = textMentioning("\xC3\xA9@bob", {t.bob}); // é@bob
        split.mutable_mentions(0)->set_offset(1);
        split.mutable_mentions(0)->set_length(4);
        QCOMPARE(codeOf(f.sendContent(asAlice, t.id, "b2", split)), v1::INVALID_ARGUMENT);
        split.mutable_mentions(0)->set_offset(2);
        QVERIFY(f.sendContent(asAlice, t.id, "b3", split).ok()); // "@bob", whole characters
        QCOMPARE(codeOf(f.sendContent(asAlice, t.id, "b4", textMentioning("@0", {0}))),
                 v1::INVALID_ARGUMENT);
        v1::Content reaction;
        reaction.mutable_reaction()->set_target_seq(before);
        reaction.mutable_reaction()->set_emoji("\u2B50");
        reaction.add_mentions()->set_user_id(t.bob);
        QCOMPARE(codeOf(f.sendContent(asAlice, t.id, "b5", reaction)), v1::INVALID_ARGUMENT);
        QCOMPARE(maxSeqOf(f, t.id, t.alice), before + 2); // h2 and b3 only
    }

    void aMutedMemberGetsTheMessageThatNamesThem()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const Team t = team(f);
        QVERIFY(!t.id.isEmpty());
        RecordingConnection *bobPhone = f.connect(t.bob, 3);
        v1::SetChatStateRequest mute;
        mute.set_conversation_id(toStd(t.id));
        mute.set_mute_until_ms(kMutedForever);
        QVERIFY(await<v1::ChatState>([&](QObject *context, auto done) {
                    f.messages->setChatState(f.callerFor(t.bob, bobPhone, 3), mute, context, done);
                }).ok());

        QVERIFY(f.sendText(f.callerFor(t.alice), t.id, "m1", "for everyone").ok());
        QVERIFY(
            f.sendContent(f.callerFor(t.alice), t.id, "m2", textMentioning("@bob", {t.bob})).ok());
        // Muting is the clients' business: both are pushed, the second says
        // it names bob, so his client notifies for it despite the mute.
        const auto pushes = bobPhone->of(v1::Envelope::kMessage);
        QCOMPARE(pushes.size(), 2);
        QVERIFY(!mentionsUser(pushes.at(0).message().message().content(), t.bob));
        QVERIFY(mentionsUser(pushes.at(1).message().message().content(), t.bob));
        QVERIFY(!mentionsUser(pushes.at(1).message().message().content(), t.alice));
    }

    void aDeviceThatWasAwayPullsTheMentionsAsTheyAreNow()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const Team t = team(f);
        QVERIFY(!t.id.isEmpty());
        const Caller asAlice = f.callerFor(t.alice);
        QVERIFY(f.sendText(asAlice, t.id, "m1", "hi all").ok());
        QVERIFY(f.sendContent(asAlice, t.id, "m2", textMentioning("@bob see this", {t.bob})).ok());
        const quint64 plain = 2, named = 3; // after the group's creation event

        // An edit names bob in the first, another takes him out of the second.
        v1::Content addBob;
        addBob.mutable_edit()->set_target_seq(plain);
        addBob.mutable_edit()->set_text("hi all, @bob too");
        addBob.add_mentions()->set_user_id(t.bob);
        QVERIFY(f.sendContent(asAlice, t.id, "e1", addBob).ok());
        v1::Content dropBob;
        dropBob.mutable_edit()->set_target_seq(named);
        dropBob.mutable_edit()->set_text("see this");
        QVERIFY(f.sendContent(asAlice, t.id, "e2", dropBob).ok());
        // A mention of someone else's message cannot be edited in by bob.
        v1::Content hijack = addBob;
        hijack.mutable_edit()->set_target_seq(named);
        QCOMPARE(codeOf(f.sendContent(f.callerFor(t.bob), t.id, "x1", hijack)),
                 v1::PERMISSION_DENIED);

        // bob's device pulls afterwards: the targets as they are now.
        QVERIFY(mentionsUser(pullOne(f, t.bob, t.id, plain).content(), t.bob));
        QVERIFY(!mentionsUser(pullOne(f, t.bob, t.id, named).content(), t.bob));
        QCOMPARE(pullOne(f, t.bob, t.id, plain).content().text().body(), "hi all, @bob too");
    }
};

QTEST_GUILESS_MAIN(TestMentions)
#include "tst_mentions.moc"
