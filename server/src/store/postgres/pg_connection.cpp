#include "pg_connection.h"

#include "pg_logging.h"

#include <QtEndian>

#include <libpq-fe.h>

#include <cerrno>
#include <poll.h>

namespace kith::server::pg {

namespace {

// PostgreSQL's built-in type ids (pg_type.oid), fixed since forever.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;

// Parameters and results travel in PostgreSQL's binary form.
constexpr int kBinary = 1;

// A client waits this long for a database that does not answer the connect.
constexpr const char *kDefaultConnectTimeoutSeconds = "5";
// Notice a peer that vanished without closing (a dead host, a cut cable).
constexpr const char *kKeepaliveIdleSeconds = "30";

// Retrying sooner than this only finds the database still down.
constexpr quint32 kRetryAfterMs = 1000;

Failure classify(const QByteArray &sqlState)
{
    if (sqlState == "23505")
        return Failure::Unique;
    if (sqlState == "40P01" || sqlState == "40001")
        return Failure::Conflict;
    // 08: connection exceptions; 57P01-57P03: the server shuts down, crashed
    // or is still starting; 53300: no connection slot free.
    if (sqlState.startsWith("08") || sqlState == "57P01" || sqlState == "57P02" ||
        sqlState == "57P03" || sqlState == "53300")
        return Failure::Connection;
    return Failure::Other;
}

QByteArray bigEndian(qint64 v)
{
    QByteArray bytes(8, Qt::Uninitialized);
    qToBigEndian(v, bytes.data());
    return bytes;
}

} // namespace

Error unavailableError()
{
    return makeError(v1::UNAVAILABLE, QStringLiteral("the database is unavailable; retry later"),
                     kRetryAfterMs);
}

// ---- Value ----------------------------------------------------------------------------

Value::Value(qint64 v, Integer)
    : m_type(kInt8Oid)
    , m_bytes(bigEndian(v))
{}

Value::Value(const QString &v)
    : m_type(kTextOid)
    , m_null(v.isNull())
    , m_bytes(v.toUtf8())
{}

Value::Value(const std::string &v)
    : m_type(kTextOid)
    , m_bytes(v.data(), qsizetype(v.size()))
{}

Value::Value(const QByteArray &v)
    : m_type(kByteaOid)
    , m_null(v.isNull())
    , m_bytes(v)
{}

Value Value::boolean(bool v)
{
    Value value;
    value.m_type = kBoolOid;
    value.m_bytes = QByteArray(1, v ? '\1' : '\0');
    return value;
}

Value Value::nullText()
{
    Value value;
    value.m_type = kTextOid;
    value.m_null = true;
    return value;
}

Value Value::nullInt()
{
    Value value;
    value.m_type = kInt8Oid;
    value.m_null = true;
    return value;
}

// ---- Rows -------------------------------------------------------------------------------

Rows::Rows(pg_result *result)
    : m_result(result)
{}

Rows::Rows(Rows &&other) noexcept
    : m_result(std::exchange(other.m_result, nullptr))
    , m_row(other.m_row)
{}

Rows &Rows::operator=(Rows &&other) noexcept
{
    if (this != &other) {
        if (m_result)
            PQclear(m_result);
        m_result = std::exchange(other.m_result, nullptr);
        m_row = other.m_row;
    }
    return *this;
}

Rows::~Rows()
{
    if (m_result)
        PQclear(m_result);
}

int Rows::count() const
{
    return m_result ? PQntuples(m_result) : 0;
}

int Rows::affected() const
{
    if (!m_result)
        return 0;
    return QByteArray(PQcmdTuples(m_result)).toInt();
}

bool Rows::next()
{
    if (m_row + 1 >= count())
        return false;
    ++m_row;
    return true;
}

bool Rows::isNull(int column) const
{
    return PQgetisnull(m_result, m_row, column) != 0;
}

qint64 Rows::i64(int column) const
{
    if (isNull(column))
        return 0;
    const char *data = PQgetvalue(m_result, m_row, column);
    switch (PQgetlength(m_result, m_row, column)) {
    case 8:
        return qFromBigEndian<qint64>(data);
    case 4:
        return qFromBigEndian<qint32>(data);
    case 2:
        return qFromBigEndian<qint16>(data);
    case 1: // bool
        return data[0] != 0;
    default:
        return 0;
    }
}

bool Rows::boolean(int column) const
{
    return i64(column) != 0;
}

QString Rows::text(int column) const
{
    const QByteArrayView bytes = bytesView(column);
    return QString::fromUtf8(bytes.data(), bytes.size());
}

std::string Rows::stdText(int column) const
{
    const QByteArrayView bytes = bytesView(column);
    return std::string(bytes.data(), size_t(bytes.size()));
}

QByteArrayView Rows::bytesView(int column) const
{
    if (isNull(column))
        return {};
    return {PQgetvalue(m_result, m_row, column), PQgetlength(m_result, m_row, column)};
}

// ---- PgConnection -------------------------------------------------------------------------

PgConnection::PgConnection(pg_conn *conn)
    : m_conn(conn)
{}

PgConnection::~PgConnection()
{
    if (m_conn)
        PQfinish(m_conn);
}

Result<std::unique_ptr<PgConnection>> PgConnection::connect(const QByteArray &url,
                                                            const QString &name)
{
    const QByteArray application = name.toUtf8();
    // Defaults first; the URL's own settings override them (expand_dbname),
    // and what follows the URL overrides it.
    const char *keys[] = {
        "connect_timeout", "keepalives", "keepalives_idle", "dbname", "application_name",
        "client_encoding", nullptr};
    const char *values[] = {kDefaultConnectTimeoutSeconds,
                            "1",
                            kKeepaliveIdleSeconds,
                            url.constData(),
                            application.constData(),
                            "UTF8",
                            nullptr};
    pg_conn *conn = PQconnectdbParams(keys, values, 1);
    if (!conn)
        return unavailableError();
    if (PQstatus(conn) != CONNECTION_OK) {
        const QString reason = QString::fromUtf8(PQerrorMessage(conn)).trimmed();
        PQfinish(conn);
        // The caller reports it (once per outage, not once per attempt).
        qCDebug(lcPostgres) << "postgresql: cannot connect:" << reason;
        Error error = unavailableError();
        error.message = QStringLiteral("cannot connect to the database: %1").arg(reason);
        return error;
    }
    // Notices (e.g. "already exists, skipping") are for the debug log, not stderr.
    PQsetNoticeProcessor(
        conn,
        [](void *, const char *message) {
            qCDebug(lcPostgres) << "postgresql:" << QString::fromUtf8(message).trimmed();
        },
        nullptr);
    return std::unique_ptr<PgConnection>(new PgConnection(conn));
}

bool PgConnection::isBroken() const
{
    return !m_conn || PQstatus(m_conn) != CONNECTION_OK;
}

Error PgConnection::fail(const char *what, pg_result *result)
{
    m_lastSqlState =
        result ? QByteArray(PQresultErrorField(result, PG_DIAG_SQLSTATE)) : QByteArray();
    if (result && PQresultStatus(result) == PGRES_PIPELINE_ABORTED)
        m_lastFailure = Failure::Aborted;
    else if (isBroken())
        m_lastFailure = Failure::Connection;
    else
        m_lastFailure = classify(m_lastSqlState);
    const QString detail =
        QString::fromUtf8(result ? PQresultErrorMessage(result) : PQerrorMessage(m_conn)).trimmed();
    if (result)
        PQclear(result);
    switch (m_lastFailure) {
    case Failure::Connection:
        qCWarning(lcPostgres) << "postgresql:" << what << "failed, database unavailable:" << detail;
        return unavailableError();
    case Failure::Unique:
    case Failure::Conflict:
    case Failure::Aborted:
        // Expected under concurrency; the caller decides what it means.
        qCDebug(lcPostgres) << "postgresql:" << what << "refused:" << m_lastSqlState << detail;
        break;
    case Failure::None:
    case Failure::Other:
        qCWarning(lcPostgres) << "postgresql:" << what << "failed:" << m_lastSqlState << detail;
        break;
    }
    return makeError(v1::INTERNAL,
                     QStringLiteral("storage error (%1)").arg(QLatin1StringView(what)));
}

Result<QByteArray> PgConnection::statementName(const QString &sql, const Params &params)
{
    QString key = sql;
    key.reserve(sql.size() + params.size() + 1);
    key.append(u'\0');
    for (const Value &value : params.values())
        key.append(QChar(char16_t(value.type())));
    if (const auto it = m_statements.constFind(key); it != m_statements.cend())
        return *it;
    const QByteArray name = "kith_" + QByteArray::number(++m_nextStatement);
    std::vector<Oid> types;
    types.reserve(size_t(params.size()));
    for (const Value &value : params.values())
        types.push_back(value.type());
    pg_result *result = PQprepare(m_conn, name.constData(), sql.toUtf8().constData(),
                                  int(types.size()), types.data());
    if (!result || PQresultStatus(result) != PGRES_COMMAND_OK)
        return fail("prepare", result);
    PQclear(result);
    m_statements.insert(key, name);
    return name;
}

Status PgConnection::prepare(const QString &sql, const Params &params)
{
    const auto name = statementName(sql, params);
    if (!name)
        return name.error();
    return Done{};
}

namespace {
// libpq's parameter arrays for one statement; they point into the Params.
struct Bound
{
    std::vector<const char *> values;
    std::vector<int> lengths;
    std::vector<int> formats;

