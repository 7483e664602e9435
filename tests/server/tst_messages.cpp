// MessageService: send validation and membership, idempotent resend, fan-out,
// pull paging, sync answers and their pages, read markers, typing and its coalescing.

#include "service_fixture.h"

#include "kith/conversation_id.h"
#include "rate_limit.h"
#include "typing_coalescer.h"

#include <QTest>

#include <limits>

using namespace kith;
using namespace kith::server;
using namespace kith::server::test;

class TestMessages : public QObject
{
    Q_OBJECT

    static v1::PullRequest pullRequest(const QString &id, v1::PullRequest::Direction direction,
                                       quint64 seq, quint32 limit)
    {
        v1::PullRequest request;
        request.set_conversation_id(toStd(id));
        request.set_direction(direction);
        if (direction == v1::PullRequest::FORWARD)
            request.set_from_seq(seq);
        else
            request.set_before_seq(seq);
        request.set_limit(limit);
        return request;
    }

    static QList<quint64> seqsOf(const v1::PullResponse &page)
    {
        QList<quint64> seqs;
        for (const v1::Message &message : page.messages())
            seqs.append(message.seq());
        return seqs;
    }

private slots:
    void sendAcksAndFansOut()
    {
        ServiceFixture f;
        QVERIFY(f.opened);
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 carol = f.addUser(QStringLiteral("carol"));
        RecordingConnection *aliceLaptop = f.connect(alice, 1);
        RecordingConnection *alicePhone = f.connect(alice, 2);
        RecordingConnection *bobPhone = f.connect(bob, 3);
        RecordingConnection *carolPhone = f.connect(carol, 4);
        const QString chat = directConversationId(alice, bob);

        const auto first = f.sendText(f.callerFor(alice, aliceLaptop, 1), chat, "m1", "hello");
        QVERIFY2(first.ok(), qPrintable(first.ok() ? QString() : first.error().message));
        QCOMPARE(first->seq(), 1u);
        QVERIFY(!first->duplicate());
        QVERIFY(first->server_id() != 0);
        const auto second = f.sendText(f.callerFor(bob, bobPhone, 3), chat, "m1", "hi alice");
        QVERIFY(second.ok());
        QCOMPARE(second->seq(), 2u); // same client id, other sender: a new message

        // Everyone's devices but the sending connection got each message once.
        QCOMPARE(aliceLaptop->of(v1::Envelope::kMessage).size(), 1);
        QCOMPARE(alicePhone->of(v1::Envelope::kMessage).size(), 2);
        QCOMPARE(bobPhone->of(v1::Envelope::kMessage).size(), 1);
        QCOMPARE(carolPhone->frames.size(), 0);
        const v1::Message pushed = bobPhone->of(v1::Envelope::kMessage).at(0).message().message();
        QCOMPARE(pushed.seq(), 1u);
        QCOMPARE(pushed.sender_user_id(), alice);
        QCOMPARE(pushed.content().text().body(), "hello");
        QCOMPARE(bobPhone->of(v1::Envelope::kMessage).at(0).request_id(), 0u);
        QVERIFY(f.metrics.messagesPushed() >= 3);
    }

    void resendIsIdempotent()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        RecordingConnection *bobPhone = f.connect(bob, 3);
        const QString chat = directConversationId(alice, bob);
        const Caller caller = f.callerFor(alice);

