#include "sqlite_store.h"

#include "completion_relay.h"
#include "kith/content.h"
#include "kith/protocol.h"
#include "sqlite_schema.h"
#include "sqlite_writer.h"
#include "store_logging.h"
#include "thread_priority.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QScopeGuard>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace kith::server {

Q_LOGGING_CATEGORY(lcStore, "kith.store", QtInfoMsg)

using namespace sqlite;

namespace {

// How much of the database file the checkpointer sends to the disk at a time
// (see writeBackInSlices): 256 KiB is half a millisecond of this machine's
// disk; 1 MiB slices left twice as many late acks at 5,000 msgs/s ...
constexpr qint64 kWriteBackSlice = 256 * 1024;
// ... and at most this many slices, each waited for, however big the file:
// in a file of 150 MB a copy's pages lie a few to a 256 KiB slice, so 600
// waits of a device round trip each made a copy take seconds, the copies
// fell behind the writer, and it copied and synced the rest itself with
// sends waiting (docs/performance.md, round 24: with a million messages,
// p99.9 at 5,000 msgs/s on one core 54-58 ms, and 11-18 ms in 32 slices).
constexpr qint64 kMaxWriteBackSlices = 32;
// The checkpointer's priority where SCHED_IDLE is refused, and its place in
// the disk's queue (best effort, last).
constexpr int kCheckpointerNice = 10;
constexpr int kCheckpointerDiskLevel = 7;

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

} // namespace

int SqliteStore::latestSchemaVersion()
{
    return sqlite::latestSchemaVersion();
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
    threads::nameThisThread("kithd-store");
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
    sqlite3 *const db = (*connection)->db;
    Writer writer(*this, std::move(*connection));
    if (Status loaded = writer.loadState(); !loaded) {
        started->set_value(loaded.error());
        return;
    }
    if (m_options.synchronous == Synchronous::Full) {
        if (Status flushing = startFlusher(db); !flushing) {
            started->set_value(flushing.error());
            return;
        }
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
    // Every batch has been handed on; the last completions go out once synced,
    // before the connection closes.
    stopFlusher();
}

// ---- SqliteStore: the flusher ----------------------------------------------------------

Status SqliteStore::startFlusher(sqlite3 *db)
{
    // SQLite's own handle of the log, taken here on the writer's thread (the
    // connection is not to be called from two threads). It lives as long as
    // the connection, which closes after the flusher has stopped. Syncing
    // through it keeps SQLite's VFS in the loop: its first sync of a new log
    // also syncs the folder, so the log's name survives a power cut too.
    sqlite3_file *log = nullptr;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &log) != SQLITE_OK ||
        log == nullptr || log->pMethods == nullptr)
        return makeError(
            v1::INTERNAL,
            QStringLiteral("cannot reach the write-ahead log of %1 to sync it").arg(m_path));
    m_log = log;
    {
        std::lock_guard lock(m_flushMutex);
        m_flushStopping = false;
        m_flushQueue.clear();
    }
    m_logBroken.store(false);
    m_durableBatches.store(m_visibleBatches.load());
    m_flushThread = std::thread([this] { flusherMain(); });
    m_flusherRunning.store(true);
    return Done{};
}

