// Pins, and one user's own chat state (mute, archive, delete for me) through
// MessageService: the answer is the row as committed, the user's other
// connections get it pushed (and nobody else does), a device that was away
// catches up by version, and a hostile client's probes all read as "not
// found" or bad input.

#include "service_fixture.h"

#include "kith/conversation_id.h"

#include <QTest>

using namespace kith;
using namespace kith::server;
using namespace kith::server::test;

namespace {

v1::ErrorCode codeOf(const Result<v1::ChatState> &r)
{
    return r.ok() ? v1::ERROR_UNSPECIFIED : r.error().code;
}

v1::SetChatStateRequest muteUntil(const QString &chat, qint64 untilMs)
{
    v1::SetChatStateRequest request;
    request.set_conversation_id(toStd(chat));
    request.set_mute_until_ms(untilMs);
    return request;
}

v1::SetChatStateRequest archive(const QString &chat, bool archived)
{
    v1::SetChatStateRequest request;
    request.set_conversation_id(toStd(chat));
    request.set_archived(archived);
    return request;
}

v1::SetChatStateRequest hide(const QString &chat, quint64 seq)
{
    v1::SetChatStateRequest request;
    request.set_conversation_id(toStd(chat));
    request.set_hide_seq(seq);
    return request;
}

} // namespace

class TestChatState : public QObject
{
    Q_OBJECT

    static Result<v1::ChatState> change(ServiceFixture &f, const Caller &caller,
                                        const v1::SetChatStateRequest &request)
    {
        return await<v1::ChatState>([&](QObject *context, auto done) {
            f.messages->setChatState(caller, request, context, done);
        });
    }

    static v1::ChatStateSyncResponse since(ServiceFixture &f, quint64 user, quint64 version,
                                           quint32 limit = 0)
    {
        v1::ChatStateSyncRequest request;
        request.set_after_version(version);
        request.set_limit(limit);
        const auto page = f.messages->chatStateSync(f.callerFor(user), request);
        return page.ok() ? *page : v1::ChatStateSyncResponse();
    }

private slots:
    void changesReachTheUsersOtherDevicesOnly()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const QString chat = directConversationId(alice, bob);
        QVERIFY(f.sendText(f.callerFor(bob), chat, "m1", "noisy").ok());
        RecordingConnection *laptop = f.connect(alice, 1);
        RecordingConnection *phone = f.connect(alice, 2);
        RecordingConnection *bobPhone = f.connect(bob, 3);

        const auto muted = change(f, f.callerFor(alice, laptop, 1), muteUntil(chat, -1));
        QVERIFY2(muted.ok(), qPrintable(muted.ok() ? QString() : muted.error().message));
        QCOMPARE(muted->muted_until_ms(), -1);
        QCOMPARE(muted->conversation_id(), toStd(chat));
        const auto hidden = change(f, f.callerFor(alice, phone, 2), hide(chat, 1));
        QVERIFY(hidden.ok());
        QCOMPARE(hidden->hidden_seq(), 1u);

