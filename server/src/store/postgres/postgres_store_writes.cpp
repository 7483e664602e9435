// PostgresStore's writes: how each one becomes a job for the writer (see
// PgWriter), and the statements of users, devices, messages and read markers.
#include "postgres_store.h"

#include "kith/content.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "pg_file_writes.h"
#include "pg_group_writes.h"
#include "pg_logging.h"
#include "pg_notifier.h"
#include "pg_rows.h"

#include <limits>

namespace kith::server {

using namespace pg;

namespace {

QByteArray serialize(const google::protobuf::MessageLite &message)
{
    QByteArray bytes(qsizetype(message.ByteSizeLong()), Qt::Uninitialized);
    message.SerializeWithCachedSizesToArray(reinterpret_cast<quint8 *>(bytes.data()));
    return bytes;
}

// Creates a direct conversation and its two members if both users exist and
// it is not there yet; a no-op otherwise (also when another node creates it
// at the same moment: the second insert waits for the first and skips).
const QString kCreateDirect = QStringLiteral(
    "WITH c AS (INSERT INTO conversations (id, kind, title, max_seq, metadata_version,"
    "  last_activity_ms, created_ms)"
    " SELECT $1, 1, '', 0, 0, $4, $4 WHERE (SELECT COUNT(*) FROM users WHERE id IN ($2, $3)) = 2"
    " ON CONFLICT (id) DO NOTHING RETURNING id)"
    " INSERT INTO members (conversation_id, user_id, role, joined_ms, joined_seq, read_seq)"
    " SELECT c.id, u.id, $5, $4, 1, 0 FROM c CROSS JOIN users u WHERE u.id IN ($2, $3)");

// One append, atomic in one statement: the next seq from the conversation's
// row (whose lock orders the writers of one conversation on every node), the
// message, the sender's read marker. The writer has locked the sender's
// member row first (see PgWriter): a group change on another node either
// committed before (and this statement sees it) or waits for this
// transaction, and group changes lock members before the conversation row
// too, so the two never wait on each other in a circle. Nothing is written for a resend (the
// original comes back), a sender who is not a member, or a reply_to_seq that
// is not an earlier seq; the last columns say which.
// The recipients (the members at commit: a group change must first lock the
// sender's member row, which the append holds) come back only when the
// group's metadata version is not the one whose members the writer has.
//   $1 conversation, $2 sender, $3 device, $4 client id, $5 reply_to_seq,
//   $6 time, $7 content, $8 the metadata version of the cached members (-1: none)
// Columns: 0-1 the new message's server id and seq; 2 the conversation's
// max_seq (NULL: none), 3 whether the sender is a member; 4-11 the original
// of a resend (kMessageColumns); 12 the metadata version; 13 the members
// ("1,2,3"), NULL when the cached ones are current.
// A file's message adds, as $9 $10 $11, the file's id, size and checksum:
// the append goes ahead only for a finished file of the sender with those,
// records the message's reference to it, and says in column 14 whether the
// file was right.
QString appendStatement(bool withFile)
{
    const QString fileOk = QStringLiteral(
        "EXISTS (SELECT 1 FROM files f WHERE f.id = $9 AND f.uploader_id = $2 AND f.complete"
        " AND f.size = $10 AND f.sha256 = $11)");
    return QStringLiteral(
               "WITH dup AS (SELECT %1 FROM messages WHERE sender_user_id = $2"
               "  AND client_msg_id = $4),"
               " conv AS (UPDATE conversations c SET max_seq = c.max_seq + 1,"
               "  last_activity_ms = $6"
               "  WHERE c.id = $1 AND c.max_seq >= $5 AND NOT EXISTS (SELECT 1 FROM dup)"
               "  AND EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = $1"
               "   AND m.user_id = $2)%2"
               "  RETURNING c.max_seq, c.metadata_version),"
               " ins AS (INSERT INTO messages (conversation_id, seq, sender_user_id,"
               "  sender_device_id, client_msg_id, server_time_ms, content)"
               "  SELECT $1, conv.max_seq, $2, $3, $4, $6, $7 FROM conv RETURNING server_id, seq),"
               "%3"
               " mark AS (UPDATE members m SET read_seq = conv.max_seq FROM conv"
               "  WHERE m.conversation_id = $1 AND m.user_id = $2 AND m.read_seq < conv.max_seq)"
               " SELECT i.server_id, i.seq, (SELECT max_seq FROM conversations WHERE id = $1),"
               "  EXISTS (SELECT 1 FROM members WHERE conversation_id = $1 AND user_id = $2),"
               "  d.conversation_id, d.seq, d.server_id, d.sender_user_id, d.sender_device_id,"
               "  d.client_msg_id, d.server_time_ms, d.content,"
               "  (SELECT metadata_version FROM conv),"
               "  CASE WHEN (SELECT metadata_version FROM conv) IS DISTINCT FROM $8 THEN"
               "   (SELECT string_agg(user_id::text, ',' ORDER BY user_id) FROM members"
               "    WHERE conversation_id = $1) END%4"
               " FROM (VALUES (1)) one LEFT JOIN ins i ON true LEFT JOIN dup d ON true")
        .arg(kMessageColumns, withFile ? QStringLiteral(" AND ") + fileOk : QString(),
             withFile ? QStringLiteral(" ref AS (INSERT INTO message_files (file_id,"
                                       "  conversation_id, seq)"
                                       "  SELECT $9, $1, conv.max_seq FROM conv),")
                      : QString(),
             withFile ? QStringLiteral(", ") + fileOk : QString());
}
const QString kAppend = appendStatement(false);
const QString kAppendFile = appendStatement(true);
constexpr int kAppendDuplicateColumn = 4;
constexpr int kAppendVersionColumn = 12;
constexpr int kAppendMembersColumn = 13;
constexpr int kAppendFileColumn = 14;

// Moves a read marker forward to min(seq, max_seq). No row: not a member (or
// no such conversation). Columns: max_seq, the marker before, the marker
// after when it moved (NULL otherwise).
const QString kMarkRead = QStringLiteral(
    "WITH c AS (SELECT max_seq FROM conversations WHERE id = $1),"
    " m AS (SELECT read_seq FROM members WHERE conversation_id = $1 AND user_id = $2),"
    " u AS (UPDATE members SET read_seq = LEAST($3, c.max_seq) FROM c"
    "  WHERE conversation_id = $1 AND user_id = $2 AND read_seq < LEAST($3, c.max_seq)"
    "  RETURNING members.read_seq)"
    " SELECT c.max_seq, m.read_seq, u.read_seq FROM c CROSS JOIN m LEFT JOIN u ON true");

// An append as the writer takes it: the content already encoded on the
// caller's thread (the session loop), and put back into the result there.
struct EncodedAppend
{
    QString conversationId;
    quint64 senderUserId = 0;
    quint64 senderDeviceId = 0;
    std::string clientMsgId;
    quint64 replyToSeq = 0;
    QByteArray content;
    std::optional<ConversationRef> ref;
    qint64 now = 0; // set by the job's queue step for its receive step
    // A file's message: the file it carries (empty id otherwise).
    QString fileId;
    quint64 fileSize = 0;
    QByteArray fileSha256;
};

// Refused without asking the database.
bool refusedHere(const EncodedAppend &a)
{
    return !a.ref || (a.ref->isDirect() && !a.ref->involves(a.senderUserId));
}

// Before the member locks: a direct conversation not known to exist is
// created (with its two members) if it is not there yet.
bool queueCreation(PgWriter &writer, Pipeline &pipeline, const EncodedAppend &a)
{
    if (refusedHere(a) || !a.ref->isDirect() || writer.knowsConversation(a.conversationId))
        return false;
    pipeline.add(kCreateDirect,
                 {a.conversationId, a.ref->lowUser, a.ref->highUser, nowMs(), int(v1::MEMBER)},
                 "create direct conversation");
    return true;
}

void queueAppend(PgWriter &writer, Pipeline &pipeline, EncodedAppend &a)
{
    if (refusedHere(a))
        return;
    a.now = nowMs();
    // A direct chat's recipients are its pair: no members to read.
    const qint64 cachedVersion = a.ref->isDirect() ? 0 : writer.recipientsVersion(a.conversationId);
    Params params{a.conversationId,
                  a.senderUserId,
                  a.senderDeviceId,
                  a.clientMsgId,
                  std::min(a.replyToSeq, kMaxSeq),
                  a.now,
                  a.content,
                  cachedVersion};
    if (a.fileId.isEmpty())
        return pipeline.add(kAppend, std::move(params), "append");
    params.append(a.fileId);
    params.append(std::min(a.fileSize, kMaxSeq));
    params.append(a.fileSha256);
    pipeline.add(kAppendFile, std::move(params), "append file");
}

Result<AppendResult> receiveAppend(PgWriter &writer, Received &received, const EncodedAppend &a)
{
    if (!a.ref)
        return invalid(QStringLiteral("malformed conversation id"));
    if (a.ref->isDirect() && !a.ref->involves(a.senderUserId))
        return notFound(QStringLiteral("no such conversation"));
    auto r = received.next();
    if (!r)
        return r.error();
    if (!r->next())
        return makeError(v1::INTERNAL, QStringLiteral("storage error (append)"));
    if (!r->isNull(0)) {
        v1::Message message;
        message.set_conversation_id(toStd(a.conversationId));
        message.set_server_id(r->u64(0));
        message.set_seq(r->u64(1));
        message.set_sender_user_id(a.senderUserId);
        message.set_sender_device_id(a.senderDeviceId);
        message.set_client_msg_id(a.clientMsgId);
        message.set_server_time_ms(a.now);
        writer.countNewMessage();
        QList<quint64> recipients;
        if (a.ref->isDirect()) {
            writer.noteConversation(a.conversationId);
            recipients = {a.ref->lowUser, a.ref->highUser};
        } else if (r->isNull(kAppendMembersColumn)) {
            recipients = writer.recipients(a.conversationId);
        } else {
            const QList<QByteArray> ids = r->bytes(kAppendMembersColumn).split(',');
            recipients.reserve(ids.size());
            for (const QByteArray &id : ids)
                recipients.append(id.toULongLong());
            writer.noteRecipients(a.conversationId, r->u64(kAppendVersionColumn), recipients);
        }
        return AppendResult{std::move(message), false, std::move(recipients)};
    }
    if (!r->isNull(kAppendDuplicateColumn))
        return AppendResult{messageFromRow(*r, kAppendDuplicateColumn), true, {}};
    if (r->isNull(2) || !r->boolean(3))
        return notFound(QStringLiteral("no such conversation"));
    if (!a.fileId.isEmpty() && !r->boolean(kAppendFileColumn))
        return invalid(QStringLiteral("No finished upload of yours with that id, size and "
                                      "checksum"));
    return invalid(QStringLiteral("reply_to_seq %1 is not in the conversation").arg(a.replyToSeq));
}

// An operation (edit, delete, reaction), in the batch's transaction: the
// sender's member row, then the conversation row are locked (the order of
// appends and group changes), the target is checked and rewritten by the
// rules of domain/message_ops.h, and the op is appended as the next seq.
Result<AppendResult> appendOperation(PgConnection &c, const QString &conversationId,
                                     quint64 senderUserId, quint64 senderDeviceId,
                                     const std::string &clientMsgId, const v1::Content &op,
                                     const QByteArray &encoded, const OpWindows &windows)
{
    // Not a member, no such conversation and no such message are one answer.
    const auto noSuchMessage = [] { return notFound(QStringLiteral("No such message")); };
    const auto ref = parseConversationId(conversationId);
    if (!ref)
        return invalid(QStringLiteral("malformed conversation id"));
    {
        auto dup = c.query(QStringLiteral("SELECT %1 FROM messages WHERE sender_user_id = $1"
                                          " AND client_msg_id = $2")
                               .arg(kMessageColumns),
                           {senderUserId, clientMsgId}, "operation resend");
        if (!dup)
            return dup.error();
        if (dup->next())
            return AppendResult{messageFromRow(*dup, 0), true, {}};
    }
    auto member = c.query(QStringLiteral("SELECT role FROM members WHERE conversation_id = $1"
                                         " AND user_id = $2 FOR UPDATE"),
                          {conversationId, senderUserId}, "operation member");
    if (!member)
        return member.error();
    if (!member->next())
        return noSuchMessage();
    const v1::Role role = ref->isDirect() ? v1::MEMBER : v1::Role(member->integer(0));
    auto conv = c.query(QStringLiteral("SELECT max_seq FROM conversations WHERE id = $1"
                                       " FOR UPDATE"),
                        {conversationId}, "operation conversation");
    if (!conv)
        return conv.error();
    if (!conv->next())
        return noSuchMessage();
    const quint64 oldMax = conv->u64(0);
    const quint64 targetSeq = operationTarget(op);
    if (targetSeq == 0 || targetSeq > oldMax)
        return noSuchMessage();
    OpTarget target;
    {
        auto row = c.query(QStringLiteral("SELECT sender_user_id, server_time_ms, content"
                                          " FROM messages WHERE conversation_id = $1 AND seq = $2"),
                           {conversationId, targetSeq}, "operation target");
        if (!row)
            return row.error();
        if (!row->next())
            return noSuchMessage();
        target.senderUserId = row->u64(0);
        target.serverTimeMs = row->i64(1);
        const QByteArrayView bytes = row->bytesView(2);
        if (!target.content.ParseFromArray(bytes.data(), int(bytes.size())))
            return noSuchMessage();
    }
    const qint64 now = nowMs();
    const quint64 seq = oldMax + 1;
    Result<OpOutcome> outcome = applyOperation(target, op, senderUserId, role, now, seq, windows);
    if (!outcome)
        return outcome.error();
    auto inserted = c.query(
        QStringLiteral("WITH conv AS (UPDATE conversations SET max_seq = $2, last_activity_ms = $5"
                       "  WHERE id = $1 RETURNING max_seq)"
                       " INSERT INTO messages (conversation_id, seq, sender_user_id,"
                       "  sender_device_id, client_msg_id, server_time_ms, content, target_seq)"
                       " SELECT $1, conv.max_seq, $3, $4, $6, $5, $7, $8 FROM conv"
                       " RETURNING server_id"),
        {conversationId, seq, senderUserId, senderDeviceId, now, clientMsgId, encoded, targetSeq},
        "append operation");
    if (!inserted)
        return inserted.error();
    if (!inserted->next())
        return noSuchMessage();
    v1::Message message;
    message.set_conversation_id(toStd(conversationId));
    message.set_seq(seq);
    message.set_server_id(inserted->u64(0));
    message.set_sender_user_id(senderUserId);
    message.set_sender_device_id(senderDeviceId);
    message.set_client_msg_id(clientMsgId);
    message.set_server_time_ms(now);
    if (auto r = c.query(QStringLiteral("UPDATE messages SET content = $3"
                                        " WHERE conversation_id = $1 AND seq = $2"),
                         {conversationId, targetSeq, serialize(outcome->target)}, "fold operation");
        !r)
        return r.error();
    if (outcome->supersedesEdits) {
        auto edits = c.query(QStringLiteral("SELECT seq, content FROM messages"
                                            " WHERE conversation_id = $1 AND target_seq = $2"
                                            " AND seq < $3"),
                             {conversationId, targetSeq, seq}, "edits of a message");
        if (!edits)
            return edits.error();
        QList<std::pair<quint64, v1::Content>> cleared;
        while (edits->next()) {
            v1::Content content;
            const QByteArrayView bytes = edits->bytesView(1);
            content.ParseFromArray(bytes.data(), int(bytes.size()));
            if (content.kind_case() == v1::Content::kEdit && !content.edit().text().empty()) {
                content.mutable_edit()->clear_text();
                content.clear_mentions();
                cleared.append({edits->u64(0), std::move(content)});
            }
        }
        for (const auto &[editSeq, content] : cleared)
            if (auto r = c.query(QStringLiteral("UPDATE messages SET content = $3"
                                                " WHERE conversation_id = $1 AND seq = $2"),
                                 {conversationId, editSeq, serialize(content)}, "clear an edit");
                !r)
                return r.error();
    }
    if (outcome->deletes) {
        // A deleted file message no longer lets the members fetch its file,
        // nor keeps it from being collected.
        if (auto r = c.query(QStringLiteral("DELETE FROM message_files"
                                            " WHERE conversation_id = $1 AND seq = $2"),
                             {conversationId, targetSeq}, "deleted message's file");
            !r)
            return r.error();
    }
    if (auto r = c.query(QStringLiteral("UPDATE members SET read_seq = $3"
                                        " WHERE conversation_id = $1 AND user_id = $2"),
                         {conversationId, senderUserId, seq}, "operation read marker");
        !r)
        return r.error();
    QList<quint64> recipients;
    if (ref->isDirect()) {
        recipients = {ref->lowUser, ref->highUser};
    } else {
        auto ids = c.query(QStringLiteral("SELECT user_id FROM members WHERE conversation_id = $1"
                                          " ORDER BY user_id"),
                           {conversationId}, "operation recipients");
        if (!ids)
            return ids.error();
        while (ids->next())
            recipients.append(ids->u64(0));
    }
    return AppendResult{std::move(message), false, std::move(recipients)};
}

} // namespace

// ---- job plumbing ------------------------------------------------------------------------

void PostgresStore::enqueue(WriteJob job)
{
    bool queued = false;
    {
        std::lock_guard lock(m_queueMutex);
        if (m_open.load() && !m_stopping) {
            m_queue.push_back(std::move(job));
            queued = true;
        }
    }
    if (queued) {
        m_queueReady.notify_one();
        return;
    }
    CompletionRelay::Batch completions;
    job.deliver(makeError(v1::SHUTTING_DOWN, QStringLiteral("the store is closed")), completions);
}

template<class T>
void PostgresStore::finishJob(WriteJob &job, QObject *context, Completion<T> done,
                              std::shared_ptr<std::optional<Result<T>>> outcome)
{
    job.forget = [outcome] { outcome->reset(); };
    // deliver runs once, so it hands its completion on rather than copying it.
    job.deliver = [outcome, target = CompletionRelay::targetOf(context),
                   done = std::move(done)](const std::optional<Error> &failure,
                                           CompletionRelay::Batch &completions) mutable {
        if (!done || !target.thread)
            return;
        // A job that failed on its own keeps its error; one that succeeded (or
        // never ran) inside a batch that did not commit gets the batch's error.
        Result<T> result = (failure && (!*outcome || (*outcome)->ok())) ? Result<T>(*failure)
                                                                        : std::move(**outcome);
        completions.add(target, [done = std::move(done), result = std::move(result)]() mutable {
            done(std::move(result));
        });
    };
}

template<class T, class Body>
void PostgresStore::submit(QObject *context, Completion<T> done, Body body)
{
    auto outcome = std::make_shared<std::optional<Result<T>>>();
    WriteJob job;
    job.apply = [outcome, body = std::move(body)](PgWriter &writer) {
        outcome->emplace(body(writer.connection()));
        return (*outcome)->ok();
    };
    finishJob(job, context, std::move(done), outcome);
    enqueue(std::move(job));
}

template<class T, class Queue, class Receive>
void PostgresStore::submitPipelined(QObject *context, Completion<T> done, pg::WriteJob job,
                                    Queue queue, Receive receive)
{
    auto outcome = std::make_shared<std::optional<Result<T>>>();
    job.queue = std::move(queue);
    job.receive = [outcome, receive = std::move(receive)](PgWriter &writer, Received &received) {
        outcome->emplace(receive(writer, received));
    };
    finishJob(job, context, std::move(done), outcome);
    enqueue(std::move(job));
}

// ---- users and devices --------------------------------------------------------------------

void PostgresStore::createUser(const QString &username, const QString &displayName,
                               const QByteArray &passwordHash, QObject *context,
                               Completion<UserRecord> done)
{
    submit(context, std::move(done), [=](PgConnection &c) -> Result<UserRecord> {
        const QString name = normalizeUsername(username);
        if (!isValidUsername(name))
            return invalid(QStringLiteral("invalid user name"));
        UserRecord user;
        user.username = name;
        user.displayName = displayName.trimmed().isEmpty() ? name : displayName.trimmed();
        user.passwordHash = passwordHash;
        user.createdMs = nowMs();
        // A name taken meanwhile by another node is skipped, not an error.
        auto r = c.query(QStringLiteral("INSERT INTO users (username, display_name, display_key,"
                                        " password_hash, disabled, created_ms)"
                                        " VALUES ($1, $2, $3, $4, false, $5)"
                                        " ON CONFLICT (username) DO NOTHING RETURNING id"),
                         {user.username, user.displayName, displayKey(user.displayName),
                          user.passwordHash, user.createdMs},
                         "insert user");
        if (!r)
            return r.error();
        if (!r->next())
            return makeError(v1::NAME_TAKEN, QStringLiteral("user name %1 is taken").arg(name));
        user.id = r->u64(0);
        return user;
    });
}

void PostgresStore::setDisplayName(quint64 userId, const QString &displayName, QObject *context,
                                   Completion<UserRecord> done)
{
    submit(context, std::move(done), [=](PgConnection &c) -> Result<UserRecord> {
        auto r = c.query(QStringLiteral("UPDATE users SET display_name = $1, display_key = $2"
                                        " WHERE id = $3 RETURNING %1")
                             .arg(kUserColumns),
                         {displayName, displayKey(displayName), userId}, "set display name");
        if (!r)
            return r.error();
        if (!r->next())
            return notFound(QStringLiteral("no such user"));
        return userFromRow(*r);
    });
}

void PostgresStore::setAvatar(quint64 userId, const QString &fileId, quint32 color,
                              QObject *context, Completion<UserRecord> done)
{
    submit(context, std::move(done), [=](PgConnection &c) -> Result<UserRecord> {
        // The file's row is locked (FOR KEY SHARE, as the foreign key would)
        // so that a sweep cannot take it between the check and the update.
        auto r = c.query(
            QStringLiteral("UPDATE users SET avatar_file_id = NULLIF($1, ''),"
                           " avatar_color = $2 WHERE id = $3 AND (COALESCE($1, '') = ''"
                           " OR EXISTS (SELECT 1 FROM files WHERE id = $1"
                           "  AND uploader_id = $3 AND complete FOR KEY SHARE))"
                           " RETURNING %1")
                .arg(kUserColumns),
            {fileId.isEmpty() ? QStringLiteral("") : fileId, qint64(color), userId}, "set avatar");
        if (!r)
            return r.error();
        if (!r->next())
            return notFound(fileId.isEmpty() ? QStringLiteral("no such user")
                                             : QStringLiteral("no such file"));
        return userFromRow(*r);
    });
}

void PostgresStore::setPasswordHash(quint64 userId, const QByteArray &passwordHash,
                                    QObject *context, Completion<Done> done)
{
    submit(context, std::move(done), [=](PgConnection &c) -> Status {
        auto r = c.query(QStringLiteral("UPDATE users SET password_hash = $1 WHERE id = $2"),
                         {passwordHash, userId}, "set password");
        if (!r)
            return r.error();
        if (r->affected() == 0)
            return notFound(QStringLiteral("no such user"));
        return Done{};
    });
}

void PostgresStore::replacePasswordHash(quint64 userId, const QByteArray &expected,
                                        const QByteArray &passwordHash, QObject *context,
                                        Completion<bool> done)
{
    submit(context, std::move(done), [=](PgConnection &c) -> Result<bool> {
        auto r = c.query(QStringLiteral("UPDATE users SET password_hash = $1"
                                        " WHERE id = $2 AND password_hash = $3"),
                         {passwordHash, userId, expected}, "replace password");
        if (!r)
            return r.error();
        if (r->affected() == 1)
            return true;
        auto user =
            c.query(QStringLiteral("SELECT 1 FROM users WHERE id = $1"), {userId}, "user check");
        if (!user)
            return user.error();
        if (!user->next())
            return notFound(QStringLiteral("no such user"));
        return false;
    });
}

void PostgresStore::setDisabled(quint64 userId, bool disabled, QObject *context,
                                Completion<Done> done)
{
    submit(context, std::move(done), [=](PgConnection &c) -> Status {
        auto r = c.query(QStringLiteral("UPDATE users SET disabled = $1 WHERE id = $2"),
                         {Value::boolean(disabled), userId}, "set disabled");
        if (!r)
            return r.error();
        if (r->affected() == 0)
            return notFound(QStringLiteral("no such user"));
        if (disabled) {
            // Delivered to every listening node when this transaction commits.
            auto told =
                c.query(QStringLiteral("SELECT pg_notify($1, $2)"),
                        {QString(kAccountsChannel), QString::number(userId)}, "notify disabled");
            if (!told)
                return told.error();
        }
        return Done{};
    });
}

void PostgresStore::setHidden(quint64 userId, bool hidden, QObject *context, Completion<Done> done)
{
    submit(context, std::move(done), [=](PgConnection &c) -> Status {
        auto r = c.query(QStringLiteral("UPDATE users SET hidden = $1 WHERE id = $2"),
                         {Value::boolean(hidden), userId}, "set hidden");
        if (!r)
            return r.error();
        if (r->affected() == 0)
            return notFound(QStringLiteral("no such user"));
        return Done{};
    });
}

void PostgresStore::createDevice(quint64 userId, const QString &name, const QByteArray &tokenHash,
                                 QObject *context, Completion<DeviceRecord> done)
{
    submit(context, std::move(done), [=](PgConnection &c) -> Result<DeviceRecord> {
        DeviceRecord device;
        device.userId = userId;
        device.name = name;
        device.createdMs = nowMs();
        device.lastSeenMs = device.createdMs;
        auto r = c.query(QStringLiteral("INSERT INTO devices (user_id, name, token_hash,"
                                        " created_ms, last_seen_ms, revoked)"
                                        " SELECT id, $2, $3, $4, $4, false FROM users"
                                        " WHERE id = $1 RETURNING id"),
                         {userId, name, tokenHash, device.createdMs}, "insert device");
        if (!r)
            return r.error();
        if (!r->next())
            return notFound(QStringLiteral("no such user"));
        device.id = r->u64(0);
        return device;
    });
}

void PostgresStore::revokeDevice(quint64 userId, quint64 deviceId, QObject *context,
                                 Completion<Done> done)
{
    submit(context, std::move(done), [=](PgConnection &c) -> Status {
        auto r = c.query(QStringLiteral("UPDATE devices SET revoked = true"
                                        " WHERE id = $1 AND user_id = $2 AND NOT revoked"),
                         {deviceId, userId}, "revoke device");
        if (!r)
            return r.error();
        if (r->affected() == 0)
            return notFound(QStringLiteral("no such device"));
        return Done{};
    });
}

void PostgresStore::touchDevice(quint64 deviceId, qint64 lastSeenMs)
{
    submitPipelined(
        nullptr, Completion<Done>(), WriteJob(),
        [=](PgWriter &, Pipeline &pipeline) {
            pipeline.add(QStringLiteral("UPDATE devices SET last_seen_ms = $1"
                                        " WHERE id = $2 AND last_seen_ms < $1"),
                         {lastSeenMs, deviceId}, "touch device");
        },
        [](PgWriter &, Received &received) -> Status {
            if (auto r = received.next(); !r)
                return r.error();
            return Done{};
        });
}

// ---- messages and read markers ---------------------------------------------------------------

void PostgresStore::appendMessage(AppendRequest request, QObject *context,
                                  Completion<AppendResult> done)
{
    if (isOperation(request.content)) {
        const QByteArray encoded = serialize(request.content);
        if (done) {
            done = [done = std::move(done),
                    content = request.content](Result<AppendResult> result) mutable {
                if (result && !result->duplicate)
                    *result->message.mutable_content() = std::move(content);
                done(std::move(result));
            };
        }
        submit(context, std::move(done),
               [conversationId = request.conversationId, sender = request.senderUserId,
                device = request.senderDeviceId, clientMsgId = request.clientMsgId,
                op = request.content, encoded, windows = request.opWindows](PgConnection &c) {
                   return appendOperation(c, conversationId, sender, device, clientMsgId, op,
                                          encoded, windows);
               });
        return;
    }
    auto append = std::make_shared<EncodedAppend>();
    append->conversationId = std::move(request.conversationId);
    append->senderUserId = request.senderUserId;
    append->senderDeviceId = request.senderDeviceId;
    append->clientMsgId = std::move(request.clientMsgId);
    append->replyToSeq = request.content.reply_to_seq();
    append->content = serialize(request.content);
    append->ref = parseConversationId(append->conversationId);
    if (request.content.has_file()) {
        const v1::FileRef &file = request.content.file();
        append->fileId = toQString(file.file_id());
        append->fileSize = file.size();
        append->fileSha256 = QByteArray::fromStdString(file.sha256());
    }
    // The content goes back into the stored message on this thread; a
    // duplicate comes back with the original's content, read by the writer.
    if (done) {
        done = [done = std::move(done),
                content = std::move(request.content)](Result<AppendResult> result) mutable {
            if (result && !result->duplicate)
                *result->message.mutable_content() = std::move(content);
            done(std::move(result));
        };
    }
    WriteJob job;
    job.lockKey = append->conversationId;
    job.lockUser = append->senderUserId;
    job.prelude = [append](PgWriter &writer, Pipeline &pipeline) {
        return queueCreation(writer, pipeline, *append);
    };
    submitPipelined(
        context, std::move(done), std::move(job),
        [append](PgWriter &writer, Pipeline &pipeline) { queueAppend(writer, pipeline, *append); },
        [append](PgWriter &writer, Received &received) {
            return receiveAppend(writer, received, *append);
        });
}

void PostgresStore::markRead(const QString &conversationId, quint64 userId, quint64 seq,
                             QObject *context, Completion<ReadResult> done)
{
    WriteJob job;
    job.lockKey = conversationId;
    job.lockUser = userId;
    submitPipelined(
        context, std::move(done), std::move(job),
        [=](PgWriter &, Pipeline &pipeline) {
            pipeline.add(kMarkRead, {conversationId, userId, std::min(seq, kMaxSeq)}, "mark read");
        },
        [](PgWriter &, Received &received) -> Result<ReadResult> {
            auto r = received.next();
            if (!r)
                return r.error();
            if (!r->next())
                return notFound(QStringLiteral("no such conversation"));
            const quint64 maxSeq = r->u64(0);
            ReadResult result;
            result.moved = !r->isNull(2);
            result.readSeq = result.moved ? r->u64(2) : r->u64(1);
            result.unreadCount = maxSeq - std::min(maxSeq, result.readSeq);
            return result;
        });
}

void PostgresStore::setChatState(ChatStateWrite write, QObject *context,
                                 Completion<v1::ChatState> done)
{
    submit(context, std::move(done),
           [write = std::move(write)](PgConnection &c) -> Result<v1::ChatState> {
               auto member = c.query(QStringLiteral("SELECT c.max_seq FROM conversations c"
                                                    " JOIN members m ON m.conversation_id = c.id"
                                                    " WHERE c.id = $1 AND m.user_id = $2"),
                                     {write.conversationId, write.userId}, "chat state member");
               if (!member)
                   return member.error();
               if (!member->next())
                   return notFound(QStringLiteral("no such conversation"));
               const bool hide = write.change == v1::SetChatStateRequest::kHideSeq;
               if (hide && (write.hideSeq == 0 || write.hideSeq > member->u64(0)))
                   return notFound(QStringLiteral("no such message"));
               // Raised before the settings are read: its row lock orders this user's changes.
               auto version = c.query(QStringLiteral("UPDATE users SET chat_state_version ="
                                                     " chat_state_version + 1 WHERE id = $1"
                                                     " RETURNING chat_state_version"),
                                      {write.userId}, "chat state version");
               if (!version)
                   return version.error();
               if (!version->next())
                   return notFound(QStringLiteral("no such user"));
               v1::ChatState state;
               state.set_conversation_id(write.conversationId.toStdString());
               state.set_version(version->u64(0));
               if (hide) {
                   state.set_hidden_seq(write.hideSeq);
               } else {
                   auto old = c.query(QStringLiteral("SELECT muted_until_ms, archived FROM"
                                                     " chat_state WHERE user_id = $1 AND"
                                                     " conversation_id = $2 AND hidden_seq = 0"),
                                      {write.userId, write.conversationId}, "chat state settings");
                   if (!old)
                       return old.error();
                   if (old->next()) {
                       state.set_muted_until_ms(old->i64(0));
                       state.set_archived(old->boolean(1));
                   }
                   if (write.change == v1::SetChatStateRequest::kMuteUntilMs)
                       state.set_muted_until_ms(write.mutedUntilMs);
                   else
                       state.set_archived(write.archived);
               }
               auto stored = c.query(
                   QStringLiteral("INSERT INTO chat_state (user_id, conversation_id, hidden_seq,"
                                  " muted_until_ms, archived, version)"
                                  " VALUES ($1, $2, $3, $4, $5, $6)"
                                  " ON CONFLICT (user_id, conversation_id, hidden_seq) DO UPDATE"
                                  " SET muted_until_ms = excluded.muted_until_ms,"
                                  " archived = excluded.archived, version = excluded.version"),
                   {write.userId, write.conversationId, state.hidden_seq(), state.muted_until_ms(),
                    Value::boolean(state.archived()), state.version()},
                   "write chat state");
               if (!stored)
                   return stored.error();
               return state;
           });
}

void PostgresStore::setBlocked(quint64 userId, quint64 otherId, bool blocked, QObject *context,
                               Completion<v1::ChatState> done)
{
    submit(context, std::move(done), [=](PgConnection &c) -> Result<v1::ChatState> {
        auto other = c.query(QStringLiteral("SELECT 1 FROM users WHERE id = $1"),
                             {std::min(otherId, kMaxSeq)}, "blocked user");
        if (!other)
            return other.error();
        if (!other->next())
            return notFound(QStringLiteral("no such user"));
        // The counter's row lock orders this user's changes (see setChatState).
        auto version = c.query(QStringLiteral("UPDATE users SET chat_state_version ="
                                              " chat_state_version + 1 WHERE id = $1"
                                              " RETURNING chat_state_version"),
                               {userId}, "chat state version");
        if (!version)
            return version.error();
        if (!version->next())
            return notFound(QStringLiteral("no such user"));
        v1::ChatState state;
        state.set_blocked_user_id(otherId);
        state.set_blocked(blocked);
        state.set_version(version->u64(0));
        auto stored =
            c.query(QStringLiteral("INSERT INTO blocks (user_id, blocked_user_id,"
                                   " blocked, version) VALUES ($1, $2, $3, $4)"
                                   " ON CONFLICT (user_id, blocked_user_id) DO UPDATE"
                                   " SET blocked = excluded.blocked,"
                                   " version = excluded.version"),
                    {userId, otherId, Value::boolean(blocked), state.version()}, "write block");
        if (!stored)
            return stored.error();
        return state;
    });
}

// ---- files (the statements are in pg_file_writes) ----------------------------------------------

void PostgresStore::createUpload(NewUpload upload, QObject *context, Completion<UploadGrant> done)
{
    submit(context, std::move(done),
           [upload = std::move(upload)](PgConnection &c) { return pg::createUpload(c, upload); });
}

void PostgresStore::completeUpload(const QString &fileId, qint64 nowMs, QObject *context,
                                   Completion<FileRecord> done)
{
    submit(context, std::move(done),
           [=](PgConnection &c) { return pg::completeUpload(c, fileId, nowMs); });
}

void PostgresStore::dropUpload(const QString &fileId, quint64 userId, QObject *context,
                               Completion<Done> done)
{
    submit(context, std::move(done),
           [=](PgConnection &c) { return pg::dropUpload(c, fileId, userId); });
}

void PostgresStore::sweepFiles(qint64 nowMs, qint64 unsentGraceMs, int limit, QObject *context,
                               Completion<FileSweep> done)
{
    submit(context, std::move(done),
           [=](PgConnection &c) { return pg::sweepFiles(c, nowMs, unsentGraceMs, limit); });
}

// ---- groups (the rules and statements are in pg_group_writes) ----------------------------------

void PostgresStore::createGroup(quint64 ownerId, const QString &name,
                                const QList<quint64> &memberIds, QObject *context,
                                Completion<GroupChange> done)
{
    submit(context, std::move(done),
           [=](PgConnection &c) { return pg::createGroup(c, ownerId, name, memberIds); });
}

void PostgresStore::addMembers(const QString &conversationId, quint64 actorId,
                               const QList<quint64> &userIds, QObject *context,
                               Completion<GroupChange> done)
{
    submit(context, std::move(done),
           [=](PgConnection &c) { return pg::addMembers(c, conversationId, actorId, userIds); });
}

void PostgresStore::removeMember(const QString &conversationId, quint64 actorId, quint64 userId,
                                 QObject *context, Completion<GroupChange> done)
{
    submit(context, std::move(done),
           [=](PgConnection &c) { return pg::removeMember(c, conversationId, actorId, userId); });
}

void PostgresStore::leaveGroup(const QString &conversationId, quint64 userId, QObject *context,
                               Completion<GroupChange> done)
{
    submit(context, std::move(done),
           [=](PgConnection &c) { return pg::leaveGroup(c, conversationId, userId); });
}

void PostgresStore::renameGroup(const QString &conversationId, quint64 actorId, const QString &name,
                                QObject *context, Completion<GroupChange> done)
{
    submit(context, std::move(done),
           [=](PgConnection &c) { return pg::renameGroup(c, conversationId, actorId, name); });
}

void PostgresStore::setGroupAvatar(const QString &conversationId, quint64 actorId,
                                   const QString &fileId, quint32 color, QObject *context,
                                   Completion<GroupChange> done)
{
    submit(context, std::move(done), [=](PgConnection &c) {
        return pg::setGroupAvatar(c, conversationId, actorId, fileId, color);
    });
}

} // namespace kith::server