void SqliteStore::flusherMain()
{
    threads::nameThisThread("kithd-sync");
    for (;;) {
        std::deque<Flush> flushes;
        {
            std::unique_lock lock(m_flushMutex);
            m_flushWake.wait(lock, [this] { return m_flushStopping || !m_flushQueue.empty(); });
            if (m_flushQueue.empty())
                return; // stopping, and everything handed on is synced and answered
            flushes.swap(m_flushQueue);
        }
        const bool committed = std::any_of(flushes.begin(), flushes.end(),
                                           [](const Flush &flush) { return !flush.failure; });
        std::optional<Error> syncFailure;
        if (m_logBroken.load()) {
            syncFailure = brokenLogError();
        } else if (committed) {
            if (m_options.beforeFlushForTesting)
                m_options.beforeFlushForTesting();
            if (m_log->pMethods->xSync(m_log, SQLITE_SYNC_NORMAL) == SQLITE_OK) {
                m_logFlushes.fetch_add(1, std::memory_order_relaxed);
            } else {
                // After a failed sync the kernel may have dropped the pages it
                // could not write and call them clean, so a second try would
                // prove nothing, and these batches are visible in the file
                // already. Nothing more is acknowledged or read until kithd
                // restarts and reads back what the disk really holds; clients
                // resend what was not acknowledged (sends are idempotent).
                qCCritical(lcStore) << "cannot sync the write-ahead log of" << m_path
                                    << "- refusing writes and message reads until kithd restarts";
                m_logBroken.store(true);
                syncFailure = brokenLogError();
            }
        }
        {
            std::lock_guard lock(m_flushMutex);
            if (!syncFailure)
                m_durableBatches.store(flushes.back().upTo);
        }
        m_durableWake.notify_all();
        for (Flush &flush : flushes)
            deliverBatch(std::move(flush.jobs), flush.failure ? flush.failure : syncFailure);
        bool idle = false;
        {
            std::lock_guard lock(m_flushMutex);
            idle = m_flushQueue.empty();
            if (idle)
                m_flushBusy.store(false);
        }
        if (idle) {
            // The writer may be holding its batch open until now.
            {
                std::lock_guard lock(m_queueMutex);
            }
            m_queueReady.notify_all();
        }
    }
}

void SqliteStore::stopFlusher()
{
    if (!m_flushThread.joinable())
        return;
    {
        std::lock_guard lock(m_flushMutex);
        m_flushStopping = true;
    }
    m_flushWake.notify_all();
    m_flushThread.join();
    m_flusherRunning.store(false);
    m_flushBusy.store(false);
    m_durableWake.notify_all();
    m_log = nullptr;
}

Error SqliteStore::brokenLogError()
{
    return makeError(v1::INTERNAL,
                     QStringLiteral("storage could not be synced to disk; restart the server"));
}

// One event to each target thread for the whole batch.
void SqliteStore::deliverBatch(std::deque<WriteJob> jobs, const std::optional<Error> &failure)
{
    CompletionRelay::Batch completions;
    for (WriteJob &job : jobs)
        job.deliver(failure, completions);
    // The jobs were made on the session loop; they are freed there too, after
    // their completions (freeing across threads costs the writer).
    completions.releaseAfter(std::make_shared<std::deque<WriteJob>>(std::move(jobs)));
}

void SqliteStore::finishBatch(std::deque<WriteJob> jobs, std::optional<Error> failure)
{
    if (!m_flusherRunning.load(std::memory_order_relaxed)) {
        deliverBatch(std::move(jobs), failure); // Synchronous::Normal: answered now
        return;
    }
    {
        std::lock_guard lock(m_flushMutex);
        m_flushQueue.push_back(Flush{m_visibleBatches.load(), std::move(jobs), std::move(failure)});
        m_flushBusy.store(true);
    }
    m_flushWake.notify_one();
}

// A batch that has run all its jobs stays open while the flusher syncs the
// one before it, and takes the writes that arrive meanwhile (up to maxBatch).
// It commits once the flusher is free: one commit per sync, as many pages
// written to the log as when each commit waited for its own sync, and the
// writes' work done while the disk flushes. False: commit now.
bool SqliteStore::takeMoreWhileSyncing(std::deque<WriteJob> &batch)
{
    const size_t cap = size_t(std::max(1, m_options.maxBatch));
    if (!m_flusherRunning.load(std::memory_order_relaxed) || batch.size() >= cap)
        return false;
    std::unique_lock lock(m_queueMutex);
    m_queueReady.wait(lock,
                      [this] { return m_stopping || !m_queue.empty() || !m_flushBusy.load(); });
    // Commit at once when the flusher is free (with writes queued too: they
    // are the next batch, and the disk would otherwise sit idle).
    if (m_queue.empty() || !m_flushBusy.load() || m_stopping)
        return false;
    const size_t take = std::min(cap - batch.size(), m_queue.size());
    std::move(m_queue.begin(), m_queue.begin() + qsizetype(take), std::back_inserter(batch));
    m_queue.erase(m_queue.begin(), m_queue.begin() + qsizetype(take));
    return true;
}