        // Each change went to the other device, none to the one that made it
        // (it has the answer), and nothing to bob.
        const auto onPhone = phone->of(v1::Envelope::kChatStatePush);
        QCOMPARE(onPhone.size(), 1);
        QCOMPARE(onPhone.at(0).chat_state_push().state().muted_until_ms(), -1);
        const auto onLaptop = laptop->of(v1::Envelope::kChatStatePush);
        QCOMPARE(onLaptop.size(), 1);
        QCOMPARE(onLaptop.at(0).chat_state_push().state().hidden_seq(), 1u);
        QCOMPARE(bobPhone->of(v1::Envelope::kChatStatePush).size(), 0);
        // Delete for me hides nothing from bob.
        v1::PullRequest pull;
        pull.set_conversation_id(toStd(chat));
        const auto page = f.messages->pull(f.callerFor(bob), pull);
        QVERIFY(page.ok());
        QCOMPARE(page->messages(0).content().text().body(), "noisy");
    }

    void aDeviceThatWasAwayCatchesUpByVersion()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const QString chat = directConversationId(alice, bob);
        QVERIFY(f.sendText(f.callerFor(bob), chat, "m1", "one").ok());
        QVERIFY(f.sendText(f.callerFor(bob), chat, "m2", "two").ok());
        const Caller laptop = f.callerFor(alice);
        // The phone saw the first change, then went away.
        const auto first = change(f, laptop, archive(chat, true));
        QVERIFY(first.ok());
        const quint64 phoneHolds = first->version();
        QVERIFY(change(f, laptop, muteUntil(chat, 4'000'000'000'000)).ok());
        QVERIFY(change(f, laptop, hide(chat, 2)).ok());
        QVERIFY(change(f, laptop, archive(chat, false)).ok());

        // It asks for what changed after its version, a page at a time.
        v1::ChatStateSyncResponse page = since(f, alice, phoneHolds, 1);
        QCOMPARE(page.states_size(), 1);
        QVERIFY(page.has_more());
        QCOMPARE(page.states(0).hidden_seq(), 2u);
        page = since(f, alice, page.version(), 1);
        QCOMPARE(page.states_size(), 1);
        QVERIFY(!page.has_more());
        QCOMPARE(page.states(0).hidden_seq(), 0u);
        QCOMPARE(page.states(0).muted_until_ms(), 4'000'000'000'000);
        QVERIFY(!page.states(0).archived());
        const quint64 latest = page.version();
        page = since(f, alice, latest);
        QCOMPARE(page.states_size(), 0);
        QVERIFY(!page.has_more());
        QCOMPARE(page.version(), latest); // nothing new: the version stays
        // Bob's state is his own.
        QCOMPARE(since(f, bob, 0).states_size(), 0);
    }

    void hostileChatStateRequestsAreRefused()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 mallory = f.addUser(QStringLiteral("mallory"));
        const QString chat = directConversationId(alice, bob);
        QVERIFY(f.sendText(f.callerFor(alice), chat, "m1", "private").ok());
        const Caller asMallory = f.callerFor(mallory);
        const Caller asBob = f.callerFor(bob);

        // Not a member, no such seq, no such chat: one answer each way.
        const auto probe = change(f, asMallory, hide(chat, 1));
        const auto absent = change(f, asBob, hide(chat, 99));
        QCOMPARE(codeOf(probe), v1::NOT_FOUND);
        QCOMPARE(codeOf(absent), v1::NOT_FOUND);
        QCOMPARE(probe.error().message, absent.error().message);
        const auto strangersMute = change(f, asMallory, muteUntil(chat, -1));
        const auto nowhereMute = change(f, asBob, muteUntil(QStringLiteral("g:4242"), -1));
        QCOMPARE(codeOf(strangersMute), v1::NOT_FOUND);
        QCOMPARE(codeOf(nowhereMute), v1::NOT_FOUND);
        QCOMPARE(strangersMute.error().message, nowhereMute.error().message);
        // Bad input.
        QCOMPARE(codeOf(change(f, asBob, muteUntil(chat, -2))), v1::INVALID_ARGUMENT);
        QCOMPARE(codeOf(change(f, asBob, hide(chat, 0))), v1::INVALID_ARGUMENT);
        v1::SetChatStateRequest nothing;
        nothing.set_conversation_id(toStd(chat));
        QCOMPARE(codeOf(change(f, asBob, nothing)), v1::INVALID_ARGUMENT);
        QCOMPARE(codeOf(change(f, asBob, muteUntil(QStringLiteral("not an id"), -1))),
                 v1::INVALID_ARGUMENT);
        // The largest seq the wire can carry is "no such message", not a fault.
        QCOMPARE(codeOf(change(f, asBob, hide(chat, ~0ULL))), v1::NOT_FOUND);
        // Nothing refused was stored, and a huge page is clamped.
        QCOMPARE(since(f, bob, 0, 1u << 31).states_size(), 0);
        QCOMPARE(since(f, mallory, 0).states_size(), 0);
    }
};

QTEST_GUILESS_MAIN(TestChatState)
#include "tst_chat_state.moc"
