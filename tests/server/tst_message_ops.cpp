// Edits, deletions for everyone and reactions: the rules of domain/message_ops
// on their own (with the clock in the test's hands), then through
// MessageService as a hostile client would use it: someone else's message, a
// chat one is not in, a seq that does not exist, bad emoji, too many
// reactions, the per-user budget; and the pushes every member's devices get.

#include "service_fixture.h"

#include "kith/content.h"
#include "kith/conversation_id.h"
#include "message_ops.h"

#include <QTest>

using namespace kith;
using namespace kith::server;
using namespace kith::server::test;

namespace {

v1::Content editOf(quint64 target, const std::string &text)
{
    v1::Content content;
    content.mutable_edit()->set_target_seq(target);
    content.mutable_edit()->set_text(text);
    return content;
}

v1::Content deletionOf(quint64 target)
{
    v1::Content content;
    content.mutable_delete_()->set_target_seq(target);
    return content;
}

v1::Content reactionTo(quint64 target, const std::string &emoji, bool remove = false)
{
    v1::Content content;
    content.mutable_reaction()->set_target_seq(target);
    content.mutable_reaction()->set_emoji(emoji);
    content.mutable_reaction()->set_remove(remove);
    return content;
}

OpTarget textBy(quint64 author, qint64 sentMs, const std::string &text)
{
    OpTarget target;
    target.senderUserId = author;
    target.serverTimeMs = sentMs;
    target.content.mutable_text()->set_body(text);
    return target;
}

v1::ErrorCode codeOf(const Result<v1::SendAck> &r)
{
    return r.ok() ? v1::ERROR_UNSPECIFIED : r.error().code;
}

constexpr qint64 kHour = 3600 * 1000;

} // namespace

class TestMessageOps : public QObject
{
    Q_OBJECT

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
    // ---- the rules, with the clock given -------------------------------------------------

    void editWindowIsTheAuthors()
    {
        const OpWindows windows; // 48 h edit, unlimited delete
        const OpTarget target = textBy(7, 1000, "typo");
        const auto inTime = applyOperation(target, editOf(1, "fixed"), 7, v1::MEMBER,
                                           1000 + 48 * kHour, 5, windows);
        QVERIFY(inTime.ok());
        QCOMPARE(inTime->target.text().body(), "fixed");
        QCOMPARE(inTime->target.edited_ms(), 1000 + 48 * kHour);
        QCOMPARE(inTime->target.last_op_seq(), 5u);
        const auto late = applyOperation(target, editOf(1, "fixed"), 7, v1::MEMBER,
                                         1001 + 48 * kHour, 5, windows);
        QVERIFY(!late.ok());
        QCOMPARE(late.error().code, v1::EDIT_WINDOW_CLOSED);
        // Deleting one's own has no limit by default; a configured one holds.
        QVERIFY(applyOperation(target, deletionOf(1), 7, v1::MEMBER, 1000 + 900 * kHour, 5, windows)
                    .ok());
        OpWindows strict;
        strict.deleteMs = kHour;
        const auto lateDelete =
            applyOperation(target, deletionOf(1), 7, v1::MEMBER, 1001 + kHour, 5, strict);
        QCOMPARE(lateDelete.error().code, v1::EDIT_WINDOW_CLOSED);
        // ... but not for a group admin, whose deletions are moderation.
        QVERIFY(applyOperation(target, deletionOf(1), 7, v1::ADMIN, 1001 + kHour, 5, strict).ok());
        QVERIFY(applyOperation(target, deletionOf(1), 8, v1::OWNER, 1001 + kHour, 5, strict).ok());
        QCOMPARE(applyOperation(target, deletionOf(1), 8, v1::MEMBER, 1001, 5, strict).error().code,
                 v1::PERMISSION_DENIED);
    }

    void deletionKeepsNothingOfTheTarget()
    {
        OpTarget target = textBy(7, 1000, "secret");
        target.content.set_reply_to_seq(3);
        target.content.set_edited_ms(2000);
        target.content.add_reactions()->set_emoji("\u2B50");
        const auto outcome = applyOperation(target, deletionOf(4), 7, v1::MEMBER, 3000, 9, {});
        QVERIFY(outcome.ok());
        QVERIFY(outcome->deletes);
        v1::Content expected;
        expected.mutable_deleted()->set_deleted_ms(3000);
        expected.mutable_deleted()->set_by_user_id(7);
        expected.set_last_op_seq(9);
        QCOMPARE(outcome->target.SerializeAsString(), expected.SerializeAsString());
    }

