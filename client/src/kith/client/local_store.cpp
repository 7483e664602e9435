#include "kith/client/local_store.h"

#include "kith/client/logging.h"
#include "kith/content.h"
#include "kith/conversation_id.h"
#include "kith/message_id.h"
#include "kith/protocol.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSqlError>
#include <QStandardPaths>
#include <QUuid>

#include <algorithm>

namespace kith::client {

namespace {

// One list of statements per schema step; step N takes user_version N-1 to N.
// Each step runs in one transaction, so a crash never leaves half a migration.
const QList<QList<const char *>> kMigrations = {
    {
        "CREATE TABLE sync_state(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE conversations(id TEXT PRIMARY KEY, kind INTEGER NOT NULL,"
        " title TEXT NOT NULL DEFAULT '', peer_user_id INTEGER NOT NULL DEFAULT 0,"
        " max_seq INTEGER NOT NULL DEFAULT 0, read_seq INTEGER NOT NULL DEFAULT 0,"
        " unread_count INTEGER NOT NULL DEFAULT 0, metadata_version INTEGER NOT NULL DEFAULT 0,"
        " last_activity_ms INTEGER NOT NULL DEFAULT 0, last_preview TEXT NOT NULL DEFAULT '',"
        " last_sender_user_id INTEGER NOT NULL DEFAULT 0,"
        " peer_read_seq INTEGER NOT NULL DEFAULT 0, my_role INTEGER NOT NULL DEFAULT 0,"
        " member_count INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE messages(id INTEGER PRIMARY KEY, conversation_id TEXT NOT NULL,"
        " seq INTEGER NOT NULL, server_id INTEGER NOT NULL, sender_user_id INTEGER NOT NULL,"
        " sender_device_id INTEGER NOT NULL, client_msg_id TEXT NOT NULL,"
        " server_time_ms INTEGER NOT NULL, body TEXT NOT NULL, content BLOB NOT NULL,"
        " UNIQUE(conversation_id, seq))",
        "CREATE TABLE held_ranges(conversation_id TEXT NOT NULL, first_seq INTEGER NOT NULL,"
        " last_seq INTEGER NOT NULL, PRIMARY KEY(conversation_id, first_seq)) WITHOUT ROWID",
        "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " conversation_id TEXT NOT NULL, client_msg_id TEXT NOT NULL UNIQUE,"
        " content BLOB NOT NULL, created_ms INTEGER NOT NULL,"
        " status INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
        " last_error TEXT NOT NULL DEFAULT '')",
        "CREATE INDEX outbox_by_conversation ON outbox(conversation_id, id)",
        "CREATE TABLE drafts(conversation_id TEXT PRIMARY KEY, text TEXT NOT NULL,"
        " updated_ms INTEGER NOT NULL)",
        "CREATE TABLE users(id INTEGER PRIMARY KEY, username TEXT NOT NULL,"
        " display_name TEXT NOT NULL DEFAULT '', online INTEGER NOT NULL DEFAULT 0,"
        " last_seen_ms INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE members(conversation_id TEXT NOT NULL, user_id INTEGER NOT NULL,"
        " role INTEGER NOT NULL, joined_ms INTEGER NOT NULL,"
        " PRIMARY KEY(conversation_id, user_id)) WITHOUT ROWID",
        "CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages',"
        " content_rowid='id')",
        "CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN"
        " INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body); END",
        "CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN"
        " INSERT INTO messages_fts(messages_fts, rowid, body) VALUES('delete', old.id, old.body);"
        " END",
    },
    {
        "CREATE TABLE transfers(id INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL,"
        " conversation_id TEXT NOT NULL DEFAULT '', path TEXT NOT NULL, file BLOB NOT NULL,"
        " state INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',"
        " created_ms INTEGER NOT NULL)",
    },
    {
        // Operations (edit, delete, reaction) are rows of their own that name
        // their target; the views and the unread count leave them out.
        "ALTER TABLE messages ADD COLUMN target_seq INTEGER",
        // Not a partial index: a lookup by a bound target_seq must use it
        // (each stored message asks for the ops held for it).
        "CREATE INDEX messages_by_target ON messages(conversation_id, target_seq)",
        // A folded edit or delete rewrites the target's searchable text.
        "CREATE TRIGGER messages_au AFTER UPDATE OF body ON messages BEGIN"
        " INSERT INTO messages_fts(messages_fts, rowid, body) VALUES('delete', old.id, old.body);"
        " INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body); END",
        // Ops in the outbox are not bubbles: counted and shown apart.
        "ALTER TABLE outbox ADD COLUMN is_op INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX outbox_pending ON outbox(conversation_id, status, id)",
    },
    {
        // This user's own settings of a conversation and the messages hidden
        // for them (delete for me), as the server's chat state says; a
        // hidden seq may come before its message does.
        "CREATE TABLE chat_state(conversation_id TEXT PRIMARY KEY,"
        " muted_until_ms INTEGER NOT NULL DEFAULT 0, archived INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE hidden_messages(conversation_id TEXT NOT NULL, seq INTEGER NOT NULL,"
        " PRIMARY KEY(conversation_id, seq)) WITHOUT ROWID",
        // A hidden message keeps its row (its seq stays held) without its text.
        "ALTER TABLE messages ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0",
        // Pinned messages (folded pins) for the pinned bar.
        "ALTER TABLE messages ADD COLUMN pinned_ms INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX messages_pinned ON messages(conversation_id, pinned_ms) WHERE pinned_ms > 0",
        // The users this account blocks, from its chat state.
        "CREATE TABLE blocked_users(user_id INTEGER PRIMARY KEY)",
    },
    {
        // Messages that mention this user as they are now (edits folded in),
        // and how many of them from others are after the read marker.
        "ALTER TABLE messages ADD COLUMN mentions_me INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE conversations ADD COLUMN unread_mentions INTEGER NOT NULL DEFAULT 0",
    },
    {
        // Each user's avatar: the picture's file id ('' for none) and colour.
        "ALTER TABLE users ADD COLUMN avatar_file_id TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE users ADD COLUMN avatar_color INTEGER NOT NULL DEFAULT 0",
    },
    {
        // Each group's avatar: the picture's file id ('' for none) and colour.
        "ALTER TABLE conversations ADD COLUMN avatar_file_id TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE conversations ADD COLUMN avatar_color INTEGER NOT NULL DEFAULT 0",
    },
};

QByteArray serialize(const v1::Content &content)
{
    QByteArray bytes;
    bytes.resize(qsizetype(content.ByteSizeLong()));
    content.SerializeToArray(bytes.data(), int(bytes.size()));
    return bytes;
}

v1::Content parseContent(const QByteArray &bytes)
{
    v1::Content content;
    content.ParseFromArray(bytes.constData(), int(bytes.size()));
    return content;
}

QString searchableText(const v1::Content &content)
{
    return content.kind_case() == v1::Content::kText ? toQString(content.text().body()) : QString();
}

QString pathSafe(QString part)
{
    static const QRegularExpression unsafe(QStringLiteral("[^A-Za-z0-9._-]"));
    part.replace(unsafe, QStringLiteral("_"));
    return part.isEmpty() ? QStringLiteral("_") : part;
}

// An FTS5 query from what a person typed: every word a quoted prefix term, so
// punctuation and FTS operators in the input are matched as text.
QString ftsQuery(const QString &typed)
{
    QStringList terms;
    const QStringList words =
        typed.split(QRegularExpression(QStringLiteral("\\s+")), Qt::SkipEmptyParts);
    for (QString word : words) {
        word.replace(u'"', QStringLiteral("\"\""));
        terms << u'"' + word + QStringLiteral("\"*");
    }
    return terms.join(u' ');
}

qint64 toDb(quint64 v)
{
    return qint64(v);
}

} // namespace

QString StoredMessage::text() const
{
    return content.kind_case() == v1::Content::kText ? toQString(content.text().body())
                                                     : previewText(content);
}

LocalStore::LocalStore(QObject *parent)
    : QObject(parent)
    , m_connectionName(QStringLiteral("kith-store-") + QUuid::createUuid().toString(QUuid::Id128))
{
    m_storageProbe.setInterval(kStorageProbeMs);
    connect(&m_storageProbe, &QTimer::timeout, this, [this] { (void)probeStorage(); });
}

LocalStore::~LocalStore()
{
    close();
}

QString LocalStore::defaultPath(const QUrl &server, const QString &username, const QString &baseDir)
{
    const QString base = baseDir.isEmpty()
                             ? QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)
                             : baseDir;
    const int defaultPort = server.scheme() == QLatin1String("wss") ? 443 : 80;
    const QString serverPart =
        pathSafe(server.host() + u'_' + QString::number(server.port(defaultPort)));
    return base + QStringLiteral("/accounts/") + serverPart + u'/' +
           pathSafe(normalizeUsername(username)) + QStringLiteral(".sqlite");
}

