#include "sqlite_store.h"

#include "completion_relay.h"
#include "kith/content.h"
#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "store_logging.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QVarLengthArray>

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace kith::server {

Q_LOGGING_CATEGORY(lcStore, "kith.store", QtInfoMsg)

namespace {

std::atomic<quint64> g_threadSerials{0};

// A number per thread that is never reused (thread ids are), so a connection
// name can never be picked up by a later thread.
quint64 currentThreadSerial()
{
    thread_local const quint64 serial = ++g_threadSerials;
    return serial;
}

// SQLite integers are signed 64-bit; every id and seq we store fits.
qint64 intValue(quint64 v)
{
    return qint64(v);
}

QByteArray serialize(const google::protobuf::MessageLite &message)
{
    QByteArray bytes(qsizetype(message.ByteSizeLong()), Qt::Uninitialized);
    message.SerializeWithCachedSizesToArray(reinterpret_cast<quint8 *>(bytes.data()));
    return bytes;
}

// ---- schema migrations ---------------------------------------------------------
// Append new steps at the end; never edit a step that has shipped. Each step
// runs in its own transaction and sets PRAGMA user_version to its number.
// SQLite's LIKE folds ASCII only; display names are matched through a
// Unicode case-folded copy kept next to them.
QString displayKey(const QString &displayName)
{
    return displayName.toCaseFolded();
}

bool backfillDisplayKeys(SqliteStore::Connection &c);

struct Migration
{
    const char *description;
    std::vector<const char *> statements;
    // Data work that SQL alone cannot do; runs after the statements, in the same transaction.
    bool (*backfill)(SqliteStore::Connection &c) = nullptr;
};

const std::vector<Migration> &migrations()
{
    static const std::vector<Migration> steps = {
        {"core schema",
         {
             "CREATE TABLE users ("
             " id INTEGER PRIMARY KEY,"
             " username TEXT NOT NULL UNIQUE,"
             " display_name TEXT NOT NULL,"
             " password_hash BLOB NOT NULL,"
             " disabled INTEGER NOT NULL DEFAULT 0,"
             " created_ms INTEGER NOT NULL)",
             "CREATE TABLE devices ("
             " id INTEGER PRIMARY KEY,"
             " user_id INTEGER NOT NULL REFERENCES users(id),"
             " name TEXT NOT NULL,"
             " token_hash BLOB NOT NULL UNIQUE,"
             " created_ms INTEGER NOT NULL,"
             " last_seen_ms INTEGER NOT NULL,"
             " revoked INTEGER NOT NULL DEFAULT 0)",
             "CREATE TABLE conversations ("
             " id TEXT PRIMARY KEY,"
             " kind INTEGER NOT NULL,"
             " title TEXT NOT NULL DEFAULT '',"
             " max_seq INTEGER NOT NULL DEFAULT 0,"
             " metadata_version INTEGER NOT NULL DEFAULT 0,"
             " last_activity_ms INTEGER NOT NULL,"
             " created_ms INTEGER NOT NULL)",
             // joined_seq: the seq of the event that added the member, so
             // "longest-standing" is exact even within one millisecond.
             "CREATE TABLE members ("
             " conversation_id TEXT NOT NULL REFERENCES conversations(id),"
             " user_id INTEGER NOT NULL REFERENCES users(id),"
             " role INTEGER NOT NULL,"
             " joined_ms INTEGER NOT NULL,"
             " joined_seq INTEGER NOT NULL,"
             " read_seq INTEGER NOT NULL DEFAULT 0,"
             " PRIMARY KEY (conversation_id, user_id)) WITHOUT ROWID",
             // client_msg_id is NULL for system events, which the unique index allows.
             "CREATE TABLE messages ("
             " server_id INTEGER PRIMARY KEY,"
             " conversation_id TEXT NOT NULL REFERENCES conversations(id),"
             " seq INTEGER NOT NULL,"
             " sender_user_id INTEGER NOT NULL,"
             " sender_device_id INTEGER NOT NULL,"
             " client_msg_id TEXT,"
             " server_time_ms INTEGER NOT NULL,"
             " content BLOB NOT NULL,"
             " UNIQUE (conversation_id, seq))",
             "CREATE UNIQUE INDEX messages_by_client_id ON messages (sender_user_id, "
             "client_msg_id)",
             "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
             "INSERT INTO counters (name, value) VALUES ('next_group_id', 1)",
         }},
        {"indexes for per-user lookups (conversation lists, contacts, devices)",
         {
             "CREATE INDEX members_by_user ON members (user_id, conversation_id)",
             "CREATE INDEX devices_by_user ON devices (user_id)",
         }},
        {"case-folded display names for user search",
         {
             "ALTER TABLE users ADD COLUMN display_key TEXT NOT NULL DEFAULT ''",
         },
         backfillDisplayKeys},
    };
    return steps;
}

// The log starts over (the writer waits for the last copy and the database's
// sync) when it holds this many times Options::checkpointFrames.
constexpr int kWalFramesCapFactor = 4;
// ... right after a background copy that left at most checkpointFrames / this
// many frames for the writer.
constexpr int kRecentCopyDivisor = 8;

const QString kUserColumns =
    QStringLiteral("id, username, display_name, password_hash, disabled, created_ms");
const QString kDeviceColumns =
    QStringLiteral("id, user_id, name, created_ms, last_seen_ms, revoked");
const QString kMessageColumns =
    QStringLiteral("conversation_id, seq, server_id, sender_user_id, sender_device_id, "
                   "client_msg_id, server_time_ms, content");

// One user's view of conversations; m = the viewer's membership (may be NULL
// for the single-conversation form), p = the peer of a direct chat (kind 1 is
// v1::DIRECT in the joins below), lm = the last message. The column order is
// what viewFromRow reads.
const QString kViewSelect = QStringLiteral(
    "SELECT c.id, c.kind, c.title, c.max_seq, c.metadata_version, c.last_activity_ms,"
    " m.user_id, m.role, m.read_seq, p.user_id, p.read_seq,"
    " (SELECT COUNT(*) FROM members mc WHERE mc.conversation_id = c.id),"
    " lm.conversation_id, lm.seq, lm.server_id, lm.sender_user_id, lm.sender_device_id,"
    " lm.client_msg_id, lm.server_time_ms, lm.content ");
constexpr int kViewLastMessageColumn = 12;
static_assert(v1::DIRECT == 1, "the view joins spell DIRECT as 1");

} // namespace

// ---- connections ------------------------------------------------------------------

struct SqliteStore::Connection
{
    sqlite3 *db = nullptr;
    // Frames in the write-ahead log after the last commit (writer connection only).
    int walFrames = 0;
    // Prepared once per connection and kept for its lifetime.
    QHash<QString, sqlite3_stmt *> statements;
    QString lastPrepareError;

    Connection() = default;
    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;
    ~Connection()
    {
        for (sqlite3_stmt *statement : std::as_const(statements))
            sqlite3_finalize(statement);
        statements.clear();
        if (db)
            sqlite3_close_v2(db);
    }

    [[nodiscard]] QString errorText() const
    {
        return db ? QString::fromUtf8(sqlite3_errmsg(db)) : QStringLiteral("no connection");
    }

    // The cached prepared statement; nullptr (see lastPrepareError) if it does not prepare.
    sqlite3_stmt *statement(const QString &sql)
    {
        if (const auto it = statements.constFind(sql); it != statements.cend())
            return *it;
        const QByteArray utf8 = sql.toUtf8();
        sqlite3_stmt *statement = nullptr;
        if (sqlite3_prepare_v3(db, utf8.constData(), int(utf8.size()), SQLITE_PREPARE_PERSISTENT,
                               &statement, nullptr) != SQLITE_OK) {
            lastPrepareError = errorText();
            sqlite3_finalize(statement);
            return nullptr;
        }
        statements.insert(sql, statement);
        return statement;
    }
};

struct SqliteStore::ReaderRegistry
{
    std::mutex mutex;
    std::unordered_map<quint64, std::unique_ptr<Connection>> connections; // by thread serial

    void dropThread(quint64 serial)
    {
        std::unique_ptr<Connection> gone;
        std::lock_guard lock(mutex);
        const auto it = connections.find(serial);
        if (it == connections.end())
            return;
        gone = std::move(it->second);
        connections.erase(it);
    }
};

namespace {

using Connection = SqliteStore::Connection;

// Runs at the exit of a thread that has read from one or more stores and
// closes its connections there, so pool threads that come and go leave none behind.
struct ThreadExitHook
{
    std::vector<std::pair<std::weak_ptr<SqliteStore::ReaderRegistry>, quint64>> registries;
    ~ThreadExitHook()
    {
        for (auto &[weak, serial] : registries)
            if (const auto registry = weak.lock())
                registry->dropThread(serial);
    }
};
thread_local ThreadExitHook t_exitHook;

// A value for one statement parameter. It points at the caller's string or
// bytes, which live until the end of the exec() call that binds it; a null
// QString or QByteArray binds NULL.
class Value
{
public:
    Value(int v)
        : m_kind(Kind::Integer)
        , m_integer(v)
    {}
    Value(qint64 v)
        : m_kind(Kind::Integer)
        , m_integer(v)
    {}
    Value(const QString &v)
        : m_kind(v.isNull() ? Kind::Null : Kind::Text)
        , m_text(&v)
    {}
    Value(const std::string &v)
        : m_kind(Kind::Utf8)
        , m_utf8(&v)
    {}
    Value(const QByteArray &v)
        : m_kind(v.isNull() ? Kind::Null : Kind::Blob)
        , m_blob(&v)
    {}
    static Value null() { return Value(); }

private:
    friend class Stmt;
    enum class Kind { Null, Integer, Text, Utf8, Blob };
    Value() = default;

    Kind m_kind = Kind::Null;
    qint64 m_integer = 0;
    const QString *m_text = nullptr;
    const std::string *m_utf8 = nullptr;
    const QByteArray *m_blob = nullptr;
};

// One use of a cached prepared statement: binds positionally, runs, and resets
// the statement when it goes out of scope so no read transaction stays open.
// exec() takes the first step; next() walks the rows from there.
class Stmt
{
public:
    Stmt(Connection &connection, const QString &sql)
        : m_connection(connection)
        , m_statement(connection.statement(sql))
    {}
    ~Stmt() { release(); }
    Stmt(const Stmt &) = delete;
    Stmt &operator=(const Stmt &) = delete;

    [[nodiscard]] bool exec(std::initializer_list<Value> values = {})
    {
        if (!m_statement)
            return false;
        release();
        int position = 0;
        for (const Value &value : values) {
            if (bind(++position, value) != SQLITE_OK) {
                noteError();
                return false;
            }
        }
        m_step = sqlite3_step(m_statement);
        m_firstRowPending = m_step == SQLITE_ROW;
        if (m_step != SQLITE_ROW && m_step != SQLITE_DONE) {
            noteError();
            return false;
        }
        return true;
    }

    [[nodiscard]] bool next()
    {
        if (m_firstRowPending) {
            m_firstRowPending = false;
            return true;
        }
        if (m_step != SQLITE_ROW)
            return false;
        m_step = sqlite3_step(m_statement);
        if (m_step == SQLITE_ROW)
            return true;
        if (m_step != SQLITE_DONE) {
            noteError();
            qCWarning(lcStore) << "sqlite: reading rows failed:" << m_errorText;
        }
        return false;
    }

    [[nodiscard]] qint64 i64(int column) const { return sqlite3_column_int64(m_statement, column); }
    [[nodiscard]] quint64 u64(int column) const { return quint64(i64(column)); }
    [[nodiscard]] int integer(int column) const { return sqlite3_column_int(m_statement, column); }
    [[nodiscard]] bool isNull(int column) const
    {
        return sqlite3_column_type(m_statement, column) == SQLITE_NULL;
    }
    [[nodiscard]] QString text(int column) const
    {
        const auto *data = reinterpret_cast<const char *>(sqlite3_column_text(m_statement, column));
        return QString::fromUtf8(data, sqlite3_column_bytes(m_statement, column));
    }
    [[nodiscard]] std::string stdText(int column) const
    {
        const auto *data = reinterpret_cast<const char *>(sqlite3_column_text(m_statement, column));
        return data ? std::string(data, size_t(sqlite3_column_bytes(m_statement, column)))
                    : std::string();
    }
    // Valid until the next step or the end of this Stmt.
    [[nodiscard]] QByteArrayView blobView(int column) const
    {
        const auto *data = static_cast<const char *>(sqlite3_column_blob(m_statement, column));
        return {data, sqlite3_column_bytes(m_statement, column)};
    }
    [[nodiscard]] QByteArray blob(int column) const { return blobView(column).toByteArray(); }

    [[nodiscard]] int rowsAffected() const { return sqlite3_changes(m_connection.db); }
    [[nodiscard]] quint64 lastInsertId() const
    {
        return quint64(sqlite3_last_insert_rowid(m_connection.db));
    }

    // SQLITE_CONSTRAINT (any of its extended codes): a unique, foreign or
    // not-null key refused the statement.
    [[nodiscard]] bool failedOnConstraint() const
    {
        return (m_errorCode & 0xff) == SQLITE_CONSTRAINT;
    }

    [[nodiscard]] Error error(const char *what, bool log = true) const
    {
        const QString detail = m_statement ? m_errorText : m_connection.lastPrepareError;
        if (log)
            qCWarning(lcStore) << "sqlite:" << what << "failed:" << detail;
        return makeError(v1::INTERNAL,
                         QStringLiteral("storage error (%1)").arg(QLatin1StringView(what)));
    }

private:
    int bind(int position, const Value &value)
    {
        switch (value.m_kind) {
        case Value::Kind::Null:
            return sqlite3_bind_null(m_statement, position);
        case Value::Kind::Integer:
            return sqlite3_bind_int64(m_statement, position, value.m_integer);
        case Value::Kind::Text:
            // Kept here, not copied by SQLite: later steps may read it again.
            m_kept.append(value.m_text->toUtf8());
            return sqlite3_bind_text(m_statement, position, m_kept.last().constData(),
                                     int(m_kept.last().size()), SQLITE_STATIC);
        case Value::Kind::Utf8:
            return sqlite3_bind_text(m_statement, position, value.m_utf8->data(),
                                     int(value.m_utf8->size()), SQLITE_TRANSIENT);
        case Value::Kind::Blob:
            m_kept.append(*value.m_blob); // shares, no copy
            return sqlite3_bind_blob(m_statement, position, m_kept.last().constData(),
                                     int(m_kept.last().size()), SQLITE_STATIC);
        }
        return SQLITE_MISUSE;
    }

    void noteError()
    {
        m_errorCode = sqlite3_extended_errcode(m_connection.db);
        m_errorText = m_connection.errorText();
    }

    // Ends this use: the statement is reset (closing any read it holds) and
    // unbound before the bound bytes go.
    void release()
    {
        if (!m_statement)
            return;
        sqlite3_reset(m_statement);
        sqlite3_clear_bindings(m_statement);
        m_kept.clear();
        m_step = SQLITE_DONE;
        m_firstRowPending = false;
    }

    Connection &m_connection;
    sqlite3_stmt *m_statement;
    QVarLengthArray<QByteArray, 4> m_kept;
    int m_step = SQLITE_DONE;
    bool m_firstRowPending = false;
    int m_errorCode = SQLITE_OK;
    QString m_errorText;
};

bool backfillDisplayKeys(Connection &c)
{
    QList<std::pair<qint64, QString>> users;
    {
        Stmt read(c, QStringLiteral("SELECT id, display_name FROM users"));
        if (!read.exec())
            return false;
        while (read.next())
            users.append({read.i64(0), read.text(1)});
    }
    for (const auto &[id, name] : users) {
        Stmt write(c, QStringLiteral("UPDATE users SET display_key = ? WHERE id = ?"));
        if (!write.exec({displayKey(name), id}))
            return false;
    }
    return true;
}

Error notFound(const QString &what)
{
    return makeError(v1::NOT_FOUND, what);
}

Error invalid(const QString &what)
{
    return makeError(v1::INVALID_ARGUMENT, what);
}

UserRecord userFromRow(const Stmt &s)
{
    UserRecord user;
    user.id = s.u64(0);
    user.username = s.text(1);
    user.displayName = s.text(2);
    user.passwordHash = s.blob(3);
    user.disabled = s.i64(4) != 0;
    user.createdMs = s.i64(5);
    return user;
}

DeviceRecord deviceFromRow(const Stmt &s)
{
    DeviceRecord device;
    device.id = s.u64(0);
    device.userId = s.u64(1);
    device.name = s.text(2);
    device.createdMs = s.i64(3);
    device.lastSeenMs = s.i64(4);
    device.revoked = s.i64(5) != 0;
    return device;
}

v1::Message messageFromRow(const Stmt &s, int first)
{
    v1::Message message;
    message.set_conversation_id(s.stdText(first));
    message.set_seq(s.u64(first + 1));
    message.set_server_id(s.u64(first + 2));
    message.set_sender_user_id(s.u64(first + 3));
    message.set_sender_device_id(s.u64(first + 4));
    message.set_client_msg_id(s.stdText(first + 5));
    message.set_server_time_ms(s.i64(first + 6));
    const QByteArrayView content = s.blobView(first + 7);
    if (!message.mutable_content()->ParseFromArray(content.data(), int(content.size())))
        qCWarning(lcStore) << "undecodable content in" << s.text(first) << "seq" << message.seq();
    return message;
}

// Reads the view columns of kViewSelect. `isMember` tells whether m matched.
ConversationView viewFromRow(const Stmt &s, bool *isMember)
{
    ConversationView view;
    view.set_id(s.stdText(0));
    const auto kind = v1::ConversationKind(s.integer(1));
    view.set_kind(kind);
    view.set_title(s.stdText(2));
    view.set_max_seq(s.u64(3));
    view.set_metadata_version(s.u64(4));
    view.set_last_activity_ms(s.i64(5));
    *isMember = !s.isNull(6);
    if (*isMember) {
        view.set_read_seq(s.u64(8));
        // Every send moves the sender's marker to its new seq (and markers never
        // move back), so all of the viewer's own messages are at or below
        // read_seq: max_seq - read_seq counts exactly the others' messages.
        view.set_unread_count(view.max_seq() - std::min(view.max_seq(), view.read_seq()));
        if (kind == v1::GROUP)
            view.set_my_role(v1::Role(s.integer(7)));
    }
    if (kind == v1::DIRECT) {
        if (!s.isNull(9)) {
            view.set_peer_user_id(s.u64(9));
            view.set_peer_read_seq(s.u64(10));
        }
    } else {
        view.set_member_count(quint32(s.u64(11)));
    }
    if (!s.isNull(kViewLastMessageColumn))
        *view.mutable_last_message() = messageFromRow(s, kViewLastMessageColumn);
    return view;
}

Result<UserRecord> loadUser(Connection &c, quint64 id)
{
    Stmt s(c, QStringLiteral("SELECT %1 FROM users WHERE id = ?").arg(kUserColumns));
    if (!s.exec({intValue(id)}))
        return s.error("user by id");
    if (!s.next())
        return notFound(QStringLiteral("no such user"));
    return userFromRow(s);
}

// requireMember: NOT_FOUND unless the user is a member (what a reader may see);
// otherwise also the view of someone who just left (for GroupChange::state).
Result<ConversationView> loadView(Connection &c, const QString &conversationId, quint64 userId,
                                  bool requireMember)
{
    Stmt s(c, kViewSelect + QStringLiteral(
                                "FROM conversations c"
                                " LEFT JOIN members m ON m.conversation_id = c.id AND m.user_id = ?"
                                " LEFT JOIN members p ON c.kind = 1 AND p.conversation_id = c.id"
                                "  AND p.user_id <> ?"
                                " LEFT JOIN messages lm ON lm.conversation_id = c.id"
                                "  AND lm.seq = c.max_seq"
                                " WHERE c.id = ?"));
    if (!s.exec({intValue(userId), intValue(userId), conversationId}))
        return s.error("conversation view");
    if (!s.next())
        return notFound(QStringLiteral("no such conversation"));
    bool isMember = false;
    ConversationView view = viewFromRow(s, &isMember);
    if (requireMember && !isMember)
        return notFound(QStringLiteral("no such conversation"));
    return view;
}

struct MemberRow
{
    MemberRecord record;
    quint64 joinedSeq = 0;
};

// Members in order of standing: earliest event first, then user id.
Result<QList<MemberRow>> loadMembers(Connection &c, const QString &conversationId)
{
    Stmt s(c, QStringLiteral("SELECT user_id, role, joined_ms, joined_seq FROM members"
                             " WHERE conversation_id = ? ORDER BY joined_seq, user_id"));
    if (!s.exec({conversationId}))
        return s.error("members");
    QList<MemberRow> rows;
    while (s.next()) {
        MemberRow row;
        row.record.userId = s.u64(0);
        row.record.role = v1::Role(s.integer(1));
        row.record.joinedMs = s.i64(2);
        row.joinedSeq = s.u64(3);
        rows.append(row);
    }
    return rows;
}

Result<std::optional<v1::Message>> loadMessageByClientId(Connection &c, quint64 senderUserId,
                                                         const std::string &clientMsgId)
{
    Stmt s(c, QStringLiteral("SELECT %1 FROM messages WHERE sender_user_id = ? AND "
                             "client_msg_id = ?")
                  .arg(kMessageColumns));
    if (!s.exec({intValue(senderUserId), clientMsgId}))
        return s.error("message by client id");
    if (!s.next())
        return std::optional<v1::Message>();
    return std::optional<v1::Message>(messageFromRow(s, 0));
}

Result<QString> pragmaText(Connection &c, const QString &sql)
{
    Stmt s(c, sql);
    if (!s.exec())
        return s.error("pragma");
    return s.next() ? s.text(0) : QString();
}

// Opens a connection and applies the per-connection pragmas. A connection is
// used by one thread at a time (the writer's, or one reading thread's).
Result<std::unique_ptr<Connection>>
openConnection(const QString &path, const SqliteStore::Options &options, bool readOnly)
{
    auto connection = std::make_unique<Connection>();
    const int flags =
        (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
        SQLITE_OPEN_NOMUTEX;
    const int opened =
        sqlite3_open_v2(QFile::encodeName(path).constData(), &connection->db, flags, nullptr);
    if (opened != SQLITE_OK)
        return makeError(v1::INTERNAL,
                         QStringLiteral("cannot open %1: %2").arg(path, connection->errorText()));
    sqlite3_extended_result_codes(connection->db, 1);
    if (!readOnly) {
        // Replaces SQLite's auto-checkpoint: the writer checkpoints between batches.
        sqlite3_wal_hook(
            connection->db,
            [](void *frames, sqlite3 *, const char *, int count) {
                *static_cast<int *>(frames) = count;
                return SQLITE_OK;
            },
            &connection->walFrames);
    }
    sqlite3_busy_timeout(connection->db, options.busyTimeoutMs);

    // Pragmas take no bound values; the texts are constants chosen from options.
    // The page cache is per connection: the writer's holds the hot ends of the
    // message indexes so appends rarely read pages back from the file.
    QStringList pragmas = {QStringLiteral("PRAGMA foreign_keys = ON"),
                           readOnly ? QStringLiteral("PRAGMA cache_size = -8192")
                                    : QStringLiteral("PRAGMA cache_size = -65536")};
    if (!readOnly) {
        pragmas.append(options.synchronous == SqliteStore::Synchronous::Full
                           ? QStringLiteral("PRAGMA synchronous = FULL")
                           : QStringLiteral("PRAGMA synchronous = NORMAL"));
        const auto mode = pragmaText(*connection, QStringLiteral("PRAGMA journal_mode = WAL"));
        if (!mode)
            return mode.error();
        if (mode->compare(QLatin1String("wal"), Qt::CaseInsensitive) != 0)
            return makeError(
                v1::INTERNAL,
                QStringLiteral("cannot switch %1 to WAL (journal mode %2)").arg(path, *mode));
    }
    for (const QString &pragma : pragmas) {
        const auto done = pragmaText(*connection, pragma);
        if (!done)
            return done.error();
    }
    return connection;
}

Result<int> userVersion(Connection &c)
{
    const auto text = pragmaText(c, QStringLiteral("PRAGMA user_version"));
    if (!text)
        return text.error();
    return text->toInt();
}

Status runMigrations(Connection &c, int upTo, int *versionOut)
{
    const auto current = userVersion(c);
    if (!current)
        return current.error();
    const int latest = int(migrations().size());
    if (*current > latest)
        return makeError(v1::INTERNAL,
                         QStringLiteral("the database has schema version %1, newer than the %2 "
                                        "this kithd knows; run a newer kithd")
                             .arg(*current)
                             .arg(latest));
    const int target = upTo > 0 ? std::min(upTo, latest) : latest;
    int version = *current;
    while (version < target) {
        const Migration &step = migrations()[size_t(version)];
        const int next = version + 1;
        qCInfo(lcStore) << "migrating schema to version" << next << "-" << step.description;
        // DDL runs once, so these are prepared on the spot rather than cached.
        auto run = [&c](const QString &sql) {
            char *message = nullptr;
            if (sqlite3_exec(c.db, sql.toUtf8().constData(), nullptr, nullptr, &message) !=
                SQLITE_OK) {
                qCWarning(lcStore) << "migration statement failed:" << sql
                                   << QString::fromUtf8(message ? message : "");
                sqlite3_free(message);
                return false;
            }
            return true;
        };
        if (!run(QStringLiteral("BEGIN IMMEDIATE")))
            return makeError(v1::INTERNAL, QStringLiteral("cannot begin migration %1").arg(next));
        bool ok = true;
        for (const char *statement : step.statements)
            ok = ok && run(QString::fromUtf8(statement));
        ok = ok && (!step.backfill || step.backfill(c));
        // user_version cannot be bound; `next` is our own integer.
        ok = ok && run(QStringLiteral("PRAGMA user_version = %1").arg(next));
        ok = ok && run(QStringLiteral("COMMIT"));
        if (!ok) {
            run(QStringLiteral("ROLLBACK"));
            return makeError(v1::INTERNAL,
                             QStringLiteral("schema migration to version %1 (%2) failed")
                                 .arg(next)
                                 .arg(QLatin1StringView(step.description)));
        }
        version = next;
    }
    *versionOut = version;
    return Done{};
}

} // namespace

// ---- the writer ---------------------------------------------------------------------

namespace {
// An append as the writer takes it: the content already encoded, on the
// caller's thread (the session loop, which has time to spare where the writer
// has none), and put back into the result there.
struct EncodedAppend
{
    QString conversationId;
    quint64 senderUserId = 0;
    quint64 senderDeviceId = 0;
    std::string clientMsgId;
    quint64 replyToSeq = 0;
    QByteArray content;
};
} // namespace

// Owns the write connection and the in-memory counters (max seq per
// conversation, next server id, next group id) so appends need no extra reads.
// Lives on the writer thread only.
class SqliteStore::Writer
{
public:
    Writer(SqliteStore &store, std::unique_ptr<Connection> connection)
        : m_store(store)
        , m_c(std::move(connection))
    {}

    [[nodiscard]] Status loadState();
    void runBatch(std::deque<WriteJob> &batch);

    // Job bodies: run inside a transaction and the job's savepoint.
    Result<UserRecord> createUser(const QString &username, const QString &displayName,
                                  const QByteArray &passwordHash);
    Result<UserRecord> setDisplayName(quint64 userId, const QString &displayName);
    Status setPasswordHash(quint64 userId, const QByteArray &passwordHash);
    Result<bool> replacePasswordHash(quint64 userId, const QByteArray &expected,
                                     const QByteArray &passwordHash);
    Status setDisabled(quint64 userId, bool disabled);
    Result<DeviceRecord> createDevice(quint64 userId, const QString &name,
                                      const QByteArray &tokenHash);
    Status revokeDevice(quint64 userId, quint64 deviceId);
    Status touchDevice(quint64 deviceId, qint64 lastSeenMs);
    Result<AppendResult> appendMessage(const EncodedAppend &request);
    Result<ReadResult> markRead(const QString &conversationId, quint64 userId, quint64 seq);
    Result<GroupChange> createGroup(quint64 ownerId, const QString &name,
                                    const QList<quint64> &memberIds);
    Result<GroupChange> addMembers(const QString &conversationId, quint64 actorId,
                                   const QList<quint64> &userIds);
    Result<GroupChange> removeMember(const QString &conversationId, quint64 actorId,
                                     quint64 userId);
    Result<GroupChange> leaveGroup(const QString &conversationId, quint64 userId);
    Result<GroupChange> renameGroup(const QString &conversationId, quint64 actorId,
                                    const QString &name);

private:
    [[nodiscard]] std::optional<Error> runTransaction(std::deque<WriteJob> &batch, bool savepoints,
                                                      bool *retry);
    [[nodiscard]] bool execControl(const QString &sql);
    [[nodiscard]] Status refreshIfChangedElsewhere();
    void setMaxSeq(const QString &conversationId, quint64 seq);
    void undoJob();
    void maybeCheckpoint();
    void checkpointHere();
    [[nodiscard]] Status flushDeferred();
    void dropDeferred();
    [[nodiscard]] Status advanceConversation(const QString &conversationId, quint64 seq,
                                             qint64 now);
    // NOT_FOUND when the user is not a member.
    [[nodiscard]] Status moveReadMarker(const QString &conversationId, quint64 userId, quint64 seq);

    Result<v1::Message> insertMessage(const QString &conversationId, quint64 senderUserId,
                                      quint64 senderDeviceId, const std::string *clientMsgId,
                                      const QByteArray &content, qint64 now,
                                      bool *uniqueClash = nullptr);
    Result<v1::Message> appendSystemEvent(const QString &conversationId, quint64 actorId,
                                          v1::SystemEvent event);
    Status createDirect(const QString &conversationId, const ConversationRef &ref, qint64 now);
    Status insertMember(const QString &conversationId, quint64 userId, v1::Role role, qint64 now,
                        quint64 joinedSeq, quint64 readSeq);
    Status checkUsersExist(const QList<quint64> &userIds);
    // The group and the actor's row; NOT_FOUND when either is missing.
    Result<QList<MemberRow>> groupMembers(const QString &conversationId, quint64 actorId,
                                          v1::Role *actorRole);
    Result<GroupChange> finishChange(const QString &conversationId, quint64 actorId,
                                     v1::Message event, QList<quint64> added,
                                     QList<quint64> removed);

    SqliteStore &m_store;
    std::unique_ptr<Connection> m_c;

    QHash<QString, quint64> m_maxSeq; // every conversation that exists
    quint64 m_nextServerId = 1;
    quint64 m_nextGroupId = 1;
    qint64 m_dataVersion = -1;

    // Per job: what to restore when its savepoint is rolled back.
    struct Undo
    {
        quint64 nextServerId = 0;
        quint64 nextGroupId = 0;
        quint64 newMessages = 0;
        std::vector<std::pair<QString, std::optional<quint64>>> maxSeq;
    } m_undo;
    bool m_discard = false;      // the job asks to roll back although it succeeded
    int m_requestedAtFrames = 0; // log length when the checkpointer was last asked
    int m_framesAtLastLook = 0;

    // Appends in a plain batch put off the row updates that only move
    // forward: a conversation's max_seq and last activity, and the sender's
    // read marker. flushDeferred writes each once, before any other kind of
    // job runs and before COMMIT, so nothing in the transaction reads them stale.
    struct PendingMarker
    {
        quint64 written = 0; // by the membership check
        quint64 latest = 0;
    };
    bool m_deferUpdates = false;
    QHash<QString, std::pair<quint64, qint64>> m_pendingConversations; // max_seq, last activity
    QHash<std::pair<QString, quint64>, PendingMarker> m_pendingMarkers;
    quint64 m_batchNewMessages = 0;
};

Status SqliteStore::Writer::loadState()
{
    m_maxSeq.clear();
    {
        Stmt s(*m_c, QStringLiteral("SELECT id, max_seq FROM conversations"));
        if (!s.exec())
            return s.error("load conversations");
        while (s.next())
            m_maxSeq.insert(s.text(0), s.u64(1));
    }
    {
        Stmt s(*m_c, QStringLiteral("SELECT COALESCE(MAX(server_id), 0) + 1 FROM messages"));
        if (!s.exec() || !s.next())
            return s.error("load next server id");
        m_nextServerId = s.u64(0);
    }
    {
        Stmt s(*m_c, QStringLiteral("SELECT value FROM counters WHERE name = 'next_group_id'"));
        if (!s.exec() || !s.next())
            return s.error("load next group id");
        m_nextGroupId = s.u64(0);
    }
    const auto version = pragmaText(*m_c, QStringLiteral("PRAGMA data_version"));
    if (!version)
        return version.error();
    m_dataVersion = version->toLongLong();
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

void SqliteStore::Writer::undoJob()
{
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
    if (!execControl(QStringLiteral("BEGIN IMMEDIATE")))
        return makeError(v1::INTERNAL, QStringLiteral("storage busy or unavailable"));
    std::optional<Error> failure;
    if (Status fresh = refreshIfChangedElsewhere(); !fresh)
        failure = fresh.error();
    // Without savepoints the undo record spans the whole batch.
    m_undo = Undo{m_nextServerId, m_nextGroupId, 0, {}};
    for (WriteJob &job : batch) {
        if (failure)
            break;
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
    if (!failure && !execControl(QStringLiteral("COMMIT")))
        failure = makeError(v1::INTERNAL, QStringLiteral("storage commit failed"));
    if (failure) {
        (void)execControl(QStringLiteral("ROLLBACK"));
        // Counters may have moved for rolled-back work: read them back.
        if (Status reloaded = loadState(); !reloaded)
            qCCritical(lcStore) << "cannot reload counters after a failed batch";
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
// which the writer must wait for (the sync alone takes milliseconds), so it
// does that only when the log has grown kWalFramesCapFactor times as long;
// by then the checkpointer has copied all but the last few batches.
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
    std::unique_lock lock(m_store.m_checkpointMutex);
    if (m_store.m_checkpoint == Checkpoint::Copied)
        m_store.m_checkpoint = Checkpoint::Idle;
    if (m_store.m_checkpoint != Checkpoint::Idle)
        return;
    // Starting over: right after a copy, so that only the last few batches'
    // frames are left for the writer (unless the log has grown to twice the
    // limit meanwhile, which bounds it under any load).
    const int limit = every * kWalFramesCapFactor;
    const bool justCopied =
        m_requestedAtFrames > 0 && frames - m_requestedAtFrames <= every / kRecentCopyDivisor;
    if (frames >= limit && (justCopied || frames >= 2 * limit)) {
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
    std::optional<Error> failure = runTransaction(batch, false, &retry);
    if (retry)
        failure = runTransaction(batch, true, &retry);

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
    // One event to the session loop for the whole batch.
    {
        CompletionRelay::Batch completions;
        for (WriteJob &job : batch)
            job.deliver(failure, completions);
        // The jobs were made on the session loop; they are freed there too,
        // after their completions (freeing across threads costs the writer).
        completions.releaseAfter(std::make_shared<std::deque<WriteJob>>(std::move(batch)));
    }
    maybeCheckpoint();
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

Result<AppendResult> SqliteStore::Writer::appendMessage(const EncodedAppend &request)
{
    const auto ref = parseConversationId(request.conversationId);
    if (!ref)
        return invalid(QStringLiteral("malformed conversation id"));
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
        return AppendResult{std::move(**original), true};
    }
    if (!stored)
        return stored.error();
    // Moving the sender's marker doubles as the atomic membership check. In a
    // plain batch it is checked (and moved) once per sender and conversation;
    // later sends only note the new marker for flushDeferred.
    const std::pair<QString, quint64> member(request.conversationId, request.senderUserId);
    if (m_deferUpdates) {
        if (const auto it = m_pendingMarkers.find(member); it != m_pendingMarkers.end()) {
            it->latest = stored->seq();
            return AppendResult{std::move(*stored), false};
        }
    }
    if (Status moved = moveReadMarker(request.conversationId, request.senderUserId, stored->seq());
        !moved)
        return moved.error();
    if (m_deferUpdates)
        m_pendingMarkers.insert(member, PendingMarker{stored->seq(), stored->seq()});
    return AppendResult{std::move(*stored), false};
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

// ---- writer: groups ---------------------------------------------------------------

Result<v1::Message> SqliteStore::Writer::appendSystemEvent(const QString &conversationId,
                                                           quint64 actorId, v1::SystemEvent event)
{
    const qint64 now = nowMs();
    event.set_actor_user_id(actorId);
    v1::Content content;
    *content.mutable_system() = std::move(event);
    auto stored = insertMessage(conversationId, actorId, 0, nullptr, serialize(content), now);
    if (!stored)
        return stored.error();
    *stored->mutable_content() = std::move(content);
    {
        Stmt s(*m_c, QStringLiteral("UPDATE conversations SET metadata_version ="
                                    " metadata_version + 1 WHERE id = ?"));
        if (!s.exec({conversationId}))
            return s.error("bump metadata version");
    }
    // The actor has seen their own event (no row when they just left).
    Stmt s(*m_c, QStringLiteral("UPDATE members SET read_seq = ?"
                                " WHERE conversation_id = ? AND user_id = ?"));
    if (!s.exec({intValue(stored->seq()), conversationId, intValue(actorId)}))
        return s.error("actor read marker");
    return stored;
}

Status SqliteStore::Writer::checkUsersExist(const QList<quint64> &userIds)
{
    for (quint64 id : userIds) {
        Stmt s(*m_c, QStringLiteral("SELECT 1 FROM users WHERE id = ?"));
        if (!s.exec({intValue(id)}))
            return s.error("user exists");
        if (!s.next())
            return invalid(QStringLiteral("no such user: %1").arg(id));
    }
    return Done{};
}

Result<QList<MemberRow>> SqliteStore::Writer::groupMembers(const QString &conversationId,
                                                           quint64 actorId, v1::Role *actorRole)
{
    const auto ref = parseConversationId(conversationId);
    if (!ref || ref->isDirect() || !m_maxSeq.contains(conversationId))
        return notFound(QStringLiteral("no such group"));
    auto rows = loadMembers(*m_c, conversationId);
    if (!rows)
        return rows.error();
    const auto actor = std::find_if(rows->cbegin(), rows->cend(), [actorId](const MemberRow &r) {
        return r.record.userId == actorId;
    });
    if (actor == rows->cend())
        return notFound(QStringLiteral("no such group"));
    *actorRole = actor->record.role;
    return rows;
}

Result<GroupChange> SqliteStore::Writer::finishChange(const QString &conversationId,
                                                      quint64 actorId, v1::Message event,
                                                      QList<quint64> added, QList<quint64> removed)
{
    auto view = loadView(*m_c, conversationId, actorId, false);
    if (!view)
        return view.error();
    const auto rows = loadMembers(*m_c, conversationId);
    if (!rows)
        return rows.error();
    GroupChange change;
    change.state = std::move(*view);
    change.event = std::move(event);
    for (const MemberRow &row : *rows)
        change.memberIds.append(row.record.userId);
    change.addedIds = std::move(added);
    change.removedIds = std::move(removed);
    return change;
}

namespace {
std::optional<Error> checkGroupName(const QString &name)
{
    if (name.isEmpty() || name.size() > kMaxGroupNameChars)
        return invalid(QStringLiteral("a group name has 1..%1 characters").arg(kMaxGroupNameChars));
    return std::nullopt;
}

bool mayManage(v1::Role role)
{
    return role == v1::OWNER || role == v1::ADMIN;
}
} // namespace

Result<GroupChange> SqliteStore::Writer::createGroup(quint64 ownerId, const QString &name,
                                                     const QList<quint64> &memberIds)
{
    const QString title = name.trimmed();
    if (const auto bad = checkGroupName(title))
        return *bad;
    if (const auto owner = loadUser(*m_c, ownerId); !owner)
        return owner.error();
    QList<quint64> initial;
    for (quint64 id : memberIds)
        if (id != ownerId && !initial.contains(id))
            initial.append(id);
    if (Status known = checkUsersExist(initial); !known)
        return known.error();

    const quint64 groupId = m_nextGroupId;
    const QString conversationId = groupConversationId(groupId);
    const qint64 now = nowMs();
    {
        Stmt s(*m_c, QStringLiteral("INSERT INTO conversations (id, kind, title, max_seq, "
                                    "metadata_version, last_activity_ms, created_ms)"
                                    " VALUES (?, ?, ?, 0, 0, ?, ?)"));
        if (!s.exec({conversationId, int(v1::GROUP), title, now, now}))
            return s.error("insert group");
    }
    {
        Stmt s(*m_c, QStringLiteral("UPDATE counters SET value = ? WHERE name = 'next_group_id'"));
        if (!s.exec({intValue(groupId + 1)}))
            return s.error("group counter");
    }
    ++m_nextGroupId;
    setMaxSeq(conversationId, 0);

    // Everyone joins with the creation event (seq 1); the others have it unread.
    if (Status added = insertMember(conversationId, ownerId, v1::OWNER, now, 1, 0); !added)
        return added.error();
    for (quint64 id : initial)
        if (Status added = insertMember(conversationId, id, v1::MEMBER, now, 1, 0); !added)
            return added.error();

    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::GROUP_CREATED);
    for (quint64 id : initial)
        event.add_user_ids(id);
    event.set_name(toStd(title));
    auto stored = appendSystemEvent(conversationId, ownerId, std::move(event));
    if (!stored)
        return stored.error();
    QList<quint64> everyone = {ownerId};
    everyone.append(initial);
    return finishChange(conversationId, ownerId, std::move(*stored), everyone, {});
}

Result<GroupChange> SqliteStore::Writer::addMembers(const QString &conversationId, quint64 actorId,
                                                    const QList<quint64> &userIds)
{
    v1::Role actorRole = v1::ROLE_UNSPECIFIED;
    const auto rows = groupMembers(conversationId, actorId, &actorRole);
    if (!rows)
        return rows.error();
    if (!mayManage(actorRole))
        return makeError(v1::PERMISSION_DENIED, QStringLiteral("only admins may add members"));
    if (userIds.isEmpty())
        return invalid(QStringLiteral("no users to add"));
    if (Status known = checkUsersExist(userIds); !known)
        return known.error();
    QList<quint64> added;
    for (quint64 id : userIds) {
        const bool present = std::any_of(rows->cbegin(), rows->cend(), [id](const MemberRow &r) {
            return r.record.userId == id;
        });
        if (!present && !added.contains(id))
            added.append(id);
    }
    if (added.isEmpty())
        return invalid(QStringLiteral("everyone listed is already a member"));

    // New members join with the event announcing them, which they have not read yet.
    const quint64 eventSeq = m_maxSeq.value(conversationId) + 1;
    const qint64 now = nowMs();
    for (quint64 id : added)
        if (Status inserted =
                insertMember(conversationId, id, v1::MEMBER, now, eventSeq, eventSeq - 1);
            !inserted)
            return inserted.error();
    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::MEMBERS_ADDED);
    for (quint64 id : added)
        event.add_user_ids(id);
    auto stored = appendSystemEvent(conversationId, actorId, std::move(event));
    if (!stored)
        return stored.error();
    return finishChange(conversationId, actorId, std::move(*stored), added, {});
}

Result<GroupChange> SqliteStore::Writer::removeMember(const QString &conversationId,
                                                      quint64 actorId, quint64 userId)
{
    v1::Role actorRole = v1::ROLE_UNSPECIFIED;
    const auto rows = groupMembers(conversationId, actorId, &actorRole);
    if (!rows)
        return rows.error();
    if (!mayManage(actorRole))
        return makeError(v1::PERMISSION_DENIED, QStringLiteral("only admins may remove members"));
    if (userId == actorId)
        return invalid(QStringLiteral("leave the group instead of removing yourself"));
    const auto target = std::find_if(rows->cbegin(), rows->cend(), [userId](const MemberRow &r) {
        return r.record.userId == userId;
    });
    if (target == rows->cend())
        return notFound(QStringLiteral("not a member of the group"));
    if (target->record.role == v1::OWNER)
        return makeError(v1::PERMISSION_DENIED, QStringLiteral("the owner cannot be removed"));
    {
        Stmt s(*m_c,
               QStringLiteral("DELETE FROM members WHERE conversation_id = ? AND user_id = ?"));
        if (!s.exec({conversationId, intValue(userId)}))
            return s.error("remove member");
    }
    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::MEMBER_REMOVED);
    event.add_user_ids(userId);
    auto stored = appendSystemEvent(conversationId, actorId, std::move(event));
    if (!stored)
        return stored.error();
    return finishChange(conversationId, actorId, std::move(*stored), {}, {userId});
}

Result<GroupChange> SqliteStore::Writer::leaveGroup(const QString &conversationId, quint64 userId)
{
    v1::Role role = v1::ROLE_UNSPECIFIED;
    const auto rows = groupMembers(conversationId, userId, &role);
    if (!rows)
        return rows.error();
    if (role == v1::OWNER) {
        // Hand over to the longest-standing admin, else the longest-standing member.
        std::optional<quint64> successor;
        for (v1::Role wanted : {v1::ADMIN, v1::MEMBER}) {
            for (const MemberRow &row : *rows) {
                if (row.record.userId != userId && row.record.role == wanted) {
                    successor = row.record.userId;
                    break;
                }
            }
            if (successor)
                break;
        }
        if (successor) {
            Stmt s(*m_c, QStringLiteral("UPDATE members SET role = ?"
                                        " WHERE conversation_id = ? AND user_id = ?"));
            if (!s.exec({int(v1::OWNER), conversationId, intValue(*successor)}))
                return s.error("hand over ownership");
        }
    }
    {
        Stmt s(*m_c,
               QStringLiteral("DELETE FROM members WHERE conversation_id = ? AND user_id = ?"));
        if (!s.exec({conversationId, intValue(userId)}))
            return s.error("leave group");
    }
    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::MEMBER_LEFT);
    auto stored = appendSystemEvent(conversationId, userId, std::move(event));
    if (!stored)
        return stored.error();
    return finishChange(conversationId, userId, std::move(*stored), {}, {userId});
}

Result<GroupChange> SqliteStore::Writer::renameGroup(const QString &conversationId, quint64 actorId,
                                                     const QString &name)
{
    const QString title = name.trimmed();
    if (const auto bad = checkGroupName(title))
        return *bad;
    v1::Role actorRole = v1::ROLE_UNSPECIFIED;
    const auto rows = groupMembers(conversationId, actorId, &actorRole);
    if (!rows)
        return rows.error();
    if (!mayManage(actorRole))
        return makeError(v1::PERMISSION_DENIED, QStringLiteral("only admins may rename the group"));
    {
        Stmt s(*m_c, QStringLiteral("UPDATE conversations SET title = ? WHERE id = ?"));
        if (!s.exec({title, conversationId}))
            return s.error("rename group");
    }
    v1::SystemEvent event;
    event.set_kind(v1::SystemEvent::GROUP_RENAMED);
    event.set_name(toStd(title));
    auto stored = appendSystemEvent(conversationId, actorId, std::move(event));
    if (!stored)
        return stored.error();
    return finishChange(conversationId, actorId, std::move(*stored), {}, {});
}

// ---- SqliteStore: lifecycle -----------------------------------------------------------

int SqliteStore::latestSchemaVersion()
{
    return int(migrations().size());
}

SqliteStore::SqliteStore(QString databasePath)
    : SqliteStore(std::move(databasePath), Options())
{}

SqliteStore::SqliteStore(QString databasePath, Options options)
    : m_path(std::move(databasePath))
    , m_options(options)
    , m_readers(std::make_shared<ReaderRegistry>())
{}

SqliteStore::~SqliteStore()
{
    close();
}

Status SqliteStore::open()
{
    if (m_open.load())
        return makeError(v1::INTERNAL, QStringLiteral("the store is already open"));
    const QFileInfo file(m_path);
    if (!QDir().mkpath(file.absolutePath()))
        return makeError(v1::INTERNAL,
                         QStringLiteral("cannot create the folder %1").arg(file.absolutePath()));
    {
        std::lock_guard lock(m_queueMutex);
        m_stopping = false;
    }
    std::promise<Status> started;
    std::future<Status> ready = started.get_future();
    m_writerThread = std::thread([this, &started] { writerMain(&started); });
    Status status = ready.get();
    if (!status) {
        m_writerThread.join();
        return status;
    }
    {
        std::lock_guard lock(m_checkpointMutex);
        m_checkpoint = Checkpoint::Idle;
        m_checkpointStopping = false;
    }
    std::promise<bool> checkpointer;
    std::future<bool> checkpointerReady = checkpointer.get_future();
    m_checkpointThread = std::thread([this, &checkpointer] { checkpointerMain(&checkpointer); });
    m_checkpointerRunning.store(checkpointerReady.get());
    m_open.store(true);
    qCInfo(lcStore) << "opened" << m_path << "schema version" << m_schemaVersion.load();
    return status;
}

void SqliteStore::writerMain(std::promise<Status> *started)
{
    auto connection = openConnection(m_path, m_options, false);
    if (!connection) {
        started->set_value(connection.error());
        return;
    }
    int version = 0;
    if (Status migrated = runMigrations(**connection, m_options.migrateUpTo, &version); !migrated) {
        started->set_value(migrated.error());
        return;
    }
    m_schemaVersion.store(version);
    Writer writer(*this, std::move(*connection));
    if (Status loaded = writer.loadState(); !loaded) {
        started->set_value(loaded.error());
        return;
    }
    started->set_value(Done{});

    const size_t cap = size_t(std::max(1, m_options.maxBatch));
    for (;;) {
        std::deque<WriteJob> batch;
        {
            std::unique_lock lock(m_queueMutex);
            m_queueReady.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
            if (m_queue.empty())
                break; // stopping, and everything queued has been written
            if (m_queue.size() <= cap) {
                batch.swap(m_queue);
            } else {
                std::move(m_queue.begin(), m_queue.begin() + qsizetype(cap),
                          std::back_inserter(batch));
                m_queue.erase(m_queue.begin(), m_queue.begin() + qsizetype(cap));
            }
        }
        writer.runBatch(batch);
    }
}

namespace {

// Flushes the database file through SQLite's own file handle (its VFS picks
// fdatasync or F_FULLFSYNC). An extra sync never conflicts with SQLite's locks.
bool syncDatabaseFile(sqlite3 *db)
{
    sqlite3_file *file = nullptr;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
        file == nullptr || file->pMethods == nullptr)
        return false;
    if (file->pMethods->xSync(file, SQLITE_SYNC_NORMAL) != SQLITE_OK) {
        qCWarning(lcStore) << "cannot sync the database file after a background checkpoint";
        return false;
    }
    return true;
}

} // namespace

void SqliteStore::checkpointerMain(std::promise<bool> *started)
{
    auto connection = openConnection(m_path, m_options, false);
    if (!connection) {
        qCWarning(lcStore) << "no checkpointer connection; the writer checkpoints alone:"
                           << connection.error().message;
        started->set_value(false);
        return;
    }
    started->set_value(true);
    sqlite3 *db = (*connection)->db;
    for (;;) {
        {
            std::unique_lock lock(m_checkpointMutex);
            m_checkpointWake.wait(lock, [this] {
                return m_checkpointStopping || m_checkpoint == Checkpoint::Requested;
            });
            if (m_checkpointStopping)
                return;
        }
        // PASSIVE: copies what no reader still needs and never waits for the
        // writer, which goes on appending meanwhile.
        int logFrames = 0;
        int copied = 0;
        if (sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &logFrames,
                                      &copied) != SQLITE_OK)
            qCWarning(lcStore) << "background checkpoint failed:" << (*connection)->errorText();
        // SQLite syncs the database only when a checkpoint reaches the end of
        // the log, which a copy beside a busy writer rarely does; the pages it
        // copied would then all be flushed by the writer's own checkpoint when
        // the log starts over (9-11 ms at 10,000 msgs/s, with sends waiting).
        // Flushed here, they leave that sync only the last few batches.
        else if (copied > 0 && syncDatabaseFile(db))
            m_backgroundSyncs.fetch_add(1, std::memory_order_relaxed);
        m_backgroundCheckpoints.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard lock(m_checkpointMutex);
        if (m_checkpoint == Checkpoint::Requested)
            m_checkpoint = Checkpoint::Copied;
    }
}

void SqliteStore::stopCheckpointer()
{
    {
        std::lock_guard lock(m_checkpointMutex);
        m_checkpointStopping = true;
    }
    m_checkpointWake.notify_all();
    if (m_checkpointThread.joinable())
        m_checkpointThread.join();
    m_checkpointerRunning.store(false);
}

// The writer's connection closes last: SQLite folds the write-ahead log into
// the database and removes it when the last connection to the file closes,
// but only if that one can write. A read-only reader closing last would leave
// the whole log behind, for the next start to read back in.
void SqliteStore::close()
{
    m_open.store(false); // no new reads or writes from here
    closeReadConnections();
    stopCheckpointer();
    // Only now may the writer finish: told first, it could close its
    // connection at the same moment as the checkpointer, each would see the
    // other still open, and neither would fold the log.
    {
        std::lock_guard lock(m_queueMutex);
        m_stopping = true;
    }
    m_queueReady.notify_all();
    if (m_writerThread.joinable())
        m_writerThread.join();
}

int SqliteStore::schemaVersion()
{
    return m_schemaVersion.load();
}

int SqliteStore::openReadConnections() const
{
    std::lock_guard lock(m_readers->mutex);
    return int(m_readers->connections.size());
}

SqliteStore::Stats SqliteStore::stats() const
{
    Stats stats;
    stats.commits = m_commits.load(std::memory_order_relaxed);
    stats.writesCommitted = m_writesCommitted.load(std::memory_order_relaxed);
    stats.maxBatch = m_maxBatch.load(std::memory_order_relaxed);
    stats.messagesStored = m_messagesStored.load(std::memory_order_relaxed);
    return stats;
}

Result<SqliteStore::Connection *> SqliteStore::readConnection()
{
    if (!m_open.load())
        return makeError(v1::INTERNAL, QStringLiteral("the store is not open"));
    const quint64 serial = currentThreadSerial();
    std::lock_guard lock(m_readers->mutex);
    // Again under the lock: close() empties the table under it after m_open
    // falls, so no connection opens behind its back.
    if (!m_open.load())
        return makeError(v1::INTERNAL, QStringLiteral("the store is not open"));
    auto &connections = m_readers->connections;
    auto it = connections.find(serial);
    if (it == connections.end()) {
        auto connection = openConnection(m_path, m_options, true);
        if (!connection)
            return connection.error();
        it = connections.emplace(serial, std::move(*connection)).first;
        t_exitHook.registries.emplace_back(m_readers, serial);
    }
    return it->second.get();
}

void SqliteStore::closeReadConnections()
{
    std::unordered_map<quint64, std::unique_ptr<Connection>> readers;
    {
        std::lock_guard lock(m_readers->mutex);
        readers.swap(m_readers->connections);
    }
}

// ---- SqliteStore: writes ----------------------------------------------------------------

void SqliteStore::enqueue(WriteJob job)
{
    bool queued = false;
    {
        std::lock_guard lock(m_queueMutex);
        if (m_open.load() && !m_stopping) {
            m_queue.push_back(std::move(job));
            queued = true;
        }
    }
    // Woken with the mutex still held, the writer would run (often on this
    // thread's core, pushing it aside) only to block on the mutex again.
    if (queued) {
        m_queueReady.notify_one();
        return;
    }
    CompletionRelay::Batch completions;
    job.deliver(makeError(v1::SHUTTING_DOWN, QStringLiteral("the store is closed")), completions);
}

template<class T, class Body>
void SqliteStore::submit(QObject *context, Completion<T> done, Body body, bool appendOnly)
{
    auto outcome = std::make_shared<std::optional<Result<T>>>();
    WriteJob job;
    job.appendOnly = appendOnly;
    job.apply = [outcome, body = std::move(body)](Writer &writer) {
        outcome->emplace(body(writer));
        return (*outcome)->ok();
    };
    // deliver runs once, so it hands its completion on rather than copying it.
    job.deliver = [outcome, target = CompletionRelay::targetOf(context),
                   done = std::move(done)](const std::optional<Error> &failure,
                                           CompletionRelay::Batch &completions) mutable {
        if (!done || !target.thread)
            return;
        // A job that failed on its own keeps its error; one that succeeded
        // inside a batch that did not commit gets the batch's error.
        Result<T> result = (failure && (!*outcome || (*outcome)->ok())) ? Result<T>(*failure)
                                                                        : std::move(**outcome);
        completions.add(target, [done = std::move(done), result = std::move(result)]() mutable {
            done(std::move(result));
        });
    };
    enqueue(std::move(job));
}

void SqliteStore::createUser(const QString &username, const QString &displayName,
                             const QByteArray &passwordHash, QObject *context,
                             Completion<UserRecord> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.createUser(username, displayName, passwordHash); });
}