// Called by a read after its last statement: anything it saw was committed
// by a batch numbered m_visibleBatches or lower at that moment. False when
// the log could not be synced (what was seen may not be on disk).
bool SqliteStore::waitUntilDurable()
{
    if (!m_flusherRunning.load())
        return true;
    const quint64 seen = m_visibleBatches.load();
    if (m_durableBatches.load() < seen) {
        std::unique_lock lock(m_flushMutex);
        m_durableWake.wait(lock, [this, seen] {
            return m_durableBatches.load() >= seen || m_logBroken.load() ||
                   !m_flusherRunning.load();
        });
    }
    return !m_logBroken.load();
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

// Starts writing the pages a checkpoint copied into the database a slice of
// the file at a time, each slice on the disk before the next is started, so
// that the log's syncs (the acks) wait behind at most one slice at the disk
// instead of the whole copy (13-20 ms at 5,000 msgs/s on one core). The
// database's sync that follows then finds little left to write. Linux only;
// elsewhere that sync writes it all.
void writeBackInSlices(int fd)
{
#ifdef __linux__
    if (fd < 0)
        return;
    struct stat st
    {};
    if (::fstat(fd, &st) != 0)
        return;
    const off_t slice = off_t(SqliteStore::writeBackSliceBytes(st.st_size));
    for (off_t at = 0; at < st.st_size; at += slice) {
        if (::sync_file_range(fd, at, slice,
                              SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                  SYNC_FILE_RANGE_WAIT_AFTER) != 0)
            return; // the sync after reports what matters
    }
#else
    Q_UNUSED(fd);
#endif
}

} // namespace

qint64 SqliteStore::writeBackSliceBytes(qint64 fileBytes)
{
    constexpr qint64 kPage = 4096;
    const qint64 share = (fileBytes + kMaxWriteBackSlices - 1) / kMaxWriteBackSlices;
    const qint64 even = (share + kPage - 1) / kPage * kPage;
    return std::max(kWriteBackSlice, even);
}