Status LocalStore::open(const QString &path)
{
    close();
    if (!QDir().mkpath(QFileInfo(path).absolutePath()))
        return makeError(v1::INTERNAL, QStringLiteral("Cannot create the folder of %1").arg(path));
    m_db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connectionName);
    m_db.setDatabaseName(path);
    // Another process (a second kith-cli) may hold the write lock briefly.
    m_db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=10000"));
    if (!m_db.open())
        return makeError(v1::INTERNAL,
                         QStringLiteral("Cannot open %1: %2").arg(path, m_db.lastError().text()));
    m_path = path;
    // The file holds the account's private history: only its owner may read it.
    QFile::setPermissions(path, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    // secure_delete: the text of a message deleted for everyone is overwritten,
    // not left in the file's free space.
    for (const char *pragma :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA secure_delete=ON"}) {
        QSqlQuery query(m_db);
        if (!query.exec(QString::fromLatin1(pragma)))
            return makeError(v1::INTERNAL, query.lastError().text());
    }
    if (auto migrated = migrate(); !migrated)
        return migrated;
    m_myUserId = value(QString::fromLatin1(kKeyUserId)).toULongLong();
    emit reset();
    return Done{};
}

void LocalStore::close()
{
    m_statements.clear();
    m_inTransaction = false;
    m_storageProbe.stop();
    if (!m_storageError.isEmpty()) {
        m_storageError.clear();
        emit storageErrorChanged();
    }
    if (m_db.isValid()) {
        m_db.close();
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(m_connectionName);
        m_path.clear();
        m_myUserId = 0;
        emit reset();
    }
}

int LocalStore::schemaVersion()
{
    QSqlQuery query(m_db);
    if (!query.exec(QStringLiteral("PRAGMA user_version")) || !query.next())
        return -1;
    return query.value(0).toInt();
}

Status LocalStore::migrate()
{
    const int current = schemaVersion();
    if (current < 0)
        return makeError(v1::INTERNAL, QStringLiteral("Cannot read the schema version"));
    if (current > kSchemaVersion)
        return makeError(v1::INTERNAL,
                         QStringLiteral("The cache %1 is from a newer version (schema %2)")
                             .arg(m_path)
                             .arg(current));
    for (int step = current; step < kSchemaVersion; ++step) {
        if (auto began = beginTransaction(); !began)
            return began;
        QSqlQuery query(m_db);
        for (const char *sql : kMigrations.at(step)) {
            if (!query.exec(QString::fromLatin1(sql))) {
                const QString error = query.lastError().text();
                rollback();
                return makeError(
                    v1::INTERNAL,
                    QStringLiteral("Migration %1 failed: %2").arg(step + 1).arg(error));
            }
        }
        // PRAGMA takes no bound values; the number comes from this code, not from input.
        if (!query.exec(QStringLiteral("PRAGMA user_version = %1").arg(step + 1))) {
            rollback();
            return makeError(v1::INTERNAL, query.lastError().text());
        }
        if (auto committed = commit(); !committed)
            return committed;
        qCInfo(lcStore) << "migrated" << m_path << "to schema" << step + 1;
    }
    return Done{};
}

QSqlQuery &LocalStore::prepared(const char *sql)
{
    auto it = m_statements.find(sql);
    if (it == m_statements.end()) {
        QSqlQuery query(m_db);
        if (!query.prepare(QString::fromLatin1(sql)))
            qCWarning(lcStore) << "cannot prepare" << sql << query.lastError().text();
        it = m_statements.emplace(sql, std::move(query)).first;
    }
    it->second.finish();
    return it->second;
}

Status LocalStore::exec(QSqlQuery &query)
{
    if (query.exec()) {
        // Only a statement that changed rows wrote to the disk; one that
        // matched nothing proves nothing about the room left.
        if (!query.isSelect() && query.numRowsAffected() > 0) {
            if (m_inTransaction)
                m_transactionWrote = true;
            else
                noteWriteWorked();
        }
        return Done{};
    }
    const QSqlError error = query.lastError();
    qCWarning(lcStore) << "query failed:" << query.lastQuery() << error.text();
    noteFailure(error);
    return makeError(v1::INTERNAL, error.text());
}

Status LocalStore::beginTransaction()
{
    if (!m_db.transaction())
        return makeError(v1::INTERNAL, m_db.lastError().text());
    m_inTransaction = true;
    m_transactionWrote = false;
    return Done{};
}

Status LocalStore::commit()
{
    m_inTransaction = false;
    // Not QSqlDatabase::commit(): it keeps SQLite's message but drops its
    // code, which is what tells a full disk from other failures.
    QSqlQuery query(m_db);
    if (!query.exec(QStringLiteral("COMMIT"))) {
        const QSqlError error = query.lastError();
        qCWarning(lcStore) << "commit failed:" << error.text();
        noteFailure(error);
        m_db.rollback();
        return makeError(v1::INTERNAL, error.text());
    }
    if (m_transactionWrote)
        noteWriteWorked();
    return Done{};
}

void LocalStore::rollback()
{
    m_inTransaction = false;
    m_db.rollback();
}

namespace {
// SQLite's primary result codes, as Qt's driver gives them in nativeErrorCode().
constexpr int kSqlitePerm = 3;
constexpr int kSqliteReadOnly = 8;
constexpr int kSqliteIoError = 10;
constexpr int kSqliteCorrupt = 11;
constexpr int kSqliteFull = 13;
constexpr int kSqliteCantOpen = 14;
constexpr int kSqliteNotADatabase = 26;
} // namespace

void LocalStore::noteFailure(const QSqlError &error)
{
    QString sentence;
    switch (error.nativeErrorCode().toInt() & 0xff) {
    case kSqliteFull:
        sentence = QStringLiteral("The disk is full: new messages cannot be saved. Unsent "
                                  "messages wait in the outbox until there is room.");
        break;
    case kSqlitePerm:
    case kSqliteReadOnly:
    case kSqliteIoError:
    case kSqliteCorrupt:
    case kSqliteCantOpen:
    case kSqliteNotADatabase:
        sentence = QStringLiteral("Messages cannot be saved (%1). Unsent messages wait in the "
                                  "outbox.")
                       .arg(error.databaseText());
        break;
    default:
        return; // a lock held too long, a refused row: not the disk's doing
    }
    if (!m_storageProbe.isActive())
        m_storageProbe.start();
    if (sentence == m_storageError)
        return;
    qCWarning(lcStore) << "cannot write" << m_path << "-" << error.databaseText();
    m_storageError = sentence;
    emit storageErrorChanged();
}

void LocalStore::noteWriteWorked()
{
    m_storageProbe.stop();
    if (m_storageError.isEmpty())
        return;
    qCInfo(lcStore) << "writing to" << m_path << "works again";
    m_storageError.clear();
    emit storageErrorChanged();
}