void SqliteStore::setDisplayName(quint64 userId, const QString &displayName, QObject *context,
                                 Completion<UserRecord> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.setDisplayName(userId, displayName); });
}

void SqliteStore::setPasswordHash(quint64 userId, const QByteArray &passwordHash, QObject *context,
                                  Completion<Done> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.setPasswordHash(userId, passwordHash); });
}

void SqliteStore::replacePasswordHash(quint64 userId, const QByteArray &expected,
                                      const QByteArray &passwordHash, QObject *context,
                                      Completion<bool> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.replacePasswordHash(userId, expected, passwordHash); });
}

void SqliteStore::setDisabled(quint64 userId, bool disabled, QObject *context,
                              Completion<Done> done)
{
    submit(context, std::move(done), [=](Writer &w) { return w.setDisabled(userId, disabled); });
}

void SqliteStore::createDevice(quint64 userId, const QString &name, const QByteArray &tokenHash,
                               QObject *context, Completion<DeviceRecord> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.createDevice(userId, name, tokenHash); });
}

void SqliteStore::revokeDevice(quint64 userId, quint64 deviceId, QObject *context,
                               Completion<Done> done)
{
    submit(context, std::move(done), [=](Writer &w) { return w.revokeDevice(userId, deviceId); });
}

void SqliteStore::touchDevice(quint64 deviceId, qint64 lastSeenMs)
{
    submit(nullptr, Completion<Done>(),
           [=](Writer &w) { return w.touchDevice(deviceId, lastSeenMs); });
}

