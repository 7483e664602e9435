#include "sqlite_writer.h"

#include "kith/content.h"
#include "kith/protocol.h"
#include "sqlite_schema.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace kith::server {

using namespace sqlite;

namespace {
// Conversations whose members the writer keeps at once; past it they are
// read again as needed (a bound, not a tuning: one read per conversation).
constexpr qsizetype kMaxCachedRecipients = 65536;

// The log starts over (the writer waits for the last copy and the database's
// sync) when it holds this many times Options::checkpointFrames ...
constexpr int kWalFramesCapFactor = 4;
// ... once the background copies have left at most this many frames for the
// writer to copy and sync itself while sends wait (about a millisecond).
constexpr int kRestartGapFrames = 64;
} // namespace

// Loads into locals and keeps them only whole: a half-loaded map would make
// existing conversations look new (a group send answered NOT_FOUND, a direct
// one refused by its own key). Until a load succeeds the state is stale, and
// the next batch loads it again before it writes anything.
Status SqliteStore::Writer::loadState()
{
    m_stateStale = true;
    m_recipients.clear();
    QHash<QString, quint64> maxSeq;
    quint64 nextServerId = 1;
    quint64 nextGroupId = 1;
    {
        Stmt s(*m_c, QStringLiteral("SELECT id, max_seq FROM conversations"));
        if (!s.exec())
            return s.error("load conversations");
        while (s.next())
            maxSeq.insert(s.text(0), s.u64(1));
        if (s.failed())
            return s.error("load conversations");
    }
    {
        Stmt s(*m_c, QStringLiteral("SELECT COALESCE(MAX(server_id), 0) + 1 FROM messages"));
        if (!s.exec() || !s.next())
            return s.error("load next server id");
        nextServerId = s.u64(0);
    }
    {
        Stmt s(*m_c, QStringLiteral("SELECT value FROM counters WHERE name = 'next_group_id'"));
        if (!s.exec() || !s.next())
            return s.error("load next group id");
        nextGroupId = s.u64(0);
    }
    const auto version = pragmaText(*m_c, QStringLiteral("PRAGMA data_version"));
    if (!version)
        return version.error();
    m_maxSeq = std::move(maxSeq);
    m_nextServerId = nextServerId;
    m_nextGroupId = nextGroupId;
    m_dataVersion = version->toLongLong();
    m_stateStale = false;
    return Done{};
}

bool SqliteStore::Writer::execControl(const QString &sql)
{
    Stmt s(*m_c, sql);
    if (!s.exec()) {
        (void)s.error("transaction control");
        return false;
    }
    return true;
}

// Another process (an admin command) may have committed since our last batch;
// our counters would then be stale, so reload them. data_version only changes
// for commits made by other connections.
Status SqliteStore::Writer::refreshIfChangedElsewhere()
{
    const auto version = pragmaText(*m_c, QStringLiteral("PRAGMA data_version"));
    if (!version)
        return version.error();
    if (version->toLongLong() == m_dataVersion)
        return Done{};
    qCDebug(lcStore) << "database changed by another process; reloading counters";
    return loadState();
}

void SqliteStore::Writer::setMaxSeq(const QString &conversationId, quint64 seq)
{
    const auto it = m_maxSeq.constFind(conversationId);
    m_undo.maxSeq.emplace_back(conversationId, it == m_maxSeq.cend() ? std::optional<quint64>()
                                                                     : std::optional<quint64>(*it));
    m_maxSeq.insert(conversationId, seq);
}

Result<QList<quint64>> SqliteStore::Writer::recipientsOf(const QString &conversationId,
                                                         const ConversationRef &ref)
{
    if (const auto it = m_recipients.constFind(conversationId); it != m_recipients.cend())
        return *it;
    QList<quint64> ids;
    if (ref.isDirect()) {
        ids = {ref.lowUser, ref.highUser};
    } else {
        Stmt s(*m_c, QStringLiteral("SELECT user_id FROM members WHERE conversation_id = ?"));
        if (!s.exec({conversationId}))
            return s.error("recipients");
        while (s.next())
            ids.append(s.u64(0));
    }
    if (m_recipients.size() >= kMaxCachedRecipients)
        m_recipients.clear();
    m_recipients.insert(conversationId, ids);
    return ids;
}

void SqliteStore::Writer::undoJob()
{
    // Members read or forgotten by the undone work may not be the committed ones.
    m_recipients.clear();
    for (auto it = m_undo.maxSeq.rbegin(); it != m_undo.maxSeq.rend(); ++it) {
        if (it->second)
            m_maxSeq.insert(it->first, *it->second);
        else
            m_maxSeq.remove(it->first);
    }
    m_nextServerId = m_undo.nextServerId;
    m_nextGroupId = m_undo.nextGroupId;
    m_batchNewMessages = m_undo.newMessages;
}

