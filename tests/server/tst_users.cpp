// UserService and PresenceService: directory search, profiles, display names,
// online flags and presence pushes to those who share a conversation.

#include "service_fixture.h"

#include <QSet>
#include <QTest>

using namespace kith;
using namespace kith::server;
using namespace kith::server::test;

class TestUsers : public QObject
{
    Q_OBJECT

private slots:
    void searchAndProfile()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        f.addUser(QStringLiteral("alicia"));
        f.addUser(QStringLiteral("bob"));
        f.connect(alice, 1);

        v1::SearchUsersRequest search;
        search.set_query("ALI");
        auto found = f.users->search(f.callerFor(alice), search);
        QVERIFY(found.ok());
        QCOMPARE(found->users_size(), 2);
        for (const v1::User &user : found->users())
            QCOMPARE(user.online(), user.id() == alice);
        search.set_limit(1);
        found = f.users->search(f.callerFor(alice), search);
        QVERIFY(found.ok());
        QCOMPARE(found->users_size(), 1);
        // A blank query lists the whole directory.
        search.set_query("  ");
        search.set_limit(0);
        found = f.users->search(f.callerFor(alice), search);
        QVERIFY(found.ok());
        QCOMPARE(found->users_size(), 3);
        QVERIFY(!found->has_more());