Status LocalStore::probeStorage()
{
    if (!isOpen())
        return makeError(v1::INTERNAL, QStringLiteral("No account is open"));
    // A real write: the log grows by a page, as for a message.
    auto &q = prepared("INSERT INTO sync_state(key, value) VALUES('storage_checked_ms', ?)"
                       " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    q.addBindValue(QString::number(nowMs()));
    return exec(q);
}

QString LocalStore::value(const QString &key)
{
    auto &q = prepared("SELECT value FROM sync_state WHERE key = ?");
    q.addBindValue(key);
    if (!q.exec() || !q.next())
        return {};
    return q.value(0).toString();
}

Status LocalStore::setValue(const QString &key, const QString &value)
{
    auto &q = prepared("INSERT INTO sync_state(key, value) VALUES(?, COALESCE(?, ''))"
                       " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    q.addBindValue(key);
    q.addBindValue(value);
    auto done = exec(q);
    if (done && key == QLatin1String(kKeyUserId))
        m_myUserId = value.toULongLong();
    return done;
}

Status LocalStore::removeValue(const QString &key)
{
    auto &q = prepared("DELETE FROM sync_state WHERE key = ?");
    q.addBindValue(key);
    return exec(q);
}

quint64 LocalStore::myUserId()
{
    return m_myUserId;
}

// --- conversations -------------------------------------------------------

Status LocalStore::ensureConversationRow(const QString &conversationId)
{
    const auto ref = parseConversationId(conversationId);
    if (!ref)
        return makeError(v1::INVALID_ARGUMENT,
                         QStringLiteral("Not a conversation id: %1").arg(conversationId));
    auto &q =
        prepared("INSERT OR IGNORE INTO conversations(id, kind, peer_user_id) VALUES(?, ?, ?)");
    q.addBindValue(conversationId);
    q.addBindValue(int(ref->isDirect() ? v1::DIRECT : v1::GROUP));
    q.addBindValue(toDb(ref->peerOf(m_myUserId)));
    return exec(q);
}

Status LocalStore::ensureConversation(const QString &conversationId)
{
    auto done = ensureConversationRow(conversationId);
    if (done)
        emit conversationChanged(conversationId);
    return done;
}

Status LocalStore::applyConversationState(const v1::ConversationState &state)
{
    const QString id = toQString(state.id());
    if (auto began = beginTransaction(); !began)
        return began;
    auto fail = [this](const Error &e) {
        rollback();
        return Status(e);
    };
    if (auto done = ensureConversationRow(id); !done)
        return fail(done.error());
    auto &q =
        prepared("UPDATE conversations SET kind = ?, title = COALESCE(?, ''), peer_user_id = ?,"
                 " max_seq = MAX(max_seq, ?), read_seq = MAX(read_seq, ?), unread_count = ?,"
                 " metadata_version = ?, last_activity_ms = MAX(last_activity_ms, ?),"
                 " peer_read_seq = MAX(peer_read_seq, ?), my_role = ?, member_count = ?,"
                 " avatar_file_id = COALESCE(?, ''), avatar_color = ? WHERE id = ?");
    q.addBindValue(int(state.kind()));
    q.addBindValue(toQString(state.title()));
    q.addBindValue(toDb(state.peer_user_id()));
    q.addBindValue(toDb(state.max_seq()));
    q.addBindValue(toDb(state.read_seq()));
    q.addBindValue(toDb(state.unread_count()));
    q.addBindValue(toDb(state.metadata_version()));
    q.addBindValue(qint64(state.last_activity_ms()));
    q.addBindValue(toDb(state.peer_read_seq()));
    q.addBindValue(int(state.my_role()));
    q.addBindValue(state.member_count());
    q.addBindValue(toQString(state.avatar_file_id()));
    q.addBindValue(qint64(state.avatar_color()));
    q.addBindValue(id);
    if (auto done = exec(q); !done)
        return fail(done.error());
    QList<quint64> stored;
    // An op is folded into its target in stream order: it is kept from here
    // only when every seq from its target up to it is held (then it folds at
    // once), else it comes with the pull of the seqs before it.
    const quint64 lastTarget =
        state.has_last_message() ? operationTarget(state.last_message().content()) : 0;
    bool keepLast = state.has_last_message() && state.last_message().seq() > 0;
    if (keepLast && lastTarget != 0) {
        keepLast = false;
        for (const SeqRange &range : rangesInTransaction(id))
            if (range.first <= lastTarget && range.last + 1 >= state.last_message().seq())
                keepLast = true;
    }
    if (state.has_last_message() && state.last_message().seq() > 0) {
        const auto &last = state.last_message();
        auto &exists = prepared("SELECT 1 FROM messages WHERE conversation_id = ? AND seq = ?");
        exists.addBindValue(id);
        exists.addBindValue(toDb(last.seq()));
        if (!exists.exec())
            return fail(makeError(v1::INTERNAL, exists.lastError().text()));
        if (!exists.next() && keepLast) {
            if (auto done = insertMessage(id, last); !done)
                return fail(done.error());
            if (auto done = hideHeld(id, {last.seq(), last.seq()}); !done)
                return fail(done.error());
            if (auto done = addRange(id, {last.seq(), last.seq()}); !done)
                return fail(done.error());
            stored << last.seq();
            exists.finish();
            // Every op before it is held: it folds now (a pull would find it
            // held and leave it).
            if (lastTarget != 0) {
                const Result<bool> folded = foldInto(id, lastTarget);
                if (!folded)
                    return fail(folded.error());
                if (*folded)
                    stored.prepend(lastTarget);
            }
        }
        exists.finish();
        if (auto done = raiseMaxSeq(id, last); !done)
            return fail(done.error());
        if (auto done = previewWithoutOps(id); !done)
            return fail(done.error());
    }
    if (auto done = recomputeUnread(id); !done)
        return fail(done.error());
    if (auto done = commit(); !done)
        return done;
    if (m_scrubPending)
        scrubDeleted();
    if (!stored.isEmpty())
        emit messagesStored(id, stored);
    emit conversationChanged(id);
    return Done{};
}

Status LocalStore::removeConversation(const QString &conversationId)
{
    if (auto began = beginTransaction(); !began)
        return began;
    for (const char *sql : {"DELETE FROM messages WHERE conversation_id = ?",
                            "DELETE FROM held_ranges WHERE conversation_id = ?",
                            "DELETE FROM members WHERE conversation_id = ?",
                            "DELETE FROM drafts WHERE conversation_id = ?",
                            "DELETE FROM outbox WHERE conversation_id = ?",
                            "DELETE FROM conversations WHERE id = ?"}) {
        auto &q = prepared(sql);
        q.addBindValue(conversationId);
        if (auto done = exec(q); !done) {
            rollback();
            return done;
        }
    }
    if (auto done = commit(); !done)
        return done;
    emit outboxChanged(conversationId);
    emit conversationRemoved(conversationId);
    return Done{};
}

namespace {
ConversationRow readConversation(const QSqlQuery &q)
{
    ConversationRow row;
    row.id = q.value(0).toString();
    row.kind = v1::ConversationKind(q.value(1).toInt());
    row.title = q.value(2).toString();
    row.peerUserId = q.value(3).toULongLong();
    row.maxSeq = q.value(4).toULongLong();
    row.readSeq = q.value(5).toULongLong();
    row.unreadCount = q.value(6).toULongLong();
    row.metadataVersion = q.value(7).toULongLong();
    row.lastActivityMs = q.value(8).toLongLong();
    row.lastPreview = q.value(9).toString();
    row.lastSenderUserId = q.value(10).toULongLong();
    row.peerReadSeq = q.value(11).toULongLong();
    row.myRole = v1::Role(q.value(12).toInt());
    row.memberCount = q.value(13).toUInt();
    row.mutedUntilMs = q.value(14).toLongLong();
    row.archived = q.value(15).toBool();
    row.unreadMentions = q.value(16).toULongLong();
    row.avatarFileId = q.value(17).toString();
    row.avatarColor = q.value(18).toUInt();
    return row;
}
#define KITH_CONVERSATION_COLUMNS                                                                  \
    "id, kind, title, peer_user_id, max_seq, read_seq, unread_count, metadata_version,"            \
    " last_activity_ms, last_preview, last_sender_user_id, peer_read_seq, my_role, member_count,"  \
    " COALESCE((SELECT muted_until_ms FROM chat_state s WHERE s.conversation_id = "                \
    "conversations.id), 0),"                                                                       \
    " COALESCE((SELECT archived FROM chat_state s WHERE s.conversation_id = conversations.id), "   \
    "0),"                                                                                          \
    " unread_mentions, avatar_file_id, avatar_color"
} // namespace

std::optional<ConversationRow> LocalStore::conversation(const QString &conversationId)
{
    auto &q = prepared("SELECT " KITH_CONVERSATION_COLUMNS " FROM conversations WHERE id = ?");
    q.addBindValue(conversationId);
    if (!q.exec() || !q.next())
        return std::nullopt;
    auto row = readConversation(q);
    q.finish();
    return row;
}

QList<ConversationRow> LocalStore::conversations()
{
    QList<ConversationRow> rows;
    auto &q = prepared("SELECT " KITH_CONVERSATION_COLUMNS
                       " FROM conversations ORDER BY last_activity_ms DESC, id");
    if (!q.exec())
        return rows;
    while (q.next())
        rows << readConversation(q);
    return rows;
}

QStringList LocalStore::conversationIds()
{
    QStringList ids;
    auto &q = prepared("SELECT id FROM conversations ORDER BY last_activity_ms DESC, id");
    if (!q.exec())
        return ids;
    while (q.next())
        ids << q.value(0).toString();
    return ids;
}

QList<v1::ConversationCursor> LocalStore::cursors()
{
    QList<v1::ConversationCursor> result;
    for (const auto &row : conversations()) {
        v1::ConversationCursor cursor;
        cursor.set_conversation_id(toStd(row.id));
        const auto ranges = heldRanges(row.id);
        const bool fromStart = !ranges.isEmpty() && ranges.first().first == 1;
        cursor.set_max_seq(fromStart ? ranges.first().last : 0);
        cursor.set_read_seq(row.readSeq);
        cursor.set_metadata_version(row.metadataVersion);
        cursor.set_peer_read_seq(row.peerReadSeq);
        result << cursor;
    }
    return result;
}

Status LocalStore::setReadSeq(const QString &conversationId, quint64 readSeq,
                              std::optional<quint64> unreadCount)
{
    if (auto began = beginTransaction(); !began)
        return began;
    auto &q = prepared("UPDATE conversations SET read_seq = MAX(read_seq, ?),"
                       " unread_count = COALESCE(?, unread_count) WHERE id = ?");
    q.addBindValue(toDb(readSeq));
    q.addBindValue(unreadCount ? QVariant(toDb(*unreadCount))
                               : QVariant(QMetaType::fromType<qint64>()));
    q.addBindValue(conversationId);
    if (auto done = exec(q); !done) {
        rollback();
        return done;
    }
    if (auto done = recomputeUnread(conversationId); !done) {
        rollback();
        return done;
    }
    if (auto done = commit(); !done)
        return done;
    emit conversationChanged(conversationId);
    return Done{};
}

Status LocalStore::setPeerReadSeq(const QString &conversationId, quint64 seq)
{
    auto &q =
        prepared("UPDATE conversations SET peer_read_seq = MAX(peer_read_seq, ?) WHERE id = ?");
    q.addBindValue(toDb(seq));
    q.addBindValue(conversationId);
    auto done = exec(q);
    if (done)
        emit conversationChanged(conversationId);
    return done;
}

Status LocalStore::applyGroupEvent(const QString &conversationId, const v1::SystemEvent &event)
{
    QSqlQuery *q = nullptr;
    if (event.kind() == v1::SystemEvent::GROUP_RENAMED) {
        q = &prepared("UPDATE conversations SET title = ? WHERE id = ? AND kind = ?");
        q->addBindValue(toQString(event.name()));
    } else if (event.kind() == v1::SystemEvent::GROUP_AVATAR_CHANGED) {
        q = &prepared("UPDATE conversations SET avatar_file_id = ?, avatar_color = ?"
                      " WHERE id = ? AND kind = ?");
        q->addBindValue(toQString(event.avatar_file_id()));
        q->addBindValue(qint64(event.avatar_color()));
    } else {
        return Done{};
    }
    q->addBindValue(conversationId);
    q->addBindValue(int(v1::GROUP));
    auto done = exec(*q);
    if (done)
        emit conversationChanged(conversationId);
    return done;
}

Status LocalStore::setServerMaxSeq(const QString &conversationId, quint64 maxSeq)
{
    auto &q = prepared("UPDATE conversations SET max_seq = ? WHERE id = ?");
    q.addBindValue(toDb(maxSeq));
    q.addBindValue(conversationId);
    auto done = exec(q);
    if (done)
        emit conversationChanged(conversationId);
    return done;
}

Status LocalStore::raiseMaxSeq(const QString &conversationId, const v1::Message &newest)
{
    // An edit, deletion, reaction or pin is not what the chat's line shows:
    // the message it changes is (previewWithoutOps reads it as it now is).
    // Only a chat with nothing to show yet (a new device's first sync) shows
    // the operation itself ("Reacted 👍") until its messages are pulled.
    if (isOperation(newest.content())) {
        auto &q = prepared(
            "UPDATE conversations SET max_seq = MAX(max_seq, ?),"
            " last_activity_ms = MAX(last_activity_ms, ?),"
            " last_sender_user_id = CASE last_preview WHEN '' THEN ? ELSE last_sender_user_id END,"
            " last_preview = CASE last_preview WHEN '' THEN COALESCE(?, '') ELSE last_preview END"
            " WHERE id = ?");
        q.addBindValue(toDb(newest.seq()));
        q.addBindValue(qint64(newest.server_time_ms()));
        q.addBindValue(toDb(newest.sender_user_id()));
        q.addBindValue(previewText(newest.content()));
        q.addBindValue(conversationId);
        return exec(q);
    }
    auto &q =
        prepared("UPDATE conversations SET max_seq = MAX(max_seq, ?),"
                 " last_activity_ms = MAX(last_activity_ms, ?), last_preview = COALESCE(?, ''),"
                 " last_sender_user_id = ?"
                 " WHERE id = ? AND ? >= (SELECT COALESCE(MAX(seq), 0) FROM messages"
                 " WHERE conversation_id = ?)");
    q.addBindValue(toDb(newest.seq()));
    q.addBindValue(qint64(newest.server_time_ms()));
    q.addBindValue(previewText(newest.content()));
    q.addBindValue(toDb(newest.sender_user_id()));
    q.addBindValue(conversationId);
    q.addBindValue(toDb(newest.seq()));
    q.addBindValue(conversationId);
    return exec(q);
}

Status LocalStore::recomputeUnread(const QString &conversationId)
{
    // Exact when every seq after the read marker is on disk; otherwise the
    // server's count stands until the gap is filled.
    auto &c = prepared("SELECT read_seq, max_seq FROM conversations WHERE id = ?");
    c.addBindValue(conversationId);
    if (!c.exec() || !c.next())
        return Done{};
    const quint64 readSeq = c.value(0).toULongLong();
    const quint64 maxSeq = c.value(1).toULongLong();
    c.finish();
    if (readSeq >= maxSeq) {
        auto &z = prepared("UPDATE conversations SET unread_count = 0, unread_mentions = 0"
                           " WHERE id = ?");
        z.addBindValue(conversationId);
        return exec(z);
    }
    // Mentions are counted from what is held, with edits and deletions folded
    // in: after a sync that is every seq past the marker.
    auto &m = prepared("UPDATE conversations SET unread_mentions = (SELECT COUNT(*) FROM messages"
                       " WHERE conversation_id = ? AND seq > ? AND mentions_me = 1"
                       " AND sender_user_id != ? AND +target_seq IS NULL AND hidden = 0)"
                       " WHERE id = ?");
    m.addBindValue(conversationId);
    m.addBindValue(toDb(readSeq));
    m.addBindValue(toDb(m_myUserId));
    m.addBindValue(conversationId);
    if (auto done = exec(m); !done)
        return done;
    bool covered = false;
    for (const auto &range : rangesInTransaction(conversationId))
        if (range.first <= readSeq + 1 && range.last >= maxSeq)
            covered = true;
    if (!covered)
        return Done{};
    auto &q = prepared("UPDATE conversations SET unread_count = (SELECT COUNT(*) FROM messages"
                       " WHERE conversation_id = ? AND seq > ? AND sender_user_id != ?"
                       " AND +target_seq IS NULL AND hidden = 0)"
                       " WHERE id = ?");
    q.addBindValue(conversationId);
    q.addBindValue(toDb(readSeq));
    q.addBindValue(toDb(m_myUserId));
    q.addBindValue(conversationId);
    return exec(q);
}

// --- messages ------------------------------------------------------------

Status LocalStore::insertMessage(const QString &conversationId, const v1::Message &m)
{
    // Callers check for an existing (conversation, seq) first; a failing insert is an error.
    auto &q = prepared("INSERT INTO messages(conversation_id, seq, server_id, sender_user_id,"
                       " sender_device_id, client_msg_id, server_time_ms, body, content,"
                       " target_seq, pinned_ms, mentions_me)"
                       " VALUES(?, ?, ?, ?, ?, COALESCE(?, ''), ?, COALESCE(?, ''),"
                       " COALESCE(?, x''), ?, ?, ?)");
    q.addBindValue(conversationId);
    q.addBindValue(toDb(m.seq()));
    q.addBindValue(toDb(m.server_id()));
    q.addBindValue(toDb(m.sender_user_id()));
    q.addBindValue(toDb(m.sender_device_id()));
    q.addBindValue(toQString(m.client_msg_id()));
    q.addBindValue(qint64(m.server_time_ms()));
    q.addBindValue(searchableText(m.content()));
    q.addBindValue(serialize(m.content()));
    const quint64 target = operationTarget(m.content());
    q.addBindValue(target ? QVariant(toDb(target)) : QVariant(QMetaType(QMetaType::LongLong)));
    q.addBindValue(qint64(m.content().pinned_ms()));
    q.addBindValue(target == 0 && mentionsUser(m.content(), m_myUserId) ? 1 : 0);
    return exec(q);
}

Result<bool> LocalStore::foldInto(const QString &conversationId, quint64 targetSeq)
{
    // The ops held for the target, in stream order: usually none, which one
    // indexed lookup tells.
    struct Op
    {
        quint64 seq, sender;
        qint64 timeMs;
        v1::Content content;
    };
    QList<Op> ops;
    auto &o = prepared("SELECT seq, sender_user_id, server_time_ms, content FROM messages"
                       " WHERE conversation_id = ? AND target_seq = ? ORDER BY seq");
    o.addBindValue(conversationId);
    o.addBindValue(toDb(targetSeq));
    if (!o.exec())
        return makeError(v1::INTERNAL, o.lastError().text());
    while (o.next())
        ops.append(Op{o.value(0).toULongLong(), o.value(1).toULongLong(), o.value(2).toLongLong(),
                      parseContent(o.value(3).toByteArray())});
    o.finish();
    if (ops.isEmpty())
        return false;
    auto &t = prepared("SELECT id, content FROM messages WHERE conversation_id = ? AND seq = ?"
                       " AND +target_seq IS NULL");
    t.addBindValue(conversationId);
    t.addBindValue(toDb(targetSeq));
    if (!t.exec())
        return makeError(v1::INTERNAL, t.lastError().text());
    if (!t.next())
        return false; // not held: it comes folded by the server when pulled
    const qint64 rowId = t.value(0).toLongLong();
    v1::Content content = parseContent(t.value(1).toByteArray());
    t.finish();
    // Those the target reflects already (it was pulled after them) are
    // skipped, and nothing changes a deleted message.
    const quint64 reflected = content.last_op_seq();
    ops.removeIf([reflected](const Op &op) { return op.seq <= reflected; });
    bool changed = false;
    for (const Op &op : ops) {
        if (content.kind_case() == v1::Content::kDeleted)
            break;
        foldOperation(content, op.content, op.sender, op.timeMs, op.seq);
        changed = true;
    }
    if (changed) {
        auto &u = prepared("UPDATE messages SET content = ?,"
                           " body = CASE hidden WHEN 0 THEN COALESCE(?, '') ELSE '' END,"
                           " pinned_ms = ?, mentions_me = ? WHERE id = ?");
        u.addBindValue(serialize(content));
        u.addBindValue(searchableText(content));
        u.addBindValue(qint64(content.pinned_ms()));
        u.addBindValue(mentionsUser(content, m_myUserId) ? 1 : 0);
        u.addBindValue(rowId);
        if (auto done = exec(u); !done)
            return done.error();
    }
    // Also when the target came deleted from the server: an edit op pushed
    // before it may still hold a text.
    if (content.kind_case() == v1::Content::kDeleted) {
        // The edits of a deleted message keep their target, not their text.
        auto &e = prepared("SELECT id, content FROM messages WHERE conversation_id = ?"
                           " AND target_seq = ?");
        e.addBindValue(conversationId);
        e.addBindValue(toDb(targetSeq));
        if (!e.exec())
            return makeError(v1::INTERNAL, e.lastError().text());
        QList<std::pair<qint64, v1::Content>> edits;
        while (e.next()) {
            v1::Content edit = parseContent(e.value(1).toByteArray());
            if (edit.kind_case() == v1::Content::kEdit && !edit.edit().text().empty()) {
                edit.mutable_edit()->clear_text();
                edit.clear_mentions();
                edits.append({e.value(0).toLongLong(), std::move(edit)});
            }
        }
        e.finish();
        for (const auto &[id, edit] : edits) {
            auto &c = prepared("UPDATE messages SET content = ? WHERE id = ?");
            c.addBindValue(serialize(edit));
            c.addBindValue(id);
            if (auto done = exec(c); !done)
                return done.error();
        }
        if (changed || !edits.isEmpty())
            m_scrubPending = true;
    }
    return changed;
}

void LocalStore::scrubDeleted()
{
    // FTS5 only marks a deleted row's terms as deleted in a newer segment;
    // merging the index into one drops them for good. The log then still
    // holds old page images: copy it in and start it over.
    m_scrubPending = false;
    // A statement left mid-result holds a read snapshot, which the
    // checkpoint below would have to wait for.
    for (auto &[sql, statement] : m_statements)
        statement.finish();
    QSqlQuery query(m_db);
    if (!query.exec(QStringLiteral("INSERT INTO messages_fts(messages_fts) VALUES('optimize')")))
        qCWarning(lcStore) << "search index not merged after a deletion:"
                           << query.lastError().text();
    if (!query.exec(QStringLiteral("PRAGMA wal_checkpoint(TRUNCATE)")))
        qCWarning(lcStore) << "log not cleared after a deletion:" << query.lastError().text();
    else if (query.next() && query.value(0).toInt() != 0)
        qCWarning(lcStore) << "log not cleared after a deletion: a reader was in the way";
}

QList<SeqRange> LocalStore::rangesInTransaction(const QString &conversationId)
{
    QList<SeqRange> ranges;
    auto &q = prepared("SELECT first_seq, last_seq FROM held_ranges WHERE conversation_id = ?"
                       " ORDER BY first_seq");
    q.addBindValue(conversationId);
    if (!q.exec())
        return ranges;
    while (q.next())
        ranges << SeqRange{q.value(0).toULongLong(), q.value(1).toULongLong()};
    q.finish();
    return ranges;
}

Status LocalStore::addRange(const QString &conversationId, SeqRange range)
{
    if (range.first == 0 || range.last < range.first)
        return Done{};
    // Merge with every held range that overlaps or touches this one.
    auto &find = prepared("SELECT first_seq, last_seq FROM held_ranges WHERE conversation_id = ?"
                          " AND last_seq >= ? AND first_seq <= ?");
    find.addBindValue(conversationId);
    find.addBindValue(toDb(range.first - 1));
    find.addBindValue(toDb(range.last + 1));
    if (!find.exec())
        return makeError(v1::INTERNAL, find.lastError().text());
    SeqRange merged = range;
    QList<quint64> starts;
    while (find.next()) {
        const quint64 first = find.value(0).toULongLong();
        const quint64 last = find.value(1).toULongLong();
        starts << first;
        merged.first = std::min(merged.first, first);
        merged.last = std::max(merged.last, last);
    }
    find.finish();
    for (quint64 start : starts) {
        auto &del = prepared("DELETE FROM held_ranges WHERE conversation_id = ? AND first_seq = ?");
        del.addBindValue(conversationId);
        del.addBindValue(toDb(start));
        if (auto done = exec(del); !done)
            return done;
    }
    auto &ins = prepared("INSERT INTO held_ranges(conversation_id, first_seq, last_seq)"
                         " VALUES(?, ?, ?)");
    ins.addBindValue(conversationId);
    ins.addBindValue(toDb(merged.first));
    ins.addBindValue(toDb(merged.last));
    return exec(ins);
}

Status LocalStore::storeMessages(const QString &conversationId, const QList<v1::Message> &messages,
                                 SeqRange covered)
{
    if (auto began = beginTransaction(); !began)
        return began;
    auto fail = [this](const Error &e) {
        rollback();
        return Status(e);
    };
    if (auto done = ensureConversationRow(conversationId); !done)
        return fail(done.error());
    QList<quint64> stored;
    QList<quint64> targets; // messages to fold ops into: new ops' targets, new messages
    QList<quint64> plain;   // new messages that may have ops held already
    bool outboxTouched = false;
    const v1::Message *newest = nullptr;
    quint64 ownNewest = 0;
    for (const auto &m : messages) {
        if (m.seq() == 0)
            continue;
        auto &q = prepared("SELECT 1 FROM messages WHERE conversation_id = ? AND seq = ?");
        q.addBindValue(conversationId);
        q.addBindValue(toDb(m.seq()));
        if (!q.exec())
            return fail(makeError(v1::INTERNAL, q.lastError().text()));
        const bool exists = q.next();
        q.finish();
        if (!exists) {
            if (auto done = insertMessage(conversationId, m); !done)
                return fail(done.error());
            stored << m.seq();
            if (const quint64 target = operationTarget(m.content()))
                targets << target;
            else
                plain << quint64(m.seq());
        }
        if (!newest || m.seq() > newest->seq())
            newest = &m;
        if (m_myUserId != 0 && m.sender_user_id() == m_myUserId) {
            ownNewest = std::max(ownNewest, quint64(m.seq()));
            // Our own message came back (another device, or the ack was lost):
            // the outbox entry with its id is done.
            if (!m.client_msg_id().empty()) {
                auto &del = prepared("DELETE FROM outbox WHERE client_msg_id = ?");
                del.addBindValue(toQString(m.client_msg_id()));
                if (auto done = exec(del); !done)
                    return fail(done.error());
                outboxTouched = outboxTouched || del.numRowsAffected() > 0;
            }
        }
    }
    // Messages hidden for this user before they were held lose their content now.
    if (!stored.isEmpty()) {
        const auto [low, high] = std::minmax_element(stored.cbegin(), stored.cend());
        if (auto done = hideHeld(conversationId, {*low, *high}); !done)
            return fail(done.error());
    }
    // In any order: an op whose target is not held waits for it, and a
    // target that comes later takes the ops it does not reflect yet (one
    // query for the page, not one per message).
    if (!plain.isEmpty()) {
        const auto [low, high] = std::minmax_element(plain.cbegin(), plain.cend());
        auto &h = prepared("SELECT DISTINCT target_seq FROM messages WHERE conversation_id = ?"
                           " AND target_seq BETWEEN ? AND ?");
        h.addBindValue(conversationId);
        h.addBindValue(toDb(*low));
        h.addBindValue(toDb(*high));
        if (!h.exec())
            return fail(makeError(v1::INTERNAL, h.lastError().text()));
        while (h.next())
            if (plain.contains(h.value(0).toULongLong()))
                targets << h.value(0).toULongLong();
        h.finish();
    }
    std::sort(targets.begin(), targets.end());
    targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
    for (quint64 target : targets) {
        const Result<bool> folded = foldInto(conversationId, target);
        if (!folded)
            return fail(folded.error());
        if (*folded)
            stored << target;
    }
    if (auto done = addRange(conversationId, covered); !done)
        return fail(done.error());
    if (newest) {
        if (auto done = raiseMaxSeq(conversationId, *newest); !done)
            return fail(done.error());
    }
    if (auto done = previewWithoutOps(conversationId); !done)
        return fail(done.error());
    if (ownNewest > 0) {
        // Sending moves the sender's read marker (the server does the same).
        auto &r = prepared("UPDATE conversations SET read_seq = MAX(read_seq, ?) WHERE id = ?");
        r.addBindValue(toDb(ownNewest));
        r.addBindValue(conversationId);
        if (auto done = exec(r); !done)
            return fail(done.error());
    }
    if (auto done = recomputeUnread(conversationId); !done)
        return fail(done.error());
    if (auto done = commit(); !done)
        return done;
    if (m_scrubPending)
        scrubDeleted();
    std::sort(stored.begin(), stored.end());
    stored.erase(std::unique(stored.begin(), stored.end()), stored.end());
    if (outboxTouched)
        emit outboxChanged(conversationId);
    if (!stored.isEmpty())
        emit messagesStored(conversationId, stored);
    emit conversationChanged(conversationId);
    return Done{};
}

Status LocalStore::acknowledge(const QString &clientMsgId, const v1::SendAck &ack)
{
    const auto entry = outboxEntry(clientMsgId);
    if (!entry)
        return Done{}; // already settled by a push or pull of the same message
    v1::Message m;
    m.set_conversation_id(toStd(entry->conversationId));
    m.set_seq(ack.seq());
    m.set_server_id(ack.server_id());
    m.set_sender_user_id(m_myUserId);
    m.set_sender_device_id(value(QString::fromLatin1(kKeyDeviceId)).toULongLong());
    m.set_client_msg_id(toStd(clientMsgId));
    m.set_server_time_ms(ack.server_time_ms());
    *m.mutable_content() = entry->content;
    return storeMessages(entry->conversationId, {m}, {ack.seq(), ack.seq()});
}

StoredMessage LocalStore::readMessage(const QSqlQuery &q) const
{
    StoredMessage m;
    m.conversationId = q.value(0).toString();
    m.seq = q.value(1).toULongLong();
    m.serverId = q.value(2).toULongLong();
    m.senderUserId = q.value(3).toULongLong();
    m.senderDeviceId = q.value(4).toULongLong();
    m.clientMsgId = q.value(5).toString();
    m.serverTimeMs = q.value(6).toLongLong();
    m.content = parseContent(q.value(7).toByteArray());
    m.hidden = q.value(8).toBool();
    return m;
}

#define KITH_MESSAGE_COLUMNS                                                                       \
    "conversation_id, seq, server_id, sender_user_id, sender_device_id, client_msg_id,"            \
    " server_time_ms, content, hidden"

std::optional<StoredMessage> LocalStore::message(const QString &conversationId, quint64 seq)
{
    auto &q = prepared("SELECT " KITH_MESSAGE_COLUMNS
                       " FROM messages WHERE conversation_id = ? AND seq = ?");
    q.addBindValue(conversationId);
    q.addBindValue(toDb(seq));
    if (!q.exec() || !q.next())
        return std::nullopt;
    auto m = readMessage(q);
    q.finish();
    return m;
}

QList<StoredMessage> LocalStore::messagesBefore(const QString &conversationId, quint64 beforeSeq,
                                                int limit)
{
    QList<StoredMessage> result;
    auto &q = prepared("SELECT " KITH_MESSAGE_COLUMNS " FROM messages WHERE conversation_id = ?"
                       " AND seq < ? AND +target_seq IS NULL AND hidden = 0"
                       " ORDER BY seq DESC LIMIT ?");
    q.addBindValue(conversationId);
    q.addBindValue(beforeSeq == 0 ? std::numeric_limits<qint64>::max() : toDb(beforeSeq));
    q.addBindValue(limit);
    if (!q.exec())
        return result;
    while (q.next())
        result << readMessage(q);
    std::reverse(result.begin(), result.end());
    return result;
}

QList<StoredMessage> LocalStore::messagesAfter(const QString &conversationId, quint64 afterSeq,
                                               int limit)
{
    QList<StoredMessage> result;
    auto &q = prepared("SELECT " KITH_MESSAGE_COLUMNS " FROM messages WHERE conversation_id = ?"
                       " AND seq > ? AND +target_seq IS NULL AND hidden = 0"
                       " ORDER BY seq LIMIT ?");
    q.addBindValue(conversationId);
    q.addBindValue(toDb(afterSeq));
    q.addBindValue(limit);
    if (!q.exec())
        return result;
    while (q.next())
        result << readMessage(q);
    return result;
}

qint64 LocalStore::messageCount(const QString &conversationId)
{
    auto &q = prepared("SELECT COUNT(*) FROM messages WHERE conversation_id = ?"
                       " AND +target_seq IS NULL AND hidden = 0");
    q.addBindValue(conversationId);
    if (!q.exec() || !q.next())
        return 0;
    return q.value(0).toLongLong();
}

quint64 LocalStore::maxStoredSeq(const QString &conversationId)
{
    auto &q = prepared("SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation_id = ?");
    q.addBindValue(conversationId);
    if (!q.exec() || !q.next())
        return 0;
    return q.value(0).toULongLong();
}

QList<StoredMessage> LocalStore::search(const QString &query, int limit,
                                        const QString &conversationId)
{
    QList<StoredMessage> result;
    const QString fts = ftsQuery(query);
    if (fts.isEmpty())
        return result;
    auto &q = prepared("SELECT m.conversation_id, m.seq, m.server_id, m.sender_user_id,"
                       " m.sender_device_id, m.client_msg_id, m.server_time_ms, m.content,"
                       " m.hidden FROM messages_fts f JOIN messages m ON m.id = f.rowid"
                       " WHERE messages_fts MATCH ? AND (? = '' OR m.conversation_id = ?)"
                       " AND m.hidden = 0"
                       " ORDER BY m.server_time_ms DESC, m.id DESC LIMIT ?");
    q.addBindValue(fts);
    q.addBindValue(conversationId.isNull() ? QStringLiteral("") : conversationId);
    q.addBindValue(conversationId.isNull() ? QStringLiteral("") : conversationId);
    q.addBindValue(limit);
    if (!q.exec()) {
        qCWarning(lcStore) << "search failed:" << q.lastError().text();
        return result;
    }
    while (q.next())
        result << readMessage(q);
    return result;
}

QList<StoredMessage> LocalStore::pinnedMessages(const QString &conversationId)
{
    QList<StoredMessage> result;
    auto &q = prepared("SELECT " KITH_MESSAGE_COLUMNS " FROM messages WHERE conversation_id = ?"
                       " AND pinned_ms > 0 AND +target_seq IS NULL AND hidden = 0"
                       " ORDER BY pinned_ms DESC, seq DESC");
    q.addBindValue(conversationId);
    if (!q.exec())
        return result;
    while (q.next())
        result << readMessage(q);
    return result;
}

// --- chat state ----------------------------------------------------------

Status LocalStore::applyChatState(const v1::ChatState &state)
{
    const QString id = toQString(state.conversation_id());
    if (auto began = beginTransaction(); !began)
        return began;
    auto fail = [this](const Error &e) {
        rollback();
        return Status(e);
    };
    bool hidNow = false;
    if (state.blocked_user_id() != 0) {
        auto &b =
            prepared(state.blocked() ? "INSERT OR IGNORE INTO blocked_users(user_id) VALUES(?)"
                                     : "DELETE FROM blocked_users WHERE user_id = ?");
        b.addBindValue(toDb(state.blocked_user_id()));
        if (auto done = exec(b); !done)
            return fail(done.error());
        if (auto done = commit(); !done)
            return done;
        emit userChanged(state.blocked_user_id());
        return Done{};
    }
    if (state.hidden_seq() != 0) {
        auto &h = prepared("INSERT OR IGNORE INTO hidden_messages(conversation_id, seq)"
                           " VALUES(?, ?)");
        h.addBindValue(id);
        h.addBindValue(toDb(state.hidden_seq()));
        if (auto done = exec(h); !done)
            return fail(done.error());
        // Its content leaves the store and the search index at once.
        const Result<bool> hid = hideHeld(id, {state.hidden_seq(), state.hidden_seq()});
        if (!hid)
            return fail(hid.error());
        hidNow = *hid;
        if (hidNow) {
            if (auto done = recomputeUnread(id); !done)
                return fail(done.error());
            if (auto done = previewWithoutOps(id); !done)
                return fail(done.error());
        }
    } else {
        auto &q = prepared("INSERT INTO chat_state(conversation_id, muted_until_ms, archived)"
                           " VALUES(?, ?, ?) ON CONFLICT(conversation_id) DO UPDATE SET"
                           " muted_until_ms = excluded.muted_until_ms,"
                           " archived = excluded.archived");
        q.addBindValue(id);
        q.addBindValue(qint64(state.muted_until_ms()));
        q.addBindValue(state.archived() ? 1 : 0);
        if (auto done = exec(q); !done)
            return fail(done.error());
    }
    if (auto done = commit(); !done)
        return done;
    if (m_scrubPending)
        scrubDeleted();
    if (hidNow)
        emit messagesStored(id, {state.hidden_seq()});
    emit conversationChanged(id);
    return Done{};
}

Result<bool> LocalStore::hideHeld(const QString &conversationId, SeqRange range)
{
    auto &h = prepared("UPDATE messages SET hidden = 1, body = '', content = x''"
                       " WHERE conversation_id = ? AND hidden = 0 AND seq IN (SELECT seq FROM"
                       " hidden_messages WHERE conversation_id = ? AND seq BETWEEN ? AND ?)");
    h.addBindValue(conversationId);
    h.addBindValue(conversationId);
    h.addBindValue(toDb(range.first));
    h.addBindValue(toDb(range.last));
    if (auto done = exec(h); !done)
        return done.error();
    const bool hid = h.numRowsAffected() > 0;
    if (hid)
        m_scrubPending = true; // its text leaves the index's segments and the log too
    return hid;
}

Status LocalStore::previewWithoutOps(const QString &conversationId)
{
    // Only when the newest entry held is hidden (the preview was its text) or
    // an operation (the message it changed may be the newest, changed now).
    auto &n = prepared("SELECT hidden, target_seq IS NOT NULL FROM messages"
                       " WHERE conversation_id = ? ORDER BY seq DESC LIMIT 1");
    n.addBindValue(conversationId);
    if (!n.exec())
        return makeError(v1::INTERNAL, n.lastError().text());
    const bool held = n.next();
    const bool newestHidden = held && n.value(0).toBool();
    const bool newestIsOp = held && n.value(1).toBool();
    n.finish();
    if (!newestHidden && !newestIsOp)
        return Done{};
    QString preview;
    quint64 sender = 0;
    auto &v = prepared("SELECT content, sender_user_id FROM messages WHERE conversation_id = ?"
                       " AND +target_seq IS NULL AND hidden = 0 ORDER BY seq DESC LIMIT 1");
    v.addBindValue(conversationId);
    if (!v.exec())
        return makeError(v1::INTERNAL, v.lastError().text());
    const bool found = v.next();
    if (found) {
        preview = previewText(parseContent(v.value(0).toByteArray()));
        sender = v.value(1).toULongLong();
    }
    v.finish();
    // Only the operation is held: what raiseMaxSeq left stands. A hidden
    // message's text must go, even with nothing to show instead.
    if (!found && !newestHidden)
        return Done{};
    auto &u =
        prepared("UPDATE conversations SET last_preview = COALESCE(?, ''), last_sender_user_id = ?"
                 " WHERE id = ?");
    u.addBindValue(preview);
    u.addBindValue(toDb(sender));
    u.addBindValue(conversationId);
    return exec(u);
}

bool LocalStore::isBlocked(quint64 userId)
{
    auto &q = prepared("SELECT 1 FROM blocked_users WHERE user_id = ?");
    q.addBindValue(toDb(userId));
    const bool blocked = q.exec() && q.next();
    q.finish();
    return blocked;
}

QList<quint64> LocalStore::blockedUsers()
{
    QList<quint64> users;
    auto &q = prepared("SELECT user_id FROM blocked_users ORDER BY user_id");
    if (!q.exec())
        return users;
    while (q.next())
        users << q.value(0).toULongLong();
    return users;
}

bool LocalStore::isHidden(const QString &conversationId, quint64 seq)
{
    auto &q = prepared("SELECT 1 FROM hidden_messages WHERE conversation_id = ? AND seq = ?");
    q.addBindValue(conversationId);
    q.addBindValue(toDb(seq));
    const bool hidden = q.exec() && q.next();
    q.finish();
    return hidden;
}

quint64 LocalStore::chatStateVersion()
{
    return value(QString::fromLatin1(kKeyChatStateVersion)).toULongLong();
}

Status LocalStore::setChatStateVersion(quint64 version)
{
    return setValue(QString::fromLatin1(kKeyChatStateVersion), QString::number(version));
}

// --- ranges --------------------------------------------------------------

QList<SeqRange> LocalStore::heldRanges(const QString &conversationId)
{
    return rangesInTransaction(conversationId);
}

QList<SeqRange> LocalStore::missingRanges(const QString &conversationId)
{
    QList<SeqRange> missing;
    const auto row = conversation(conversationId);
    if (!row || row->maxSeq == 0)
        return missing;
    quint64 next = 1;
    for (const auto &range : heldRanges(conversationId)) {
        if (range.first > next)
            missing << SeqRange{next, std::min(range.first - 1, row->maxSeq)};
        next = std::max(next, range.last + 1);
        if (next > row->maxSeq)
            break;
    }
    if (next <= row->maxSeq)
        missing << SeqRange{next, row->maxSeq};
    missing.removeIf([](const SeqRange &r) { return r.last < r.first; });
    return missing;
}

// --- outbox --------------------------------------------------------------

namespace {
OutboxEntry readOutbox(const QSqlQuery &q)
{
    OutboxEntry e;
    e.id = q.value(0).toLongLong();
    e.conversationId = q.value(1).toString();
    e.clientMsgId = q.value(2).toString();
    e.content = parseContent(q.value(3).toByteArray());
    e.createdMs = q.value(4).toLongLong();
    e.status = OutboxStatus(q.value(5).toInt());
    e.attempts = q.value(6).toInt();
    e.lastError = q.value(7).toString();
    return e;
}
#define KITH_OUTBOX_COLUMNS                                                                        \
    "id, conversation_id, client_msg_id, content, created_ms, status, attempts, last_error"
} // namespace

Result<OutboxEntry> LocalStore::enqueue(const QString &conversationId, const v1::Content &content)
{
    if (auto invalid = validateUserContent(content))
        return makeError(invalid->code, invalid->message);
    if (auto done = ensureConversationRow(conversationId); !done)
        return done.error();
    OutboxEntry entry;
    entry.conversationId = conversationId;
    // Made once, here, and kept with the entry: every resend reuses it, so the
    // server stores the message at most once. Time-ordered (see message_id.h).
    entry.clientMsgId = newClientMessageId();
    entry.content = content;
    entry.createdMs = nowMs();
    auto &q = prepared("INSERT INTO outbox(conversation_id, client_msg_id, content, created_ms,"
                       " is_op) VALUES(?, ?, ?, ?, ?)");
    q.addBindValue(conversationId);
    q.addBindValue(entry.clientMsgId);
    q.addBindValue(serialize(content));
    q.addBindValue(entry.createdMs);
    q.addBindValue(isOperation(content) ? 1 : 0);
    if (auto done = exec(q); !done)
        return done.error();
    entry.id = q.lastInsertId().toLongLong();
    emit outboxChanged(conversationId);
    emit conversationChanged(conversationId);
    return entry;
}

QList<OutboxEntry> LocalStore::outbox(const QString &conversationId)
{
    QList<OutboxEntry> result;
    auto &q = conversationId.isEmpty()
                  ? prepared("SELECT " KITH_OUTBOX_COLUMNS " FROM outbox ORDER BY id")
                  : prepared("SELECT " KITH_OUTBOX_COLUMNS
                             " FROM outbox WHERE conversation_id = ? ORDER BY id");
    if (!conversationId.isEmpty())
        q.addBindValue(conversationId);
    if (!q.exec())
        return result;
    while (q.next()) {
        result << readOutbox(q);
        ++m_outboxRowsRead;
    }
    return result;
}

std::optional<OutboxEntry> LocalStore::outboxHead(const QString &conversationId)
{
    auto &q = prepared("SELECT " KITH_OUTBOX_COLUMNS " FROM outbox WHERE conversation_id = ?"
                       " AND status = 0 ORDER BY id LIMIT 1");
    q.addBindValue(conversationId);
    if (!q.exec() || !q.next())
        return std::nullopt;
    ++m_outboxRowsRead;
    auto e = readOutbox(q);
    q.finish();
    return e;
}

bool LocalStore::hasPendingOutbox()
{
    auto &q = prepared("SELECT 1 FROM outbox WHERE status = 0 LIMIT 1");
    if (!q.exec())
        return false;
    const bool any = q.next();
    q.finish();
    return any;
}

QStringList LocalStore::conversationsWithPendingOutbox()
{
    QStringList ids;
    auto &q = prepared("SELECT DISTINCT conversation_id FROM outbox WHERE status = 0");
    if (!q.exec())
        return ids;
    while (q.next())
        ids << q.value(0).toString();
    return ids;
}

OutboxSummary LocalStore::outboxSummary(const QString &conversationId)
{
    OutboxSummary summary;
    auto &q = prepared("SELECT COALESCE(SUM(status = 0), 0), COALESCE(SUM(status != 0), 0)"
                       " FROM outbox WHERE conversation_id = ? AND is_op = 0");
    q.addBindValue(conversationId);
    if (q.exec() && q.next()) {
        summary.pending = q.value(0).toInt();
        summary.failed = q.value(1).toInt();
    }
    q.finish();
    auto &n = prepared("SELECT " KITH_OUTBOX_COLUMNS " FROM outbox WHERE conversation_id = ?"
                       " AND is_op = 0 ORDER BY created_ms DESC, id LIMIT 1");
    n.addBindValue(conversationId);
    if (n.exec() && n.next()) {
        summary.newest = readOutbox(n);
        ++m_outboxRowsRead;
    }
    n.finish();
    return summary;
}

std::optional<OutboxEntry> LocalStore::outboxEntry(const QString &clientMsgId)
{
    auto &q = prepared("SELECT " KITH_OUTBOX_COLUMNS " FROM outbox WHERE client_msg_id = ?");
    q.addBindValue(clientMsgId);
    if (!q.exec() || !q.next())
        return std::nullopt;
    ++m_outboxRowsRead;
    auto e = readOutbox(q);
    q.finish();
    return e;
}

Status LocalStore::changeOutboxEntry(const QString &clientMsgId, QSqlQuery &statement)
{
    const auto entry = outboxEntry(clientMsgId);
    if (!entry)
        return makeError(v1::NOT_FOUND, QStringLiteral("No such outgoing message"));
    auto done = exec(statement);
    if (done) {
        emit outboxChanged(entry->conversationId);
        emit conversationChanged(entry->conversationId);
    }
    return done;
}

Status LocalStore::setOutboxStatus(const QString &clientMsgId, OutboxStatus status,
                                   const QString &error)
{
    auto &q = prepared("UPDATE outbox SET status = ?, last_error = COALESCE(?, '')"
                       " WHERE client_msg_id = ?");
    q.addBindValue(int(status));
    q.addBindValue(error);
    q.addBindValue(clientMsgId);
    return changeOutboxEntry(clientMsgId, q);
}

Status LocalStore::noteOutboxAttempt(const QString &clientMsgId)
{
    auto &q = prepared("UPDATE outbox SET attempts = attempts + 1 WHERE client_msg_id = ?");
    q.addBindValue(clientMsgId);
    return exec(q);
}

Status LocalStore::removeOutboxEntry(const QString &clientMsgId)
{
    auto &q = prepared("DELETE FROM outbox WHERE client_msg_id = ?");
    q.addBindValue(clientMsgId);
    return changeOutboxEntry(clientMsgId, q);
}

// --- transfers -----------------------------------------------------------

namespace {
TransferEntry readTransfer(const QSqlQuery &q)
{
    TransferEntry e;
    e.id = q.value(0).toLongLong();
    e.kind = TransferKind(q.value(1).toInt());
    e.conversationId = q.value(2).toString();
    e.path = q.value(3).toString();
    const QByteArray file = q.value(4).toByteArray();
    e.file.ParseFromArray(file.constData(), int(file.size()));
    e.state = TransferState(q.value(5).toInt());
    e.lastError = q.value(6).toString();
    e.createdMs = q.value(7).toLongLong();
    return e;
}
#define KITH_TRANSFER_COLUMNS "id, kind, conversation_id, path, file, state, last_error, created_ms"
} // namespace

Result<qint64> LocalStore::addTransfer(const TransferEntry &entry)
{
    QByteArray file;
    file.resize(qsizetype(entry.file.ByteSizeLong()));
    entry.file.SerializeToArray(file.data(), int(file.size()));
    auto &q = prepared("INSERT INTO transfers(kind, conversation_id, path, file, state,"
                       " created_ms) VALUES(?, ?, ?, ?, ?, ?)");
    q.addBindValue(int(entry.kind));
    // A null QString binds NULL; the column wants text.
    q.addBindValue(entry.conversationId.isNull() ? QStringLiteral("") : entry.conversationId);
    q.addBindValue(entry.path);
    q.addBindValue(file);
    q.addBindValue(int(entry.state));
    q.addBindValue(nowMs());
    if (auto done = exec(q); !done)
        return done.error();
    const qint64 id = q.lastInsertId().toLongLong();
    emit transfersChanged();
    return id;
}

QList<TransferEntry> LocalStore::transfers()
{
    QList<TransferEntry> result;
    auto &q = prepared("SELECT " KITH_TRANSFER_COLUMNS " FROM transfers ORDER BY id");
    if (!q.exec())
        return result;
    while (q.next())
        result << readTransfer(q);
    return result;
}

std::optional<TransferEntry> LocalStore::transfer(qint64 id)
{
    auto &q = prepared("SELECT " KITH_TRANSFER_COLUMNS " FROM transfers WHERE id = ?");
    q.addBindValue(id);
    if (!q.exec() || !q.next())
        return std::nullopt;
    auto e = readTransfer(q);
    q.finish();
    return e;
}

Status LocalStore::setTransferState(qint64 id, TransferState state, const QString &error)
{
    auto &q = prepared("UPDATE transfers SET state = ?, last_error = ? WHERE id = ?");
    q.addBindValue(int(state));
    q.addBindValue(error.isNull() ? QStringLiteral("") : error);
    q.addBindValue(id);
    if (auto done = exec(q); !done)
        return done;
    emit transfersChanged();
    return Done{};
}

Status LocalStore::removeTransfer(qint64 id)
{
    auto &q = prepared("DELETE FROM transfers WHERE id = ?");
    q.addBindValue(id);
    if (auto done = exec(q); !done)
        return done;
    emit transfersChanged();
    return Done{};
}

Result<OutboxEntry> LocalStore::finishUploadTransfer(qint64 id, const v1::Content &content)
{
    const std::optional<TransferEntry> entry = transfer(id);
    if (!entry)
        return makeError(v1::NOT_FOUND, QStringLiteral("No such transfer"));
    if (auto began = beginTransaction(); !began)
        return began.error();
    Result<OutboxEntry> queued = enqueue(entry->conversationId, content);
    if (!queued) {
        rollback();
        return queued;
    }
    auto &q = prepared("DELETE FROM transfers WHERE id = ?");
    q.addBindValue(id);
    if (auto done = exec(q); !done) {
        rollback();
        return done.error();
    }
    if (auto committed = commit(); !committed)
        return committed.error();
    emit transfersChanged();
    return queued;
}

// --- drafts --------------------------------------------------------------

QString LocalStore::draft(const QString &conversationId)
{
    auto &q = prepared("SELECT text FROM drafts WHERE conversation_id = ?");
    q.addBindValue(conversationId);
    if (!q.exec() || !q.next())
        return {};
    return q.value(0).toString();
}

Status LocalStore::setDraft(const QString &conversationId, const QString &text)
{
    if (text.isEmpty()) {
        auto &q = prepared("DELETE FROM drafts WHERE conversation_id = ?");
        q.addBindValue(conversationId);
        auto done = exec(q);
        if (done && q.numRowsAffected() > 0)
            emit conversationChanged(conversationId);
        return done;
    }
    auto &q = prepared("INSERT INTO drafts(conversation_id, text, updated_ms) VALUES(?, ?, ?)"
                       " ON CONFLICT(conversation_id) DO UPDATE SET text = excluded.text,"
                       " updated_ms = excluded.updated_ms");
    q.addBindValue(conversationId);
    q.addBindValue(text);
    q.addBindValue(nowMs());
    auto done = exec(q);
    if (done)
        emit conversationChanged(conversationId);
    return done;
}

// --- users and members ---------------------------------------------------

Status LocalStore::upsertUser(const v1::User &user)
{
    if (user.id() == 0)
        return makeError(v1::INVALID_ARGUMENT, QStringLiteral("User without an id"));
    auto &q = prepared(
        "INSERT INTO users(id, username, display_name, online, last_seen_ms, avatar_file_id,"
        " avatar_color) VALUES(?, COALESCE(?, ''), COALESCE(?, ''), ?, ?, COALESCE(?, ''), ?)"
        " ON CONFLICT(id) DO UPDATE SET username = excluded.username,"
        " display_name = excluded.display_name, online = excluded.online,"
        " last_seen_ms = excluded.last_seen_ms, avatar_file_id = excluded.avatar_file_id,"
        " avatar_color = excluded.avatar_color");
    q.addBindValue(toDb(user.id()));
    q.addBindValue(toQString(user.username()));
    q.addBindValue(toQString(user.display_name()));
    q.addBindValue(user.online() ? 1 : 0);
    q.addBindValue(qint64(user.last_seen_ms()));
    q.addBindValue(toQString(user.avatar_file_id()));
    q.addBindValue(qint64(user.avatar_color()));
    auto done = exec(q);
    if (done)
        emit userChanged(user.id());
    return done;
}

Status LocalStore::setPresence(quint64 userId, bool online, qint64 lastSeenMs)
{
    auto &q = prepared("UPDATE users SET online = ?, last_seen_ms = ? WHERE id = ?");
    q.addBindValue(online ? 1 : 0);
    q.addBindValue(lastSeenMs);
    q.addBindValue(toDb(userId));
    auto done = exec(q);
    if (done)
        emit userChanged(userId);
    return done;
}

std::optional<UserRow> LocalStore::user(quint64 userId)
{
    auto &q = prepared("SELECT id, username, display_name, online, last_seen_ms, avatar_file_id,"
                       " avatar_color FROM users WHERE id = ?");
    q.addBindValue(toDb(userId));
    if (!q.exec() || !q.next())
        return std::nullopt;
    UserRow row{q.value(0).toULongLong(),    q.value(1).toString(),   q.value(2).toString(),
                q.value(3).toBool(),         q.value(4).toLongLong(), q.value(5).toString(),
                quint32(q.value(6).toUInt())};
    q.finish();
    return row;
}

QList<UserRow> LocalStore::knownUsers(int limit)
{
    QList<UserRow> users;
    auto &q = prepared("SELECT u.id, u.username, u.display_name, u.online, u.last_seen_ms,"
                       " u.avatar_file_id, u.avatar_color FROM users u LEFT JOIN conversations c"
                       " ON c.kind = 1 AND c.peer_user_id = u.id"
                       " WHERE u.id <> ? ORDER BY COALESCE(c.last_activity_ms, 0) DESC,"
                       " u.username LIMIT ?");
    q.addBindValue(toDb(myUserId()));
    q.addBindValue(limit);
    if (!q.exec()) {
        qCWarning(lcStore) << "known users failed:" << q.lastError().text();
        return users;
    }
    while (q.next())
        users << UserRow{q.value(0).toULongLong(),    q.value(1).toString(),
                         q.value(2).toString(),       q.value(3).toBool(),
                         q.value(4).toLongLong(),     q.value(5).toString(),
                         quint32(q.value(6).toUInt())};
    return users;
}

Status LocalStore::replaceMembers(const QString &conversationId, const QList<v1::Member> &members)
{
    if (auto began = beginTransaction(); !began)
        return began;
    auto &del = prepared("DELETE FROM members WHERE conversation_id = ?");
    del.addBindValue(conversationId);
    if (auto done = exec(del); !done) {
        rollback();
        return done;
    }
    for (const auto &m : members) {
        auto &ins = prepared("INSERT OR REPLACE INTO members(conversation_id, user_id, role,"
                             " joined_ms) VALUES(?, ?, ?, ?)");
        ins.addBindValue(conversationId);
        ins.addBindValue(toDb(m.user().id()));
        ins.addBindValue(int(m.role()));
        ins.addBindValue(qint64(m.joined_ms()));
        if (auto done = exec(ins); !done) {
            rollback();
            return done;
        }
    }
    if (auto done = commit(); !done)
        return done;
    for (const auto &m : members)
        if (auto done = upsertUser(m.user()); !done)
            return done;
    emit membersChanged(conversationId);
    return Done{};
}

QList<MemberRow> LocalStore::members(const QString &conversationId)
{
    QList<MemberRow> rows;
    auto &q = prepared("SELECT user_id, role, joined_ms FROM members WHERE conversation_id = ?"
                       " ORDER BY role DESC, joined_ms, user_id");
    q.addBindValue(conversationId);
    if (!q.exec())
        return rows;
    while (q.next())
        rows << MemberRow{q.value(0).toULongLong(), v1::Role(q.value(1).toInt()),
                          q.value(2).toLongLong()};
    return rows;
}

} // namespace kith::client