    explicit Bound(const Params &params)
    {
        values.reserve(size_t(params.size()));
        lengths.reserve(size_t(params.size()));
        formats.assign(size_t(params.size()), kBinary);
        for (const Value &value : params.values()) {
            values.push_back(value.isNull() ? nullptr : value.bytes().constData());
            lengths.push_back(int(value.bytes().size()));
        }
    }
};
} // namespace

Result<Rows> PgConnection::query(const QString &sql, const Params &params, const char *what)
{
    m_lastFailure = Failure::None;
    const auto name = statementName(sql, params);
    if (!name)
        return name.error();
    const Bound bound(params);
    pg_result *result =
        PQexecPrepared(m_conn, name->constData(), params.size(), bound.values.data(),
                       bound.lengths.data(), bound.formats.data(), kBinary);
    const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
        return fail(what, result);
    return Rows(result);
}

Status PgConnection::command(const QString &sql, const char *what)
{
    m_lastFailure = Failure::None;
    pg_result *result = PQexec(m_conn, sql.toUtf8().constData());
    const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        return fail(what, result);
    PQclear(result);
    return Done{};
}

bool PgConnection::beginPipeline()
{
    m_lastFailure = Failure::None;
    // Non-blocking while sending: a long run must never wait for the server
    // to take more while the server waits for us to read its answers.
    if (PQsetnonblocking(m_conn, 1) != 0 || PQenterPipelineMode(m_conn) != 1) {
        (void)fail("pipeline", nullptr);
        return false;
    }
    m_inPipeline = true;
    return true;
}

bool PgConnection::send(const QString &sql, const Params &params)
{
    const auto name = statementName(sql, params);
    if (!name)
        return false;
    const Bound bound(params);
    if (PQsendQueryPrepared(m_conn, name->constData(), params.size(), bound.values.data(),
                            bound.lengths.data(), bound.formats.data(), kBinary) != 1) {
        (void)fail("pipeline send", nullptr);
        return false;
    }
    // Keep the bytes moving without waiting; flushPipeline() waits.
    if (PQflush(m_conn) < 0) {
        (void)fail("pipeline send", nullptr);
        return false;
    }
    return true;
}

bool PgConnection::waitToFlush()
{
    for (;;) {
        const int pending = PQflush(m_conn);
        if (pending == 0)
            return true;
        if (pending < 0)
            return false;
        pollfd watched{PQsocket(m_conn), POLLIN | POLLOUT, 0};
        if (::poll(&watched, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        // Answers arriving while we still send are buffered, so the server
        // never stops reading for want of a reader.
        if ((watched.revents & (POLLIN | POLLHUP | POLLERR)) && PQconsumeInput(m_conn) != 1)
            return false;
    }
}

bool PgConnection::flushPipeline()
{
    if (PQpipelineSync(m_conn) != 1) {
        (void)fail("pipeline flush", nullptr);
        return false;
    }
    m_syncPending = true;
    if (!waitToFlush()) {
        (void)fail("pipeline flush", nullptr);
        return false;
    }
    return true;
}

Result<Rows> PgConnection::receive(const char *what)
{
    pg_result *result = PQgetResult(m_conn);
    if (!result)
        return fail(what, nullptr);
    const ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_PIPELINE_SYNC) {
        // Fewer results than statements: the caller's bookkeeping is wrong.
        m_syncPending = false;
        PQclear(result);
        m_lastFailure = Failure::Other;
        qCCritical(lcPostgres) << "postgresql: pipeline ended before" << what;
        return makeError(v1::INTERNAL, QStringLiteral("storage error (pipeline)"));
    }
    // Each statement's results end with a null result.
    while (pg_result *extra = PQgetResult(m_conn))
        PQclear(extra);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
        return fail(what, result);
    return Rows(result);
}

bool PgConnection::endPipeline()
{
    if (!m_inPipeline)
        return true;
    bool ok = !isBroken();
    // Everything up to the sync point; what the caller did not read is dropped.
    // Two null results in a row mean nothing more is coming.
    bool lastWasNull = false;
    while (ok && m_syncPending) {
        pg_result *result = PQgetResult(m_conn);
        if (!result) {
            if (lastWasNull || isBroken())
                ok = false;
            lastWasNull = true;
            continue; // the end of one statement's results
        }
        lastWasNull = false;
        if (PQresultStatus(result) == PGRES_PIPELINE_SYNC)
            m_syncPending = false;
        PQclear(result);
    }
    m_inPipeline = false;
    m_syncPending = false;
    if (!ok || PQexitPipelineMode(m_conn) != 1 || PQsetnonblocking(m_conn, 0) != 0) {
        (void)fail("pipeline end", nullptr);
        return false;
    }
    return true;
}

int PgConnection::socket() const
{
    return PQsocket(m_conn);
}

bool PgConnection::consumeInput()
{
    return PQconsumeInput(m_conn) == 1 && !isBroken();
}

std::pair<QByteArray, QByteArray> PgConnection::nextNotification()
{
    PGnotify *notification = PQnotifies(m_conn);
    if (!notification)
        return {};
    std::pair<QByteArray, QByteArray> out(notification->relname, notification->extra);
    PQfreemem(notification);
    return out;
}

} // namespace kith::server::pg
