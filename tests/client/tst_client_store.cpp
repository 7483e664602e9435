// LocalStore over a real SQLite file: schema, held ranges and what is missing,
// cursors that never run ahead of the disk, the outbox across a reopen,
// unread counts and full-text search.
#include "kith/client/local_store.h"
#include "kith/protocol.h"

#include <QFile>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace kith;
using namespace kith::client;

namespace {
constexpr quint64 kMe = 1;
constexpr quint64 kPeer = 2;
const QString kDirect = QStringLiteral("d:1:2");

v1::Message textMessage(const QString &conversationId, quint64 seq, quint64 sender,
                        const QString &text, qint64 timeMs = 1'700'000'000'000)
{
    v1::Message m;
    m.set_conversation_id(toStd(conversationId));
    m.set_seq(seq);
    m.set_server_id(1000 + seq);
    m.set_sender_user_id(sender);
    m.set_sender_device_id(7);
    m.set_client_msg_id(toStd(QStringLiteral("c-%1-%2").arg(sender).arg(seq)));
    m.set_server_time_ms(timeMs + qint64(seq) * 1000);
    m.mutable_content()->mutable_text()->set_body(toStd(text));
    return m;
}

v1::Message opMessage(const QString &conversationId, quint64 seq, quint64 sender,
                      const v1::Content &op)
{
    v1::Message m = textMessage(conversationId, seq, sender, QString());
    *m.mutable_content() = op;
    return m;
}

v1::Content editOf(quint64 target, const QString &text)
{
    v1::Content c;
    c.mutable_edit()->set_target_seq(target);
    c.mutable_edit()->set_text(toStd(text));
    return c;
}

v1::Content deletionOf(quint64 target)
{
    v1::Content c;
    c.mutable_delete_()->set_target_seq(target);
    return c;
}

v1::Content reactionTo(quint64 target, const QString &emoji, bool remove = false)
{
    v1::Content c;
    c.mutable_reaction()->set_target_seq(target);
    c.mutable_reaction()->set_emoji(toStd(emoji));
    c.mutable_reaction()->set_remove(remove);
    return c;
}

QByteArray fileBytes(const QString &path)
{
    QByteArray all;
    for (const QString &suffix : {QString(), QStringLiteral("-wal")}) {
        QFile file(path + suffix);
        if (file.open(QIODevice::ReadOnly))
            all += file.readAll();
    }
    return all;
}

QList<v1::Message> range(const QString &conversationId, quint64 first, quint64 last,
                         quint64 sender = kPeer)
{
    QList<v1::Message> list;
    for (quint64 s = first; s <= last; ++s)
        list << textMessage(conversationId, s, sender, QStringLiteral("message %1").arg(s));
    return list;
}
} // namespace

class TestClientStore : public QObject
{
    Q_OBJECT
private:
    QTemporaryDir m_dir;
    std::unique_ptr<LocalStore> m_store;

    QString path() const { return m_dir.filePath(QStringLiteral("store.sqlite")); }

private slots:
    void init()
    {
        QVERIFY(m_dir.isValid());
        QFile::remove(path());
        QFile::remove(path() + QStringLiteral("-wal"));
        QFile::remove(path() + QStringLiteral("-shm"));
        m_store = std::make_unique<LocalStore>();
        auto opened = m_store->open(path());
        QVERIFY2(opened.ok(), qPrintable(opened ? QString() : opened.error().message));
        QVERIFY(
            m_store->setValue(QString::fromLatin1(LocalStore::kKeyUserId), QString::number(kMe)));
    }

    void cleanup() { m_store.reset(); }

    void schemaIsMigratedOnceAndKept()
    {
        QCOMPARE(m_store->schemaVersion(), LocalStore::kSchemaVersion);
        QVERIFY(m_store->setValue(QStringLiteral("k"), QStringLiteral("v")));
        m_store->close();
        QVERIFY(m_store->open(path()));
        QCOMPARE(m_store->schemaVersion(), LocalStore::kSchemaVersion);
        QCOMPARE(m_store->value(QStringLiteral("k")), QStringLiteral("v"));
        QCOMPARE(m_store->myUserId(), kMe);
    }