void SqliteStore::appendMessage(AppendRequest request, QObject *context,
                                Completion<AppendResult> done)
{
    EncodedAppend encoded{std::move(request.conversationId),
                          request.senderUserId,
                          request.senderDeviceId,
                          std::move(request.clientMsgId),
                          request.content.reply_to_seq(),
                          serialize(request.content)};
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
    submit(
        context, std::move(done),
        [encoded = std::move(encoded)](Writer &w) { return w.appendMessage(encoded); }, true);
}

void SqliteStore::markRead(const QString &conversationId, quint64 userId, quint64 seq,
                           QObject *context, Completion<ReadResult> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.markRead(conversationId, userId, seq); });
}

void SqliteStore::createGroup(quint64 ownerId, const QString &name, const QList<quint64> &memberIds,
                              QObject *context, Completion<GroupChange> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.createGroup(ownerId, name, memberIds); });
}

void SqliteStore::addMembers(const QString &conversationId, quint64 actorId,
                             const QList<quint64> &userIds, QObject *context,
                             Completion<GroupChange> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.addMembers(conversationId, actorId, userIds); });
}

void SqliteStore::removeMember(const QString &conversationId, quint64 actorId, quint64 userId,
                               QObject *context, Completion<GroupChange> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.removeMember(conversationId, actorId, userId); });
}