Status SqliteStore::Writer::advanceConversation(const QString &conversationId, quint64 seq,
                                                qint64 now)
{
    Stmt s(*m_c, QStringLiteral("UPDATE conversations SET max_seq = ?, last_activity_ms = ?"
                                " WHERE id = ?"));
    if (!s.exec({intValue(seq), now, conversationId}))
        return s.error("advance conversation");
    return Done{};
}

Status SqliteStore::Writer::moveReadMarker(const QString &conversationId, quint64 userId,
                                           quint64 seq)
{
    Stmt s(*m_c, QStringLiteral("UPDATE members SET read_seq = ?"
                                " WHERE conversation_id = ? AND user_id = ?"));
    if (!s.exec({intValue(seq), conversationId, intValue(userId)}))
        return s.error("read marker");
    if (s.rowsAffected() == 0)
        return notFound(QStringLiteral("no such conversation"));
    return Done{};
}

Status SqliteStore::Writer::flushDeferred()
{
    for (auto it = m_pendingConversations.cbegin(); it != m_pendingConversations.cend(); ++it)
        if (Status advanced = advanceConversation(it.key(), it->first, it->second); !advanced)
            return advanced;
    for (auto it = m_pendingMarkers.cbegin(); it != m_pendingMarkers.cend(); ++it) {
        if (it->latest == it->written)
            continue;
        if (Status moved = moveReadMarker(it.key().first, it.key().second, it->latest); !moved)
            return makeError(v1::INTERNAL, QStringLiteral("storage error (read marker)"));
    }
    dropDeferred();
    return Done{};
}

void SqliteStore::Writer::dropDeferred()
{
    m_pendingConversations.clear();
    m_pendingMarkers.clear();
}

// Runs the batch as one transaction. With savepoints each job that fails is
// undone alone; without them the first such job rolls the whole transaction
// back (counters included) and sets `retry`, so nothing is committed.
std::optional<Error> SqliteStore::Writer::runTransaction(std::deque<WriteJob> &batch,
                                                         bool savepoints, bool *retry)
{
    *retry = false;
    m_batchNewMessages = 0;
    m_batchDeleted = false;
    if (!execControl(QStringLiteral("BEGIN IMMEDIATE")))
        return makeError(v1::INTERNAL, QStringLiteral("storage busy or unavailable"));
    std::optional<Error> failure;
    if (Status fresh = m_stateStale ? loadState() : refreshIfChangedElsewhere(); !fresh)
        failure = fresh.error();
    // Without savepoints the undo record spans the whole batch.
    m_undo = Undo{m_nextServerId, m_nextGroupId, 0, {}};
    for (size_t next = 0;; ++next) {
        if (failure)
            break;
        // Run out of jobs: a plain batch takes the writes that arrive while
        // the flusher syncs the last one (see takeMoreWhileSyncing).
        if (next == batch.size() && (savepoints || !m_store.takeMoreWhileSyncing(batch)))
            break;
        WriteJob &job = batch[next];
        m_discard = false;
        if (!job.appendOnly || savepoints) {
            if (Status flushed = flushDeferred(); !flushed) {
                failure = flushed.error();
                break;
            }
        }
        m_deferUpdates = job.appendOnly && !savepoints;
        if (!savepoints) {
            if (!job.apply(*this) || m_discard) {
                *retry = true;
                break;
            }
            continue;
        }
        m_undo = Undo{m_nextServerId, m_nextGroupId, m_batchNewMessages, {}};
        if (!execControl(QStringLiteral("SAVEPOINT job"))) {
            failure = makeError(v1::INTERNAL, QStringLiteral("storage savepoint failed"));
            break;
        }
        const bool keep = job.apply(*this) && !m_discard;
        if (!keep) {
            undoJob();
            if (!execControl(QStringLiteral("ROLLBACK TO job")))
                failure = makeError(v1::INTERNAL, QStringLiteral("storage rollback failed"));
        }
        if (!execControl(QStringLiteral("RELEASE job")))
            failure = makeError(v1::INTERNAL, QStringLiteral("storage savepoint failed"));
    }
    m_deferUpdates = false;
    if (*retry || failure) {
        dropDeferred();
    } else if (Status flushed = flushDeferred(); !flushed) {
        failure = flushed.error();
    }
    if (*retry && !failure) {
        if (execControl(QStringLiteral("ROLLBACK"))) {
            undoJob();
            return std::nullopt;
        }
        *retry = false;
        failure = makeError(v1::INTERNAL, QStringLiteral("storage rollback failed"));
    }
    if (!failure && m_store.m_options.beforeCommitForTesting)
        m_store.m_options.beforeCommitForTesting();
    // Numbered before COMMIT makes it visible: a reader that sees it then
    // waits for this number to be synced (SqliteStore::waitUntilDurable).
    if (!failure)
        m_store.m_visibleBatches.fetch_add(1);
    if (!failure && !execControl(QStringLiteral("COMMIT")))
        failure = makeError(v1::INTERNAL, QStringLiteral("storage commit failed"));
    if (failure) {
        // SQLite has rolled back by itself after some errors (a full disk, an
        // I/O error at COMMIT); a ROLLBACK then would only fail and say so.
        if (!sqlite3_get_autocommit(m_c->db))
            (void)execControl(QStringLiteral("ROLLBACK"));
        // Counters may have moved for rolled-back work: read them back.
        if (Status reloaded = loadState(); !reloaded)
            qCCritical(lcStore) << "cannot reload counters after a failed batch; the next batch"
                                   " tries again before it writes";
    }
    return failure;
}

