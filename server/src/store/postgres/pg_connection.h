#pragma once
// PgConnection: one libpq connection of the PostgreSQL store, used by one
// thread at a time (the writer's, the notifier's, or a pool lease's holder).
// Every statement is prepared once per connection and run with bound values,
// parameters and results in binary form. The writer also sends runs of
// statements in libpq's pipeline mode, so that a batch costs one round trip.

#include "kith/result.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QHash>
#include <QString>

#include <concepts>
#include <memory>
#include <string>
#include <utility>
#include <vector>

struct pg_conn;
struct pg_result;

namespace kith::server::pg {

// What went wrong, as far as a caller must tell failures apart.
enum class Failure {
    None,
    Connection, // lost, or cannot connect: the database is unavailable (retry later)
    Unique,     // a unique key refused the row
    Conflict,   // deadlock or serialization failure: the transaction may be run again
    Aborted,    // skipped because an earlier statement of the pipeline failed
    Other,      // anything else: a fault
};

// The error callers of the store see while the database cannot be reached;
// clients retry with the same ids after its retryAfterMs.
[[nodiscard]] Error unavailableError();

// One statement parameter. It owns its bytes (integers in network order), so
// a statement's parameters can be kept until a pipeline sends them.
class Value
{
public:
    // Any integer, as bigint; ids and seqs are kept below 2^63 by the callers.
    template<std::integral T>
    requires(!std::same_as<T, bool>) Value(T v)
        : Value(qint64(v), Integer{})
    {}
    Value(const QString &v);     // text; a null QString binds NULL
    Value(const std::string &v); // text (UTF-8)
    Value(const QByteArray &v);  // bytea; a null QByteArray binds NULL
    [[nodiscard]] static Value boolean(bool v);
    [[nodiscard]] static Value nullText();
    [[nodiscard]] static Value nullInt();

    [[nodiscard]] unsigned type() const { return m_type; }
    [[nodiscard]] bool isNull() const { return m_null; }
    [[nodiscard]] const QByteArray &bytes() const { return m_bytes; }

private:
    struct Integer
    {};
    Value(qint64 v, Integer);
    Value() = default;
    unsigned m_type = 0; // the parameter's PostgreSQL type
    bool m_null = false;
    QByteArray m_bytes;
};

// A statement's parameters, in order ($1, $2, ...).
class Params
{
public:
    Params() = default;
    Params(std::initializer_list<Value> values)
        : m_values(values)
    {}
    void append(Value value) { m_values.push_back(std::move(value)); }
    [[nodiscard]] int size() const { return int(m_values.size()); }
    [[nodiscard]] const std::vector<Value> &values() const { return m_values; }

private:
    std::vector<Value> m_values;
};

// The rows of one statement's result, walked with next() like a cursor.
// Integer readers accept the widths PostgreSQL sends (smallint to bigint).
class Rows
{
public:
    Rows() = default;
    explicit Rows(pg_result *result);
    Rows(Rows &&other) noexcept;
    Rows &operator=(Rows &&other) noexcept;
    Rows(const Rows &) = delete;
    Rows &operator=(const Rows &) = delete;
    ~Rows();

    [[nodiscard]] int count() const;
    [[nodiscard]] int affected() const; // rows an INSERT, UPDATE or DELETE changed
    // Moves to the next row (the first on the first call).
    [[nodiscard]] bool next();

    [[nodiscard]] bool isNull(int column) const;
    [[nodiscard]] qint64 i64(int column) const;
    [[nodiscard]] quint64 u64(int column) const { return quint64(i64(column)); }
    [[nodiscard]] int integer(int column) const { return int(i64(column)); }
    [[nodiscard]] bool boolean(int column) const;
    [[nodiscard]] QString text(int column) const;
    [[nodiscard]] std::string stdText(int column) const;
    // Valid while this Rows lives.
    [[nodiscard]] QByteArrayView bytesView(int column) const;
    [[nodiscard]] QByteArray bytes(int column) const { return bytesView(column).toByteArray(); }

private:
    pg_result *m_result = nullptr;
    int m_row = -1;
};

class PgConnection
{
public:
    // Connects, blocking for at most the URL's connect_timeout (default a few
    // seconds). `name` shows in pg_stat_activity.application_name.
    [[nodiscard]] static Result<std::unique_ptr<PgConnection>> connect(const QByteArray &url,
                                                                       const QString &name);
    ~PgConnection();
    PgConnection(const PgConnection &) = delete;
    PgConnection &operator=(const PgConnection &) = delete;

    // The connection is gone (or a statement found it gone).
    [[nodiscard]] bool isBroken() const;

    // Runs one statement to completion. `what` names it in the log.
    [[nodiscard]] Result<Rows> query(const QString &sql, const Params &params, const char *what);
    // A statement without parameters or rows (BEGIN, COMMIT, savepoints, DDL),
    // sent as it is over the simple protocol.
    [[nodiscard]] Status command(const QString &sql, const char *what);

    // The kind of the last failure and its SQLSTATE (for the log and tests).
    [[nodiscard]] Failure lastFailure() const { return m_lastFailure; }
    [[nodiscard]] QByteArray lastSqlState() const { return m_lastSqlState; }

    // ---- pipeline: several statements sent at once, their results read in
    // order. Each statement is prepare()d before beginPipeline().
    [[nodiscard]] Status prepare(const QString &sql, const Params &params);
    [[nodiscard]] bool beginPipeline();
    [[nodiscard]] bool send(const QString &sql, const Params &params);
    // Ends the run with a sync point and sends everything, reading what the
    // server answers meanwhile so that neither side waits for the other.
    [[nodiscard]] bool flushPipeline();
    // The next statement's result; an error for a failed or skipped one.
    [[nodiscard]] Result<Rows> receive(const char *what);
    // Reads what is left up to the sync point and leaves pipeline mode.
    [[nodiscard]] bool endPipeline();

    // ---- notifications (LISTEN/NOTIFY)
    [[nodiscard]] int socket() const;
    // Reads what has arrived without blocking; false when the connection is lost.
    [[nodiscard]] bool consumeInput();
    // The next notification received as (channel, payload); an empty channel when none.
    [[nodiscard]] std::pair<QByteArray, QByteArray> nextNotification();

private:
    explicit PgConnection(pg_conn *conn);
    // The prepared statement's name, preparing it on first use.
    [[nodiscard]] Result<QByteArray> statementName(const QString &sql, const Params &params);
    [[nodiscard]] Error fail(const char *what, pg_result *result);
    [[nodiscard]] bool waitToFlush();

    pg_conn *m_conn = nullptr;
    QHash<QString, QByteArray> m_statements; // SQL and parameter types -> name
    int m_nextStatement = 0;
    Failure m_lastFailure = Failure::None;
    QByteArray m_lastSqlState;
    bool m_inPipeline = false;
    bool m_syncPending = false; // a sync point was sent and its result not yet read
};

} // namespace kith::server::pg