void SqliteStore::leaveGroup(const QString &conversationId, quint64 userId, QObject *context,
                             Completion<GroupChange> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.leaveGroup(conversationId, userId); });
}

void SqliteStore::renameGroup(const QString &conversationId, quint64 actorId, const QString &name,
                              QObject *context, Completion<GroupChange> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.renameGroup(conversationId, actorId, name); });
}

// ---- SqliteStore: reads ---------------------------------------------------------------

Result<UserRecord> SqliteStore::userById(quint64 id)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    return loadUser(**c, id);
}

Result<UserRecord> SqliteStore::userByName(const QString &username)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    Stmt s(**c, QStringLiteral("SELECT %1 FROM users WHERE username = ?").arg(kUserColumns));
    if (!s.exec({normalizeUsername(username)}))
        return s.error("user by name");
    if (!s.next())
        return notFound(QStringLiteral("no such user"));
    return userFromRow(s);
}

Result<QList<UserRecord>> SqliteStore::searchUsers(const QString &query, int limit)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    QList<UserRecord> users;
    if (limit <= 0)
        return users;
    QString escaped = displayKey(query.trimmed());
    escaped.replace(u'\\', QStringLiteral("\\\\"))
        .replace(u'%', QStringLiteral("\\%"))
        .replace(u'_', QStringLiteral("\\_"));
    const QString contains = u'%' + escaped + u'%';
    const QString prefix = escaped + u'%';
    // Names that start with the query come first.
    Stmt s(**c,
           QStringLiteral("SELECT %1 FROM users WHERE disabled = 0"
                          " AND (username LIKE ? ESCAPE '\\' OR display_key LIKE ? ESCAPE '\\')"
                          " ORDER BY (username LIKE ? ESCAPE '\\'"
                          "  OR display_key LIKE ? ESCAPE '\\') DESC, username LIMIT ?")
               .arg(kUserColumns));
    if (!s.exec({contains, contains, prefix, prefix, limit}))
        return s.error("search users");
    while (s.next())
        users.append(userFromRow(s));
    return users;
}