void SqliteStore::Writer::checkpointHere()
{
    int logFrames = 0;
    int copied = 0;
    if (sqlite3_wal_checkpoint_v2(m_c->db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &logFrames,
                                  &copied) != SQLITE_OK)
        qCWarning(lcStore) << "checkpoint failed:" << m_c->errorText();
    m_c->walFrames = 0;
}

// Called between batches, once their acks are on their way (SQLite's own
// auto-checkpoint would copy frames inside the COMMIT that crossed the
// threshold and hold those acks back). Every checkpointFrames new frames the
// checkpointer thread copies the log into the database beside the writer.
// The log can only start over once all of it is in the database and synced,
// which the writer must do itself, with sends waiting; so it does that only
// when the log has grown kWalFramesCapFactor times as long, and then first
// asks the checkpointer for more copies, each shorter than the one before
// (what was appended while the last one ran), until at most
// kRestartGapFrames are left for it.
void SqliteStore::Writer::maybeCheckpoint()
{
    const int every = m_store.m_options.checkpointFrames;
    const int frames = m_c->walFrames;
    if (!m_store.m_checkpointerRunning.load()) {
        if (frames >= every)
            checkpointHere();
        return;
    }
    if (frames < m_framesAtLastLook)
        m_requestedAtFrames = 0; // the log started over
    m_framesAtLastLook = frames;
    const int limit = every * kWalFramesCapFactor;
    std::unique_lock lock(m_store.m_checkpointMutex);
    if (m_store.m_checkpoint == Checkpoint::Requested && frames >= 2 * limit) {
        // A writer that does not wait for its syncs can outrun the copies;
        // the log's bound holds all the same: wait for the copy in progress
        // (two checkpoints at once fail), then start the log over below.
        while (m_store.m_checkpoint == Checkpoint::Requested) {
            lock.unlock();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            lock.lock();
        }
    }
    if (m_store.m_checkpoint == Checkpoint::Copied)
        m_store.m_checkpoint = Checkpoint::Idle;
    if (m_store.m_checkpoint != Checkpoint::Idle)
        return;
    // Starting over: once the copies have caught up (or the log has grown to
    // twice the limit meanwhile, which bounds it under any load).
    const bool caughtUp = frames - m_store.m_copiedFrames <= kRestartGapFrames;
    if (frames >= limit && (caughtUp || frames >= 2 * limit)) {
        m_store.m_copiedFrames = 0;
        lock.unlock();
        checkpointHere();
        m_requestedAtFrames = 0;
        m_framesAtLastLook = 0;
        return;
    }
    if (frames >= m_requestedAtFrames + every || frames >= limit) {
        m_requestedAtFrames = frames;
        m_store.m_checkpoint = Checkpoint::Requested;
        lock.unlock();
        m_store.m_checkpointWake.notify_one();
    }
}

void SqliteStore::Writer::runBatch(std::deque<WriteJob> &batch)
{
    // Most batches have no job that fails or asks to be undone, so they run as
    // one plain transaction. Per-job savepoints (two more statements and a
    // pager savepoint per job) are paid only by a batch that has such a job:
    // it is rolled back and run again with them.
    bool retry = false;
    std::optional<Error> failure;
    if (m_store.m_logBroken.load()) {
        failure = SqliteStore::brokenLogError();
    } else {
        failure = runTransaction(batch, false, &retry);
        if (retry)
            failure = runTransaction(batch, true, &retry);
    }

    if (!failure) {
        const quint64 size = batch.size();
        m_store.m_commits.fetch_add(1, std::memory_order_relaxed);
        m_store.m_writesCommitted.fetch_add(size, std::memory_order_relaxed);
        m_store.m_messagesStored.fetch_add(m_batchNewMessages, std::memory_order_relaxed);
        if (size > m_store.m_maxBatch.load(std::memory_order_relaxed))
            m_store.m_maxBatch.store(size, std::memory_order_relaxed);
        qCDebug(lcStore) << "committed" << size << "writes";
    } else {
        qCWarning(lcStore) << "batch of" << batch.size() << "writes failed:" << failure->message;
    }
    // A deletion is answered once its text is gone from the log too (a
    // client told "deleted" may look at the files at once); deletions are
    // rare, so the batch they are in pays for it.
    if (!failure && m_batchDeleted)
        m_scrubPending = true;
    if (m_scrubPending)
        scrubDeletedContent();
    // Answered once the flusher has synced the log (failures too, so answers
    // keep their order).
    m_store.finishBatch(std::move(batch), std::move(failure));
    maybeCheckpoint();
}