void SqliteStore::checkpointerMain(std::promise<bool> *started)
{
    threads::nameThisThread("kithd-ckpt");
    // On a box with one core, a copy of thousands of pages held the CPU for
    // milliseconds at a time while sends waited to be read and answered; it
    // now runs only when nothing else wants the core, or ten levels lower.
    // Should it fall behind, the log's bound still holds: the writer then
    // copies what is left itself (see Writer::maybeCheckpoint).
    threads::makeThisThreadIdle(kCheckpointerNice);
    threads::lowerThisThreadsDisk(kCheckpointerDiskLevel);
    auto connection = openConnection(m_path, m_options, false);
    if (!connection) {
        qCWarning(lcStore) << "no checkpointer connection; the writer checkpoints alone:"
                           << connection.error().message;
        started->set_value(false);
        return;
    }
    started->set_value(true);
    sqlite3 *db = (*connection)->db;
    // Any descriptor of the file will do to start its writeback.
    const int file = ::open(QFile::encodeName(m_path).constData(), O_RDONLY | O_CLOEXEC);
    const auto closeFile = qScopeGuard([file] {
        if (file >= 0)
            ::close(file);
    });
    for (;;) {
        int synced = 0;
        {
            std::unique_lock lock(m_checkpointMutex);
            m_checkpointWake.wait(lock, [this] {
                return m_checkpointStopping || m_checkpoint == Checkpoint::Requested;
            });
            if (m_checkpointStopping)
                return;
            synced = m_copiedFrames;
        }
        // PASSIVE: copies what no reader still needs and never waits for the
        // writer, which goes on appending meanwhile.
        int logFrames = 0;
        int copied = 0;
        bool durable = false;
        if (sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &logFrames,
                                      &copied) != SQLITE_OK) {
            qCWarning(lcStore) << "background checkpoint failed:" << (*connection)->errorText();
        } else if (copied <= synced) {
            durable = true; // nothing new (a reader may hold the rest back)
        } else {
            // SQLite syncs the database only when a checkpoint reaches the end
            // of the log, which a copy beside a busy writer rarely does; the
            // pages it copied would then all be flushed by the writer's own
            // checkpoint when the log starts over (9-11 ms at 10,000 msgs/s,
            // with sends waiting). Flushed here, they leave that sync only
            // what was appended since.
            writeBackInSlices(file);
            durable = syncDatabaseFile(db);
            if (durable)
                m_backgroundSyncs.fetch_add(1, std::memory_order_relaxed);
        }
        m_backgroundCheckpoints.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard lock(m_checkpointMutex);
        if (durable)
            m_copiedFrames = copied;
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

void SqliteStore::setAvatar(quint64 userId, const QString &fileId, quint32 color, QObject *context,
                            Completion<UserRecord> done)
{
    submit(context, std::move(done), [=](Writer &w) { return w.setAvatar(userId, fileId, color); });
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

void SqliteStore::setHidden(quint64 userId, bool hidden, QObject *context, Completion<Done> done)
{
    submit(context, std::move(done), [=](Writer &w) { return w.setHidden(userId, hidden); });
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
                          serialize(request.content),
                          {},
                          request.opWindows,
                          {},
                          0,
                          {}};
    const bool isOp = isOperation(request.content);
    if (isOp)
        encoded.op = request.content;
    if (request.content.has_file()) {
        const v1::FileRef &file = request.content.file();
        encoded.fileId = toQString(file.file_id());
        encoded.fileSize = file.size();
        encoded.fileSha256 = QByteArray::fromStdString(file.sha256());
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
    submit(
        context, std::move(done),
        [encoded = std::move(encoded)](Writer &w) { return w.appendMessage(encoded); }, !isOp);
}

void SqliteStore::markRead(const QString &conversationId, quint64 userId, quint64 seq,
                           QObject *context, Completion<ReadResult> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.markRead(conversationId, userId, seq); });
}

void SqliteStore::setChatState(ChatStateWrite write, QObject *context,
                               Completion<v1::ChatState> done)
{
    submit(context, std::move(done),
           [write = std::move(write)](Writer &w) { return w.setChatState(write); });
}

void SqliteStore::setBlocked(quint64 userId, quint64 otherId, bool blocked, QObject *context,
                             Completion<v1::ChatState> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.setBlocked(userId, otherId, blocked); });
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

void SqliteStore::setGroupAvatar(const QString &conversationId, quint64 actorId,
                                 const QString &fileId, quint32 color, QObject *context,
                                 Completion<GroupChange> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.setGroupAvatar(conversationId, actorId, fileId, color); });
}

void SqliteStore::createUpload(NewUpload upload, QObject *context, Completion<UploadGrant> done)
{
    submit(context, std::move(done),
           [upload = std::move(upload)](Writer &w) { return w.createUpload(upload); });
}

void SqliteStore::completeUpload(const QString &fileId, qint64 nowMs, QObject *context,
                                 Completion<FileRecord> done)
{
    submit(context, std::move(done), [=](Writer &w) { return w.completeUpload(fileId, nowMs); });
}

void SqliteStore::dropUpload(const QString &fileId, quint64 userId, QObject *context,
                             Completion<Done> done)
{
    submit(context, std::move(done), [=](Writer &w) { return w.dropUpload(fileId, userId); });
}