Result<QList<UserRecord>> SqliteStore::listUsers()
{
    auto c = readConnection();
    if (!c)
        return c.error();
    Stmt s(**c, QStringLiteral("SELECT %1 FROM users ORDER BY id").arg(kUserColumns));
    if (!s.exec())
        return s.error("list users");
    QList<UserRecord> users;
    while (s.next())
        users.append(userFromRow(s));
    return users;
}

Result<QList<quint64>> SqliteStore::disabledUserIds()
{
    auto c = readConnection();
    if (!c)
        return c.error();
    Stmt s(**c, QStringLiteral("SELECT id FROM users WHERE disabled = 1 ORDER BY id"));
    if (!s.exec())
        return s.error("disabled users");
    QList<quint64> ids;
    while (s.next())
        ids.append(s.u64(0));
    return ids;
}

Result<DeviceRecord> SqliteStore::deviceByTokenHash(const QByteArray &tokenHash)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    Stmt s(**c, QStringLiteral("SELECT %1 FROM devices WHERE token_hash = ? AND revoked = 0")
                    .arg(kDeviceColumns));
    if (!s.exec({tokenHash}))
        return s.error("device by token");
    if (!s.next())
        return notFound(QStringLiteral("no such device"));
    return deviceFromRow(s);
}

Result<QList<DeviceRecord>> SqliteStore::devicesOfUser(quint64 userId)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    Stmt s(
        **c,
        QStringLiteral("SELECT %1 FROM devices WHERE user_id = ? ORDER BY id").arg(kDeviceColumns));
    if (!s.exec({intValue(userId)}))
        return s.error("devices of user");
    QList<DeviceRecord> devices;
    while (s.next())
        devices.append(deviceFromRow(s));
    return devices;
}