// A deleted message's rows were rewritten with secure_delete on, so the
// database file keeps none of its bytes once the log is copied in; but the
// log itself still holds the page images that had them. Copy it all and
// start it over (a reader in the way past the busy timeout leaves it to the
// next batch).
void SqliteStore::Writer::scrubDeletedContent()
{
    // Two checkpoints at once fail; the checkpointer runs only while it was
    // asked (and only this thread asks), so hold its lock once it is not.
    std::unique_lock lock(m_store.m_checkpointMutex);
    while (m_store.m_checkpoint == Checkpoint::Requested) {
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        lock.lock();
    }
    int logFrames = 0;
    int copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(m_c->db, nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                                             &logFrames, &copied);
    if (rc != SQLITE_OK) {
        // A reader kept it busy past the busy timeout: the next batch tries again.
        qCWarning(lcStore) << "log not cleared after a deletion yet:" << m_c->errorText();
        return;
    }
    m_c->walFrames = 0;
    m_store.m_copiedFrames = 0; // still under the checkpointer's lock
    m_scrubPending = false;
}

// ---- writer: users and devices ---------------------------------------------------

Result<UserRecord> SqliteStore::Writer::createUser(const QString &username,
                                                   const QString &displayName,
                                                   const QByteArray &passwordHash)
{
    const QString name = normalizeUsername(username);
    if (!isValidUsername(name))
        return invalid(QStringLiteral("invalid user name"));
    {
        Stmt s(*m_c, QStringLiteral("SELECT id FROM users WHERE username = ?"));
        if (!s.exec({name}))
            return s.error("user name check");
        if (s.next())
            return makeError(v1::NAME_TAKEN, QStringLiteral("user name %1 is taken").arg(name));
    }
    UserRecord user;
    user.username = name;
    user.displayName = displayName.trimmed().isEmpty() ? name : displayName.trimmed();
    user.passwordHash = passwordHash;
    user.createdMs = nowMs();
    Stmt s(*m_c, QStringLiteral("INSERT INTO users (username, display_name, display_key, "
                                "password_hash, disabled, created_ms) VALUES (?, ?, ?, ?, 0, ?)"));
    if (!s.exec({user.username, user.displayName, displayKey(user.displayName), user.passwordHash,
                 user.createdMs}))
        return s.error("insert user");
    user.id = s.lastInsertId();
    return user;
}

Result<UserRecord> SqliteStore::Writer::setDisplayName(quint64 userId, const QString &displayName)
{
    {
        Stmt s(*m_c, QStringLiteral("UPDATE users SET display_name = ?, display_key = ?"
                                    " WHERE id = ?"));
        if (!s.exec({displayName, displayKey(displayName), intValue(userId)}))
            return s.error("set display name");
        if (s.rowsAffected() == 0)
            return notFound(QStringLiteral("no such user"));
    }
    return loadUser(*m_c, userId);
}

Result<UserRecord> SqliteStore::Writer::setAvatar(quint64 userId, const QString &fileId,
                                                  quint32 color)
{
    if (!fileId.isEmpty()) {
        Stmt s(*m_c, QStringLiteral("SELECT 1 FROM files WHERE id = ? AND uploader_id = ?"
                                    " AND complete = 1"));
        if (!s.exec({fileId, intValue(userId)}))
            return s.error("avatar file");
        if (!s.next())
            return notFound(QStringLiteral("no such file"));
    }
    {
        Stmt s(*m_c, QStringLiteral("UPDATE users SET avatar_file_id = ?, avatar_color = ?"
                                    " WHERE id = ?"));
        if (!s.exec({fileId.isEmpty() ? Value::null() : Value(fileId), qint64(color),
                     intValue(userId)}))
            return s.error("set avatar");
        if (s.rowsAffected() == 0)
            return notFound(QStringLiteral("no such user"));
    }
    return loadUser(*m_c, userId);
}

Status SqliteStore::Writer::setPasswordHash(quint64 userId, const QByteArray &passwordHash)
{
    Stmt s(*m_c, QStringLiteral("UPDATE users SET password_hash = ? WHERE id = ?"));
    if (!s.exec({passwordHash, intValue(userId)}))
        return s.error("set password");
    if (s.rowsAffected() == 0)
        return notFound(QStringLiteral("no such user"));
    return Done{};
}

Result<bool> SqliteStore::Writer::replacePasswordHash(quint64 userId, const QByteArray &expected,
                                                      const QByteArray &passwordHash)
{
    {
        Stmt s(*m_c, QStringLiteral(
                         "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?"));
        if (!s.exec({passwordHash, intValue(userId), expected}))
            return s.error("replace password");
        if (s.rowsAffected() == 1)
            return true;
    }
    Stmt s(*m_c, QStringLiteral("SELECT 1 FROM users WHERE id = ?"));
    if (!s.exec({intValue(userId)}))
        return s.error("user check");
    if (!s.next())
        return notFound(QStringLiteral("no such user"));
    return false;
}