    void defaultPathFollowsTheDataFolder()
    {
        const QString p =
            LocalStore::defaultPath(QUrl(QStringLiteral("ws://chat.lan:7400/")),
                                    QStringLiteral(" Alice "), QStringLiteral("/base"));
        QCOMPARE(p, QStringLiteral("/base/accounts/chat.lan_7400/alice.sqlite"));
        QStandardPaths::setTestModeEnabled(true);
        const QString fallback =
            LocalStore::defaultPath(QUrl(QStringLiteral("ws://h/")), QStringLiteral("bob"));
        QVERIFY(
            fallback.startsWith(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)));
        QVERIFY(fallback.endsWith(QStringLiteral("/accounts/h_80/bob.sqlite")));
    }

    // Ops fold into their target whichever arrives first, once each; views,
    // counts and search leave the ops out.
    void operationsFoldInAnyOrder()
    {
        const QString star = QStringLiteral("\u2B50");
        // The target first, then its ops.
        QVERIFY(m_store->storeMessages(
            kDirect, {textMessage(kDirect, 1, kPeer, QStringLiteral("helo"))}, {1, 1}));
        QVERIFY(m_store->storeMessages(
            kDirect,
            {opMessage(kDirect, 2, kPeer, editOf(1, QStringLiteral("hello"))),
             opMessage(kDirect, 3, kPeer, reactionTo(1, star))},
            {2, 3}));
        auto target = m_store->message(kDirect, 1);
        QCOMPARE(target->content.text().body(), "hello");
        QCOMPARE(target->content.edited_ms(), m_store->message(kDirect, 2)->serverTimeMs);
        QCOMPARE(target->content.reactions_size(), 1);
        QCOMPARE(target->content.last_op_seq(), 3u);
        // A duplicate push of an op changes nothing twice.
        QVERIFY(m_store->storeMessages(kDirect, {opMessage(kDirect, 3, kPeer, reactionTo(1, star))},
                                       {3, 3}));
        QCOMPARE(m_store->message(kDirect, 1)->content.reactions(0).user_ids_size(), 1);
        QCOMPARE(m_store->messageCount(kDirect), 1);
        QCOMPARE(m_store->messagesAfter(kDirect, 0, 10).size(), 1);
        QCOMPARE(m_store->search(QStringLiteral("hello")).size(), 1);
        QCOMPARE(m_store->search(QStringLiteral("helo")).size(), 0);
        // Unread: the peer's edit is no new message.
        QCOMPARE(m_store->conversation(kDirect)->unreadCount, 1u);

        // Ops first (the target is pulled later): they wait for it.
        const QString group = QStringLiteral("g:9");
        QVERIFY(m_store->storeMessages(group,
                                       {opMessage(group, 5, kPeer, reactionTo(4, star)),
                                        opMessage(group, 6, kMe, reactionTo(4, star)),
                                        opMessage(group, 7, kPeer, reactionTo(4, star, true))},
                                       {5, 7}));
        QVERIFY(m_store->storeMessages(group, {textMessage(group, 4, kPeer, QStringLiteral("x"))},
                                       {4, 4}));
        target = m_store->message(group, 4);
        QCOMPARE(target->content.reactions_size(), 1);
        QCOMPARE(target->content.reactions(0).user_ids(0), kMe);
        QCOMPARE(target->content.last_op_seq(), 7u);
        // A target that already reflects its ops (pulled after them) is left alone.
        v1::Message folded = textMessage(group, 8, kPeer, QStringLiteral("y"));
        folded.mutable_content()->set_last_op_seq(9);
        QVERIFY(
            m_store->storeMessages(group, {opMessage(group, 9, kMe, reactionTo(8, star))}, {9, 9}));
        QVERIFY(m_store->storeMessages(group, {folded}, {8, 8}));
        QCOMPARE(m_store->message(group, 8)->content.reactions_size(), 0);
    }

    void anOpInAConversationStateFoldsInStreamOrder()
    {
        // A device held seqs 1..2 and went away; meanwhile two edits of 1
        // were made (3, 4). The sync's state carries 4 as its last message:
        // it is not kept before 3 is, or 3 would never fold (4 marks the
        // target as reflecting everything up to it).
        QVERIFY(m_store->storeMessages(kDirect, range(kDirect, 1, 2), {1, 2}));
        v1::ConversationState state;
        state.set_id(toStd(kDirect));
        state.set_kind(v1::DIRECT);
        state.set_peer_user_id(kPeer);
        state.set_max_seq(4);
        *state.mutable_last_message() =
            opMessage(kDirect, 4, kPeer, editOf(1, QStringLiteral("second")));
        QVERIFY(m_store->applyConversationState(state));
        QCOMPARE(m_store->maxStoredSeq(kDirect), 2u);
        QVERIFY(m_store->storeMessages(
            kDirect,
            {opMessage(kDirect, 3, kPeer, editOf(1, QStringLiteral("first"))),
             opMessage(kDirect, 4, kPeer, editOf(1, QStringLiteral("second")))},
            {3, 4}));
        QCOMPARE(m_store->message(kDirect, 1)->content.text().body(), "second");
        QCOMPARE(m_store->message(kDirect, 1)->content.last_op_seq(), 4u);
        // When everything before it is held, it is kept and folded at once.
        state.set_max_seq(5);
        *state.mutable_last_message() = opMessage(kDirect, 5, kPeer, deletionOf(2));
        QVERIFY(m_store->applyConversationState(state));
        QCOMPARE(m_store->maxStoredSeq(kDirect), 5u);
        QCOMPARE(m_store->message(kDirect, 2)->content.kind_case(), v1::Content::kDeleted);
    }

    // A group's avatar comes with its state and with a pushed group event
    // (as does its name); an event for a direct chat changes nothing.
    void aGroupsAvatarComesFromItsStateAndEvents()
    {
        const QString group = QStringLiteral("g:42");
        v1::ConversationState state;
        state.set_id(toStd(group));
        state.set_kind(v1::GROUP);
        state.set_title("crew");
        state.set_avatar_file_id("f-first");
        state.set_avatar_color(3);
        QVERIFY(m_store->applyConversationState(state));
        QCOMPARE(m_store->conversation(group)->avatarFileId, QStringLiteral("f-first"));
        QCOMPARE(m_store->conversation(group)->avatarColor, 3u);
        QSignalSpy changed(m_store.get(), &LocalStore::conversationChanged);
        v1::SystemEvent event;
        event.set_kind(v1::SystemEvent::GROUP_AVATAR_CHANGED);
        event.set_avatar_file_id("f-second");
        event.set_avatar_color(7);
        QVERIFY(m_store->applyGroupEvent(group, event));
        QCOMPARE(changed.size(), 1);
        QCOMPARE(m_store->conversation(group)->avatarFileId, QStringLiteral("f-second"));
        QCOMPARE(m_store->conversation(group)->avatarColor, 7u);
        QCOMPARE(m_store->conversation(group)->title, QStringLiteral("crew"));
        v1::SystemEvent renamed;
        renamed.set_kind(v1::SystemEvent::GROUP_RENAMED);
        renamed.set_name("new crew");
        QVERIFY(m_store->applyGroupEvent(group, renamed));
        QCOMPARE(m_store->conversation(group)->title, QStringLiteral("new crew"));
        QCOMPARE(m_store->conversation(group)->avatarFileId, QStringLiteral("f-second"));
        // Removed: no picture, the colour as told.
        event.clear_avatar_file_id();
        QVERIFY(m_store->applyGroupEvent(group, event));
        QVERIFY(m_store->conversation(group)->avatarFileId.isEmpty());
        QCOMPARE(m_store->conversation(group)->avatarColor, 7u);

        QVERIFY(m_store->storeMessages(
            kDirect, {textMessage(kDirect, 1, kPeer, QStringLiteral("hi"))}, {1, 1}));
        event.set_avatar_file_id("f-third");
        QVERIFY(m_store->applyGroupEvent(kDirect, event));
        QVERIFY(m_store->conversation(kDirect)->avatarFileId.isEmpty());
    }

    // The chat's line shows its newest message as it now is; an edit,
    // deletion, reaction or pin is not a message of its own there.
    void thePreviewIsTheNewestMessageAsItNowIs()
    {
        const auto preview = [this] { return m_store->conversation(kDirect)->lastPreview; };
        QVERIFY(
            m_store->storeMessages(kDirect,
                                   {textMessage(kDirect, 1, kPeer, QStringLiteral("first")),
                                    textMessage(kDirect, 2, kMe, QStringLiteral("see you at 5"))},
                                   {1, 2}));
        QCOMPARE(preview(), QStringLiteral("see you at 5"));
        QVERIFY(m_store->storeMessages(
            kDirect, {opMessage(kDirect, 3, kPeer, reactionTo(1, QStringLiteral("\u2B50")))},
            {3, 3}));
        QCOMPARE(preview(), QStringLiteral("see you at 5"));
        QCOMPARE(m_store->conversation(kDirect)->lastSenderUserId, kMe);
        v1::Content pin;
        pin.mutable_pin()->set_target_seq(1);
        QVERIFY(m_store->storeMessages(kDirect, {opMessage(kDirect, 4, kMe, pin)}, {4, 4}));
        QCOMPARE(preview(), QStringLiteral("see you at 5"));
        QVERIFY(m_store->storeMessages(
            kDirect, {opMessage(kDirect, 5, kMe, editOf(2, QStringLiteral("see you at 6")))},
            {5, 5}));
        QCOMPARE(preview(), QStringLiteral("see you at 6"));
        QVERIFY(
            m_store->storeMessages(kDirect, {opMessage(kDirect, 6, kMe, deletionOf(2))}, {6, 6}));
        QCOMPARE(preview(), QStringLiteral("Message deleted"));

        // A new device whose sync names an operation as the newest entry and
        // holds nothing yet shows the operation until the messages come.
        const QString group = QStringLiteral("g:12");
        v1::ConversationState state;
        state.set_id(toStd(group));
        state.set_kind(v1::GROUP);
        state.set_title("Team");
        state.set_max_seq(9);
        *state.mutable_last_message() = opMessage(group, 9, kPeer, pin);
        QVERIFY(m_store->applyConversationState(state));
        QCOMPARE(m_store->conversation(group)->lastPreview, QStringLiteral("Pinned a message"));
        QVERIFY(m_store->storeMessages(group,
                                       {textMessage(group, 8, kPeer, QStringLiteral("agenda")),
                                        opMessage(group, 9, kPeer, pin)},
                                       {8, 9}));
        QCOMPARE(m_store->conversation(group)->lastPreview, QStringLiteral("agenda"));
    }

    void unreadMentionsFollowTheFoldedContent()
    {
        const QString group = QStringLiteral("g:9");
        auto mentioning = [&](quint64 seq, const QString &text, QList<quint64> users) {
            v1::Message m = textMessage(group, seq, kPeer, text);
            for (quint64 user : users)
                m.mutable_content()->add_mentions()->set_user_id(user);
            return m;
        };
        QVERIFY(m_store->storeMessages(group,
                                       {mentioning(1, QStringLiteral("@me"), {kMe}),
                                        mentioning(2, QStringLiteral("@peer"), {kPeer}),
                                        mentioning(3, QStringLiteral("plain"), {}),
                                        mentioning(4, QStringLiteral("@me @me"), {kMe, kMe})},
                                       {1, 4}));
        QCOMPARE(m_store->conversation(group)->unreadMentions, 2u);
        // An edit that names me, one that drops me.
        v1::Content addMe = editOf(3, QStringLiteral("@me now"));
        addMe.add_mentions()->set_user_id(kMe);
        QVERIFY(m_store->storeMessages(
            group,
            {opMessage(group, 5, kPeer, addMe),
             opMessage(group, 6, kPeer, editOf(1, QStringLiteral("nobody")))},
            {5, 6}));
        QCOMPARE(m_store->conversation(group)->unreadMentions, 2u); // 3 and 4
        QVERIFY(!m_store->message(group, 1)->content.mentions_size());
        // Deleted for everyone, hidden for me: no mention left in either.
        QVERIFY(m_store->storeMessages(group, {opMessage(group, 7, kPeer, deletionOf(4))}, {7, 7}));
        QCOMPARE(m_store->conversation(group)->unreadMentions, 1u);
        v1::ChatState hidden;
        hidden.set_conversation_id(toStd(group));
        hidden.set_hidden_seq(3);
        hidden.set_version(1);
        QVERIFY(m_store->applyChatState(hidden));
        QCOMPARE(m_store->conversation(group)->unreadMentions, 0u);
        // My own mention of myself is not unread; a new one is, until read.
        QVERIFY(m_store->storeMessages(group,
                                       {mentioning(8, QStringLiteral("@me"), {kMe}),
                                        [&] {
                                            v1::Message own =
                                                textMessage(group, 9, kMe, QStringLiteral("@me"));
                                            own.mutable_content()->add_mentions()->set_user_id(kMe);
                                            return own;
                                        }()},
                                       {8, 9}));
        QCOMPARE(m_store->conversation(group)->unreadMentions, 0u); // sending read up to 9
        QVERIFY(m_store->storeMessages(group, {mentioning(10, QStringLiteral("@me"), {kMe})},
                                       {10, 10}));
        QCOMPARE(m_store->conversation(group)->unreadMentions, 1u);
        QVERIFY(m_store->setReadSeq(group, 10));
        QCOMPARE(m_store->conversation(group)->unreadMentions, 0u);
    }

    void deletedTextIsGoneFromTheFileAndIndex()
    {
        const QString secret = QStringLiteral("quetzalcoatl");
        const QString edited = QStringLiteral("xylophonist");
        QList<v1::Message> page;
        // Enough other rows that the search index has several segments.
        for (quint64 s = 1; s <= 40; ++s)
            page << textMessage(kDirect, s, kPeer, QStringLiteral("filler words number %1").arg(s));
        QVERIFY(m_store->storeMessages(kDirect, page, {1, 40}));
        QVERIFY(m_store->storeMessages(
            kDirect, {textMessage(kDirect, 41, kPeer, QStringLiteral("the %1 secret").arg(secret))},
            {41, 41}));
        QVERIFY(m_store->storeMessages(
            kDirect,
            {opMessage(kDirect, 42, kPeer, editOf(41, QStringLiteral("the %1").arg(edited)))},
            {42, 42}));
        QCOMPARE(m_store->search(edited).size(), 1);
        QVERIFY(fileBytes(path()).contains(secret.toUtf8())); // the check below can fail
        QVERIFY(fileBytes(path()).contains(edited.toUtf8()));

        QVERIFY(m_store->storeMessages(kDirect, {opMessage(kDirect, 43, kPeer, deletionOf(41))},
                                       {43, 43}));
        QCOMPARE(m_store->message(kDirect, 41)->content.kind_case(), v1::Content::kDeleted);
        QCOMPARE(m_store->message(kDirect, 42)->content.edit().text(), "");
        QVERIFY(m_store->search(secret).isEmpty());
        QVERIFY(m_store->search(edited).isEmpty());
        QCOMPARE(m_store->search(QStringLiteral("filler")).size(), 40);
        const QByteArray bytes = fileBytes(path());
        QVERIFY(!bytes.contains(secret.toUtf8()));
        QVERIFY(!bytes.contains(edited.toUtf8()));
    }

    void rangesMergeAndGapsAreReported()
    {
        QVERIFY(m_store->storeMessages(kDirect, range(kDirect, 1, 3), {1, 3}));
        QVERIFY(m_store->storeMessages(kDirect, range(kDirect, 7, 9), {7, 9}));
        QCOMPARE(m_store->heldRanges(kDirect), (QList<SeqRange>{{1, 3}, {7, 9}}));
        QCOMPARE(m_store->missingRanges(kDirect), (QList<SeqRange>{{4, 6}}));

        v1::ConversationState state;
        state.set_id(toStd(kDirect));
        state.set_kind(v1::DIRECT);
        state.set_peer_user_id(kPeer);
        state.set_max_seq(12);
        QVERIFY(m_store->applyConversationState(state));
        QCOMPARE(m_store->missingRanges(kDirect), (QList<SeqRange>{{4, 6}, {10, 12}}));

        QVERIFY(m_store->storeMessages(kDirect, range(kDirect, 4, 6), {4, 6}));
        QCOMPARE(m_store->heldRanges(kDirect), (QList<SeqRange>{{1, 9}}));
        QCOMPARE(m_store->missingRanges(kDirect), (QList<SeqRange>{{10, 12}}));
        QCOMPARE(m_store->messageCount(kDirect), 9);
    }

    void cursorNeverRunsAheadOfTheDisk()
    {
        // A pushed seq 5 with 3..4 missing: the cursor says 2, not 5.
        QVERIFY(m_store->storeMessages(kDirect, range(kDirect, 1, 2), {1, 2}));
        QVERIFY(m_store->storeMessages(kDirect, range(kDirect, 5, 5), {5, 5}));
        const auto cursors = m_store->cursors();
        QCOMPARE(cursors.size(), 1);
        QCOMPARE(cursors.first().max_seq(), 2u);

        const QString group = QStringLiteral("g:9");
        QVERIFY(m_store->storeMessages(group, range(group, 10, 12), {10, 12}));
        for (const auto &c : m_store->cursors())
            if (toQString(c.conversation_id()) == group)
                QCOMPARE(c.max_seq(), 0u);
    }

    void aPageAndItsRangeAreOneTransaction()
    {
        // A page that cannot be stored (the transaction fails half-way) leaves
        // neither messages nor a range behind.
        QList<v1::Message> page = range(kDirect, 1, 5);
        QVERIFY(m_store->storeMessages(kDirect, page, {1, 5}));
        QSignalSpy stored(m_store.get(), &LocalStore::messagesStored);
        QVERIFY(m_store->storeMessages(kDirect, range(kDirect, 3, 8), {3, 8}));
        QCOMPARE(stored.size(), 1);
        QCOMPARE(stored.first().at(1).value<QList<quint64>>(), (QList<quint64>{6, 7, 8}));
        QCOMPARE(m_store->heldRanges(kDirect), (QList<SeqRange>{{1, 8}}));
    }

    void outboxKeepsOrderAndIdsAcrossReopen()
    {
        QStringList ids;
        for (int i = 0; i < 3; ++i) {
            v1::Content content;
            content.mutable_text()->set_body(toStd(QStringLiteral("out %1").arg(i)));
            auto entry = m_store->enqueue(kDirect, content);
            QVERIFY(entry);
            ids << entry->clientMsgId;
        }
        v1::Content blank;
        blank.mutable_text()->set_body("   ");
        QVERIFY(!m_store->enqueue(kDirect, blank));

        m_store->close();
        QVERIFY(m_store->open(path()));
        auto outbox = m_store->outbox(kDirect);
        QCOMPARE(outbox.size(), 3);
        for (int i = 0; i < 3; ++i) {
            QCOMPARE(outbox.at(i).clientMsgId, ids.at(i));
            QCOMPARE(outbox.at(i).status, OutboxStatus::Pending);
        }

        v1::SendAck ack;
        ack.set_conversation_id(toStd(kDirect));
        ack.set_client_msg_id(toStd(ids.at(0)));
        ack.set_seq(1);
        ack.set_server_id(77);
        ack.set_server_time_ms(1'700'000'000'000);
        QVERIFY(m_store->acknowledge(ids.at(0), ack));
        QCOMPARE(m_store->outbox(kDirect).size(), 2);
        const auto stored = m_store->message(kDirect, 1);
        QVERIFY(stored);
        QCOMPARE(stored->clientMsgId, ids.at(0));
        QCOMPARE(stored->senderUserId, kMe);
        QCOMPARE(stored->text(), QStringLiteral("out 0"));

        // The same message coming back by a pull settles its outbox entry too.
        v1::Message echo = textMessage(kDirect, 2, kMe, QStringLiteral("out 1"));
        echo.set_client_msg_id(toStd(ids.at(1)));
        QVERIFY(m_store->storeMessages(kDirect, {echo}, {2, 2}));
        QCOMPARE(m_store->outbox(kDirect).size(), 1);
        QCOMPARE(m_store->outbox(kDirect).first().clientMsgId, ids.at(2));

        QVERIFY(m_store->setOutboxStatus(ids.at(2), OutboxStatus::Failed, QStringLiteral("no")));
        QCOMPARE(m_store->outboxEntry(ids.at(2))->status, OutboxStatus::Failed);
        QVERIFY(m_store->removeOutboxEntry(ids.at(2)));
        QVERIFY(m_store->outbox().isEmpty());
    }

    void unreadCountsOthersAfterTheReadMarker()
    {
        QVERIFY(m_store->storeMessages(kDirect, range(kDirect, 1, 5), {1, 5}));
        QVERIFY(m_store->setReadSeq(kDirect, 2));
        QCOMPARE(m_store->conversation(kDirect)->unreadCount, 3u);
        // The marker never moves back.
        QVERIFY(m_store->setReadSeq(kDirect, 1));
        QCOMPARE(m_store->conversation(kDirect)->readSeq, 2u);
        // Sending moves one's own marker.
        QVERIFY(m_store->storeMessages(
            kDirect, {textMessage(kDirect, 6, kMe, QStringLiteral("me"))}, {6, 6}));
        QCOMPARE(m_store->conversation(kDirect)->readSeq, 6u);
        QCOMPARE(m_store->conversation(kDirect)->unreadCount, 0u);
        QCOMPARE(m_store->conversation(kDirect)->lastPreview, QStringLiteral("me"));
    }

    void searchFindsWordsAndToleratesPunctuation()
    {
        QList<v1::Message> page{textMessage(kDirect, 1, kPeer, QStringLiteral("Hello brave world")),
                                textMessage(kDirect, 2, kPeer, QStringLiteral("goodbye")),
                                textMessage(kDirect, 3, kMe, QStringLiteral("hello again"))};
        QVERIFY(m_store->storeMessages(kDirect, page, {1, 3}));
        const auto hits = m_store->search(QStringLiteral("hel"));
        QCOMPARE(hits.size(), 2);
        QCOMPARE(hits.first().seq, 3u); // newest first
        QCOMPARE(m_store->search(QStringLiteral("brave hello")).size(), 1);
        QCOMPARE(m_store->search(QStringLiteral("\"AND (* NEAR")).size(), 0);
        QCOMPARE(m_store->search(QStringLiteral("nothing")).size(), 0);
    }

    void removingAConversationDropsItsData()
    {
        QVERIFY(m_store->storeMessages(kDirect, range(kDirect, 1, 3), {1, 3}));
        QVERIFY(m_store->setDraft(kDirect, QStringLiteral("draft")));
        QCOMPARE(m_store->draft(kDirect), QStringLiteral("draft"));
        QVERIFY(m_store->removeConversation(kDirect));
        QVERIFY(!m_store->conversation(kDirect));
        QCOMPARE(m_store->messageCount(kDirect), 0);
        QVERIFY(m_store->heldRanges(kDirect).isEmpty());
        QVERIFY(m_store->draft(kDirect).isEmpty());
        QVERIFY(m_store->search(QStringLiteral("message")).isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestClientStore)
#include "tst_client_store.moc"