Result<std::optional<MemberRecord>> SqliteStore::membership(const QString &conversationId,
                                                            quint64 userId)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    const auto ref = parseConversationId(conversationId);
    if (!ref || (ref->isDirect() && !ref->involves(userId)))
        return std::optional<MemberRecord>();
    {
        Stmt s(**c, QStringLiteral("SELECT role, joined_ms FROM members"
                                   " WHERE conversation_id = ? AND user_id = ?"));
        if (!s.exec({conversationId, intValue(userId)}))
            return s.error("membership");
        if (s.next())
            return std::optional<MemberRecord>(
                MemberRecord{userId, v1::Role(s.integer(0)), s.i64(1)});
    }
    if (!ref->isDirect())
        return std::optional<MemberRecord>();
    // A direct chat before its first message: one of the pair is a member if
    // both users exist.
    Stmt s(**c, QStringLiteral("SELECT COUNT(*) FROM users WHERE id IN (?, ?)"));
    if (!s.exec({intValue(ref->lowUser), intValue(ref->highUser)}) || !s.next())
        return s.error("direct membership");
    if (s.u64(0) != 2)
        return std::optional<MemberRecord>();
    return std::optional<MemberRecord>(MemberRecord{userId, v1::MEMBER, 0});
}

Result<QList<MemberRecord>> SqliteStore::members(const QString &conversationId)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    const auto rows = loadMembers(**c, conversationId);
    if (!rows)
        return rows.error();
    QList<MemberRecord> records;
    for (const MemberRow &row : *rows)
        records.append(row.record);
    return records;
}