Status SqliteStore::Writer::setDisabled(quint64 userId, bool disabled)
{
    Stmt s(*m_c, QStringLiteral("UPDATE users SET disabled = ? WHERE id = ?"));
    if (!s.exec({int(disabled), intValue(userId)}))
        return s.error("set disabled");
    if (s.rowsAffected() == 0)
        return notFound(QStringLiteral("no such user"));
    return Done{};
}

Status SqliteStore::Writer::setHidden(quint64 userId, bool hidden)
{
    Stmt s(*m_c, QStringLiteral("UPDATE users SET hidden = ? WHERE id = ?"));
    if (!s.exec({int(hidden), intValue(userId)}))
        return s.error("set hidden");
    if (s.rowsAffected() == 0)
        return notFound(QStringLiteral("no such user"));
    return Done{};
}

Result<DeviceRecord> SqliteStore::Writer::createDevice(quint64 userId, const QString &name,
                                                       const QByteArray &tokenHash)
{
    if (const auto user = loadUser(*m_c, userId); !user)
        return user.error();
    DeviceRecord device;
    device.userId = userId;
    device.name = name;
    device.createdMs = nowMs();
    device.lastSeenMs = device.createdMs;
    Stmt s(*m_c, QStringLiteral("INSERT INTO devices (user_id, name, token_hash, created_ms, "
                                "last_seen_ms, revoked) VALUES (?, ?, ?, ?, ?, 0)"));
    if (!s.exec({intValue(userId), name, tokenHash, device.createdMs, device.lastSeenMs}))
        return s.error("insert device");
    device.id = s.lastInsertId();
    return device;
}

Status SqliteStore::Writer::revokeDevice(quint64 userId, quint64 deviceId)
{
    Stmt s(*m_c, QStringLiteral("UPDATE devices SET revoked = 1"
                                " WHERE id = ? AND user_id = ? AND revoked = 0"));
    if (!s.exec({intValue(deviceId), intValue(userId)}))
        return s.error("revoke device");
    if (s.rowsAffected() == 0)
        return notFound(QStringLiteral("no such device"));
    return Done{};
}

Status SqliteStore::Writer::touchDevice(quint64 deviceId, qint64 lastSeenMs)
{
    Stmt s(*m_c, QStringLiteral("UPDATE devices SET last_seen_ms = ?"
                                " WHERE id = ? AND last_seen_ms < ?"));
    if (!s.exec({lastSeenMs, intValue(deviceId), lastSeenMs}))
        return s.error("touch device");
    return Done{};
}

// ---- writer: messages -------------------------------------------------------------

