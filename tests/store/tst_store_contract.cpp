// The Store contract: what every backend promises, run against each backend
// of storeBackends() (SQLite, and any other added there): contiguous seqs
// under concurrency, idempotent client ids across a reopen, replies, pulls and
// their bounds, read markers, membership, groups and their rules, users,
// devices and revocation, completions, shutdown.

#include "store_backends.h"
#include "store_test_base.h"

#include <QScopeGuard>
#include <QSemaphore>
#include <QSet>
#include <QThread>

#include <algorithm>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

using namespace kith;
using namespace kith::server;
using namespace kith::server::test;

class TestStoreContract : public StoreTestBase
{
    Q_OBJECT

    std::unique_ptr<BackendUnderTest> m_backend;

    void reopen()
    {
        m_store.reset();
        m_store = m_backend->open();
        QVERIFY(m_store);
        const Status opened = m_store->open();
        QVERIFY2(opened.ok(), qPrintable(opened.ok() ? QString() : opened.error().message));
    }

private slots:
    // KITH_STORE_BACKEND=name runs one backend only (CTest runs each apart,
    // so that one skipped for want of its engine does not hide the others).
    void initTestCase_data()
    {
        QTest::addColumn<int>("backend");
        const QByteArray only = qgetenv("KITH_STORE_BACKEND");
        for (int i = 0; i < int(storeBackends().size()); ++i) {
            const char *name = storeBackends()[size_t(i)].name;
            if (only.isEmpty() || only == name)
                QTest::newRow(name) << i;
        }
    }

    void init()
    {
        QFETCH_GLOBAL(int, backend);
        QString whyNot;
        m_backend = storeBackends()[size_t(backend)].make(&whyNot);
        if (!m_backend)
            QSKIP(qPrintable(whyNot));
        reopen();
    }

    void cleanup()
    {
        m_store.reset();
        m_backend.reset();
    }

    // ---- messages ----------------------------------------------------------------------------

    void seqsAreContiguousUnderConcurrentWriters()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        const auto created = group(alice.id, QStringLiteral("team"), {bob.id});
        QVERIFY(created.ok());
        const QString team = QString::fromStdString(created->state.id());