Result<QList<ConversationView>> SqliteStore::conversationsOf(quint64 userId)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    Stmt s(**c, kViewSelect +
                    QStringLiteral("FROM members m"
                                   " JOIN conversations c ON c.id = m.conversation_id"
                                   " LEFT JOIN members p ON c.kind = 1 AND p.conversation_id = c.id"
                                   "  AND p.user_id <> m.user_id"
                                   " LEFT JOIN messages lm ON lm.conversation_id = c.id"
                                   "  AND lm.seq = c.max_seq"
                                   " WHERE m.user_id = ? AND c.max_seq > 0"
                                   " ORDER BY c.last_activity_ms DESC, c.id"));
    if (!s.exec({intValue(userId)}))
        return s.error("conversations of user");
    QList<ConversationView> views;
    while (s.next()) {
        bool isMember = false;
        views.append(viewFromRow(s, &isMember));
    }
    return views;
}

Result<ConversationView> SqliteStore::conversation(const QString &conversationId, quint64 userId)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    return loadView(**c, conversationId, userId, true);
}

Result<QList<quint64>> SqliteStore::contactsOf(quint64 userId)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    // Direct chats and groups up to kPresenceGroupLimit members: in a bigger
    // group every login would tell every online member, N² pushes for N
    // members coming online; there presence is read with the member list.
    Stmt s(**c, QStringLiteral("SELECT DISTINCT other.user_id FROM members mine"
                               " JOIN conversations conv ON conv.id = mine.conversation_id"
                               " JOIN members other ON other.conversation_id = mine.conversation_id"
                               " WHERE mine.user_id = ? AND other.user_id <> mine.user_id"
                               " AND (conv.kind = ? OR (SELECT COUNT(*) FROM members m"
                               "      WHERE m.conversation_id = conv.id) <= ?)"
                               " ORDER BY other.user_id"));
    if (!s.exec({intValue(userId), int(v1::DIRECT), kPresenceGroupLimit}))
        return s.error("contacts");
    QList<quint64> contacts;
    while (s.next())
        contacts.append(s.u64(0));
    return contacts;
}