Result<v1::Message> SqliteStore::Writer::insertMessage(const QString &conversationId,
                                                       quint64 senderUserId, quint64 senderDeviceId,
                                                       const std::string *clientMsgId,
                                                       const QByteArray &content, qint64 now,
                                                       bool *uniqueClash)
{
    v1::Message message;
    message.set_conversation_id(toStd(conversationId));
    message.set_seq(m_maxSeq.value(conversationId) + 1);
    message.set_server_id(m_nextServerId);
    message.set_sender_user_id(senderUserId);
    message.set_sender_device_id(senderDeviceId);
    if (clientMsgId)
        message.set_client_msg_id(*clientMsgId);
    message.set_server_time_ms(now);
    {
        Stmt s(*m_c, QStringLiteral("INSERT INTO messages (server_id, conversation_id, seq, "
                                    "sender_user_id, sender_device_id, client_msg_id, "
                                    "server_time_ms, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
        if (!s.exec({intValue(message.server_id()), conversationId, intValue(message.seq()),
                     intValue(senderUserId), intValue(senderDeviceId),
                     clientMsgId ? Value(*clientMsgId) : Value::null(), now, content})) {
            // A resend clashing with (sender, client_msg_id) is routine; the caller decides.
            if (uniqueClash && s.failedOnConstraint()) {
                *uniqueClash = true;
                return s.error("insert message", false);
            }
            return s.error("insert message");
        }
    }
    if (m_deferUpdates) {
        m_pendingConversations.insert(conversationId, {message.seq(), now});
    } else if (Status advanced = advanceConversation(conversationId, message.seq(), now);
               !advanced) {
        return advanced.error();
    }
    ++m_nextServerId;
    ++m_batchNewMessages;
    setMaxSeq(conversationId, message.seq());
    return message;
}

Status SqliteStore::Writer::createDirect(const QString &conversationId, const ConversationRef &ref,
                                         qint64 now)
{
    {
        Stmt s(*m_c, QStringLiteral("SELECT COUNT(*) FROM users WHERE id IN (?, ?)"));
        if (!s.exec({intValue(ref.lowUser), intValue(ref.highUser)}) || !s.next())
            return s.error("direct users");
        if (s.u64(0) != 2)
            return notFound(QStringLiteral("no such user"));
    }
    {
        Stmt s(*m_c, QStringLiteral("INSERT INTO conversations (id, kind, title, max_seq, "
                                    "metadata_version, last_activity_ms, created_ms)"
                                    " VALUES (?, ?, '', 0, 0, ?, ?)"));
        if (!s.exec({conversationId, int(v1::DIRECT), now, now}))
            return s.error("insert direct conversation");
    }
    for (quint64 user : {ref.lowUser, ref.highUser})
        if (Status added = insertMember(conversationId, user, v1::MEMBER, now, 1, 0); !added)
            return added;
    setMaxSeq(conversationId, 0);
    return Done{};
}

Status SqliteStore::Writer::insertMember(const QString &conversationId, quint64 userId,
                                         v1::Role role, qint64 now, quint64 joinedSeq,
                                         quint64 readSeq)
{
    Stmt s(*m_c, QStringLiteral("INSERT INTO members (conversation_id, user_id, role, joined_ms,"
                                " joined_seq, read_seq) VALUES (?, ?, ?, ?, ?, ?)"));
    if (!s.exec({conversationId, intValue(userId), int(role), now, intValue(joinedSeq),
                 intValue(readSeq)}))
        return s.error("insert member");
    return Done{};
}

Status SqliteStore::Writer::clearEditTexts(const QString &conversationId, quint64 targetSeq,
                                           quint64 beforeSeq)
{
    QList<std::pair<quint64, v1::Content>> edits;
    {
        Stmt s(*m_c, QStringLiteral("SELECT seq, content FROM messages WHERE conversation_id = ?"
                                    " AND target_seq = ? AND seq < ?"));
        if (!s.exec({conversationId, intValue(targetSeq), intValue(beforeSeq)}))
            return s.error("edits of a message");
        while (s.next()) {
            v1::Content content;
            const QByteArrayView bytes = s.blobView(1);
            content.ParseFromArray(bytes.data(), int(bytes.size()));
            if (content.kind_case() == v1::Content::kEdit && !content.edit().text().empty())
                edits.append({s.u64(0), std::move(content)});
        }
    }
    for (auto &[seq, content] : edits) {
        content.mutable_edit()->clear_text();
        content.clear_mentions(); // they named places in the text
        Stmt s(*m_c, QStringLiteral("UPDATE messages SET content = ?"
                                    " WHERE conversation_id = ? AND seq = ?"));
        if (!s.exec({serialize(content), conversationId, intValue(seq)}))
            return s.error("clear an edit");
    }
    return Done{};
}

Result<AppendResult> SqliteStore::Writer::appendOperation(const EncodedAppend &request,
                                                          const ConversationRef &ref)
{
    // Not a member, no such conversation and no such message are one answer.
    const auto noSuchMessage = [] { return notFound(QStringLiteral("No such message")); };
    if (auto original = loadMessageByClientId(*m_c, request.senderUserId, request.clientMsgId);
        !original)
        return original.error();
    else if (*original)
        return AppendResult{std::move(**original), true, {}};
    const auto max = m_maxSeq.constFind(request.conversationId);
    if (max == m_maxSeq.cend())
        return noSuchMessage();
    const quint64 oldMax = *max;
    v1::Role role = v1::ROLE_UNSPECIFIED;
    {
        Stmt s(*m_c, QStringLiteral("SELECT role FROM members"
                                    " WHERE conversation_id = ? AND user_id = ?"));
        if (!s.exec({request.conversationId, intValue(request.senderUserId)}))
            return s.error("member role");
        if (!s.next())
            return noSuchMessage();
        role = ref.isDirect() ? v1::MEMBER : v1::Role(s.integer(0));
    }
    const quint64 targetSeq = operationTarget(*request.op);
    if (targetSeq == 0 || targetSeq > oldMax)
        return noSuchMessage();
    OpTarget target;
    {
        Stmt s(*m_c, QStringLiteral("SELECT sender_user_id, server_time_ms, content FROM messages"
                                    " WHERE conversation_id = ? AND seq = ?"));
        if (!s.exec({request.conversationId, intValue(targetSeq)}))
            return s.error("operation target");
        if (!s.next())
            return noSuchMessage();
        target.senderUserId = s.u64(0);
        target.serverTimeMs = s.i64(1);
        const QByteArrayView bytes = s.blobView(2);
        if (!target.content.ParseFromArray(bytes.data(), int(bytes.size())))
            return noSuchMessage();
    }
    const qint64 now = nowMs();
    Result<OpOutcome> outcome = applyOperation(target, *request.op, request.senderUserId, role, now,
                                               oldMax + 1, request.opWindows);
    if (!outcome)
        return outcome.error();
    auto stored = insertMessage(request.conversationId, request.senderUserId,
                                request.senderDeviceId, &request.clientMsgId, request.content, now);
    if (!stored)
        return stored.error();
    {
        Stmt s(*m_c, QStringLiteral("UPDATE messages SET target_seq = ?"
                                    " WHERE conversation_id = ? AND seq = ?"));
        if (!s.exec({intValue(targetSeq), request.conversationId, intValue(stored->seq())}))
            return s.error("operation target");
    }
    {
        Stmt s(*m_c, QStringLiteral("UPDATE messages SET content = ?"
                                    " WHERE conversation_id = ? AND seq = ?"));
        if (!s.exec({serialize(outcome->target), request.conversationId, intValue(targetSeq)}))
            return s.error("fold operation");
    }
    if (outcome->supersedesEdits) {
        if (Status cleared = clearEditTexts(request.conversationId, targetSeq, stored->seq());
            !cleared)
            return cleared.error();
    }
    if (outcome->deletes) {
        m_batchDeleted = true;
        // A deleted file message no longer lets the members fetch its file,
        // nor keeps it from being collected.
        Stmt s(*m_c, QStringLiteral("DELETE FROM message_files"
                                    " WHERE conversation_id = ? AND seq = ?"));
        if (!s.exec({request.conversationId, intValue(targetSeq)}))
            return s.error("deleted message's file");
    }
    if (Status moved = moveReadMarker(request.conversationId, request.senderUserId, stored->seq());
        !moved)
        return moved.error();
    Result<QList<quint64>> recipients = recipientsOf(request.conversationId, ref);
    if (!recipients)
        return recipients.error();
    return AppendResult{std::move(*stored), false, std::move(*recipients)};
}

Result<AppendResult> SqliteStore::Writer::appendMessage(const EncodedAppend &request)
{
    const auto ref = parseConversationId(request.conversationId);
    if (!ref)
        return invalid(QStringLiteral("malformed conversation id"));
    if (request.op)
        return appendOperation(request, *ref);
    const qint64 now = nowMs();
    if (!m_maxSeq.contains(request.conversationId)) {
        if (!ref->involves(request.senderUserId))
            return notFound(QStringLiteral("no such conversation"));
        if (Status created = createDirect(request.conversationId, *ref, now); !created)
            return created.error();
    }
    const quint64 maxSeq = m_maxSeq.value(request.conversationId);
    if (request.replyToSeq > maxSeq)
        return invalid(
            QStringLiteral("reply_to_seq %1 is not in the conversation").arg(request.replyToSeq));
    if (!request.fileId.isEmpty()) {
        if (Status attached = checkAttachedFile(request); !attached)
            return attached.error();
    }

    bool clash = false;
    auto stored =
        insertMessage(request.conversationId, request.senderUserId, request.senderDeviceId,
                      &request.clientMsgId, request.content, now, &clash);
    if (!stored && clash) {
        // The usual reason is the (sender, client_msg_id) key: a resend. Its
        // savepoint is discarded (a direct conversation made above goes too).
        auto original = loadMessageByClientId(*m_c, request.senderUserId, request.clientMsgId);
        if (!original)
            return original.error();
        if (!*original) {
            qCWarning(lcStore) << "message insert refused by a constraint in"
                               << request.conversationId;
            return stored.error();
        }
        m_discard = true;
        return AppendResult{std::move(**original), true, {}};
    }
    if (!stored)
        return stored.error();
    // Moving the sender's marker doubles as the atomic membership check. In a
    // plain batch it is checked (and moved) once per sender and conversation;
    // later sends only note the new marker for flushDeferred.
    const std::pair<QString, quint64> member(request.conversationId, request.senderUserId);
    bool checked = false;
    if (m_deferUpdates) {
        if (const auto it = m_pendingMarkers.find(member); it != m_pendingMarkers.end()) {
            it->latest = stored->seq();
            checked = true;
        }
    }
    if (!checked) {
        if (Status moved =
                moveReadMarker(request.conversationId, request.senderUserId, stored->seq());
            !moved)
            return moved.error();
        if (m_deferUpdates)
            m_pendingMarkers.insert(member, PendingMarker{stored->seq(), stored->seq()});
    }
    if (!request.fileId.isEmpty()) {
        Stmt s(*m_c, QStringLiteral("INSERT INTO message_files (file_id, conversation_id, seq)"
                                    " VALUES (?, ?, ?)"));
        if (!s.exec({request.fileId, request.conversationId, intValue(stored->seq())}))
            return s.error("message file");
    }
    Result<QList<quint64>> recipients = recipientsOf(request.conversationId, *ref);
    if (!recipients)
        return recipients.error();
    return AppendResult{std::move(*stored), false, std::move(*recipients)};
}

Result<ReadResult> SqliteStore::Writer::markRead(const QString &conversationId, quint64 userId,
                                                 quint64 seq)
{
    const auto it = m_maxSeq.constFind(conversationId);
    if (it == m_maxSeq.cend())
        return notFound(QStringLiteral("no such conversation"));
    const quint64 maxSeq = *it;
    ReadResult result;
    {
        Stmt s(*m_c, QStringLiteral("SELECT read_seq FROM members"
                                    " WHERE conversation_id = ? AND user_id = ?"));
        if (!s.exec({conversationId, intValue(userId)}))
            return s.error("read marker");
        if (!s.next())
            return notFound(QStringLiteral("no such conversation"));
        result.readSeq = s.u64(0);
    }
    const quint64 target = std::min(seq, maxSeq);
    if (target > result.readSeq) {
        Stmt s(*m_c, QStringLiteral("UPDATE members SET read_seq = ?"
                                    " WHERE conversation_id = ? AND user_id = ?"));
        if (!s.exec({intValue(target), conversationId, intValue(userId)}))
            return s.error("move read marker");
        result.readSeq = target;
        result.moved = true;
    }
    result.unreadCount = maxSeq - std::min(maxSeq, result.readSeq);
    return result;
}

Result<v1::ChatState> SqliteStore::Writer::setChatState(const ChatStateWrite &write)
{
    const auto it = m_maxSeq.constFind(write.conversationId);
    if (it == m_maxSeq.cend())
        return notFound(QStringLiteral("no such conversation"));
    {
        Stmt s(*m_c,
               QStringLiteral("SELECT 1 FROM members WHERE conversation_id = ? AND user_id = ?"));
        if (!s.exec({write.conversationId, intValue(write.userId)}))
            return s.error("chat state member");
        if (!s.next())
            return notFound(QStringLiteral("no such conversation"));
    }
    v1::ChatState state;
    state.set_conversation_id(write.conversationId.toStdString());
    if (write.change == v1::SetChatStateRequest::kHideSeq) {
        if (write.hideSeq == 0 || write.hideSeq > *it)
            return notFound(QStringLiteral("no such message"));
        state.set_hidden_seq(write.hideSeq);
    } else {
        Stmt s(*m_c,
               QStringLiteral("SELECT muted_until_ms, archived FROM chat_state"
                              " WHERE user_id = ? AND conversation_id = ? AND hidden_seq = 0"));
        if (!s.exec({intValue(write.userId), write.conversationId}))
            return s.error("chat state settings");
        if (s.next()) {
            state.set_muted_until_ms(s.i64(0));
            state.set_archived(s.integer(1) != 0);
        }
        if (write.change == v1::SetChatStateRequest::kMuteUntilMs)
            state.set_muted_until_ms(write.mutedUntilMs);
        else
            state.set_archived(write.archived);
    }
    const Result<quint64> version = nextChatStateVersion(write.userId);
    if (!version)
        return version.error();
    state.set_version(*version);
    Stmt s(*m_c, QStringLiteral("INSERT INTO chat_state (user_id, conversation_id, hidden_seq,"
                                " muted_until_ms, archived, version) VALUES (?, ?, ?, ?, ?, ?)"
                                " ON CONFLICT (user_id, conversation_id, hidden_seq) DO UPDATE SET"
                                " muted_until_ms = excluded.muted_until_ms,"
                                " archived = excluded.archived, version = excluded.version"));
    if (!s.exec({intValue(write.userId), write.conversationId, intValue(state.hidden_seq()),
                 qint64(state.muted_until_ms()), int(state.archived()), intValue(state.version())}))
        return s.error("write chat state");
    return state;
}

Result<quint64> SqliteStore::Writer::nextChatStateVersion(quint64 userId)
{
    {
        Stmt s(*m_c, QStringLiteral("UPDATE users SET chat_state_version = chat_state_version + 1"
                                    " WHERE id = ?"));
        if (!s.exec({intValue(userId)}))
            return s.error("chat state version");
    }
    Stmt s(*m_c, QStringLiteral("SELECT chat_state_version FROM users WHERE id = ?"));
    if (!s.exec({intValue(userId)}))
        return s.error("chat state version");
    if (!s.next())
        return notFound(QStringLiteral("no such user"));
    return s.u64(0);
}

Result<v1::ChatState> SqliteStore::Writer::setBlocked(quint64 userId, quint64 otherId, bool blocked)
{
    {
        Stmt s(*m_c, QStringLiteral("SELECT 1 FROM users WHERE id = ?"));
        if (!s.exec({intValue(std::min(otherId, kMaxSeq))}))
            return s.error("blocked user");
        if (!s.next())
            return notFound(QStringLiteral("no such user"));
    }
    const Result<quint64> version = nextChatStateVersion(userId);
    if (!version)
        return version.error();
    Stmt s(*m_c, QStringLiteral("INSERT INTO blocks (user_id, blocked_user_id, blocked, version)"
                                " VALUES (?, ?, ?, ?) ON CONFLICT (user_id, blocked_user_id)"
                                " DO UPDATE SET blocked = excluded.blocked,"
                                " version = excluded.version"));
    if (!s.exec({intValue(userId), intValue(otherId), int(blocked), intValue(*version)}))
        return s.error("write block");
    v1::ChatState state;
    state.set_blocked_user_id(otherId);
    state.set_blocked(blocked);
    state.set_version(*version);
    return state;
}

} // namespace kith::server
