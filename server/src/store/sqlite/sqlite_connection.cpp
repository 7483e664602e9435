#include "sqlite_connection.h"

#include <QFile>
#include <QStringList>

#include <atomic>

namespace kith::server::sqlite {

namespace {
std::atomic<quint64> g_threadSerials{0};
} // namespace

quint64 currentThreadSerial()
{
    thread_local const quint64 serial = ++g_threadSerials;
    return serial;
}

Result<QString> pragmaText(Connection &c, const QString &sql)
{
    Stmt s(c, sql);
    if (!s.exec())
        return s.error("pragma");
    return s.next() ? s.text(0) : QString();
}

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
    // secure_delete: a deleted message's bytes are overwritten, not left in free space.
    QStringList pragmas = {QStringLiteral("PRAGMA foreign_keys = ON"),
                           QStringLiteral("PRAGMA secure_delete = ON"),
                           readOnly ? QStringLiteral("PRAGMA cache_size = -8192")
                                    : QStringLiteral("PRAGMA cache_size = -65536")};
    if (!readOnly) {
        // COMMIT writes the log without syncing it; with Synchronous::Full the
        // store's flusher syncs it before any completion runs. SQLite still
        // syncs the log before a checkpoint and the database after one.
        pragmas.append(QStringLiteral("PRAGMA synchronous = NORMAL"));
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

} // namespace kith::server::sqlite