        const auto original = f.sendText(caller, chat, "same-id", "once");
        QVERIFY(original.ok());
        for (int i = 0; i < 3; ++i) {
            const auto again = f.sendText(caller, chat, "same-id", "once");
            QVERIFY(again.ok());
            QVERIFY(again->duplicate());
            QCOMPARE(again->seq(), original->seq());
            QCOMPARE(again->server_id(), original->server_id());
            QCOMPARE(again->server_time_ms(), original->server_time_ms());
        }
        QCOMPARE(bobPhone->of(v1::Envelope::kMessage).size(), 1);
        const auto page =
            f.messages->pull(f.callerFor(bob), pullRequest(chat, v1::PullRequest::FORWARD, 0, 0));
        QVERIFY(page.ok());
        QCOMPARE(page->messages_size(), 1);
        QCOMPARE(page->max_seq(), 1u);
    }

    void sendValidation()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 eve = f.addUser(QStringLiteral("eve"));
        const QString chat = directConversationId(alice, bob);
        const Caller caller = f.callerFor(alice);

        QCOMPARE(f.sendText(caller, chat, "", "text").error().code, v1::INVALID_ARGUMENT);
        QCOMPARE(f.sendText(caller, chat, "bad id", "text").error().code, v1::INVALID_ARGUMENT);
        QCOMPARE(f.sendText(caller, chat, "c1", "   ").error().code, v1::INVALID_ARGUMENT);
        QCOMPARE(f.sendText(caller, chat, "c1", std::string(kMaxTextBytes + 1, 'x')).error().code,
                 v1::TOO_LARGE);
        QCOMPARE(f.sendText(caller, QStringLiteral("x:1"), "c1", "text").error().code,
                 v1::INVALID_ARGUMENT);
        QCOMPARE(f.sendText(caller, QStringLiteral("d:5:5"), "c1", "text").error().code,
                 v1::INVALID_ARGUMENT);

        v1::SendMessageRequest system;
        system.set_conversation_id(toStd(chat));
        system.set_client_msg_id("c2");
        system.mutable_content()->mutable_system()->set_kind(v1::SystemEvent::GROUP_RENAMED);
        const auto forged = await<v1::SendAck>(
            [&](QObject *context, auto done) { f.messages->send(caller, system, context, done); });
        QCOMPARE(forged.error().code, v1::INVALID_ARGUMENT);

        // Not one of the pair, a peer that does not exist, a group one is not
        // in, a group that does not exist: all the same NOT_FOUND.
        QCOMPARE(f.sendText(f.callerFor(eve), chat, "c3", "sneak").error().code, v1::NOT_FOUND);
        QCOMPARE(f.sendText(caller, directConversationId(alice, 999), "c4", "void").error().code,
                 v1::NOT_FOUND);
        QCOMPARE(f.sendText(caller, QStringLiteral("g:424242"), "c5", "void").error().code,
                 v1::NOT_FOUND);
        v1::CreateGroupRequest create;
        create.set_name("bob and eve");
        create.add_member_user_ids(eve);
        const auto group = await<v1::ConversationState>([&](QObject *context, auto done) {
            f.groups->createGroup(f.callerFor(bob), create, context, done);
        });
        QVERIFY(group.ok());
        QCOMPARE(f.sendText(caller, toQString(group->id()), "c6", "in?").error().code,
                 v1::NOT_FOUND);
        QVERIFY(f.sendText(f.callerFor(eve), toQString(group->id()), "c6", "in").ok());

        // A reply must quote an earlier seq of the same conversation.
        QVERIFY(f.sendText(caller, chat, "c7", "first").ok());
        v1::SendMessageRequest reply;
        reply.set_conversation_id(toStd(chat));
        reply.set_client_msg_id("c8");
        reply.mutable_content()->mutable_text()->set_body("re");
        reply.mutable_content()->set_reply_to_seq(7);
        const auto badReply = await<v1::SendAck>(
            [&](QObject *context, auto done) { f.messages->send(caller, reply, context, done); });
        QCOMPARE(badReply.error().code, v1::INVALID_ARGUMENT);
        reply.mutable_content()->set_reply_to_seq(1);
        const auto goodReply = await<v1::SendAck>(
            [&](QObject *context, auto done) { f.messages->send(caller, reply, context, done); });
        QVERIFY(goodReply.ok());
        QCOMPARE(goodReply->seq(), 2u);
    }

    // docs/protocol.md: a send is checked for its rate, then its client id,
    // then its content, then access, so each answer names the first problem.
    void sendChecksComeInTheDocumentedOrder()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const QString chat = directConversationId(alice, bob);
        const QString nowhere = QStringLiteral("g:424242");
        const std::string tooLong(kMaxTextBytes + 1, 'x');
        const Caller caller = f.callerFor(alice);

        // Content before access: a bad text to a conversation one cannot see.
        QCOMPARE(f.sendText(caller, nowhere, "o1", tooLong).error().code, v1::TOO_LARGE);
        // The client id before the content.
        QCOMPARE(f.sendText(caller, nowhere, "", tooLong).error().code, v1::INVALID_ARGUMENT);
        // A good send goes through; the rate comes before all of these, at the
        // gateway (RequestBudgets), before any service sees the request.
        QVERIFY(f.sendText(caller, chat, "o2", "the one send").ok());
    }

    void pullPagesAndClamps()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 eve = f.addUser(QStringLiteral("eve"));
        const QString chat = directConversationId(alice, bob);
        // 205 sends at once: they share commits, and ack one by one.
        QObject context;
        int acked = 0;
        for (int i = 0; i < 205; ++i) {
            v1::SendMessageRequest request;
            request.set_conversation_id(toStd(chat));
            request.set_client_msg_id("p" + std::to_string(i));
            request.mutable_content()->mutable_text()->set_body("n" + std::to_string(i));
            f.messages->send(f.callerFor(alice), request, &context,
                             [&acked](Result<v1::SendAck> ack) { acked += ack.ok() ? 1 : 0; });
        }
        QTRY_COMPARE_WITH_TIMEOUT(acked, 205, kWaitMs);

        const Caller reader = f.callerFor(bob);
        auto page = f.messages->pull(reader, pullRequest(chat, v1::PullRequest::FORWARD, 0, 1000));
        QVERIFY(page.ok());
        QCOMPARE(page->messages_size(), int(kMaxPullLimit));
        QVERIFY(page->has_more());
        QCOMPARE(page->max_seq(), 205u);
        QCOMPARE(page->messages(0).seq(), 1u);
        QCOMPARE(page->messages(199).seq(), 200u);

        page = f.messages->pull(reader, pullRequest(chat, v1::PullRequest::FORWARD, 201, 0));
        QVERIFY(page.ok());
        QCOMPARE(seqsOf(*page), (QList<quint64>{201, 202, 203, 204, 205}));
        QVERIFY(!page->has_more());

        page = f.messages->pull(reader, pullRequest(chat, v1::PullRequest::BACKWARD, 0, 3));
        QVERIFY(page.ok());
        QCOMPARE(seqsOf(*page), (QList<quint64>{205, 204, 203}));
        QVERIFY(page->has_more());

        page = f.messages->pull(reader, pullRequest(chat, v1::PullRequest::BACKWARD, 3, 10));
        QVERIFY(page.ok());
        QCOMPARE(seqsOf(*page), (QList<quint64>{2, 1}));
        QVERIFY(!page->has_more());

        v1::PullRequest bounded = pullRequest(chat, v1::PullRequest::FORWARD, 10, 0);
        bounded.set_to_seq(12);
        page = f.messages->pull(reader, bounded);
        QVERIFY(page.ok());
        QCOMPARE(seqsOf(*page), (QList<quint64>{10, 11, 12}));

        QCOMPARE(
            f.messages->pull(f.callerFor(eve), pullRequest(chat, v1::PullRequest::FORWARD, 0, 10))
                .error()
                .code,
            v1::NOT_FOUND);
    }

    // Seqs are uint64 on the wire and signed 64-bit in the store: bounds at
    // and past 2^63 mean "past the end" (forward) and "from the newest"
    // (backward), never a wrap to the start.
    void pullBoundsPastTheStoresRange_data()
    {
        QTest::addColumn<quint64>("bound");
        QTest::newRow("2^63-1") << quint64(std::numeric_limits<qint64>::max());
        QTest::newRow("2^63") << (quint64(1) << 63);
        QTest::newRow("2^64-1") << std::numeric_limits<quint64>::max();
    }
    void pullBoundsPastTheStoresRange()
    {
        QFETCH(quint64, bound);
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const QString chat = directConversationId(alice, bob);
        for (int i = 1; i <= 3; ++i)
            QVERIFY(f.sendText(f.callerFor(alice), chat, "r" + std::to_string(i), "hi").ok());
        const Caller reader = f.callerFor(bob);

        auto page =
            f.messages->pull(reader, pullRequest(chat, v1::PullRequest::FORWARD, bound, 10));
        QVERIFY(page.ok());
        QCOMPARE(seqsOf(*page), QList<quint64>{});
        QCOMPARE(page->max_seq(), 3u);
        QVERIFY(!page->has_more());

        page = f.messages->pull(reader, pullRequest(chat, v1::PullRequest::BACKWARD, bound, 2));
        QVERIFY(page.ok());
        QCOMPARE(seqsOf(*page), (QList<quint64>{3, 2}));
        QVERIFY(page->has_more());

        v1::PullRequest upTo = pullRequest(chat, v1::PullRequest::FORWARD, 2, 10);
        upTo.set_to_seq(bound);
        page = f.messages->pull(reader, upTo);
        QVERIFY(page.ok());
        QCOMPARE(seqsOf(*page), (QList<quint64>{2, 3}));

        // A read marker that far moves to the newest seq, no further.
        v1::MarkReadRequest read;
        read.set_conversation_id(toStd(chat));
        read.set_seq(bound);
        QVERIFY(await<Done>([&](QObject *context, auto done) {
                    f.messages->markRead(reader, read, context, done);
                }).ok());
        QCOMPARE(f.store->conversation(chat, bob)->read_seq(), 3u);
        QCOMPARE(f.store->conversation(chat, bob)->unread_count(), 0u);

        // A reply can only quote a seq that exists.
        v1::SendMessageRequest reply;
        reply.set_conversation_id(toStd(chat));
        reply.set_client_msg_id("reply-far");
        reply.mutable_content()->mutable_text()->set_body("which one?");
        reply.mutable_content()->set_reply_to_seq(bound);
        QCOMPARE(await<v1::SendAck>([&](QObject *context, auto done) {
                     f.messages->send(reader, reply, context, done);
                 })
                     .error()
                     .code,
                 v1::INVALID_ARGUMENT);
    }

    void syncAnswersWhatChanged()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 carol = f.addUser(QStringLiteral("carol"));
        const QString withBob = directConversationId(alice, bob);
        const QString withCarol = directConversationId(alice, carol);
        QVERIFY(f.sendText(f.callerFor(alice), withBob, "s1", "one").ok());
        QVERIFY(f.sendText(f.callerFor(alice), withBob, "s2", "two").ok());
        QVERIFY(f.sendText(f.callerFor(carol), withCarol, "s3", "hey").ok());

        // Holding nothing: everything is new.
        auto sync = f.messages->sync(f.callerFor(alice), v1::SyncRequest());
        QVERIFY(sync.ok());
        QCOMPARE(sync->changed_size(), 2);
        QVERIFY(sync->server_time_ms() > 0);
        v1::SyncRequest held;
        for (const v1::ConversationState &state : sync->changed()) {
            auto *cursor = held.add_held();
            cursor->set_conversation_id(state.id());
            cursor->set_max_seq(state.max_seq());
            cursor->set_read_seq(state.read_seq());
            cursor->set_metadata_version(state.metadata_version());
            cursor->set_peer_read_seq(state.peer_read_seq());
            if (state.id() == toStd(withBob)) {
                QCOMPARE(state.max_seq(), 2u);
                QCOMPARE(state.read_seq(), 2u); // sending moves one's own marker
                QCOMPARE(state.unread_count(), 0u);
                QCOMPARE(state.peer_user_id(), bob);
                QCOMPARE(state.kind(), v1::DIRECT);
            } else {
                QCOMPARE(state.unread_count(), 1u);
            }
        }

        // Holding exactly the server's state: nothing.
        sync = f.messages->sync(f.callerFor(alice), held);
        QVERIFY(sync.ok());
        QCOMPARE(sync->changed_size(), 0);
        QCOMPARE(sync->gone_conversation_ids_size(), 0);

        // One new message, and a read receipt from the peer: exactly those.
        QVERIFY(f.sendText(f.callerFor(carol), withCarol, "s4", "again").ok());
        v1::MarkReadRequest read;
        read.set_conversation_id(toStd(withBob));
        read.set_seq(2);
        QVERIFY(await<Done>([&](QObject *context, auto done) {
                    f.messages->markRead(f.callerFor(bob), read, context, done);
                }).ok());
        sync = f.messages->sync(f.callerFor(alice), held);
        QVERIFY(sync.ok());
        QCOMPARE(sync->changed_size(), 2);
        for (const v1::ConversationState &state : sync->changed()) {
            if (state.id() == toStd(withBob))
                QCOMPARE(state.peer_read_seq(), 2u);
            else
                QCOMPARE(state.max_seq(), 2u);
        }

        // Held ids one cannot see are gone; an empty direct chat with a real peer is not.
        v1::SyncRequest odd;
        odd.add_held()->set_conversation_id("g:777");
        odd.add_held()->set_conversation_id("nonsense");
        odd.add_held()->set_conversation_id(toStd(directConversationId(bob, carol)));
        odd.add_held()->set_conversation_id(toStd(directConversationId(alice, 12345)));
        const quint64 dave = f.addUser(QStringLiteral("dave"));
        odd.add_held()->set_conversation_id(toStd(directConversationId(alice, dave)));
        sync = f.messages->sync(f.callerFor(alice), odd);
        QVERIFY(sync.ok());
        QStringList gone;
        for (const std::string &id : sync->gone_conversation_ids())
            gone.append(toQString(id));
        gone.sort();
        QStringList expected{QStringLiteral("g:777"), QStringLiteral("nonsense"),
                             directConversationId(bob, carol), directConversationId(alice, 12345)};
        expected.sort();
        QCOMPARE(gone, expected);
    }

    // Sync comes in pages of conversations in id order; each page says
    // where the next begins, and a held conversation that is gone is
    // reported on the page that covers it, once.
    void syncComesInPages()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 mallory = f.addUser(QStringLiteral("mallory"));
        QStringList groups;
        for (int i = 0; i < 250; ++i) {
            const auto change = await<GroupChange>([&](QObject *context, auto done) {
                f.store->createGroup(mallory, QStringLiteral("g%1").arg(i), {alice}, context, done);
            });
            QVERIFY(change.ok());
            groups.append(toQString(change->state.id()));
        }
        // Alice held one she has since left.
        const QString left = groups.at(150);
        QVERIFY(await<GroupChange>([&](QObject *context, auto done) {
                    f.store->leaveGroup(left, alice, context, done);
                }).ok());

        std::string after;
        std::vector<std::string> seen;
        QStringList gone;
        int pages = 0;
        for (;;) {
            v1::SyncRequest request;
            request.set_after_conversation_id(after);
            auto *held = request.add_held();
            held->set_conversation_id(toStd(left));
            const auto page = f.messages->sync(f.callerFor(alice), request);
            QVERIFY(page.ok());
            ++pages;
            QVERIFY(page->changed_size() <= int(kDefaultSyncLimit));
            for (const v1::ConversationState &state : page->changed()) {
                QVERIFY(state.id() > after);
                QVERIFY(seen.empty() || state.id() > seen.back());
                seen.push_back(state.id());
            }
            for (const std::string &id : page->gone_conversation_ids())
                gone.append(toQString(id));
            if (!page->has_more())
                break;
            QVERIFY(page->next_after() > after);
            after = page->next_after();
        }
        QCOMPARE(pages, 3);
        QCOMPARE(seen.size(), size_t(249));
        QCOMPARE(gone, QStringList{left});
    }

    // A page stops near kMaxPageBytes whatever the limit asked for, and a
    // last message longer than a preview is left out of its state.
    void syncPagesAndPreviewsAreBoundedInBytes()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const std::string preview(1900, 'p');
        for (int i = 0; i < 140; ++i) {
            const auto change = await<GroupChange>([&](QObject *context, auto done) {
                f.store->createGroup(alice, QStringLiteral("g%1").arg(i), {}, context, done);
            });
            QVERIFY(change.ok());
            const std::string body = i == 0 ? std::string(10 * 1024, 'L') : preview;
            QVERIFY(f.sendText(f.callerFor(alice), toQString(change->state.id()),
                               "m" + std::to_string(i), body)
                        .ok());
        }
        v1::SyncRequest request;
        request.set_limit(kMaxSyncLimit);
        const auto page = f.messages->sync(f.callerFor(alice), request);
        QVERIFY(page.ok());
        QVERIFY(page->has_more());
        QVERIFY(page->changed_size() < 140);
        qint64 bytes = 0;
        int withoutPreview = 0;
        for (const v1::ConversationState &state : page->changed()) {
            bytes += qint64(state.ByteSizeLong());
            if (state.has_last_message())
                QVERIFY(qint64(state.last_message().ByteSizeLong()) <= kMaxPreviewBytes);
            else
                ++withoutPreview;
        }
        QVERIFY(bytes <= kMaxPageBytes);
        QCOMPARE(withoutPreview, 1); // the 10 KiB one
        QCOMPARE(page->next_after(), page->changed(page->changed_size() - 1).id());
    }

    // More held cursors than one request may carry: the page ends at the
    // last one taken, so nothing held beyond it is taken for gone.
    void heldPastTheBoundEndsThePage()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        v1::SyncRequest request;
        for (int i = 0; i < kMaxSyncHeld + 5; ++i)
            request.add_held()->set_conversation_id("g:" + std::to_string(100000 + i));
        const auto page = f.messages->sync(f.callerFor(alice), request);
        QVERIFY(page.ok());
        QCOMPARE(page->gone_conversation_ids_size(), kMaxSyncHeld);
        QVERIFY(page->has_more());
        QCOMPARE(page->next_after(), "g:" + std::to_string(100000 + kMaxSyncHeld - 1));
        v1::SyncRequest backwards;
        backwards.set_after_conversation_id("g:5");
        backwards.set_held_through("g:4");
        QCOMPARE(f.messages->sync(f.callerFor(alice), backwards).error().code,
                 v1::INVALID_ARGUMENT);
    }

    // A page of long messages stops near kMaxPageBytes; has_more says so.
    void pullPagesAreBoundedInBytes()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const QString chat = directConversationId(alice, bob);
        for (int i = 0; i < 10; ++i)
            QVERIFY(f.sendText(f.callerFor(alice), chat, "l" + std::to_string(i),
                               std::string(60 * 1024, char('a' + i)))
                        .ok());
        v1::PullRequest pull;
        pull.set_conversation_id(toStd(chat));
        pull.set_limit(kMaxPullLimit);
        quint64 next = 1;
        int pages = 0;
        for (;;) {
            pull.set_from_seq(next);
            const auto page = f.messages->pull(f.callerFor(bob), pull);
            QVERIFY(page.ok());
            ++pages;
            QVERIFY(page->messages_size() >= 1);
            QVERIFY(qint64(page->ByteSizeLong()) <= kMaxPageBytes + 1024);
            for (const v1::Message &message : page->messages())
                QCOMPARE(message.seq(), next++);
            if (!page->has_more())
                break;
        }
        QCOMPARE(next, 11u);
        QVERIFY(pages >= 3);
    }

    // A flood of typing signals becomes one push: repeats within a moment
    // say nothing new.
    void typingFloodIsCoalesced()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        RecordingConnection *bobLaptop = f.connect(bob, 20);
        v1::TypingRequest typing;
        typing.set_conversation_id(toStd(directConversationId(alice, bob)));
        typing.set_typing(true);
        for (int i = 0; i < 100; ++i)
            QVERIFY(f.messages->typing(f.callerFor(alice), typing).ok());
        QCOMPARE(bobLaptop->of(v1::Envelope::kTypingPush).size(), 1);
    }

    void typingCoalescerRules()
    {
        TypingCoalescer c;
        const std::string g = "g:1";
        QVERIFY(!c.shouldForward(1, g, false, 0)); // nothing shown: nothing to take back
        QVERIFY(c.shouldForward(1, g, true, 0));
        QVERIFY(!c.shouldForward(1, g, true, 500)); // a repeat too soon
        QVERIFY(c.shouldForward(2, g, true, 500));  // another user
        QVERIFY(c.shouldForward(1, "g:2", true, 500));
        QVERIFY(c.shouldForward(1, g, true, TypingCoalescer::kRepeatMs));
        QVERIFY(c.shouldForward(1, g, false, TypingCoalescer::kRepeatMs + 10)); // always
        QVERIFY(!c.shouldForward(1, g, false, TypingCoalescer::kRepeatMs + 20));
        QVERIFY(!c.shouldForward(1, g, true, TypingCoalescer::kRepeatMs + 500)); // too soon again
        QVERIFY(c.shouldForward(1, g, true, TypingCoalescer::kRepeatMs + 1010));
        // An alternating flood: at most two pushes a second.
        int pushes = 0;
        for (int ms = 0; ms < 10'000; ms += 10)
            pushes += c.shouldForward(3, g, (ms / 10) % 2 == 0, 50'000 + ms) ? 1 : 0;
        QVERIFY2(pushes <= 20, qPrintable(QString::number(pushes)));
        // The table forgets what every receiver has let lapse.
        for (quint64 user = 10; user < 3000; ++user)
            (void)c.shouldForward(user, g, true, 100'000 + qint64(user) * 10);
        QVERIFY2(c.size() <= 2048, QByteArray::number(qulonglong(c.size())).constData());
    }

    void markReadPushesToOwnDevicesAndPeer()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 eve = f.addUser(QStringLiteral("eve"));
        const QString chat = directConversationId(alice, bob);
        for (int i = 0; i < 3; ++i)
            QVERIFY(f.sendText(f.callerFor(alice), chat, "k" + std::to_string(i), "msg").ok());
        RecordingConnection *aliceLaptop = f.connect(alice, 1);
        RecordingConnection *bobLaptop = f.connect(bob, 2);
        RecordingConnection *bobPhone = f.connect(bob, 3);

        const auto markRead = [&](quint64 user, const RecordingConnection *connection,
                                  const QString &id, quint64 seq) {
            v1::MarkReadRequest request;
            request.set_conversation_id(toStd(id));
            request.set_seq(seq);
            return await<Done>([&](QObject *context, auto done) {
                f.messages->markRead(f.callerFor(user, connection), request, context, done);
            });
        };
        QVERIFY(markRead(bob, bobLaptop, chat, 2).ok());
        QCOMPARE(bobLaptop->of(v1::Envelope::kRead).size(), 0);
        QCOMPARE(bobPhone->of(v1::Envelope::kRead).size(), 1);
        const v1::ReadPush own = bobPhone->of(v1::Envelope::kRead).at(0).read();
        QCOMPARE(own.read_seq(), 2u);
        QCOMPARE(own.unread_count(), 1u);
        QCOMPARE(own.user_id(), bob);
        QCOMPARE(aliceLaptop->of(v1::Envelope::kRead).size(), 1);
        const v1::ReadPush receipt = aliceLaptop->of(v1::Envelope::kRead).at(0).read();
        QCOMPARE(receipt.read_seq(), 2u);
        QCOMPARE(receipt.unread_count(), 0u); // not the peer's business

        // Never backwards, and no push when nothing moved.
        QVERIFY(markRead(bob, bobLaptop, chat, 1).ok());
        QCOMPARE(bobPhone->of(v1::Envelope::kRead).size(), 1);
        // Beyond the end: clamped to max seq.
        QVERIFY(markRead(bob, bobLaptop, chat, 99).ok());
        QCOMPARE(bobPhone->of(v1::Envelope::kRead).last().read().read_seq(), 3u);

        QCOMPARE(markRead(eve, nullptr, chat, 1).error().code, v1::NOT_FOUND);
        QCOMPARE(markRead(bob, nullptr, chat, 0).error().code, v1::INVALID_ARGUMENT);
    }

    void typingGoesToTheOthers()
    {
        ServiceFixture f;
        const quint64 alice = f.addUser(QStringLiteral("alice"));
        const quint64 bob = f.addUser(QStringLiteral("bob"));
        const quint64 eve = f.addUser(QStringLiteral("eve"));
        RecordingConnection *aliceLaptop = f.connect(alice, 1);
        RecordingConnection *aliceOther = f.connect(alice, 2);
        RecordingConnection *bobLaptop = f.connect(bob, 3);
        RecordingConnection *eveLaptop = f.connect(eve, 4);
        const QString chat = directConversationId(alice, bob);
        v1::TypingRequest typing;
        typing.set_conversation_id(toStd(chat));
        typing.set_typing(true);
        QVERIFY(f.messages->typing(f.callerFor(alice, aliceLaptop), typing).ok());
        QCOMPARE(bobLaptop->of(v1::Envelope::kTypingPush).size(), 1);
        QCOMPARE(bobLaptop->of(v1::Envelope::kTypingPush).at(0).typing_push().user_id(), alice);
        QCOMPARE(aliceOther->of(v1::Envelope::kTypingPush).size(), 0);
        QCOMPARE(aliceLaptop->of(v1::Envelope::kTypingPush).size(), 0);
        const Status outsider = f.messages->typing(f.callerFor(eve, eveLaptop), typing);
        QVERIFY(!outsider.ok());
        QCOMPARE(outsider.error().code, v1::NOT_FOUND);
        QCOMPARE(aliceLaptop->of(v1::Envelope::kTypingPush).size(), 0);
        QCOMPARE(bobLaptop->of(v1::Envelope::kTypingPush).size(), 1);
    }
};

QTEST_GUILESS_MAIN(TestMessages)
#include "tst_messages.moc"