void SqliteStore::sweepFiles(qint64 nowMs, qint64 unsentGraceMs, int limit, QObject *context,
                             Completion<FileSweep> done)
{
    submit(context, std::move(done),
           [=](Writer &w) { return w.sweepFiles(nowMs, unsentGraceMs, limit); });
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
    Result<DirectoryPage> page = searchUsersPage(query, limit, std::nullopt);
    if (!page)
        return page.error();
    return std::move(page->users);
}

Result<DirectoryPage> SqliteStore::searchUsersPage(const QString &query, int limit,
                                                   const std::optional<DirectoryCursor> &after)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    DirectoryPage page;
    if (limit <= 0)
        return page;
    QString escaped = displayKey(query.trimmed());
    escaped.replace(u'\\', QStringLiteral("\\\\"))
        .replace(u'%', QStringLiteral("\\%"))
        .replace(u'_', QStringLiteral("\\_"));
    const QString contains = u'%' + escaped + u'%';
    const QString prefix = escaped + u'%';
    // Names that start with the query come first, then by user name (unique):
    // a page starts after the last one's place in that order.
    const QString rank =
        QStringLiteral("(username LIKE ?3 ESCAPE '\\' OR display_key LIKE ?3 ESCAPE '\\')");
    Stmt s(**c, QStringLiteral("SELECT %1, %2 FROM users WHERE disabled = 0 AND hidden = 0"
                               " AND (username LIKE ?2 ESCAPE '\\' OR display_key LIKE ?2 ESCAPE"
                               " '\\') AND (?4 IS NULL OR %2 < ?4 OR (%2 = ?4 AND username > ?5))"
                               " ORDER BY %2 DESC, username LIMIT ?1")
                    .arg(kUserColumns, rank));
    const QString afterName = after ? after->username : QString();
    if (!s.exec({qint64(limit) + 1, contains, prefix,
                 after ? Value(qint64(after->prefix ? 1 : 0)) : Value::null(), afterName}))
        return s.error("search users");
    while (s.next()) {
        if (page.users.size() == limit) {
            page.hasMore = true;
            break;
        }
        page.users.append(userFromRow(s));
        page.prefix.append(s.integer(kUserColumnCount) != 0); // the rank after the user's columns
    }
    return page;
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

Result<QList<ConversationView>> SqliteStore::conversationsOf(quint64 userId,
                                                             const ConversationPage &page)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    // Text compares by its bytes here (SQLite's BINARY collation), as the
    // page's bounds do.
    Stmt s(**c,
           kViewSelect +
               QStringLiteral("FROM members m"
                              " JOIN conversations c ON c.id = m.conversation_id"
                              " LEFT JOIN members p ON c.kind = 1 AND p.conversation_id = c.id"
                              "  AND p.user_id <> m.user_id"
                              " LEFT JOIN messages lm ON lm.conversation_id = c.id"
                              "  AND lm.seq = c.max_seq"
                              " WHERE m.user_id = ? AND c.max_seq > 0"
                              "  AND m.conversation_id > ? AND (? = '' OR m.conversation_id <= ?)"
                              " ORDER BY m.conversation_id LIMIT ?"));
    if (!s.exec({intValue(userId), page.after, page.through, page.through,
                 page.limit > 0 ? qint64(page.limit) : qint64(-1)}))
        return s.error("conversations of user");
    QList<ConversationView> views;
    while (s.next()) {
        bool isMember = false;
        views.append(viewFromRow(s, &isMember));
    }
    if (!waitUntilDurable())
        return brokenLogError();
    return views;
}

Result<ConversationView> SqliteStore::conversation(const QString &conversationId, quint64 userId)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    Result<ConversationView> view = loadView(**c, conversationId, userId, true);
    if (!waitUntilDurable())
        return brokenLogError();
    return view;
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