    void reactionsMustBeOneEmoji()
    {
        QVERIFY(isSingleEmoji("\U0001F44D"));                                 // thumbs up
        QVERIFY(isSingleEmoji("\U0001F44D\U0001F3FD"));                       // with a skin tone
        QVERIFY(isSingleEmoji("\u2764\uFE0F"));                               // heart, emoji style
        QVERIFY(isSingleEmoji("\U0001F468\u200D\U0001F469\u200D\U0001F467")); // a family
        QVERIFY(isSingleEmoji("\U0001F1EB\U0001F1F7"));                       // a flag
        QVERIFY(isSingleEmoji("1\uFE0F\u20E3"));                              // a keycap
        QVERIFY(!isSingleEmoji(""));
        QVERIFY(!isSingleEmoji("a"));
        QVERIFY(!isSingleEmoji("1"));
        QVERIFY(!isSingleEmoji("ok"));
        QVERIFY(!isSingleEmoji("\U0001F44D\U0001F44D")); // two
        QVERIFY(!isSingleEmoji("\U0001F44D "));
        QVERIFY(!isSingleEmoji("\xF0\x9F\x91")); // cut UTF-8
        QVERIFY(!isSingleEmoji(std::string(10 * 1024, 'x')));
        std::string manyModifiers = "\U0001F44D";
        for (int i = 0; i < 40; ++i)
            manyModifiers += "\uFE0F"; // one cluster, but far too long
        QVERIFY(!isSingleEmoji(manyModifiers));
    }

    // ---- through the service ---------------------------------------------------------------

    void editReactDeleteReachEveryDevice()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        RecordingConnection *aliceLaptop = f.connect(alice, 1);
        RecordingConnection *alicePhone = f.connect(alice, 2);
        RecordingConnection *bobPhone = f.connect(bob, 3);
        const QString chat = directConversationId(alice, bob);
        const Caller fromLaptop = f.callerFor(alice, aliceLaptop, 1);
        QVERIFY(f.sendText(fromLaptop, chat, "m1", "helo").ok());

        const auto edit = f.sendContent(fromLaptop, chat, "e1", editOf(1, "hello"));
        QVERIFY2(edit.ok(), qPrintable(edit.ok() ? QString() : edit.error().message));
        QCOMPARE(edit->seq(), 2u);
        const auto react =
            f.sendContent(f.callerFor(bob, bobPhone, 3), chat, "r1", reactionTo(1, "\U0001F44D"));
        QVERIFY(react.ok());
        const auto gone = f.sendContent(fromLaptop, chat, "d1", deletionOf(1));
        QVERIFY(gone.ok());

