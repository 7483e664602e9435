#pragma once
// The SQLite C API as the SQLite backend uses it: a connection with its cached
// prepared statements, one use of a statement (Stmt) with positionally bound
// values, and opening a connection with kithd's pragmas. Internal to
// kithd_store_sqlite.

#include "sqlite_store.h"
#include "store_logging.h"

#include <QHash>
#include <QString>
#include <QVarLengthArray>

#include <sqlite3.h>

#include <memory>
#include <mutex>
#include <unordered_map>

namespace kith::server {

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

namespace sqlite {

using Connection = SqliteStore::Connection;

// A number per thread that is never reused (thread ids are), so a connection
// name can never be picked up by a later thread.
[[nodiscard]] quint64 currentThreadSerial();

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

    // The rows ended in an error rather than at their end (next() said false for both).
    [[nodiscard]] bool failed() const { return m_step != SQLITE_ROW && m_step != SQLITE_DONE; }

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

[[nodiscard]] Result<QString> pragmaText(Connection &c, const QString &sql);

// Opens a connection and applies the per-connection pragmas. A connection is
// used by one thread at a time (the writer's, or one reading thread's).
[[nodiscard]] Result<std::unique_ptr<Connection>>
openConnection(const QString &path, const SqliteStore::Options &options, bool readOnly);

} // namespace sqlite
} // namespace kith::server