        constexpr int kThreads = 4;
        constexpr int kPerThread = 150;
        QList<AppendResult> results;
        int failures = 0;
        QObject receiver; // after what its completions use: it goes first, and they with it
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < kPerThread; ++i) {
                    AppendRequest request;
                    request.conversationId = (i % 2) ? direct : team;
                    request.senderUserId = (t % 2) ? alice.id : bob.id;
                    request.senderDeviceId = quint64(t + 1);
                    request.clientMsgId = QStringLiteral("t%1-%2").arg(t).arg(i).toStdString();
                    request.content = text(QStringLiteral("message %1 from %2").arg(i).arg(t));
                    m_store->appendMessage(request, &receiver, [&](Result<AppendResult> r) {
                        if (r.ok())
                            results.append(*r);
                        else
                            ++failures;
                    });
                }
            });
        }
        for (auto &thread : threads)
            thread.join();
        QTRY_COMPARE_WITH_TIMEOUT(results.size() + failures, kThreads * kPerThread, kWaitMs);
        QCOMPARE(failures, 0);

        std::set<quint64> serverIds;
        QMap<QString, std::set<quint64>> seqs;
        for (const AppendResult &r : results) {
            QVERIFY(!r.duplicate);
            serverIds.insert(r.message.server_id());
            seqs[QString::fromStdString(r.message.conversation_id())].insert(r.message.seq());
        }
        QCOMPARE(int(serverIds.size()), kThreads * kPerThread);
        const int directCount = kThreads * kPerThread / 2;
        const int teamCount = kThreads * kPerThread / 2 + 1; // plus GROUP_CREATED at seq 1
        QCOMPARE(int(seqs[direct].size()), directCount);
        QCOMPARE(*seqs[direct].begin(), 1u);
        QCOMPARE(*seqs[direct].rbegin(), quint64(directCount));
        QCOMPARE(int(seqs[team].size()), teamCount - 1);
        QCOMPARE(*seqs[team].begin(), 2u);
        QCOMPARE(*seqs[team].rbegin(), quint64(teamCount));

        // Storage agrees: every seq once, in order, nothing else.
        QList<quint64> expected;
        for (int s = 1; s <= directCount; ++s)
            expected.append(quint64(s));
        QCOMPARE(pullAllSeqs(direct), expected);
        expected.append(quint64(teamCount));
        QCOMPARE(pullAllSeqs(team), expected);
        QCOMPARE(m_store->conversation(team, bob.id)->max_seq(), quint64(teamCount));
        QVERIFY(m_store->stats().messagesStored >= quint64(kThreads * kPerThread));
    }

    // A new message comes with who was a member when it committed, so its
    // push needs no second read; a group change is seen by the next append.
    void appendReturnsItsRecipients()
    {
        const auto [alice, bob, carol, direct, team] = threeUsersAndTwoChats();
        QVERIFY(!team.isEmpty());
        auto sorted = [](QList<quint64> ids) {
            std::sort(ids.begin(), ids.end());
            return ids;
        };
        const auto first = send(direct, alice.id, QStringLiteral("d1"));
        QVERIFY(first.ok());
        QCOMPARE(sorted(first->recipients), sorted({alice.id, bob.id}));
        const auto inTeam = send(team, bob.id, QStringLiteral("t1"));
        QVERIFY(inTeam.ok());
        QCOMPARE(sorted(inTeam->recipients), sorted({alice.id, bob.id}));

        const auto added = wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
            m_store->addMembers(team, alice.id, {carol.id}, ctx, done);
        });
        QVERIFY(added.ok());
        QCOMPARE(sorted(added->memberIds), sorted({alice.id, bob.id, carol.id}));
        QCOMPARE(added->members.size(), 3);
        const auto afterAdd = send(team, bob.id, QStringLiteral("t2"));
        QVERIFY(afterAdd.ok());
        QCOMPARE(sorted(afterAdd->recipients), sorted({alice.id, bob.id, carol.id}));

        const auto left = wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
            m_store->leaveGroup(team, bob.id, ctx, done);
        });
        QVERIFY(left.ok());
        const auto afterLeave = send(team, carol.id, QStringLiteral("t3"));
        QVERIFY(afterLeave.ok());
        QCOMPARE(sorted(afterLeave->recipients), sorted({alice.id, carol.id}));

        // A resend is answered with the original and pushes nothing.
        const auto again = send(team, carol.id, QStringLiteral("t3"));
        QVERIFY(again.ok());
        QVERIFY(again->duplicate);
        QVERIFY(again->recipients.isEmpty());
    }

    void resendIsIdempotentAcrossRestart()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QVERIFY(send(direct, bob.id, QStringLiteral("before")).ok());

        QList<AppendResult> results;
        int failures = 0;
        QObject receiver; // after what its completions use: it goes first, and they with it
        AppendRequest request;
        request.conversationId = direct;
        request.senderUserId = alice.id;
        request.senderDeviceId = 3;
        request.clientMsgId = "6f1c2a4e-0000-4000-8000-000000000001";
        request.content = text(QStringLiteral("only once"));
        for (int i = 0; i < 50; ++i)
            m_store->appendMessage(request, &receiver, [&](Result<AppendResult> r) {
                if (r.ok())
                    results.append(*r);
                else
                    ++failures;
            });
        QTRY_COMPARE_WITH_TIMEOUT(results.size() + failures, 50, kWaitMs);
        QCOMPARE(failures, 0);
        const v1::Message original = results.first().message;
        QVERIFY(!results.first().duplicate);
        QCOMPARE(original.seq(), 2u);
        for (int i = 1; i < results.size(); ++i) {
            QVERIFY(results.at(i).duplicate);
            QCOMPARE(results.at(i).message.seq(), original.seq());
            QCOMPARE(results.at(i).message.server_id(), original.server_id());
            QCOMPARE(results.at(i).message.server_time_ms(), original.server_time_ms());
        }
        QCOMPARE(pullAllSeqs(direct), (QList<quint64>{1, 2}));

        reopen();
        const auto again = wait<AppendResult>([&](QObject *ctx, Completion<AppendResult> done) {
            m_store->appendMessage(request, ctx, done);
        });
        QVERIFY(again.ok());
        QVERIFY(again->duplicate);
        QCOMPARE(again->message.seq(), original.seq());
        QCOMPARE(again->message.server_id(), original.server_id());
        QCOMPARE(again->message.content().text().body(), "only once");
        const auto stored = m_store->messageByClientId(alice.id, request.clientMsgId);
        QVERIFY(stored.ok() && stored->has_value());
        QCOMPARE((*stored)->server_id(), original.server_id());
        QCOMPARE(pullAllSeqs(direct), (QList<quint64>{1, 2}));
        // The same client id from another sender is another message.
        request.senderUserId = bob.id;
        const auto other = wait<AppendResult>([&](QObject *ctx, Completion<AppendResult> done) {
            m_store->appendMessage(request, ctx, done);
        });
        QVERIFY(other.ok());
        QVERIFY(!other->duplicate);
        QCOMPARE(other->message.seq(), 3u);
        QVERIFY(other->message.server_id() > original.server_id());
    }

    // The key is (sender, client id): another sender's message with the same
    // id is a message of its own, and each sender's resend finds its own
    // original, whichever was stored first and wherever it was sent.
    void clientIdsAreKeyedBySender()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const UserRecord carol = addUser(QStringLiteral("carol"));
        const QString direct = directConversationId(alice.id, bob.id);
        const auto created = group(carol.id, QStringLiteral("c"), {alice.id});
        QVERIFY(created.ok());
        const QString team = QString::fromStdString(created->state.id());
        const QString shared = QStringLiteral("6f1c2a4e-0000-4000-8000-00000000000a");

        const auto fromBob = send(direct, bob.id, shared, QStringLiteral("bob's"));
        const auto fromAlice = send(direct, alice.id, shared, QStringLiteral("alice's"));
        const auto fromCarol = send(team, carol.id, shared, QStringLiteral("carol's"));
        QVERIFY(fromBob.ok() && fromAlice.ok() && fromCarol.ok());
        QVERIFY(!fromBob->duplicate && !fromAlice->duplicate && !fromCarol->duplicate);
        QCOMPARE(fromBob->message.seq(), 1u);
        QCOMPARE(fromAlice->message.seq(), 2u);
        QCOMPARE(fromCarol->message.seq(), 2u); // after the group's creation event

        for (int round = 0; round < 2; ++round) {
            for (const auto &[conversation, sender, original] :
                 {std::tuple{direct, alice.id, &*fromAlice}, std::tuple{direct, bob.id, &*fromBob},
                  std::tuple{team, carol.id, &*fromCarol}}) {
                const auto again = send(conversation, sender, shared, QStringLiteral("resent"));
                QVERIFY(again.ok());
                QVERIFY(again->duplicate);
                QCOMPARE(again->message.server_id(), original->message.server_id());
                QCOMPARE(again->message.seq(), original->message.seq());
                QCOMPARE(again->message.sender_user_id(), sender);
                QCOMPARE(again->message.content().text().body(),
                         original->message.content().text().body());
                const auto stored = m_store->messageByClientId(sender, shared.toStdString());
                QVERIFY(stored.ok() && stored->has_value());
                QCOMPARE((*stored)->server_id(), original->message.server_id());
            }
            reopen(); // the same after a restart
        }
        QCOMPARE(pullAllSeqs(direct), (QList<quint64>{1, 2}));
        QCOMPARE(pullAllSeqs(team), (QList<quint64>{1, 2}));
        // alice reusing her id in another conversation gets her original back.
        const auto elsewhere = send(team, alice.id, shared, QStringLiteral("elsewhere"));
        QVERIFY(elsewhere.ok());
        QVERIFY(elsewhere->duplicate);
        QCOMPARE(elsewhere->message.server_id(), fromAlice->message.server_id());
        QCOMPARE(pullAllSeqs(team), (QList<quint64>{1, 2}));
    }

    void replyMustQuoteAnEarlierSeq()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        const auto firstReply =
            send(direct, alice.id, QStringLiteral("r0"), QStringLiteral("x"), 1);
        QVERIFY(!firstReply.ok());
        QCOMPARE(firstReply.error().code, v1::INVALID_ARGUMENT);
        // The failed first message did not create the conversation.
        QCOMPARE(m_store->conversationsOf(alice.id)->size(), 0);
        QVERIFY(send(direct, alice.id, QStringLiteral("m1")).ok());
        const auto reply = send(direct, bob.id, QStringLiteral("m2"), QStringLiteral("re"), 1);
        QVERIFY(reply.ok());
        QCOMPARE(reply->message.content().reply_to_seq(), 1u);
        QCOMPARE(send(direct, bob.id, QStringLiteral("m3"), QStringLiteral("re"), 3).error().code,
                 v1::INVALID_ARGUMENT);
    }

    // ---- operations: edit, delete for everyone, reactions ------------------------------------

    void operationsFoldIntoTheirTarget()
    {
        const ThreeUsers t = threeUsersAndTwoChats();
        QVERIFY(send(t.direct, t.alice.id, QStringLiteral("m1"), QStringLiteral("helo")).ok());

        const auto edit =
            operate(t.direct, t.alice.id, QStringLiteral("e1"), editOf(1, QStringLiteral("hello")));
        QVERIFY2(edit.ok(), qPrintable(edit.ok() ? QString() : edit.error().message));
        QCOMPARE(edit->message.seq(), 2u);
        QCOMPARE(edit->message.content().edit().text(), "hello");
        QCOMPARE(edit->recipients.size(), 2);
        v1::Message target = messageAt(t.direct, 1);
        QCOMPARE(target.content().text().body(), "hello");
        QVERIFY(target.content().edited_ms() > 0);
        QCOMPARE(target.content().last_op_seq(), 2u);

        // Only the latest text is kept: the first edit's text is cleared.
        QVERIFY(operate(t.direct, t.alice.id, QStringLiteral("e2"),
                        editOf(1, QStringLiteral("hello there")))
                    .ok());
        QCOMPARE(messageAt(t.direct, 2).content().edit().text(), "");
        QCOMPARE(messageAt(t.direct, 2).content().edit().target_seq(), 1u);
        QCOMPARE(messageAt(t.direct, 3).content().edit().text(), "hello there");
        QCOMPARE(messageAt(t.direct, 1).content().text().body(), "hello there");

        // Reactions: a set per user, in order of first use; toggling removes.
        const QString thumbs = QStringLiteral("\U0001F44D");
        const QString heart = QStringLiteral("\u2764\uFE0F");
        QVERIFY(operate(t.direct, t.bob.id, QStringLiteral("r1"), reactionTo(1, thumbs)).ok());
        QVERIFY(operate(t.direct, t.alice.id, QStringLiteral("r1"), reactionTo(1, thumbs)).ok());
        QVERIFY(operate(t.direct, t.bob.id, QStringLiteral("r2"), reactionTo(1, heart)).ok());
        // Adding one again is a no-op op: a seq, no change.
        const auto again = operate(t.direct, t.bob.id, QStringLiteral("r3"), reactionTo(1, heart));
        QVERIFY(again.ok());
        QCOMPARE(again->message.seq(), 7u);
        target = messageAt(t.direct, 1);
        QCOMPARE(target.content().reactions_size(), 2);
        QCOMPARE(target.content().reactions(0).emoji(), thumbs.toStdString());
        QCOMPARE(target.content().reactions(0).user_ids_size(), 2);
        QCOMPARE(target.content().reactions(0).user_ids(0), t.bob.id);
        QCOMPARE(target.content().reactions(0).user_ids(1), t.alice.id);
        QCOMPARE(target.content().reactions(1).user_ids_size(), 1);
        QCOMPARE(target.content().last_op_seq(), 7u);
        QVERIFY(
            operate(t.direct, t.bob.id, QStringLiteral("r4"), reactionTo(1, thumbs, true)).ok());
        target = messageAt(t.direct, 1);
        QCOMPARE(target.content().reactions(0).user_ids_size(), 1);
        QCOMPARE(target.content().reactions(0).user_ids(0), t.alice.id);
        QVERIFY(
            operate(t.direct, t.alice.id, QStringLiteral("r5"), reactionTo(1, thumbs, true)).ok());
        QCOMPARE(messageAt(t.direct, 1).content().reactions_size(), 1); // the empty one is gone

        // A resend of an op is the original, changing nothing twice.
        const auto resent =
            operate(t.direct, t.bob.id, QStringLiteral("r1"), reactionTo(1, thumbs));
        QVERIFY(resent.ok());
        QVERIFY(resent->duplicate);
        QCOMPARE(resent->message.seq(), 4u);
        QCOMPARE(messageAt(t.direct, 1).content().reactions_size(), 1);

        // Delete for everyone: a tombstone; the text is gone, edits' too.
        const auto deleted = operate(t.direct, t.alice.id, QStringLiteral("d1"), deletionOf(1));
        QVERIFY(deleted.ok());
        target = messageAt(t.direct, 1);
        QCOMPARE(target.content().kind_case(), v1::Content::kDeleted);
        QCOMPARE(target.content().deleted().by_user_id(), t.alice.id);
        QCOMPARE(target.content().reactions_size(), 0);
        QCOMPARE(target.content().edited_ms(), 0);
        QCOMPARE(target.content().last_op_seq(), deleted->message.seq());
        QCOMPARE(messageAt(t.direct, 3).content().edit().text(), "");
        // The sender's marker moved with the op, as with a send.
        QCOMPARE(m_store->conversation(t.direct, t.alice.id)->read_seq(), deleted->message.seq());
        QCOMPARE(pullAllSeqs(t.direct).size(), qsizetype(deleted->message.seq()));
    }

    void mentionsAreStoredAndFollowEditsAndDeletes()
    {
        // The store keeps a message's mentions with it; an edit's mentions
        // replace the target's, a superseded edit and a deletion lose theirs.
        const ThreeUsers t = threeUsersAndTwoChats();
        auto mentioning = [](v1::Content content, QList<quint64> users) {
            for (quint64 user : users) {
                v1::Mention *mention = content.add_mentions();
                mention->set_user_id(user);
                mention->set_offset(0);
                mention->set_length(4);
            }
            return content;
        };
        v1::Content first;
        first.mutable_text()->set_body("@bob look");
        QVERIFY(
            operate(t.team, t.alice.id, QStringLiteral("m1"), mentioning(first, {t.bob.id})).ok());
        const quint64 target = 2; // after the group's creation event
        v1::Content content = messageAt(t.team, target).content();
        QCOMPARE(content.mentions_size(), 1);
        QCOMPARE(content.mentions(0).user_id(), t.bob.id);
        QCOMPARE(content.mentions(0).length(), 4u);

        const auto edit = operate(
            t.team, t.alice.id, QStringLiteral("e1"),
            mentioning(editOf(target, QStringLiteral("@ali and @bob")), {t.alice.id, t.bob.id}));
        QVERIFY2(edit.ok(), qPrintable(edit.ok() ? QString() : edit.error().message));
        content = messageAt(t.team, target).content();
        QCOMPARE(content.mentions_size(), 2);
        QCOMPARE(content.mentions(0).user_id(), t.alice.id);
        QCOMPARE(content.mentions(1).user_id(), t.bob.id);

        // An edit without mentions leaves none; the superseded edit keeps neither text nor
        // mentions.
        QVERIFY(operate(t.team, t.alice.id, QStringLiteral("e2"),
                        editOf(target, QStringLiteral("never mind")))
                    .ok());
        content = messageAt(t.team, target).content();
        QCOMPARE(content.mentions_size(), 0);
        QCOMPARE(content.text().body(), "never mind");
        const v1::Content superseded = messageAt(t.team, edit->message.seq()).content();
        QCOMPARE(superseded.edit().text(), "");
        QCOMPARE(superseded.mentions_size(), 0);

        QVERIFY(operate(t.team, t.alice.id, QStringLiteral("e3"),
                        mentioning(editOf(target, QStringLiteral("@bob again")), {t.bob.id}))
                    .ok());
        QCOMPARE(messageAt(t.team, target).content().mentions_size(), 1);
        QVERIFY(operate(t.team, t.alice.id, QStringLiteral("d1"), deletionOf(target)).ok());
        content = messageAt(t.team, target).content();
        QCOMPARE(content.kind_case(), v1::Content::kDeleted);
        QCOMPARE(content.mentions_size(), 0);
    }

    void operationsRefusedChangeNothing()
    {
        const ThreeUsers t = threeUsersAndTwoChats();
        QVERIFY(send(t.direct, t.alice.id, QStringLiteral("m1"), QStringLiteral("mine")).ok());
        const quint64 before = m_store->conversation(t.direct, t.alice.id)->max_seq();
        auto code = [](const Result<AppendResult> &r) {
            return r.ok() ? v1::ERROR_UNSPECIFIED : r.error().code;
        };
        // Someone else's message.
        QCOMPARE(code(operate(t.direct, t.bob.id, QStringLiteral("x1"),
                              editOf(1, QStringLiteral("yours")))),
                 v1::PERMISSION_DENIED);
        QCOMPARE(code(operate(t.direct, t.bob.id, QStringLiteral("x2"), deletionOf(1))),
                 v1::PERMISSION_DENIED);
        // Not a member, no such seq: one answer, word for word.
        const auto outsider = operate(t.direct, t.carol.id, QStringLiteral("x3"),
                                      reactionTo(1, QStringLiteral("\u2B50")));
        const auto missing = operate(t.direct, t.alice.id, QStringLiteral("x4"),
                                     reactionTo(99, QStringLiteral("\u2B50")));
        QCOMPARE(code(outsider), v1::NOT_FOUND);
        QCOMPARE(code(missing), v1::NOT_FOUND);
        QCOMPARE(outsider.error().message, missing.error().message);
        const QString nowhere = directConversationId(t.bob.id, t.carol.id);
        QCOMPARE(code(operate(nowhere, t.bob.id, QStringLiteral("x5"), deletionOf(1))),
                 v1::NOT_FOUND);
        QCOMPARE(m_store->conversationsOf(t.bob.id)->size(), 2); // no chat was made
        // A system event and an op are no targets.
        QCOMPARE(code(operate(t.team, t.alice.id, QStringLiteral("x6"),
                              reactionTo(1, QStringLiteral("\u2B50")))),
                 v1::NOT_FOUND);
        QCOMPARE(m_store->conversation(t.direct, t.alice.id)->max_seq(), before);

        // Group admins may delete others' messages; members may not.
        QVERIFY(send(t.team, t.alice.id, QStringLiteral("g1"), QStringLiteral("owner")).ok());
        QVERIFY(send(t.team, t.bob.id, QStringLiteral("g2"), QStringLiteral("member")).ok());
        const quint64 ownerSeq = 2, memberSeq = 3;
        QCOMPARE(code(operate(t.team, t.bob.id, QStringLiteral("x7"), deletionOf(ownerSeq))),
                 v1::PERMISSION_DENIED);
        QCOMPARE(code(operate(t.team, t.alice.id, QStringLiteral("x8"),
                              editOf(memberSeq, QStringLiteral("no")))),
                 v1::PERMISSION_DENIED);
        QVERIFY(operate(t.team, t.alice.id, QStringLiteral("d1"), deletionOf(memberSeq)).ok());
        QCOMPARE(messageAt(t.team, memberSeq).content().deleted().by_user_id(), t.alice.id);
        // A deleted message cannot be changed again.
        QCOMPARE(code(operate(t.team, t.bob.id, QStringLiteral("x9"),
                              reactionTo(memberSeq, QStringLiteral("\u2B50")))),
                 v1::NOT_FOUND);
        // The op itself is no target either.
        QCOMPARE(code(operate(t.team, t.bob.id, QStringLiteral("x10"),
                              reactionTo(memberSeq + 1, QStringLiteral("\u2B50")))),
                 v1::NOT_FOUND);
    }

    void reactionsPerUserAreBounded()
    {
        const ThreeUsers t = threeUsersAndTwoChats();
        QVERIFY(send(t.direct, t.alice.id, QStringLiteral("m1")).ok());
        for (int i = 0; i < kMaxReactionsPerUser; ++i) {
            const QString emoji =
                QString::fromUcs4(std::u32string(1, char32_t(0x1F600 + i)).data(), 1);
            const auto r =
                operate(t.direct, t.bob.id, QStringLiteral("r%1").arg(i), reactionTo(1, emoji));
            QVERIFY2(r.ok(), qPrintable(r.ok() ? QString() : r.error().message));
        }
        const auto over = operate(t.direct, t.bob.id, QStringLiteral("over"),
                                  reactionTo(1, QStringLiteral("\U0001F680")));
        QVERIFY(!over.ok());
        QCOMPARE(over.error().code, v1::TOO_MANY_REACTIONS);
        // Another user has a limit of their own.
        QVERIFY(operate(t.direct, t.alice.id, QStringLiteral("a1"),
                        reactionTo(1, QStringLiteral("\U0001F680")))
                    .ok());
        QCOMPARE(messageAt(t.direct, 1).content().reactions_size(), kMaxReactionsPerUser + 1);
    }

    void pinsFoldIntoTheirTargetForEveryone()
    {
        const ThreeUsers t = threeUsersAndTwoChats();
        QVERIFY(send(t.team, t.bob.id, QStringLiteral("m1"), QStringLiteral("the plan")).ok());
        const quint64 target = 2; // after the group's creation event
        // Any member pins any message; pinning it again keeps the first pin.
        const auto pinned = operate(t.team, t.bob.id, QStringLiteral("p1"), pinOf(target));
        QVERIFY2(pinned.ok(), qPrintable(pinned.ok() ? QString() : pinned.error().message));
        v1::Content content = messageAt(t.team, target).content();
        QVERIFY(content.pinned_ms() > 0);
        QCOMPARE(content.pinned_by_user_id(), t.bob.id);
        QCOMPARE(content.last_op_seq(), pinned->message.seq());
        QVERIFY(operate(t.team, t.alice.id, QStringLiteral("p2"), pinOf(target)).ok());
        QCOMPARE(messageAt(t.team, target).content().pinned_by_user_id(), t.bob.id);
        // Unpinned by anyone; a system event and a stranger's pin are refused alike.
        QVERIFY(operate(t.team, t.alice.id, QStringLiteral("u1"), pinOf(target, true)).ok());
        content = messageAt(t.team, target).content();
        QCOMPARE(content.pinned_ms(), 0);
        QCOMPARE(content.pinned_by_user_id(), 0u);
        QCOMPARE(content.text().body(), "the plan");
        const auto event = operate(t.team, t.alice.id, QStringLiteral("p3"), pinOf(1));
        const auto stranger = operate(t.team, t.carol.id, QStringLiteral("p4"), pinOf(target));
        QVERIFY(!event.ok());
        QVERIFY(!stranger.ok());
        QCOMPARE(event.error().code, v1::NOT_FOUND);
        QCOMPARE(stranger.error().code, v1::NOT_FOUND);
        QCOMPARE(event.error().message, stranger.error().message);
        // A deleted message loses its pin with the rest of it.
        QVERIFY(operate(t.team, t.bob.id, QStringLiteral("p5"), pinOf(target)).ok());
        QVERIFY(operate(t.team, t.bob.id, QStringLiteral("d1"), deletionOf(target)).ok());
        QCOMPARE(messageAt(t.team, target).content().pinned_ms(), 0);
    }

    void chatStateIsPerUserAndVersioned()
    {
        using C = v1::SetChatStateRequest;
        const ThreeUsers t = threeUsersAndTwoChats();
        QVERIFY(send(t.direct, t.alice.id, QStringLiteral("m1"), QStringLiteral("one")).ok());
        QVERIFY(send(t.direct, t.bob.id, QStringLiteral("m2"), QStringLiteral("two")).ok());

        const auto muted = chatState(t.team, t.alice.id, C::kMuteUntilMs, kMutedForever);
        QVERIFY2(muted.ok(), qPrintable(muted.ok() ? QString() : muted.error().message));
        QCOMPARE(muted->muted_until_ms(), kMutedForever);
        QVERIFY(!muted->archived());
        QCOMPARE(muted->version(), 1u);
        // Archiving keeps the mute; each change takes the next version.
        const auto archived = chatState(t.team, t.alice.id, C::kArchived, 1);
        QVERIFY(archived.ok());
        QCOMPARE(archived->muted_until_ms(), kMutedForever);
        QVERIFY(archived->archived());
        QCOMPARE(archived->version(), 2u);
        const auto hidden = chatState(t.direct, t.alice.id, C::kHideSeq, 2);
        QVERIFY(hidden.ok());
        QCOMPARE(hidden->hidden_seq(), 2u);
        QCOMPARE(hidden->version(), 3u);
        // Another user's counter and rows are their own.
        const auto bobs = chatState(t.direct, t.bob.id, C::kMuteUntilMs, 5000);
        QVERIFY(bobs.ok());
        QCOMPARE(bobs->version(), 1u);

        // Since a version: the rows changed after it, oldest change first;
        // the team's settings row is one row, at its last version.
        auto page = m_store->chatStateSince(t.alice.id, 0, 10);
        QVERIFY(page.ok());
        QCOMPARE(page->states.size(), 2);
        QVERIFY(!page->hasMore);
        QCOMPARE(page->states[0].conversation_id(), t.team.toStdString());
        QCOMPARE(page->states[0].version(), 2u);
        QVERIFY(page->states[0].archived());
        QCOMPARE(page->states[1].hidden_seq(), 2u);
        page = m_store->chatStateSince(t.alice.id, 2, 10);
        QVERIFY(page.ok());
        QCOMPARE(page->states.size(), 1);
        QCOMPARE(page->states[0].version(), 3u);
        page = m_store->chatStateSince(t.alice.id, 0, 1);
        QVERIFY(page.ok());
        QCOMPARE(page->states.size(), 1);
        QVERIFY(page->hasMore);
        QCOMPARE(m_store->chatStateSince(t.alice.id, 3, 10)->states.size(), 0);
        QCOMPARE(m_store->chatStateSince(t.bob.id, 0, 10)->states.size(), 1);
        QCOMPARE(m_store->chatStateSince(t.carol.id, 0, 10)->states.size(), 0);

        // Unmuting and unarchiving are changes too.
        const auto unmuted = chatState(t.team, t.alice.id, C::kMuteUntilMs, 0);
        QVERIFY(unmuted.ok());
        QCOMPARE(unmuted->muted_until_ms(), 0);
        QVERIFY(unmuted->archived());
        QCOMPARE(unmuted->version(), 4u);
        // Hiding a seq again moves it to the newest version (no duplicate row).
        QVERIFY(chatState(t.direct, t.alice.id, C::kHideSeq, 2).ok());
        page = m_store->chatStateSince(t.alice.id, 0, 10);
        QCOMPARE(page->states.size(), 2);
        QCOMPARE(page->states[1].hidden_seq(), 2u);
        QCOMPARE(page->states[1].version(), 5u);
        // The message itself is untouched for everyone.
        QCOMPARE(messageAt(t.direct, 2).content().text().body(), "two");
    }

    void chatStateOfAStrangerOrAMissingSeqIsNotFound()
    {
        using C = v1::SetChatStateRequest;
        const ThreeUsers t = threeUsersAndTwoChats();
        QVERIFY(send(t.direct, t.alice.id, QStringLiteral("m1")).ok());
        auto code = [](const Result<v1::ChatState> &r) {
            return r.ok() ? v1::ERROR_UNSPECIFIED : r.error().code;
        };
        const auto stranger = chatState(t.direct, t.carol.id, C::kHideSeq, 1);
        const auto missing = chatState(t.direct, t.alice.id, C::kHideSeq, 2);
        QCOMPARE(code(stranger), v1::NOT_FOUND);
        QCOMPARE(code(missing), v1::NOT_FOUND);
        QCOMPARE(code(chatState(t.team, t.carol.id, C::kArchived, 1)), v1::NOT_FOUND);
        QCOMPARE(code(chatState(QStringLiteral("g:999"), t.alice.id, C::kArchived, 1)),
                 v1::NOT_FOUND);
        // A direct chat before its first message holds nothing to mute yet.
        QCOMPARE(code(chatState(directConversationId(t.bob.id, t.carol.id), t.bob.id,
                                C::kMuteUntilMs, kMutedForever)),
                 v1::NOT_FOUND);
        // Nothing refused took a version.
        QCOMPARE(m_store->chatStateSince(t.alice.id, 0, 10)->states.size(), 0);
        QCOMPARE(chatState(t.direct, t.alice.id, C::kHideSeq, 1)->version(), 1u);
    }

    void blocksAreChatStateAndListTheBlockers()
    {
        using C = v1::SetChatStateRequest;
        const ThreeUsers t = threeUsersAndTwoChats();
        QVERIFY(send(t.direct, t.alice.id, QStringLiteral("m1")).ok());
        QVERIFY(chatState(t.direct, t.alice.id, C::kArchived, 1).ok());
        const auto blocked = setBlocked(t.alice.id, t.carol.id, true);
        QVERIFY2(blocked.ok(), qPrintable(blocked.ok() ? QString() : blocked.error().message));
        QCOMPARE(blocked->blocked_user_id(), t.carol.id);
        QVERIFY(blocked->blocked());
        QCOMPARE(blocked->version(), 2u); // the same counter as the rest of alice's chat state
        QVERIFY(setBlocked(t.bob.id, t.carol.id, true).ok());
        QCOMPARE(*m_store->blockersOf(t.carol.id), (QList<quint64>{t.alice.id, t.bob.id}));
        QCOMPARE(m_store->blockersOf(t.alice.id)->size(), 0);

        // In alice's chat state, in version order with her other rows.
        auto page = m_store->chatStateSince(t.alice.id, 0, 10);
        QVERIFY(page.ok());
        QCOMPARE(page->states.size(), 2);
        QVERIFY(page->states[0].archived());
        QCOMPARE(page->states[0].blocked_user_id(), 0u);
        QCOMPARE(page->states[1].blocked_user_id(), t.carol.id);
        QVERIFY(page->states[1].blocked());
        QVERIFY(page->states[1].conversation_id().empty());
        page = m_store->chatStateSince(t.alice.id, 0, 1);
        QCOMPARE(page->states.size(), 1);
        QVERIFY(page->hasMore);

        // Unblocking keeps the row (other devices must learn of it) with a new version.
        const auto lifted = setBlocked(t.alice.id, t.carol.id, false);
        QVERIFY(lifted.ok());
        QVERIFY(!lifted->blocked());
        QCOMPARE(lifted->version(), 3u);
        QCOMPARE(*m_store->blockersOf(t.carol.id), (QList<quint64>{t.bob.id}));
        page = m_store->chatStateSince(t.alice.id, 2, 10);
        QCOMPARE(page->states.size(), 1);
        QVERIFY(!page->states[0].blocked());

        // Nobody to block: NOT_FOUND, and no version taken.
        const auto nobody = setBlocked(t.alice.id, 424242, true);
        QVERIFY(!nobody.ok());
        QCOMPARE(nobody.error().code, v1::NOT_FOUND);
        QCOMPARE(m_store->chatStateSince(t.alice.id, 3, 10)->states.size(), 0);
    }

    void directoryPagesSeeEveryoneOnce()
    {
        // 125 names that start with "ann" and 125 that only hold it, mixed in
        // the order they are made; two more the directory leaves out.
        QSet<quint64> expected;
        for (int i = 0; i < 125; ++i) {
            const QString n = QString::number(i).rightJustified(3, u'0');
            expected.insert(addUser(QStringLiteral("jo-ann") + n).id);
            expected.insert(addUser(QStringLiteral("ann") + n).id);
        }
        QCOMPARE(expected.size(), 250);
        QVERIFY(!expected.contains(0)); // every one was made
        const UserRecord hidden = addUser(QStringLiteral("annhidden"));
        const UserRecord disabled = addUser(QStringLiteral("anndisabled"));
        QVERIFY(wait<Done>([&](QObject *ctx, Completion<Done> done) {
                    m_store->setHidden(hidden.id, true, ctx, done);
                }).ok());
        QVERIFY(wait<Done>([&](QObject *ctx, Completion<Done> done) {
                    m_store->setDisabled(disabled.id, true, ctx, done);
                }).ok());

        QSet<quint64> seen;
        QStringList order;
        std::optional<DirectoryCursor> after;
        int pages = 0;
        for (bool more = true; more; ++pages) {
            QVERIFY(pages < 20);
            const auto page = m_store->searchUsersPage(QStringLiteral("ANN"), 30, after);
            QVERIFY2(page.ok(), qPrintable(page.ok() ? QString() : page.error().message));
            QCOMPARE(page->prefix.size(), page->users.size());
            for (qsizetype i = 0; i < page->users.size(); ++i) {
                const UserRecord &user = page->users.at(i);
                QVERIFY2(!seen.contains(user.id), qPrintable(user.username));
                seen.insert(user.id);
                order.append(user.username);
                QCOMPARE(page->prefix.at(i), user.username.startsWith(QStringLiteral("ann")));
            }
            more = page->hasMore;
            if (more) {
                QCOMPARE(page->users.size(), 30);
                after = DirectoryCursor{page->prefix.last(), page->users.last().username};
            }
        }
        QCOMPARE(pages, 9); // 8 full pages and 10 more
        QCOMPARE(seen, expected);
        // Names that start with the query first, each part by name.
        QCOMPARE(order.first(), QStringLiteral("ann000"));
        QCOMPARE(order.at(124), QStringLiteral("ann124"));
        QCOMPARE(order.at(125), QStringLiteral("jo-ann000"));
        QCOMPARE(order.last(), QStringLiteral("jo-ann124"));
        // An empty query walks the whole directory the same way.
        const auto everyone = m_store->searchUsersPage(QString(), 1000, std::nullopt);
        QVERIFY(everyone.ok());
        QCOMPARE(everyone->users.size(), 250);
        QVERIFY(!everyone->hasMore);
    }

    void hiddenAccountsAreLeftOutOfTheDirectory()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"), QStringLiteral("Alice Smith"));
        const UserRecord alina = addUser(QStringLiteral("alina"), QStringLiteral("Alina Smith"));
        QCOMPARE(m_store->searchUsers(QStringLiteral("smith"), 10)->size(), 2);
        const Status hidden = wait<Done>([&](QObject *ctx, Completion<Done> done) {
            m_store->setHidden(alina.id, true, ctx, done);
        });
        QVERIFY(hidden.ok());
        const auto found = m_store->searchUsers(QStringLiteral("smith"), 10);
        QCOMPARE(found->size(), 1);
        QCOMPARE(found->at(0).id, alice.id);
        QVERIFY(m_store->searchUsers(QStringLiteral("alina"), 10)->isEmpty());
        // Still there by name and id, and in the admin's list, marked.
        QVERIFY(m_store->userByName(QStringLiteral("alina"))->hidden);
        QVERIFY(m_store->userById(alina.id)->hidden);
        QVERIFY(!m_store->userById(alice.id)->hidden);
        QCOMPARE(m_store->listUsers()->size(), 2);
        QVERIFY(wait<Done>([&](QObject *ctx, Completion<Done> done) {
                    m_store->setHidden(alina.id, false, ctx, done);
                }).ok());
        QCOMPARE(m_store->searchUsers(QStringLiteral("smith"), 10)->size(), 2);
        const Status nobody = wait<Done>([&](QObject *ctx, Completion<Done> done) {
            m_store->setHidden(999999, true, ctx, done);
        });
        QVERIFY(!nobody.ok());
        QCOMPARE(nobody.error().code, v1::NOT_FOUND);
    }

    void pullPagesBothWays()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        for (int i = 1; i <= 25; ++i)
            m_store->appendMessage(AppendRequest{direct,
                                                 alice.id,
                                                 1,
                                                 QStringLiteral("p%1").arg(i).toStdString(),
                                                 text(QString::number(i)),
                                                 {}},
                                   this, [](Result<AppendResult>) {});
        QVERIFY(send(direct, alice.id, QStringLiteral("flush")).ok()); // seq 26

        auto seqsOf = [](const PullPage &page) {
            QList<quint64> seqs;
            for (const v1::Message &m : page.messages)
                seqs.append(m.seq());
            return seqs;
        };
        PullQuery q;
        q.conversationId = direct;
        q.limit = 10;
        auto page = m_store->pull(q);
        QVERIFY(page.ok());
        QCOMPARE(seqsOf(*page), (QList<quint64>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
        QVERIFY(page->hasMore);
        QCOMPARE(page->maxSeq, 26u);
        QCOMPARE(page->messages.first().content().text().body(), "1");

        q.fromSeq = 21;
        page = m_store->pull(q);
        QCOMPARE(seqsOf(*page), (QList<quint64>{21, 22, 23, 24, 25, 26}));
        QVERIFY(!page->hasMore);

        q.fromSeq = 17;
        q.toSeq = 26;
        page = m_store->pull(q);
        QCOMPARE(seqsOf(*page), (QList<quint64>{17, 18, 19, 20, 21, 22, 23, 24, 25, 26}));
        QVERIFY(!page->hasMore); // exactly filled, nothing beyond
        q.toSeq = 19;
        page = m_store->pull(q);
        QCOMPARE(seqsOf(*page), (QList<quint64>{17, 18, 19}));
        QVERIFY(!page->hasMore);

        PullQuery back;
        back.conversationId = direct;
        back.backward = true;
        back.limit = 10;
        page = m_store->pull(back);
        QCOMPARE(seqsOf(*page), (QList<quint64>{26, 25, 24, 23, 22, 21, 20, 19, 18, 17}));
        QVERIFY(page->hasMore);
        back.beforeSeq = 6;
        page = m_store->pull(back);
        QCOMPARE(seqsOf(*page), (QList<quint64>{5, 4, 3, 2, 1}));
        QVERIFY(!page->hasMore);
        back.beforeSeq = 1;
        page = m_store->pull(back);
        QVERIFY(page->messages.isEmpty());
        QVERIFY(!page->hasMore);

        back.beforeSeq = 0;
        back.limit = 1;
        page = m_store->pull(back);
        QCOMPARE(seqsOf(*page), QList<quint64>{26});
        QVERIFY(page->hasMore);
        back.limit = 5000; // clamped to kMaxPullLimit
        page = m_store->pull(back);
        QCOMPARE(page->messages.size(), 26);

        PullQuery none;
        none.conversationId = QStringLiteral("g:999");
        page = m_store->pull(none);
        QVERIFY(page.ok());
        QVERIFY(page->messages.isEmpty());
        QCOMPARE(page->maxSeq, 0u);
    }

    void pullLimitIsCapped()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        const int total = int(kMaxPullLimit) + 5;
        for (int i = 1; i < total; ++i)
            m_store->appendMessage(AppendRequest{direct,
                                                 bob.id,
                                                 1,
                                                 QStringLiteral("c%1").arg(i).toStdString(),
                                                 text(QStringLiteral("x")),
                                                 {}},
                                   this, [](Result<AppendResult>) {});
        QVERIFY(send(direct, bob.id, QStringLiteral("last")).ok());
        PullQuery q;
        q.conversationId = direct;
        q.limit = 100000;
        const auto page = m_store->pull(q);
        QCOMPARE(quint32(page->messages.size()), kMaxPullLimit);
        QVERIFY(page->hasMore);
        QCOMPARE(page->maxSeq, quint64(total));
    }

    // The largest seq a query may carry (kMaxSeq, what the services clamp
    // wire values to) means past the end forward and the newest backward.
    void pullAtTheEndOfTheSeqRange()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        for (int i = 1; i <= 3; ++i)
            QVERIFY(send(direct, alice.id, QStringLiteral("m%1").arg(i)).ok());
        PullQuery query;
        query.conversationId = direct;
        query.limit = 10;
        query.fromSeq = kMaxSeq;
        auto page = m_store->pull(query);
        QVERIFY(page.ok());
        QVERIFY(page->messages.isEmpty());
        QCOMPARE(page->maxSeq, 3u);
        query.fromSeq = 2;
        query.toSeq = kMaxSeq;
        page = m_store->pull(query);
        QVERIFY(page.ok());
        QCOMPARE(page->messages.size(), 2);
        query = PullQuery{};
        query.conversationId = direct;
        query.backward = true;
        query.beforeSeq = kMaxSeq;
        query.limit = 2;
        page = m_store->pull(query);
        QVERIFY(page.ok());
        QCOMPARE(page->messages.size(), 2);
        QCOMPARE(page->messages.first().seq(), 3u);
        QVERIFY(page->hasMore);
    }

    // ---- read state and views ----------------------------------------------------------------

    void readMarkersAndUnreadCounts()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const UserRecord eve = addUser(QStringLiteral("eve"));
        const QString direct = directConversationId(alice.id, bob.id);
        for (int i = 0; i < 3; ++i)
            QVERIFY(send(direct, alice.id, QStringLiteral("a%1").arg(i)).ok());

        auto aliceView = m_store->conversation(direct, alice.id);
        QVERIFY(aliceView.ok());
        QCOMPARE(aliceView->kind(), v1::DIRECT);
        QCOMPARE(aliceView->read_seq(), 3u); // sending moves the sender's marker
        QCOMPARE(aliceView->unread_count(), 0u);
        QCOMPARE(aliceView->peer_user_id(), bob.id);
        QCOMPARE(aliceView->peer_read_seq(), 0u);
        QCOMPARE(aliceView->max_seq(), 3u);
        QCOMPARE(aliceView->last_message().seq(), 3u);
        QCOMPARE(aliceView->last_message().content().text().body(), "hi");
        QVERIFY(aliceView->last_activity_ms() > 0);
        auto bobView = m_store->conversation(direct, bob.id);
        QCOMPARE(bobView->unread_count(), 3u);
        QCOMPARE(bobView->peer_user_id(), alice.id);
        QCOMPARE(bobView->peer_read_seq(), 3u);

        auto moved = markRead(direct, bob.id, 2);
        QVERIFY(moved.ok());
        QVERIFY(moved->moved);
        QCOMPARE(moved->readSeq, 2u);
        QCOMPARE(moved->unreadCount, 1u);
        auto back = markRead(direct, bob.id, 1);
        QVERIFY(back.ok());
        QVERIFY(!back->moved);
        QCOMPARE(back->readSeq, 2u);
        auto beyond = markRead(direct, bob.id, 99);
        QCOMPARE(beyond->readSeq, 3u); // clamped to max seq
        QCOMPARE(beyond->unreadCount, 0u);
        QCOMPARE(m_store->conversation(direct, alice.id)->peer_read_seq(), 3u);

        QVERIFY(send(direct, bob.id, QStringLiteral("b1")).ok());
        QVERIFY(send(direct, alice.id, QStringLiteral("a4")).ok());
        QVERIFY(send(direct, bob.id, QStringLiteral("b2")).ok());
        QCOMPARE(m_store->conversation(direct, alice.id)->unread_count(), 1u);
        QCOMPARE(m_store->conversation(direct, bob.id)->unread_count(), 0u);
        QCOMPARE(m_store->conversation(direct, bob.id)->read_seq(), 6u);
        QCOMPARE(markRead(direct, alice.id, 3)->readSeq, 5u); // never moves back

        // Unread counts match a count of others' messages after the marker.
        for (const UserRecord &u : {alice, bob}) {
            const auto view = m_store->conversation(direct, u.id);
            PullQuery after;
            after.conversationId = direct;
            after.fromSeq = view->read_seq() + 1;
            after.limit = kMaxPullLimit;
            const auto page = m_store->pull(after);
            QVERIFY(page.ok());
            const quint64 counted = quint64(
                std::count_if(page->messages.cbegin(), page->messages.cend(),
                              [&u](const v1::Message &m) { return m.sender_user_id() != u.id; }));
            QCOMPARE(view->unread_count(), counted);
        }

        QCOMPARE(markRead(direct, eve.id, 1).error().code, v1::NOT_FOUND);
        QCOMPARE(markRead(QStringLiteral("g:77"), alice.id, 1).error().code, v1::NOT_FOUND);

        const auto list = m_store->conversationsOf(bob.id);
        QVERIFY(list.ok());
        QCOMPARE(list->size(), 1);
        QCOMPARE(list->first().id(), direct.toStdString());
        QCOMPARE(list->first().max_seq(), 6u);
        QCOMPARE(list->first().peer_user_id(), alice.id);
        QCOMPARE(list->first().peer_read_seq(), 5u);
        QCOMPARE(list->first().last_message().seq(), 6u);
    }

    void membershipAndNotFound()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const UserRecord eve = addUser(QStringLiteral("eve"));
        const QString direct = directConversationId(alice.id, bob.id);

        // Before its first message a direct chat belongs to its pair, and is not listed.
        QVERIFY(m_store->membership(direct, alice.id)->has_value());
        QVERIFY(m_store->membership(direct, bob.id)->has_value());
        QVERIFY(!m_store->membership(direct, eve.id)->has_value());
        QVERIFY(!m_store->membership(directConversationId(alice.id, 9999), alice.id)->has_value());
        QVERIFY(!m_store->membership(QStringLiteral("nonsense"), alice.id)->has_value());
        QCOMPARE(m_store->conversationsOf(alice.id)->size(), 0);
        QCOMPARE(m_store->conversation(direct, alice.id).error().code, v1::NOT_FOUND);

        QCOMPARE(
            send(directConversationId(alice.id, 9999), alice.id, QStringLiteral("x")).error().code,
            v1::NOT_FOUND);
        QCOMPARE(send(direct, eve.id, QStringLiteral("x")).error().code, v1::NOT_FOUND);
        QVERIFY(send(direct, bob.id, QStringLiteral("first")).ok());
        QCOMPARE(m_store->conversationsOf(alice.id)->size(), 1);
        QCOMPARE(m_store->members(direct)->size(), 2);
        QCOMPARE(m_store->conversation(direct, eve.id).error().code, v1::NOT_FOUND);
        QCOMPARE(m_store->conversationsOf(eve.id)->size(), 0);

        const auto created = group(alice.id, QStringLiteral("ab"), {bob.id});
        const QString team = QString::fromStdString(created->state.id());
        QCOMPARE(m_store->membership(team, alice.id)->value().role, v1::OWNER);
        QCOMPARE(m_store->membership(team, bob.id)->value().role, v1::MEMBER);
        QVERIFY(!m_store->membership(team, eve.id)->has_value());
        QCOMPARE(m_store->conversation(team, eve.id).error().code, v1::NOT_FOUND);
        QCOMPARE(send(QStringLiteral("g:424242"), alice.id, QStringLiteral("y")).error().code,
                 v1::NOT_FOUND);

        // Conversations that exist refuse an outsider's writes as if they did not.
        QCOMPARE(send(direct, eve.id, QStringLiteral("in")).error().code, v1::NOT_FOUND);
        QCOMPARE(send(team, eve.id, QStringLiteral("in")).error().code, v1::NOT_FOUND);
        QCOMPARE(markRead(team, eve.id, 1).error().code, v1::NOT_FOUND);
        const auto change = [&](auto call) { return wait<GroupChange>(call).error().code; };
        QCOMPARE(change([&](QObject *ctx, Completion<GroupChange> done) {
                     m_store->addMembers(team, eve.id, {eve.id}, ctx, done);
                 }),
                 v1::NOT_FOUND);
        QCOMPARE(change([&](QObject *ctx, Completion<GroupChange> done) {
                     m_store->removeMember(team, eve.id, bob.id, ctx, done);
                 }),
                 v1::NOT_FOUND);
        QCOMPARE(change([&](QObject *ctx, Completion<GroupChange> done) {
                     m_store->renameGroup(team, eve.id, QStringLiteral("eve's"), ctx, done);
                 }),
                 v1::NOT_FOUND);
        QCOMPARE(change([&](QObject *ctx, Completion<GroupChange> done) {
                     m_store->leaveGroup(team, eve.id, ctx, done);
                 }),
                 v1::NOT_FOUND);
        QCOMPARE(pullAllSeqs(direct), QList<quint64>{1});
        QCOMPARE(pullAllSeqs(team), QList<quint64>{1});
        QCOMPARE(m_store->members(team)->size(), 2);

        const auto contacts = m_store->contactsOf(alice.id);
        QCOMPARE(*contacts, QList<quint64>{bob.id});
        QCOMPARE(m_store->contactsOf(eve.id)->size(), 0);
    }

    // A user's conversations page by id in byte order (what a client sorts
    // them by too): after one id, through another, at most so many.
    void conversationsComeInPagesById()
    {
        std::vector<UserRecord> u;
        for (int i = 0; i < 12; ++i)
            u.push_back(addUser(QStringLiteral("pager%1").arg(i)));
        const UserRecord &me = u[0];
        std::vector<std::string> expected;
        // Direct ids sort by bytes, not by number: "d:1:10" before "d:1:2".
        for (int i = 1; i < 12; ++i) {
            const QString chat = directConversationId(me.id, u[size_t(i)].id);
            QVERIFY(send(chat, me.id, QStringLiteral("pg%1").arg(i), QStringLiteral("hi")).ok());
            expected.push_back(chat.toStdString());
        }
        for (int i = 0; i < 3; ++i) {
            const auto made = group(u[1].id, QStringLiteral("p%1").arg(i), {me.id});
            QVERIFY(made.ok());
            expected.push_back(made->state.id());
        }
        std::sort(expected.begin(), expected.end());

        const auto all = m_store->conversationsOf(me.id);
        QVERIFY(all.ok());
        std::vector<std::string> ids;
        for (const ConversationView &view : *all)
            ids.push_back(view.id());
        QCOMPARE(ids, expected);

        std::vector<std::string> paged;
        ConversationPage page;
        page.limit = 4;
        for (int round = 0; round < 10; ++round) {
            const auto chunk = m_store->conversationsOf(me.id, page);
            QVERIFY(chunk.ok());
            QVERIFY(chunk->size() <= 4);
            for (const ConversationView &view : *chunk)
                paged.push_back(view.id());
            if (chunk->size() < 4)
                break;
            page.after = chunk->last().id();
        }
        QCOMPARE(paged, expected);

        ConversationPage window;
        window.after = expected[2];
        window.through = expected[6];
        const auto middle = m_store->conversationsOf(me.id, window);
        QVERIFY(middle.ok());
        QCOMPARE(middle->size(), 4);
        QCOMPARE(middle->first().id(), expected[3]);
        QCOMPARE(middle->last().id(), expected[6]);
    }

    void presenceAudienceLeavesOutLargeGroups()
    {
        // u[0] owns a group of exactly kPresenceGroupLimit members and one of
        // one more; only u[limit] is in the big one alone.
        const int limit = kPresenceGroupLimit;
        QList<UserRecord> u;
        for (int i = 0; i <= limit; ++i)
            u << addUser(QStringLiteral("member%1").arg(i));
        QList<quint64> exact, big;
        for (int i = 1; i <= limit; ++i) {
            if (i < limit)
                exact << u[i].id;
            big << u[i].id;
        }
        for (const auto &[name, members] :
             {std::pair{QStringLiteral("exact"), exact}, std::pair{QStringLiteral("big"), big}}) {
            const auto made = group(u[0].id, name, members);
            QVERIFY2(made.ok(), qPrintable(made.ok() ? QString() : made.error().message));
        }

        QCOMPARE(m_store->contactsOf(u[limit].id)->size(), 0);
        const QList<quint64> ofFirst = *m_store->contactsOf(u[1].id);
        QCOMPARE(ofFirst.size(), limit - 1);
        QVERIFY(ofFirst.contains(u[0].id));
        QVERIFY(!ofFirst.contains(u[limit].id));

        // A direct chat always counts.
        QVERIFY(
            send(directConversationId(u[0].id, u[limit].id), u[0].id, QStringLiteral("hi")).ok());
        QCOMPARE(*m_store->contactsOf(u[limit].id), QList<quint64>{u[0].id});
    }

    // ---- groups ------------------------------------------------------------------------------

    // The group's picture: the event says whether the picture changed, went,
    // or stayed while only the colour changed.
    void groupAvatarEventsSayWhatChanged()
    {
        const UserRecord owner = addUser(QStringLiteral("olga"));
        const auto created = group(owner.id, QStringLiteral("Pictured"), {});
        QVERIFY(created.ok());
        const QString team = QString::fromStdString(created->state.id());
        const FileRecord picture = finishedFile(owner.id, 41, digestOf("group picture"), 1000);
        QVERIFY(!picture.id.isEmpty());
        auto avatar = [&](const QString &fileId, quint32 color) {
            return wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
                m_store->setGroupAvatar(team, owner.id, fileId, color, ctx, done);
            });
        };
        const auto pictured = avatar(picture.id, 3);
        QVERIFY(pictured.ok());
        QCOMPARE(pictured->event.content().system().kind(), v1::SystemEvent::GROUP_AVATAR_CHANGED);
        QVERIFY(!pictured->event.content().system().color_only());
        const auto recoloured = avatar(picture.id, 4);
        QVERIFY(recoloured.ok());
        QVERIFY(recoloured->event.content().system().color_only());
        const auto cleared = avatar(QString(), 4);
        QVERIFY(cleared.ok());
        QVERIFY(cleared->event.content().system().avatar_file_id().empty());
        QVERIFY(!cleared->event.content().system().color_only());
        const auto plain = avatar(QString(), 6);
        QVERIFY(plain.ok());
        QVERIFY(plain->event.content().system().color_only());
    }

    void groupLifecycleAndPermissions()
    {
        const UserRecord owner = addUser(QStringLiteral("olga"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const UserRecord carol = addUser(QStringLiteral("carol"));
        const UserRecord dave = addUser(QStringLiteral("dave"));

        QCOMPARE(group(owner.id, QStringLiteral("  "), {}).error().code, v1::INVALID_ARGUMENT);
        QCOMPARE(group(owner.id, QStringLiteral("x"), {bob.id, 4242}).error().code,
                 v1::INVALID_ARGUMENT);

        const auto created = group(owner.id, QStringLiteral(" Team "), {bob.id, carol.id, bob.id});
        QVERIFY(created.ok());
        const QString team = QString::fromStdString(created->state.id());
        QVERIFY(parseConversationId(team) && !parseConversationId(team)->isDirect());
        QCOMPARE(created->state.kind(), v1::GROUP);
        QCOMPARE(created->state.title(), "Team");
        QCOMPARE(created->state.my_role(), v1::OWNER);
        QCOMPARE(created->state.member_count(), 3u);
        QCOMPARE(created->state.metadata_version(), 1u);
        QCOMPARE(created->state.max_seq(), 1u);
        QCOMPARE(created->state.unread_count(), 0u);
        QCOMPARE(created->event.seq(), 1u);
        QCOMPARE(created->event.sender_user_id(), owner.id);
        const v1::SystemEvent &made = created->event.content().system();
        QCOMPARE(made.kind(), v1::SystemEvent::GROUP_CREATED);
        QCOMPARE(made.name(), "Team");
        QCOMPARE(made.actor_user_id(), owner.id);
        QCOMPARE(made.user_ids_size(), 2);
        QCOMPARE(created->memberIds.size(), 3);
        QCOMPARE(created->addedIds.size(), 3);
        QCOMPARE(m_store->conversation(team, bob.id)->unread_count(), 1u);
        QCOMPARE(m_store->conversation(team, bob.id)->my_role(), v1::MEMBER);

        // Group ids come from a counter.
        const auto second = group(bob.id, QStringLiteral("other"), {});
        QVERIFY(second.ok());
        QCOMPARE(parseConversationId(QString::fromStdString(second->state.id()))->groupId,
                 parseConversationId(team)->groupId + 1);

        auto add = [&](quint64 actor, const QList<quint64> &ids) {
            return wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
                m_store->addMembers(team, actor, ids, ctx, done);
            });
        };
        auto remove = [&](quint64 actor, quint64 who) {
            return wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
                m_store->removeMember(team, actor, who, ctx, done);
            });
        };
        auto rename = [&](quint64 actor, const QString &name) {
            return wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
                m_store->renameGroup(team, actor, name, ctx, done);
            });
        };
        auto leave = [&](quint64 who) {
            return wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
                m_store->leaveGroup(team, who, ctx, done);
            });
        };

        // Plain members manage nothing; strangers learn nothing.
        QCOMPARE(add(bob.id, {dave.id}).error().code, v1::PERMISSION_DENIED);
        QCOMPARE(remove(bob.id, carol.id).error().code, v1::PERMISSION_DENIED);
        QCOMPARE(rename(bob.id, QStringLiteral("mine")).error().code, v1::PERMISSION_DENIED);
        QCOMPARE(add(dave.id, {dave.id}).error().code, v1::NOT_FOUND);
        QCOMPARE(leave(dave.id).error().code, v1::NOT_FOUND);
        QCOMPARE(add(owner.id, {4242}).error().code, v1::INVALID_ARGUMENT);
        QCOMPARE(add(owner.id, {bob.id}).error().code, v1::INVALID_ARGUMENT);
        QCOMPARE(m_store->conversation(team, owner.id)->metadata_version(), 1u);
        QCOMPARE(m_store->conversation(team, owner.id)->max_seq(), 1u);

        const auto added = add(owner.id, {bob.id, dave.id});
        QVERIFY(added.ok());
        QCOMPARE(added->addedIds, QList<quint64>{dave.id});
        QCOMPARE(added->memberIds.size(), 4);
        QCOMPARE(added->event.seq(), 2u);
        QCOMPARE(added->event.content().system().kind(), v1::SystemEvent::MEMBERS_ADDED);
        QCOMPARE(added->event.content().system().user_ids(0), dave.id);
        QCOMPARE(added->state.metadata_version(), 2u);
        QCOMPARE(m_store->conversation(team, dave.id)->unread_count(), 1u);

        const auto renamed = rename(owner.id, QStringLiteral("Crew"));
        QVERIFY(renamed.ok());
        QCOMPARE(renamed->state.title(), "Crew");
        QCOMPARE(renamed->event.content().system().kind(), v1::SystemEvent::GROUP_RENAMED);
        QCOMPARE(renamed->event.content().system().name(), "Crew");
        QCOMPARE(m_store->conversation(team, bob.id)->title(), "Crew");

        // An admin (granted by a later feature; set directly here) manages the
        // group, but cannot remove the owner.
        QVERIFY(m_backend->setMemberRole(team, dave.id, v1::ADMIN));
        QCOMPARE(remove(dave.id, owner.id).error().code, v1::PERMISSION_DENIED);
        const auto removed = remove(dave.id, carol.id);
        QVERIFY(removed.ok());
        QCOMPARE(removed->removedIds, QList<quint64>{carol.id});
        QCOMPARE(removed->event.content().system().kind(), v1::SystemEvent::MEMBER_REMOVED);
        QCOMPARE(removed->event.sender_user_id(), dave.id);
        QCOMPARE(m_store->conversation(team, carol.id).error().code, v1::NOT_FOUND);
        QCOMPARE(remove(dave.id, carol.id).error().code, v1::NOT_FOUND);

        // The owner leaves: the admin (dave) takes over although bob joined earlier.
        const auto left = leave(owner.id);
        QVERIFY(left.ok());
        QCOMPARE(left->event.content().system().kind(), v1::SystemEvent::MEMBER_LEFT);
        QCOMPARE(left->event.sender_user_id(), owner.id);
        QCOMPARE(left->removedIds, QList<quint64>{owner.id});
        QCOMPARE(left->state.my_role(), v1::ROLE_UNSPECIFIED);
        QCOMPARE(m_store->membership(team, dave.id)->value().role, v1::OWNER);
        QCOMPARE(m_store->membership(team, bob.id)->value().role, v1::MEMBER);
        // Without admins, the longest-standing member takes over.
        const auto daveLeft = leave(dave.id);
        QVERIFY(daveLeft.ok());
        QCOMPARE(m_store->membership(team, bob.id)->value().role, v1::OWNER);
        QCOMPARE(daveLeft->memberIds, QList<quint64>{bob.id});
        const auto lastLeft = leave(bob.id);
        QVERIFY(lastLeft.ok());
        QVERIFY(lastLeft->memberIds.isEmpty());
        QCOMPARE(m_store->members(team)->size(), 0);

        // The stream holds every event once, in order; metadata moved with each.
        QCOMPARE(pullAllSeqs(team), (QList<quint64>{1, 2, 3, 4, 5, 6, 7}));
        QCOMPARE(lastLeft->state.metadata_version(), 7u);
    }

    // ---- users and devices -------------------------------------------------------------------

    void usersAreUniqueAndSearchable()
    {
        const UserRecord alice = addUser(QStringLiteral("Alice"), QStringLiteral("Alice Liddell"));
        QCOMPARE(alice.username, QStringLiteral("alice"));
        const auto taken = wait<UserRecord>([&](QObject *ctx, Completion<UserRecord> done) {
            m_store->createUser(QStringLiteral("ALICE"), {}, "h", ctx, done);
        });
        QCOMPARE(taken.error().code, v1::NAME_TAKEN);
        const auto bad = wait<UserRecord>([&](QObject *ctx, Completion<UserRecord> done) {
            m_store->createUser(QStringLiteral("a b"), {}, "h", ctx, done);
        });
        QCOMPARE(bad.error().code, v1::INVALID_ARGUMENT);

        const UserRecord alfred = addUser(QStringLiteral("alfred"));
        QCOMPARE(alfred.displayName, QStringLiteral("alfred"));
        const UserRecord bob = addUser(QStringLiteral("bob"), QStringLiteral("Bob Allen"));
        const UserRecord alvin = addUser(QStringLiteral("alvin"));
        addUser(QStringLiteral("zed"));
        QVERIFY((wait<Done>([&](QObject *ctx, Completion<Done> done) {
                     m_store->setDisabled(alvin.id, true, ctx, done);
                 }).ok()));

        auto names = [](const QList<UserRecord> &users) {
            QStringList out;
            for (const UserRecord &u : users)
                out.append(u.username);
            return out;
        };
        QCOMPARE(names(*m_store->searchUsers(QStringLiteral("AL"), 10)),
                 (QStringList{QStringLiteral("alfred"), QStringLiteral("alice"),
                              QStringLiteral("bob")}));
        QCOMPARE(m_store->searchUsers(QStringLiteral("al"), 2)->size(), 2);
        QCOMPARE(names(*m_store->searchUsers(QStringLiteral("liddell"), 10)),
                 QStringList{QStringLiteral("alice")});
        const UserRecord emile = addUser(QStringLiteral("emile"), QStringLiteral("Émile Ørsted"));
        QCOMPARE(names(*m_store->searchUsers(QStringLiteral("éMILE øRS"), 10)),
                 QStringList{QStringLiteral("emile")});
        QVERIFY((wait<Done>([&](QObject *ctx, Completion<Done> done) {
                     m_store->setDisabled(emile.id, true, ctx, done);
                 }).ok()));
        QCOMPARE(m_store->searchUsers(QStringLiteral("%"), 10)->size(), 0);
        QCOMPARE(m_store->searchUsers(QStringLiteral("_"), 10)->size(), 0);
        QCOMPARE(m_store->searchUsers(QStringLiteral("al"), 0)->size(), 0);

        QCOMPARE(m_store->userByName(QStringLiteral(" ALICE "))->id, alice.id);
        QCOMPARE(m_store->userByName(QStringLiteral("nobody")).error().code, v1::NOT_FOUND);
        QCOMPARE(m_store->userById(9999).error().code, v1::NOT_FOUND);
        QVERIFY(m_store->userById(alvin.id)->disabled);
        QCOMPARE(m_store->listUsers()->size(), 6);

        const auto renamed = wait<UserRecord>([&](QObject *ctx, Completion<UserRecord> done) {
            m_store->setDisplayName(bob.id, QStringLiteral("Robert"), ctx, done);
        });
        QCOMPARE(renamed->displayName, QStringLiteral("Robert"));
        QCOMPARE(m_store->userById(bob.id)->displayName, QStringLiteral("Robert"));
        QVERIFY((wait<Done>([&](QObject *ctx, Completion<Done> done) {
                     m_store->setPasswordHash(bob.id, "new-hash", ctx, done);
                 }).ok()));
        QCOMPARE(m_store->userById(bob.id)->passwordHash, QByteArray("new-hash"));
        // Replaced only while it is still the hash expected.
        const auto replace = [&](quint64 id, const char *expected, const char *hash) {
            return wait<bool>([&](QObject *ctx, Completion<bool> done) {
                m_store->replacePasswordHash(id, expected, hash, ctx, done);
            });
        };
        QCOMPARE(*replace(bob.id, "new-hash", "upgraded"), true);
        QCOMPARE(m_store->userById(bob.id)->passwordHash, QByteArray("upgraded"));
        QCOMPARE(*replace(bob.id, "new-hash", "stale upgrade"), false);
        QCOMPARE(m_store->userById(bob.id)->passwordHash, QByteArray("upgraded"));
        QCOMPARE(replace(9999, "x", "y").error().code, v1::NOT_FOUND);
        QCOMPARE((wait<Done>([&](QObject *ctx, Completion<Done> done) {
                      m_store->setPasswordHash(9999, "x", ctx, done);
                  })
                      .error()
                      .code),
                 v1::NOT_FOUND);
    }

    void devicesAndRevocation()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        auto device = [&](quint64 user, const QByteArray &hash) {
            return wait<DeviceRecord>([&](QObject *ctx, Completion<DeviceRecord> done) {
                m_store->createDevice(user, QStringLiteral("laptop"), hash, ctx, done);
            });
        };
        auto revoke = [&](quint64 user, quint64 id) {
            return wait<Done>([&](QObject *ctx, Completion<Done> done) {
                m_store->revokeDevice(user, id, ctx, done);
            });
        };
        const auto laptop = device(alice.id, "hash-laptop");
        const auto phone = device(alice.id, "hash-phone");
        QVERIFY(laptop.ok() && phone.ok());
        QCOMPARE(device(9999, "hash-x").error().code, v1::NOT_FOUND);
        QCOMPARE(m_store->deviceByTokenHash("hash-laptop")->id, laptop->id);
        QCOMPARE(m_store->deviceByTokenHash("hash-laptop")->userId, alice.id);
        QCOMPARE(m_store->deviceByTokenHash("nope").error().code, v1::NOT_FOUND);

        QCOMPARE(revoke(bob.id, laptop->id).error().code, v1::NOT_FOUND); // not bob's
        QVERIFY(revoke(alice.id, laptop->id).ok());
        QCOMPARE(revoke(alice.id, laptop->id).error().code, v1::NOT_FOUND); // already
        QCOMPARE(m_store->deviceByTokenHash("hash-laptop").error().code, v1::NOT_FOUND);
        QVERIFY(m_store->deviceByTokenHash("hash-phone").ok());
        const auto devices = m_store->devicesOfUser(alice.id);
        QCOMPARE(devices->size(), 2);
        QVERIFY(devices->at(0).revoked);
        QVERIFY(!devices->at(1).revoked);

        const qint64 later = phone->lastSeenMs + 60000;
        m_store->touchDevice(phone->id, later);
        QTRY_COMPARE_WITH_TIMEOUT(m_store->devicesOfUser(alice.id)->at(1).lastSeenMs, later,
                                  kWaitMs);
        m_store->touchDevice(phone->id, later - 1000); // never moves back
        QVERIFY(revoke(alice.id, phone->id).ok());     // queued after the touch
        QCOMPARE(m_store->devicesOfUser(alice.id)->at(1).lastSeenMs, later);
    }

    // ---- completions and shutdown ------------------------------------------------------------

    void completionDroppedWhenContextDies()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        bool called = false;
        auto context = std::make_unique<QObject>();
        m_store->appendMessage(
            AppendRequest{direct, alice.id, 1, "orphan", text(QStringLiteral("x")), {}},
            context.get(), [&called](Result<AppendResult>) { called = true; });
        context.reset();
        // A later write completes after the first (one writer, in order).
        QVERIFY(send(direct, alice.id, QStringLiteral("later")).ok());
        QCoreApplication::processEvents();
        QVERIFY(!called);
        // The write itself stayed.
        QVERIFY(m_store->messageByClientId(alice.id, "orphan")->has_value());
        QCOMPARE(pullAllSeqs(direct), (QList<quint64>{1, 2}));
    }

    void completionRunsOnTheContextThread()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        QThread worker;
        worker.start();
        QObject context;
        context.moveToThread(&worker);
        std::atomic<QThread *> ranOn{nullptr};
        m_store->setDisplayName(alice.id, QStringLiteral("A"), &context,
                                [&ranOn](Result<UserRecord>) { ranOn = QThread::currentThread(); });
        QTRY_VERIFY_WITH_TIMEOUT(ranOn.load() != nullptr, kWaitMs);
        QCOMPARE(ranOn.load(), &worker);
        worker.quit();
        worker.wait();
    }

    void contextDeletedOnItsOwnThreadMidStream()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QThread worker;
        worker.start();
        auto *context = new QObject;
        context->moveToThread(&worker);
        std::atomic<bool> deleted{false};
        std::atomic<int> calls{0};
        std::atomic<int> callsAfterDeletion{0};
        connect(
            context, &QObject::destroyed, context, [&deleted] { deleted = true; },
            Qt::DirectConnection);
        // The worker holds still until every write has committed: a write may
        // only be called while its context is alive (the Store's contract), and
        // so every completion is queued for the worker when the tenth deletes it.
        QSemaphore gate;
        bool gateOpen = false;
        QMetaObject::invokeMethod(context, [&gate] { gate.acquire(); });
        // Whatever happens below, the worker is let go and stopped before the
        // state its completions use goes away.
        const auto stopWorker = qScopeGuard([&] {
            if (!gateOpen)
                gate.release();
            worker.quit();
            worker.wait();
        });
        constexpr int kWrites = 300;
        constexpr int kDieAfter = 10;
        for (int i = 0; i < kWrites; ++i) {
            m_store->appendMessage(AppendRequest{direct,
                                                 alice.id,
                                                 1,
                                                 QStringLiteral("w%1").arg(i).toStdString(),
                                                 text(QStringLiteral("x")),
                                                 {}},
                                   context, [&, context](Result<AppendResult>) {
                                       if (deleted)
                                           ++callsAfterDeletion;
                                       // Dies on its own thread while later completions are queued
                                       // for it.
                                       if (++calls == kDieAfter)
                                           delete context;
                                   });
        }
        // Written after them all (one writer, in order).
        QVERIFY(send(direct, bob.id, QStringLiteral("sentinel")).ok());
        QCOMPARE(calls.load(), 0);
        gateOpen = true;
        gate.release();
        QTRY_VERIFY_WITH_TIMEOUT(deleted, kWaitMs);
        worker.quit();
        QVERIFY(worker.wait(kWaitMs));
        QCOMPARE(calls.load(), kDieAfter);
        QCOMPARE(callsAfterDeletion.load(), 0);
        QCOMPARE(pullAllSeqs(direct).size(), kWrites + 1); // every write stayed
    }

    void closeDrainsTheQueue()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        int acked = 0;
        std::optional<Result<AppendResult>> refused;
        QObject receiver; // after what its completions use: it goes first, and they with it
        for (int i = 0; i < 100; ++i)
            m_store->appendMessage(AppendRequest{direct,
                                                 bob.id,
                                                 1,
                                                 QStringLiteral("q%1").arg(i).toStdString(),
                                                 text(QStringLiteral("x")),
                                                 {}},
                                   &receiver,
                                   [&acked](Result<AppendResult> r) { acked += r.ok() ? 1 : 0; });
        m_store->close();
        m_store->appendMessage(
            AppendRequest{direct, bob.id, 1, "late", text(QStringLiteral("x")), {}}, &receiver,
            [&refused](Result<AppendResult> r) { refused.emplace(r); });
        QTRY_COMPARE_WITH_TIMEOUT(acked, 100, kWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(refused.has_value(), kWaitMs);
        QCOMPARE(refused->error().code, v1::SHUTTING_DOWN);
        QVERIFY(!m_store->userById(alice.id).ok());

        reopen();
        QCOMPARE(pullAllSeqs(direct).size(), 100);
    }

    // ---- files -------------------------------------------------------------------------------

    void uploadsFinishAndWhoMayFetchThem()
    {
        const ThreeUsers t = threeUsersAndTwoChats();
        const QByteArray sha = digestOf("photo");
        const auto granted = upload(t.alice.id, 1000, sha);
        QVERIFY2(granted.ok(), qPrintable(granted.ok() ? QString() : granted.error().message));
        QVERIFY(!granted->existing);
        QCOMPARE(granted->usedBytes, 1000u);
        const QString id = granted->file.id;
        QVERIFY(isValidFileId(id.toStdString()));

        const auto stored = m_store->file(id);
        QVERIFY(stored.ok() && stored->has_value());
        QVERIFY(!(*stored)->complete);
        QCOMPARE((*stored)->uploaderId, t.alice.id);
        QCOMPARE((*stored)->size, 1000u);
        QCOMPARE((*stored)->sha256, sha);
        QCOMPARE((*stored)->mimeType, QStringLiteral("application/octet-stream"));
        // Nobody fetches an unfinished upload, not even its uploader.
        QVERIFY(!m_store->downloadableFile(id, t.alice.id)->has_value());
        QVERIFY(!m_store->blobInUse(sha).value());

        const auto done = complete(id, 5000);
        QVERIFY(done.ok());
        QVERIFY(done->complete);
        QCOMPARE(done->completedMs, 5000);
        QVERIFY(m_store->blobInUse(sha).value());
        QCOMPARE(complete(id).error().code, v1::NOT_FOUND);
        QCOMPARE(complete(QString::fromStdString(newFileId())).error().code, v1::NOT_FOUND);

        // The uploader may; the others once a message in their conversation carries it.
        QVERIFY(m_store->downloadableFile(id, t.alice.id)->has_value());
        QVERIFY(!m_store->downloadableFile(id, t.bob.id)->has_value());
        const auto sent = sendFile(t.direct, t.alice.id, QStringLiteral("f1"), fileContent(*done));
        QVERIFY2(sent.ok(), qPrintable(sent.ok() ? QString() : sent.error().message));
        QCOMPARE(sent->message.content().file().file_id(), id.toStdString());
        QVERIFY(m_store->downloadableFile(id, t.bob.id)->has_value());
        QVERIFY(!m_store->downloadableFile(id, t.carol.id)->has_value());
        QVERIFY(!m_store->downloadableFile(QString::fromStdString(newFileId()), t.alice.id)
                     ->has_value());

        // In a group: its members, and nobody once removed.
        QVERIFY(sendFile(t.team, t.alice.id, QStringLiteral("f2"), fileContent(*done)).ok());
        auto add = wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> d) {
            m_store->addMembers(t.team, t.alice.id, {t.carol.id}, ctx, d);
        });
        QVERIFY(add.ok());
        QVERIFY(m_store->downloadableFile(id, t.carol.id)->has_value());
        auto removed = wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> d) {
            m_store->removeMember(t.team, t.alice.id, t.carol.id, ctx, d);
        });
        QVERIFY(removed.ok());
        QVERIFY(!m_store->downloadableFile(id, t.carol.id)->has_value());
    }

    void theSameBytesResumeOrAreFinishedAlready()
    {
        const ThreeUsers t = threeUsersAndTwoChats();
        const QByteArray sha = digestOf("video");
        const auto first = upload(t.alice.id, 4096, sha);
        QVERIFY(first.ok());
        // Asked again (a restart of the client, another device): the same upload.
        const auto again = upload(t.alice.id, 4096, sha);
        QVERIFY(again.ok());
        QVERIFY(again->existing);
        QCOMPARE(again->file.id, first->file.id);
        QCOMPARE(again->usedBytes, 4096u);
        // Another size, or another user: an upload of its own.
        const auto otherSize = upload(t.alice.id, 4097, sha);
        QVERIFY(otherSize.ok() && !otherSize->existing);
        const auto bobs = upload(t.bob.id, 4096, sha);
        QVERIFY(bobs.ok() && !bobs->existing);
        QVERIFY(bobs->file.id != first->file.id);

        QVERIFY(complete(first->file.id).ok());
        const auto finished = upload(t.alice.id, 4096, sha);
        QVERIFY(finished.ok());
        QVERIFY(finished->existing);
        QVERIFY(finished->file.complete);
        QCOMPARE(finished->file.id, first->file.id);
    }

    void uploadLimitsAreCheckedBeforeAnyByte()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        // Uploads under way at once.
        QVERIFY(upload(alice.id, 10, digestOf("a"), 1000, 0, 2).ok());
        const auto second = upload(alice.id, 10, digestOf("b"), 1000, 0, 2);
        QVERIFY(second.ok());
        QCOMPARE(upload(alice.id, 10, digestOf("c"), 1000, 0, 2).error().code, v1::RATE_LIMITED);
        // A finished one no longer counts as under way; an expired one neither.
        QVERIFY(complete(second->file.id).ok());
        QVERIFY(upload(alice.id, 10, digestOf("c"), 1000, 0, 2).ok());
        QCOMPARE(upload(alice.id, 10, digestOf("d"), 1000, 0, 2).error().code, v1::RATE_LIMITED);
        QVERIFY(upload(alice.id, 10, digestOf("d"), 1000 + 3'600'000, 0, 2).ok());

        // The quota counts finished files and uploads under way (not expired ones).
        const UserRecord bob = addUser(QStringLiteral("bob"));
        QVERIFY(upload(bob.id, 600, digestOf("1"), 1000, 1000).ok());
        const auto over = upload(bob.id, 401, digestOf("2"), 1000, 1000);
        QCOMPARE(over.error().code, v1::QUOTA_EXCEEDED);
        const auto exact = upload(bob.id, 400, digestOf("2"), 1000, 1000);
        QVERIFY(exact.ok());
        QCOMPARE(exact->usedBytes, 1000u);
        QCOMPARE(upload(bob.id, 1, digestOf("3"), 1000, 1000).error().code, v1::QUOTA_EXCEEDED);
        QVERIFY(upload(bob.id, 1000, digestOf("3"), 1000 + 3'600'000, 1000).ok());
    }

    void aMessageCarriesOnlyTheSendersFinishedFile()
    {
        const ThreeUsers t = threeUsersAndTwoChats();
        const FileRecord alices = finishedFile(t.alice.id, 100, digestOf("mine"));
        QVERIFY(!alices.id.isEmpty());
        const auto unfinished = upload(t.alice.id, 50, digestOf("half"));
        QVERIFY(unfinished.ok());

        // Bob may not pass Alice's file off as his; nor anyone an unfinished
        // upload, or a file of another size or checksum.
        QCOMPARE(
            sendFile(t.direct, t.bob.id, QStringLiteral("b1"), fileContent(alices)).error().code,
            v1::INVALID_ARGUMENT);
        QCOMPARE(sendFile(t.direct, t.alice.id, QStringLiteral("a1"), fileContent(unfinished->file))
                     .error()
                     .code,
                 v1::INVALID_ARGUMENT);
        FileRecord wrongSize = alices;
        wrongSize.size = 101;
        QCOMPARE(sendFile(t.direct, t.alice.id, QStringLiteral("a2"), fileContent(wrongSize))
                     .error()
                     .code,
                 v1::INVALID_ARGUMENT);
        FileRecord wrongSum = alices;
        wrongSum.sha256 = digestOf("other");
        QCOMPARE(sendFile(t.direct, t.alice.id, QStringLiteral("a3"), fileContent(wrongSum))
                     .error()
                     .code,
                 v1::INVALID_ARGUMENT);
        // A stranger to the conversation learns nothing about files either.
        QCOMPARE(sendFile(t.team, t.carol.id, QStringLiteral("c1"),
                          fileContent(finishedFile(t.carol.id, 7, digestOf("c"))))
                     .error()
                     .code,
                 v1::NOT_FOUND);
        // None of that took a seq.
        QVERIFY(pullAllSeqs(t.direct).isEmpty());
        QVERIFY(!m_store->downloadableFile(alices.id, t.bob.id)->has_value());

        const auto sent = sendFile(t.direct, t.alice.id, QStringLiteral("a4"), fileContent(alices));
        QVERIFY(sent.ok());
        QCOMPARE(sent->message.seq(), 1u);
        // A resend is the same message, not a second reference.
        const auto resent =
            sendFile(t.direct, t.alice.id, QStringLiteral("a4"), fileContent(alices));
        QVERIFY(resent.ok() && resent->duplicate);
        QCOMPARE(pullAllSeqs(t.direct), QList<quint64>{1});
        // A file may go to several conversations.
        QVERIFY(sendFile(t.team, t.alice.id, QStringLiteral("a5"), fileContent(alices)).ok());
    }

    // Deleting a file's message for everyone takes the file away from the
    // members (only the uploader keeps it), and the message no longer holds
    // it against the sweep.
    void aDeletedFileMessageNoLongerSharesItsFile()
    {
        const ThreeUsers t = threeUsersAndTwoChats();
        const FileRecord file = finishedFile(t.alice.id, 100, digestOf("shared"));
        QVERIFY(!file.id.isEmpty());
        QVERIFY(sendFile(t.direct, t.alice.id, QStringLiteral("f1"), fileContent(file)).ok());
        QVERIFY(m_store->downloadableFile(file.id, t.bob.id)->has_value());
        QVERIFY(operate(t.direct, t.alice.id, QStringLiteral("d1"), deletionOf(1)).ok());
        QVERIFY(!m_store->downloadableFile(file.id, t.bob.id)->has_value());
        QVERIFY(m_store->downloadableFile(file.id, t.alice.id)->has_value());
    }

    void uploadsAreDroppedOnlyByTheirUploader()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const auto granted = upload(alice.id, 10, digestOf("x"));
        QVERIFY(granted.ok());
        auto drop = [&](const QString &id, quint64 user) {
            return wait<Done>([&](QObject *ctx, Completion<Done> done) {
                m_store->dropUpload(id, user, ctx, done);
            });
        };
        QCOMPARE(drop(granted->file.id, bob.id).error().code, v1::NOT_FOUND);
        QVERIFY(drop(granted->file.id, alice.id).ok());
        QVERIFY(!m_store->file(granted->file.id)->has_value());
        QCOMPARE(drop(granted->file.id, alice.id).error().code, v1::NOT_FOUND);
        // A finished file is not an upload to drop; the server's own cleanup (0) drops any upload.
        const FileRecord done = finishedFile(alice.id, 5, digestOf("y"));
        QCOMPARE(drop(done.id, alice.id).error().code, v1::NOT_FOUND);
        const auto other = upload(bob.id, 10, digestOf("z"));
        QVERIFY(drop(other->file.id, 0).ok());
    }

    void sweepDropsExpiredUploadsUnsentFilesAndUnheldBlobs()
    {
        const ThreeUsers t = threeUsersAndTwoChats();
        constexpr qint64 kHour = 3'600'000;
        const auto stale = upload(t.alice.id, 10, digestOf("stale"), 1000, 0, 0, kHour);
        const auto fresh = upload(t.alice.id, 10, digestOf("fresh"), 1000 + kHour, 0, 0, kHour);
        QVERIFY(stale.ok() && fresh.ok());

        const QByteArray shared = digestOf("shared");
        const FileRecord sent = finishedFile(t.alice.id, 20, shared, 1000);
        const FileRecord sameBytes = finishedFile(t.bob.id, 20, shared, 1000);
        const FileRecord unsent = finishedFile(t.alice.id, 30, digestOf("unsent"), 1000);
        QVERIFY(!sent.id.isEmpty() && !sameBytes.id.isEmpty() && !unsent.id.isEmpty());
        QVERIFY(sendFile(t.direct, t.alice.id, QStringLiteral("s"), fileContent(sent)).ok());

        // Before the grace is over nothing finished goes; the expired upload does.
        auto swept = sweep(1000 + kHour, 10 * kHour);
        QVERIFY(swept.ok());
        QCOMPARE(swept->expiredUploads, QList<QString>{stale->file.id});
        QVERIFY(swept->unsentFiles.isEmpty());
        QVERIFY(swept->blobs.isEmpty());
        QVERIFY(!m_store->file(stale->file.id)->has_value());
        QVERIFY(m_store->file(fresh->file.id)->has_value());

        // After it: the files no message carries, and the blobs none holds.
        swept = sweep(1002 + 10 * kHour, 10 * kHour);
        QVERIFY(swept.ok());
        QCOMPARE(swept->expiredUploads, QList<QString>{fresh->file.id});
        QStringList unsentIds(swept->unsentFiles.begin(), swept->unsentFiles.end());
        unsentIds.sort();
        QStringList expected{sameBytes.id, unsent.id};
        expected.sort();
        QCOMPARE(unsentIds, expected);
        // The shared bytes stay: the sent file holds them.
        QCOMPARE(swept->blobs, QList<QByteArray>{digestOf("unsent")});
        QVERIFY(m_store->blobInUse(shared).value());
        QVERIFY(!m_store->blobInUse(digestOf("unsent")).value());
        QVERIFY(m_store->downloadableFile(sent.id, t.bob.id)->has_value());
        // Nothing left to do.
        swept = sweep(1002 + 20 * kHour, 10 * kHour);
        QVERIFY(swept.ok());
        QVERIFY(swept->expiredUploads.isEmpty() && swept->unsentFiles.isEmpty() &&
                swept->blobs.isEmpty());
    }

    Result<UserRecord> setAvatar(quint64 userId, const QString &fileId, quint32 color)
    {
        return wait<UserRecord>([&](QObject *ctx, Completion<UserRecord> done) {
            m_store->setAvatar(userId, fileId, color, ctx, done);
        });
    }

    // A user's picture is one of their own finished files; while it is
    // someone's picture anyone may fetch it (but one who blocks them) and the
    // sweep leaves it; the picture it replaced is collected like any file
    // nothing refers to.
    void avatarsAreOwnFilesHeldWhileCurrent()
    {
        const ThreeUsers t = threeUsersAndTwoChats();
        const FileRecord first = finishedFile(t.alice.id, 40, digestOf("first"), 1000);
        const FileRecord second = finishedFile(t.alice.id, 50, digestOf("second"), 1000);
        const FileRecord bobs = finishedFile(t.bob.id, 60, digestOf("bobs"), 1000);
        const auto unfinished = upload(t.alice.id, 70, digestOf("unfinished"), 1000);
        QVERIFY(!first.id.isEmpty() && !second.id.isEmpty() && !bobs.id.isEmpty());
        QVERIFY(unfinished.ok());
        QVERIFY(m_store->userById(t.alice.id)->avatarFileId.isEmpty());
        QCOMPARE(m_store->userById(t.alice.id)->avatarColor, 0u);

        const auto set = setAvatar(t.alice.id, first.id, 5);
        QVERIFY2(set.ok(), qPrintable(set.ok() ? QString() : set.error().message));
        QCOMPARE(set->avatarFileId, first.id);
        QCOMPARE(set->avatarColor, 5u);
        QCOMPARE(m_store->userById(t.alice.id)->avatarFileId, first.id);
        QCOMPARE(m_store->userByName(QStringLiteral("alice"))->avatarColor, 5u);
        // Read back the same way by every user read (search, list).
        const auto found = m_store->searchUsersPage(QStringLiteral("alice"), 10, std::nullopt);
        QVERIFY(found.ok() && !found->users.isEmpty());
        QCOMPARE(found->users.first().avatarFileId, first.id);

        // Someone else's file, an unfinished one, one that does not exist: NOT_FOUND, nothing
        // changes.
        QCOMPARE(setAvatar(t.alice.id, bobs.id, 1).error().code, v1::NOT_FOUND);
        QCOMPARE(setAvatar(t.alice.id, unfinished->file.id, 1).error().code, v1::NOT_FOUND);
        QCOMPARE(setAvatar(t.alice.id, QString::fromStdString(newFileId()), 1).error().code,
                 v1::NOT_FOUND);
        QCOMPARE(m_store->userById(t.alice.id)->avatarFileId, first.id);
        QCOMPARE(m_store->userById(t.alice.id)->avatarColor, 5u);

        // Anyone may fetch the current picture; carol blocks alice and may not.
        QVERIFY(setBlocked(t.carol.id, t.alice.id, true).ok());
        QVERIFY(m_store->downloadableFile(first.id, t.bob.id)->has_value());
        QVERIFY(!m_store->downloadableFile(first.id, t.carol.id)->has_value());
        QVERIFY(!m_store->downloadableFile(second.id, t.bob.id)->has_value());

        // Replaced: the old one is nobody's any more.
        QVERIFY(setAvatar(t.alice.id, second.id, 5).ok());
        QVERIFY(!m_store->downloadableFile(first.id, t.bob.id)->has_value());
        QVERIFY(m_store->downloadableFile(second.id, t.bob.id)->has_value());
        QVERIFY(m_store->downloadableFile(first.id, t.alice.id)->has_value());

        // Past the grace: the replaced picture and its blob go, the current one stays.
        constexpr qint64 kHour = 3'600'000;
        const auto swept = sweep(1002 + 10 * kHour, kHour);
        QVERIFY(swept.ok());
        QVERIFY(swept->unsentFiles.contains(first.id));
        QVERIFY(!swept->unsentFiles.contains(second.id));
        QVERIFY(swept->blobs.contains(digestOf("first")));
        QVERIFY(!swept->blobs.contains(digestOf("second")));
        QVERIFY(m_store->file(second.id)->has_value());
        QVERIFY(!m_store->file(first.id)->has_value());

        // Cleared: the picture is no longer held, the colour stays as given.
        const auto cleared = setAvatar(t.alice.id, QString(), 0);
        QVERIFY(cleared.ok());
        QVERIFY(cleared->avatarFileId.isEmpty());
        QCOMPARE(cleared->avatarColor, 0u);
        QVERIFY(!m_store->downloadableFile(second.id, t.bob.id)->has_value());
        const auto later = sweep(1002 + 20 * kHour, kHour);
        QVERIFY(later.ok());
        QVERIFY(later->unsentFiles.contains(second.id));
        QCOMPARE(setAvatar(4040, QString(), 1).error().code, v1::NOT_FOUND);
    }

    Result<GroupChange> setGroupAvatar(const QString &group, quint64 actorId, const QString &fileId,
                                       quint32 color)
    {
        return wait<GroupChange>([&](QObject *ctx, Completion<GroupChange> done) {
            m_store->setGroupAvatar(group, actorId, fileId, color, ctx, done);
        });
    }

    // A group's picture is one of the acting admin's own finished files, set
    // as a change of the group (its event, a new metadata version) by admins
    // and owners only; while it is the group's picture its members may fetch
    // it (others not) and the sweep leaves it; the one it replaced is
    // collected like any file nothing refers to.
    void groupAvatarsAreAdminFilesHeldWhileCurrent()
    {
        const ThreeUsers t = threeUsersAndTwoChats(); // team: alice (owner) and bob
        const FileRecord first = finishedFile(t.alice.id, 40, digestOf("g first"), 1000);
        const FileRecord second = finishedFile(t.alice.id, 50, digestOf("g second"), 1000);
        const FileRecord bobs = finishedFile(t.bob.id, 60, digestOf("g bobs"), 1000);
        const auto unfinished = upload(t.alice.id, 70, digestOf("g unfinished"), 1000);
        QVERIFY(!first.id.isEmpty() && !second.id.isEmpty() && !bobs.id.isEmpty());
        QVERIFY(unfinished.ok());
        const v1::ConversationState before = *m_store->conversation(t.team, t.bob.id);
        QVERIFY(before.avatar_file_id().empty());
        QCOMPARE(before.avatar_color(), 0u);

        const auto set = setGroupAvatar(t.team, t.alice.id, first.id, 5);
        QVERIFY2(set.ok(), qPrintable(set.ok() ? QString() : set.error().message));
        QCOMPARE(QString::fromStdString(set->state.avatar_file_id()), first.id);
        QCOMPARE(set->state.avatar_color(), 5u);
        QCOMPARE(set->state.metadata_version(), before.metadata_version() + 1);
        QCOMPARE(set->event.seq(), before.max_seq() + 1);
        const v1::SystemEvent &told = set->event.content().system();
        QCOMPARE(told.kind(), v1::SystemEvent::GROUP_AVATAR_CHANGED);
        QCOMPARE(QString::fromStdString(told.avatar_file_id()), first.id);
        QCOMPARE(told.avatar_color(), 5u);
        QCOMPARE(set->memberIds.size(), 2);
        // Read back the same way by every conversation read (one, a page).
        QCOMPARE(QString::fromStdString(m_store->conversation(t.team, t.bob.id)->avatar_file_id()),
                 first.id);
        const auto page = m_store->conversationsOf(t.bob.id);
        QVERIFY(page.ok());
        bool listed = false;
        for (const ConversationView &view : *page) {
            if (QString::fromStdString(view.id()) == t.team) {
                listed = true;
                QCOMPARE(QString::fromStdString(view.avatar_file_id()), first.id);
                QCOMPARE(view.avatar_color(), 5u);
            } else {
                QVERIFY(view.avatar_file_id().empty()); // the direct chat has none
            }
        }
        QVERIFY(listed);

        // A plain member may not; someone else's file, an unfinished one and
        // one that does not exist are INVALID_ARGUMENT alike; nothing changes.
        QCOMPARE(setGroupAvatar(t.team, t.bob.id, bobs.id, 1).error().code, v1::PERMISSION_DENIED);
        QCOMPARE(setGroupAvatar(t.team, t.carol.id, QString(), 1).error().code, v1::NOT_FOUND);
        QCOMPARE(setGroupAvatar(t.team, t.alice.id, bobs.id, 1).error().code, v1::INVALID_ARGUMENT);
        QCOMPARE(setGroupAvatar(t.team, t.alice.id, unfinished->file.id, 1).error().code,
                 v1::INVALID_ARGUMENT);
        QCOMPARE(
            setGroupAvatar(t.team, t.alice.id, QString::fromStdString(newFileId()), 1).error().code,
            v1::INVALID_ARGUMENT);
        const v1::ConversationState kept = *m_store->conversation(t.team, t.alice.id);
        QCOMPARE(QString::fromStdString(kept.avatar_file_id()), first.id);
        QCOMPARE(kept.avatar_color(), 5u);
        QCOMPARE(kept.max_seq(), set->event.seq());

        // Members may fetch it; carol, outside the group, may not.
        QVERIFY(m_store->downloadableFile(first.id, t.bob.id)->has_value());
        QVERIFY(!m_store->downloadableFile(first.id, t.carol.id)->has_value());
        QVERIFY(!m_store->downloadableFile(second.id, t.bob.id)->has_value());

        // Replaced: the old one is the group's no more.
        QVERIFY(setGroupAvatar(t.team, t.alice.id, second.id, 5).ok());
        QVERIFY(!m_store->downloadableFile(first.id, t.bob.id)->has_value());
        QVERIFY(m_store->downloadableFile(second.id, t.bob.id)->has_value());
        QVERIFY(m_store->downloadableFile(first.id, t.alice.id)->has_value());

        // Past the grace: the replaced picture and its blob go, the current one stays.
        constexpr qint64 kHour = 3'600'000;
        const auto swept = sweep(1002 + 10 * kHour, kHour);
        QVERIFY(swept.ok());
        QVERIFY(swept->unsentFiles.contains(first.id));
        QVERIFY(!swept->unsentFiles.contains(second.id));
        QVERIFY(swept->blobs.contains(digestOf("g first")));
        QVERIFY(!swept->blobs.contains(digestOf("g second")));
        QVERIFY(m_store->file(second.id)->has_value());

        // Cleared: no longer held, the colour as given.
        const auto cleared = setGroupAvatar(t.team, t.alice.id, QString(), 3);
        QVERIFY(cleared.ok());
        QVERIFY(cleared->state.avatar_file_id().empty());
        QCOMPARE(cleared->state.avatar_color(), 3u);
        QVERIFY(cleared->event.content().system().avatar_file_id().empty());
        QVERIFY(!m_store->downloadableFile(second.id, t.bob.id)->has_value());
        const auto later = sweep(1002 + 20 * kHour, kHour);
        QVERIFY(later.ok());
        QVERIFY(later->unsentFiles.contains(second.id));
    }

    void sweepWorksInBoundedSteps()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        for (int i = 0; i < 5; ++i)
            QVERIFY(upload(alice.id, 1, digestOf(QByteArray::number(i)), 1000, 0, 0, 10).ok());
        auto swept = sweep(2000, 0, 2);
        QVERIFY(swept.ok());
        QCOMPARE(swept->expiredUploads.size(), 2);
        QCOMPARE(sweep(2000, 0, 2)->expiredUploads.size(), 2);
        QCOMPARE(sweep(2000, 0, 2)->expiredUploads.size(), 1);
        QCOMPARE(sweep(2000, 0, 2)->expiredUploads.size(), 0);
    }

    void readsFromManyThreads()
    {
        const UserRecord alice = addUser(QStringLiteral("alice"));
        const UserRecord bob = addUser(QStringLiteral("bob"));
        const QString direct = directConversationId(alice.id, bob.id);
        QVERIFY(send(direct, alice.id, QStringLiteral("one")).ok());
        std::atomic<int> good{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&] {
                for (int i = 0; i < 50; ++i) {
                    const auto view = m_store->conversation(direct, bob.id);
                    const auto user = m_store->userById(alice.id);
                    if (view.ok() && view->unread_count() == 1 && user.ok())
                        ++good;
                }
            });
        }
        for (auto &thread : threads)
            thread.join();
        QCOMPARE(good.load(), 200);
    }
};

QTEST_GUILESS_MAIN(TestStoreContract)
#include "tst_store_contract.moc"