        // Every op went to every device but the one that made it, as messages do.
        QCOMPARE(alicePhone->of(v1::Envelope::kMessage).size(), 4);
        QCOMPARE(aliceLaptop->of(v1::Envelope::kMessage).size(), 1);
        const auto bobGot = bobPhone->of(v1::Envelope::kMessage);
        QCOMPARE(bobGot.size(), 3);
        QCOMPARE(bobGot.at(1).message().message().content().edit().text(), "hello");
        QCOMPARE(bobGot.at(2).message().message().content().delete_().target_seq(), 1u);
        // A pull shows the folded target.
        const v1::Message target = pullOne(f, bob, chat, 1);
        QCOMPARE(target.content().kind_case(), v1::Content::kDeleted);
        QCOMPARE(pullOne(f, bob, chat, 2).content().edit().text(), "");
    }

    void hostileOperationsAreRefused()
    {
        MessagePolicy policy;
        policy.opsBurst = 100000; // the budget has its own test
        ServiceFixture f({}, policy);
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 mallory = f.addUser(QStringLiteral("mallory"));
        RecordingConnection *bobPhone = f.connect(bob, 3);
        const QString chat = directConversationId(alice, bob);
        QVERIFY(f.sendText(f.callerFor(alice), chat, "m1", "from alice").ok());
        const Caller asBob = f.callerFor(bob, bobPhone, 3);
        const Caller asMallory = f.callerFor(mallory);

        // Someone else's message, in a chat one is in.
        QCOMPARE(codeOf(f.sendContent(asBob, chat, "x1", editOf(1, "bob was here"))),
                 v1::PERMISSION_DENIED);
        QCOMPARE(codeOf(f.sendContent(asBob, chat, "x2", deletionOf(1))), v1::PERMISSION_DENIED);
        // A chat one is not in, and a seq that does not exist: the same answer.
        const auto probe = f.sendContent(asMallory, chat, "x3", reactionTo(1, "\u2B50"));
        const auto absent = f.sendContent(asBob, chat, "x4", reactionTo(42, "\u2B50"));
        QCOMPARE(codeOf(probe), v1::NOT_FOUND);
        QCOMPARE(codeOf(absent), v1::NOT_FOUND);
        QCOMPARE(probe.error().message, absent.error().message);
        // Bad input.
        QCOMPARE(codeOf(f.sendContent(asBob, chat, "x5", reactionTo(1, "like"))),
                 v1::INVALID_ARGUMENT);
        QCOMPARE(codeOf(f.sendContent(asBob, chat, "x6", reactionTo(1, std::string(10240, 'x')))),
                 v1::INVALID_ARGUMENT);
        QCOMPARE(codeOf(f.sendContent(asBob, chat, "x7", reactionTo(0, "\u2B50"))),
                 v1::INVALID_ARGUMENT);
        QCOMPARE(codeOf(f.sendContent(f.callerFor(alice), chat, "x8", editOf(1, "   "))),
                 v1::INVALID_ARGUMENT);
        v1::Content forged = reactionTo(1, "\u2B50");
        forged.set_edited_ms(1);
        QCOMPARE(codeOf(f.sendContent(asBob, chat, "x9", forged)), v1::INVALID_ARGUMENT);
        v1::Content tombstone;
        tombstone.mutable_deleted()->set_by_user_id(alice);
        QCOMPARE(codeOf(f.sendContent(asBob, chat, "x10", tombstone)), v1::INVALID_ARGUMENT);
        // 1,000 reactions from one user: the distinct ones stop at the limit.
        int accepted = 0;
        int refused = 0;
        for (int i = 0; i < 1000; ++i) {
            const std::u32string one(1, char32_t(0x1F300 + i));
            const std::string emoji = QString::fromUcs4(one.data(), 1).toStdString();
            const auto r =
                f.sendContent(asBob, chat, "many" + std::to_string(i), reactionTo(1, emoji));
            if (r.ok())
                ++accepted;
            else if (r.error().code == v1::TOO_MANY_REACTIONS)
                ++refused;
        }
        QCOMPARE(accepted, kMaxReactionsPerUser);
        QCOMPARE(refused, 1000 - kMaxReactionsPerUser);
        // Nothing refused was stored or pushed: alice's message, then the accepted ones.
        QCOMPARE(pullOne(f, alice, chat, 1).content().reactions_size(), kMaxReactionsPerUser);
        QCOMPARE(f.store->conversation(chat, alice)->max_seq(), quint64(1 + kMaxReactionsPerUser));
    }

    void operationsHaveABudgetPerUser()
    {
        MessagePolicy policy;
        policy.opsPerSecond = 0.001; // none come back within the test
        policy.opsBurst = 5;
        ServiceFixture f({}, policy);
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const QString chat = directConversationId(alice, bob);
        QVERIFY(f.sendText(f.callerFor(alice), chat, "m1", "hi").ok());
        // Two connections of one user share the budget.
        RecordingConnection *one = f.connect(bob, 3);
        RecordingConnection *two = f.connect(bob, 4);
        for (int i = 0; i < 5; ++i) {
            const Caller caller = f.callerFor(bob, i % 2 ? one : two, i % 2 ? 3 : 4);
            QVERIFY(f.sendContent(caller, chat, "t" + std::to_string(i),
                                  reactionTo(1, "\u2B50", i % 2 == 1))
                        .ok());
        }
        const auto over =
            f.sendContent(f.callerFor(bob, one, 3), chat, "t5", reactionTo(1, "\u2B50"));
        QCOMPARE(codeOf(over), v1::RATE_LIMITED);
        QVERIFY(over.error().retryAfterMs > 0);
        // Plain messages are not ops: they go on.
        QVERIFY(f.sendText(f.callerFor(bob, one, 3), chat, "m2", "still here").ok());
        // Another user has a budget of their own.
        QVERIFY(f.sendContent(f.callerFor(alice), chat, "a1", reactionTo(1, "\u2B50")).ok());
    }
};

QTEST_GUILESS_MAIN(TestMessageOps)
#include "tst_message_ops.moc"