Result<PullPage> SqliteStore::pull(const PullQuery &query)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    constexpr auto kUnbounded = quint64(std::numeric_limits<qint64>::max());
    const quint32 limit =
        query.limit == 0 ? kDefaultPullLimit : std::min(query.limit, kMaxPullLimit);
    PullPage page;
    {
        // One row beyond the page tells whether there is more.
        const qint64 fetch = qint64(limit) + 1;
        std::unique_ptr<Stmt> s;
        bool ran = false;
        if (query.backward) {
            s = std::make_unique<Stmt>(**c, QStringLiteral("SELECT %1 FROM messages"
                                                           " WHERE conversation_id = ? AND seq < ?"
                                                           " ORDER BY seq DESC LIMIT ?")
                                                .arg(kMessageColumns));
            const quint64 before = query.beforeSeq == 0 ? kUnbounded : query.beforeSeq;
            ran = s->exec({query.conversationId, intValue(before), fetch});
        } else {
            s = std::make_unique<Stmt>(**c, QStringLiteral("SELECT %1 FROM messages"
                                                           " WHERE conversation_id = ? AND seq >= ?"
                                                           " AND seq <= ? ORDER BY seq LIMIT ?")
                                                .arg(kMessageColumns));
            const quint64 from = std::max<quint64>(query.fromSeq, 1);
            const quint64 to = query.toSeq == 0 ? kUnbounded : std::min(query.toSeq, kUnbounded);
            ran = s->exec({query.conversationId, intValue(from), intValue(to), fetch});
        }
        if (!ran)
            return s->error("pull");
        while (s->next()) {
            if (quint32(page.messages.size()) == limit) {
                page.hasMore = true;
                break;
            }
            page.messages.append(messageFromRow(*s, 0));
        }
    }
    // Read after the page, so max_seq is never below a seq in it.
    Stmt s(**c, QStringLiteral("SELECT max_seq FROM conversations WHERE id = ?"));
    if (!s.exec({query.conversationId}))
        return s.error("pull max seq");
    page.maxSeq = s.next() ? s.u64(0) : 0;
    return page;
}

Result<std::optional<v1::Message>> SqliteStore::messageByClientId(quint64 senderUserId,
                                                                  const std::string &clientMsgId)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    return loadMessageByClientId(**c, senderUserId, clientMsgId);
}

} // namespace kith::server