        v1::GetProfileRequest byName;
        byName.set_username("Bob");
        const auto bob = f.users->profile(f.callerFor(alice), byName);
        QVERIFY(bob.ok());
        QCOMPARE(bob->user().username(), "bob");
        QVERIFY(!bob->user().online());
        v1::GetProfileRequest byId;
        byId.set_user_id(alice);
        const auto self = f.users->profile(f.callerFor(alice), byId);
        QVERIFY(self.ok());
        QVERIFY(self->user().online());
        byId.set_user_id(4040);
        QCOMPARE(f.users->profile(f.callerFor(alice), byId).error().code, v1::NOT_FOUND);
        QCOMPARE(f.users->profile(f.callerFor(alice), v1::GetProfileRequest()).error().code,
                 v1::INVALID_ARGUMENT);
    }

    // docs/protocol.md: a search query of 1..64 characters, 20 results by
    // default and at most 100; disabled accounts are not listed.
    void searchIsBounded()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        QObject context;
        int made = 0;
        for (int i = 0; i < 105; ++i)
            f.store->createUser(QStringLiteral("member%1").arg(i, 3, 10, QLatin1Char('0')), {},
                                QByteArray("not-a-hash"), &context,
                                [&made](Result<UserRecord> user) { made += user.ok() ? 1 : 0; });
        QTRY_COMPARE_WITH_TIMEOUT(made, 105, kWaitMs);
        const Caller caller = f.callerFor(f.addUser(QStringLiteral("asker")));

        v1::SearchUsersRequest search;
        search.set_query("member");
        auto found = f.users->search(caller, search);
        QVERIFY(found.ok());
        QCOMPARE(found->users_size(), 20);
        search.set_limit(1000);
        found = f.users->search(caller, search);
        QVERIFY(found.ok());
        QCOMPARE(found->users_size(), 100);

        search.set_query(std::string(64, 'q'));
        QVERIFY(f.users->search(caller, search).ok());
        search.set_query(std::string(65, 'q'));
        QCOMPARE(f.users->search(caller, search).error().code, v1::INVALID_ARGUMENT);

        const Result<UserRecord> hidden = f.store->userByName(QStringLiteral("member042"));
        QVERIFY(hidden.ok());
        const Status disabled = await<Done>(
            [&](QObject *ctx, auto done) { f.store->setDisabled(hidden->id, true, ctx, done); });
        QVERIFY(disabled.ok());
        search.set_query("member042");
        found = f.users->search(caller, search);
        QVERIFY(found.ok());
        QCOMPARE(found->users_size(), 0);
    }

    // docs/protocol.md: the directory in pages of at most 100, with a cursor
    // the server made; a walk sees everyone once, hidden accounts never.
    void directoryPagesWalkEveryoneOnce()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        QObject context;
        int made = 0;
        for (int i = 0; i < 250; ++i)
            f.store->createUser(QStringLiteral("p%1").arg(i, 3, 10, QLatin1Char('0')), {},
                                QByteArray("not-a-hash"), &context,
                                [&made](Result<UserRecord> user) { made += user.ok() ? 1 : 0; });
        QTRY_COMPARE_WITH_TIMEOUT(made, 250, kWaitMs);
        const Result<UserRecord> hidden = f.store->userByName(QStringLiteral("p100"));
        QVERIFY(hidden.ok());
        QVERIFY(await<Done>([&](QObject *ctx, auto done) {
                    f.store->setHidden(hidden->id, true, ctx, done);
                }).ok());
        const Caller caller = f.callerFor(f.addUser(QStringLiteral("asker")));

        v1::SearchUsersRequest search;
        search.set_query("p");
        search.set_limit(1000); // clamped to 100
        QSet<quint64> seen;
        int pages = 0;
        for (bool more = true; more; ++pages) {
            QVERIFY(pages < 10);
            const auto page = f.users->search(caller, search);
            QVERIFY2(page.ok(), qPrintable(page.ok() ? QString() : page.error().message));
            QVERIFY(page->users_size() <= 100);
            for (const v1::User &user : page->users()) {
                QVERIFY2(!seen.contains(user.id()), user.username().c_str());
                QVERIFY(user.id() != hidden->id);
                seen.insert(user.id());
            }
            more = page->has_more();
            QCOMPARE(page->next_page().empty(), !more);
            search.set_page_after(page->next_page());
        }
        QCOMPARE(pages, 3);
        QCOMPARE(seen.size(), 249); // p000..p249 but the hidden one
    }

    // A hostile client's cursors: made up, too long, of another shape.
    void directoryCursorsAreTheServers()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const Caller caller = f.callerFor(f.addUser(QStringLiteral("asker")));
        v1::SearchUsersRequest search;
        search.set_query("a");
        for (const std::string &bad :
             {std::string(10 * 1024, 'x'), std::string("2:asker"), std::string("1:"),
              std::string("1:Asker"), std::string("0:a b"), std::string("1:asker%")}) {
            search.set_page_after(bad);
            QCOMPARE(f.users->search(caller, search).error().code, v1::INVALID_ARGUMENT);
        }
        // A well-formed cursor past the end is an empty last page.
        search.set_page_after("0:zzz");
        const auto end = f.users->search(caller, search);
        QVERIFY(end.ok());
        QCOMPARE(end->users_size(), 0);
        QVERIFY(!end->has_more());
    }

    void setDisplayName()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const auto set = [&](const std::string &name) {
            v1::SetDisplayNameRequest request;
            request.set_display_name(name);
            return await<v1::UserProfile>([&](QObject *context, auto done) {
                f.users->setDisplayName(f.callerFor(alice), request, context, done);
            });
        };
        const auto renamed = set("  Alice Liddell ");
        QVERIFY(renamed.ok());
        QCOMPARE(renamed->user().display_name(), "Alice Liddell");
        QCOMPARE(f.store->userById(alice)->displayName, QStringLiteral("Alice Liddell"));
        QCOMPARE(set("").error().code, v1::INVALID_ARGUMENT);
        QCOMPARE(set(std::string(kMaxDisplayNameChars + 1, 'a')).error().code,
                 v1::INVALID_ARGUMENT);
        QCOMPARE(set("bell\a").error().code, v1::INVALID_ARGUMENT);
    }

    void presenceGoesToContactsOnly()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 stranger = f.addUser(QStringLiteral("stranger"));
        QVERIFY(f.sendText(f.callerFor(alice), directConversationId(alice, bob), "p1", "hi").ok());
        RecordingConnection *bobPhone = f.connect(bob, 2);
        RecordingConnection *strangerPhone = f.connect(stranger, 3);

        RecordingConnection *aliceLaptop = f.connect(alice, 1);
        QCOMPARE(bobPhone->of(v1::Envelope::kPresence).size(), 1);
        QVERIFY(bobPhone->of(v1::Envelope::kPresence).at(0).presence().online());
        QCOMPARE(bobPhone->of(v1::Envelope::kPresence).at(0).presence().user_id(), alice);
        QVERIFY(f.presence->isOnline(alice));

        // A second connection is not news; losing one of two is not either.
        RecordingConnection *alicePhone = f.connect(alice, 4);
        f.router->detach(aliceLaptop);
        QCOMPARE(bobPhone->of(v1::Envelope::kPresence).size(), 1);
        f.router->detach(alicePhone);
        QCOMPARE(bobPhone->of(v1::Envelope::kPresence).size(), 2);
        QVERIFY(!bobPhone->of(v1::Envelope::kPresence).at(1).presence().online());
        QVERIFY(!f.presence->isOnline(alice));
        QVERIFY(f.presence->lastSeenMs(alice) > 0);
        QCOMPARE(strangerPhone->of(v1::Envelope::kPresence).size(), 0);
    }

    // A user whose connections come and go in a loop: after a few changes
    // told at once, contacts hear of it at most every two seconds, and the
    // state they end with is the user's.
    void flappingPresenceIsCoalesced()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        QVERIFY(f.sendText(f.callerFor(alice), directConversationId(alice, bob), "p1", "hi").ok());
        RecordingConnection *bobPhone = f.connect(bob, 2);
        for (int i = 0; i < 50; ++i)
            f.router->detach(f.connect(alice, 1));
        // Four changes told at once; the other 96 are coalesced away (the
        // contacts were last told "offline", which is so).
        QCOMPARE(bobPhone->of(v1::Envelope::kPresence).size(), PresenceService::kBurst);
        QVERIFY(!bobPhone->of(v1::Envelope::kPresence).last().presence().online());
        // Back online for good: told once the budget allows.
        f.connect(alice, 1);
        QCOMPARE(bobPhone->of(v1::Envelope::kPresence).size(), PresenceService::kBurst);
        QTRY_COMPARE_WITH_TIMEOUT(bobPhone->of(v1::Envelope::kPresence).size(),
                                  PresenceService::kBurst + 1, kWaitMs);
        QVERIFY(bobPhone->of(v1::Envelope::kPresence).last().presence().online());
    }

    // With a grace: going away and coming back within it (a reconnect, a
    // move to another node) tells the contacts nothing; staying away past it
    // tells them once, with the time the last connection went.
    void awayWithinTheGraceIsNotTold()
    {
        ServiceFixture f({}, {}, {}, 200);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        QVERIFY(f.sendText(f.callerFor(alice), directConversationId(alice, bob), "p1", "hi").ok());
        RecordingConnection *bobPhone = f.connect(bob, 2);
        f.router->detach(f.connect(alice, 1));
        QCOMPARE(bobPhone->of(v1::Envelope::kPresence).size(), 1); // online, at once
        // Away: still online to everyone until the grace has passed.
        QVERIFY(f.presence->isOnline(alice));
        QVERIFY(f.presence->lastSeenMs(alice) > 0);
        // Back, away again, back: nothing told.
        RecordingConnection *aliceAgain = f.connect(alice, 1);
        f.router->detach(aliceAgain);
        RecordingConnection *aliceLast = f.connect(alice, 3);
        QVERIFY(f.presence->isOnline(alice));
        QCOMPARE(bobPhone->of(v1::Envelope::kPresence).size(), 1);
        // Away for good: told once, when the grace has passed.
        f.router->detach(aliceLast);
        const qint64 left = f.presence->lastSeenMs(alice);
        QTRY_COMPARE_WITH_TIMEOUT(bobPhone->of(v1::Envelope::kPresence).size(), 2, kWaitMs);
        const v1::PresencePush gone = bobPhone->of(v1::Envelope::kPresence).at(1).presence();
        QVERIFY(!gone.online());
        QCOMPARE(gone.last_seen_ms(), left);
        QVERIFY(!f.presence->isOnline(alice));
    }

    // The contacts a user's presence goes to are kept from committed events:
    // a first direct message and a group change show at once, with no store
    // read of their own.
    void presenceContactsFollowNewChats()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 carol = f.addUser(QStringLiteral("carol"));
        RecordingConnection *bobPhone = f.connect(bob, 2);
        RecordingConnection *carolPhone = f.connect(carol, 3);
        RecordingConnection *aliceLaptop = f.connect(alice, 1); // nobody to tell yet
        f.router->detach(aliceLaptop);
        QCOMPARE(bobPhone->of(v1::Envelope::kPresence).size(), 0);
        const quint64 loads = f.services->members.loads();

        QVERIFY(f.sendText(f.callerFor(alice), directConversationId(alice, bob), "c1", "hi").ok());
        aliceLaptop = f.connect(alice, 1);
        QCOMPARE(bobPhone->of(v1::Envelope::kPresence).size(), 1);
        QCOMPARE(carolPhone->of(v1::Envelope::kPresence).size(), 0);
        QCOMPARE(f.services->members.loads(), loads);

        f.router->detach(aliceLaptop);
        v1::CreateGroupRequest create;
        create.set_name("pair");
        create.add_member_user_ids(carol);
        QVERIFY(await<v1::ConversationState>([&](QObject *context, auto done) {
                    f.groups->createGroup(f.callerFor(alice), create, context, done);
                }).ok());
        // Alice's fifth change in a moment: past the presence burst, so it
        // is told when the budget allows, with the state as it is then.
        aliceLaptop = f.connect(alice, 1);
        QTRY_COMPARE_WITH_TIMEOUT(carolPhone->of(v1::Envelope::kPresence).size(), 1,
                                  10 * PresenceService::kIntervalMs);
        QVERIFY(carolPhone->of(v1::Envelope::kPresence).at(0).presence().online());
    }
};

QTEST_GUILESS_MAIN(TestUsers)
#include "tst_users.moc"