Result<ChatStatePage> SqliteStore::chatStateSince(quint64 userId, quint64 afterVersion, int limit)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    Stmt s(**c, QStringLiteral("SELECT conversation_id, hidden_seq, muted_until_ms, archived,"
                               " version, 0, 0 FROM chat_state WHERE user_id = ? AND version > ?"
                               " UNION ALL SELECT '', 0, 0, 0, version, blocked_user_id, blocked"
                               " FROM blocks WHERE user_id = ? AND version > ?"
                               " ORDER BY 5 LIMIT ?"));
    const qint64 after = intValue(std::min(afterVersion, kMaxSeq));
    if (!s.exec({intValue(userId), after, intValue(userId), after, limit + 1}))
        return s.error("chat state");
    ChatStatePage page;
    while (s.next()) {
        if (page.states.size() == limit) {
            page.hasMore = true;
            break;
        }
        v1::ChatState state;
        state.set_conversation_id(s.text(0).toStdString());
        state.set_hidden_seq(s.u64(1));
        state.set_muted_until_ms(s.i64(2));
        state.set_archived(s.integer(3) != 0);
        state.set_version(s.u64(4));
        state.set_blocked_user_id(s.u64(5));
        state.set_blocked(s.integer(6) != 0);
        page.states.append(std::move(state));
    }
    if (!waitUntilDurable())
        return brokenLogError();
    return page;
}

Result<QList<quint64>> SqliteStore::blockersOf(quint64 userId)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    Stmt s(**c,
           QStringLiteral("SELECT user_id FROM blocks WHERE blocked_user_id = ? AND blocked = 1"
                          " ORDER BY user_id"));
    if (!s.exec({intValue(userId)}))
        return s.error("blockers");
    QList<quint64> blockers;
    while (s.next())
        blockers.append(s.u64(0));
    return blockers;
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
    if (!waitUntilDurable())
        return brokenLogError();
    return page;
}

Result<std::optional<v1::Message>> SqliteStore::messageByClientId(quint64 senderUserId,
                                                                  const std::string &clientMsgId)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    Result<std::optional<v1::Message>> message =
        loadMessageByClientId(**c, senderUserId, clientMsgId);
    if (!waitUntilDurable())
        return brokenLogError();
    return message;
}

Result<std::optional<FileRecord>> SqliteStore::file(const QString &fileId)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    return loadFile(**c, fileId);
}

Result<std::optional<FileRecord>> SqliteStore::downloadableFile(const QString &fileId,
                                                                quint64 userId)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    Stmt s(**c, QStringLiteral("SELECT %1 FROM files f WHERE f.id = ? AND f.complete = 1"
                               " AND (f.uploader_id = ? OR EXISTS (SELECT 1 FROM message_files mf"
                               "  JOIN members m ON m.conversation_id = mf.conversation_id"
                               "  WHERE mf.file_id = f.id AND m.user_id = ?)"
                               " OR EXISTS (SELECT 1 FROM conversations gc JOIN members gm"
                               "  ON gm.conversation_id = gc.id"
                               "  WHERE gc.avatar_file_id = f.id AND gm.user_id = ?)"
                               " OR EXISTS (SELECT 1 FROM users u WHERE u.avatar_file_id = f.id"
                               "  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = ?"
                               "   AND b.blocked_user_id = u.id AND b.blocked = 1)))")
                    .arg(kFileColumns));
    if (!s.exec({fileId, intValue(userId), intValue(userId), intValue(userId), intValue(userId)}))
        return s.error("downloadable file");
    if (!s.next())
        return std::optional<FileRecord>();
    return std::optional<FileRecord>(fileFromRow(s));
}

Result<bool> SqliteStore::blobInUse(const QByteArray &sha256)
{
    auto c = readConnection();
    if (!c)
        return c.error();
    Stmt s(**c,
           QStringLiteral("SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = ? AND complete = 1)"));
    if (!s.exec({sha256}) || !s.next())
        return s.error("blob in use");
    return s.i64(0) != 0;
}

} // namespace kith::server
