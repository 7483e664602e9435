#pragma once
// SqliteStore: the embedded SQLite backend of the Store interface, on
// SQLite's C API. One connection per reading thread, one writer thread with
// group commit. Owned by the Server (or an admin command) for the process lifetime.

#include "completion_relay.h"
#include "store.h"

#include <QString>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

struct sqlite3;
struct sqlite3_file;

namespace kith::server {

class SqliteStore final : public Store
{
public:
    enum class Synchronous {
        Full,   // every commit is on disk before its completion runs (survives power loss):
                // the flusher thread syncs the log after COMMIT, beside the next batch
        Normal, // WAL + NORMAL: survives a crash of kithd, may lose the last commits on power loss
    };

    struct Options
    {
        Synchronous synchronous = Synchronous::Full;
        // Another process (an admin command) may hold the write lock briefly.
        int busyTimeoutMs = 5000;
        // Bounds one transaction so a flood of writes still commits (and acks) in steps.
        int maxBatch = 1024;
        // Every this many new WAL frames (pages) the checkpointer copies the
        // log into the database, beside the writer; the log starts over at
        // four times as many (128 MiB by default). Above SQLite's 1,000: with
        // the copy off the writer a longer log costs disk, not latency, and a
        // page that many commits touched is copied and synced once.
        int checkpointFrames = 8000;
        // Migrate only up to this schema version (0 = the latest), so tests can
        // build files of an older schema; the store's own statements expect the latest.
        int migrateUpTo = 0;
        // Test hook: runs on the writer thread when a batch has made all its
        // writes and is about to COMMIT, so a test can hold it there (to show
        // that nothing is acknowledged or visible before the commit). Unset in kithd.
        std::function<void()> beforeCommitForTesting;
        // Test hook: runs on the flusher thread before it syncs the log for
        // the batches committed since its last sync, so a test can hold them
        // committed but not yet durable. Unset in kithd.
        std::function<void()> beforeFlushForTesting;
    };

    // The newest schema version this code knows (the number of migration steps).
    static int latestSchemaVersion();

    explicit SqliteStore(QString databasePath);
    SqliteStore(QString databasePath, Options options);
    ~SqliteStore() override;

    SqliteStore(const SqliteStore &) = delete;
    SqliteStore &operator=(const SqliteStore &) = delete;

    [[nodiscard]] Status open() override;
    // Drains the write queue, stops the writer and closes every connection.
    // Call it when no reads are running on other threads.
    void close() override;
    [[nodiscard]] int schemaVersion() override;

    [[nodiscard]] Result<UserRecord> userById(quint64 id) override;
    [[nodiscard]] Result<UserRecord> userByName(const QString &username) override;
    // Substring match, case-insensitive (Unicode case folding); disabled accounts are not listed.
    [[nodiscard]] Result<QList<UserRecord>> searchUsers(const QString &query, int limit) override;
    [[nodiscard]] Result<DirectoryPage>
    searchUsersPage(const QString &query, int limit,
                    const std::optional<DirectoryCursor> &after) override;
    [[nodiscard]] Result<QList<UserRecord>> listUsers() override;
    [[nodiscard]] Result<QList<quint64>> disabledUserIds() override;

    [[nodiscard]] Result<DeviceRecord> deviceByTokenHash(const QByteArray &tokenHash) override;
    // All devices of the user, revoked ones included (see DeviceRecord::revoked).
    [[nodiscard]] Result<QList<DeviceRecord>> devicesOfUser(quint64 userId) override;

    [[nodiscard]] Result<std::optional<MemberRecord>> membership(const QString &conversationId,
                                                                 quint64 userId) override;
    [[nodiscard]] Result<QList<MemberRecord>> members(const QString &conversationId) override;
    using Store::conversationsOf;
    [[nodiscard]] Result<QList<ConversationView>>
    conversationsOf(quint64 userId, const ConversationPage &page) override;
    [[nodiscard]] Result<ConversationView> conversation(const QString &conversationId,
                                                        quint64 userId) override;
    [[nodiscard]] Result<QList<quint64>> contactsOf(quint64 userId) override;
    [[nodiscard]] Result<PullPage> pull(const PullQuery &query) override;
    [[nodiscard]] Result<std::optional<v1::Message>>
    messageByClientId(quint64 senderUserId, const std::string &clientMsgId) override;
    [[nodiscard]] Result<std::optional<FileRecord>> file(const QString &fileId) override;
    [[nodiscard]] Result<std::optional<FileRecord>> downloadableFile(const QString &fileId,
                                                                     quint64 userId) override;
    [[nodiscard]] Result<bool> blobInUse(const QByteArray &sha256) override;
    [[nodiscard]] Result<ChatStatePage> chatStateSince(quint64 userId, quint64 afterVersion,
                                                       int limit) override;
    [[nodiscard]] Result<QList<quint64>> blockersOf(quint64 userId) override;

    void createUser(const QString &username, const QString &displayName,
                    const QByteArray &passwordHash, QObject *context,
                    Completion<UserRecord> done) override;
    void setDisplayName(quint64 userId, const QString &displayName, QObject *context,
                        Completion<UserRecord> done) override;
    void setAvatar(quint64 userId, const QString &fileId, quint32 color, QObject *context,
                   Completion<UserRecord> done) override;
    void setPasswordHash(quint64 userId, const QByteArray &passwordHash, QObject *context,
                         Completion<Done> done) override;
    void replacePasswordHash(quint64 userId, const QByteArray &expected,
                             const QByteArray &passwordHash, QObject *context,
                             Completion<bool> done) override;
    void setDisabled(quint64 userId, bool disabled, QObject *context,
                     Completion<Done> done) override;
    void setHidden(quint64 userId, bool hidden, QObject *context, Completion<Done> done) override;

    void createDevice(quint64 userId, const QString &name, const QByteArray &tokenHash,
                      QObject *context, Completion<DeviceRecord> done) override;
    void revokeDevice(quint64 userId, quint64 deviceId, QObject *context,
                      Completion<Done> done) override;
    void touchDevice(quint64 deviceId, qint64 lastSeenMs) override;

    void appendMessage(AppendRequest request, QObject *context,
                       Completion<AppendResult> done) override;
    void markRead(const QString &conversationId, quint64 userId, quint64 seq, QObject *context,
                  Completion<ReadResult> done) override;
    void setChatState(ChatStateWrite write, QObject *context,
                      Completion<v1::ChatState> done) override;
    void setBlocked(quint64 userId, quint64 otherId, bool blocked, QObject *context,
                    Completion<v1::ChatState> done) override;

    void createGroup(quint64 ownerId, const QString &name, const QList<quint64> &memberIds,
                     QObject *context, Completion<GroupChange> done) override;
    void addMembers(const QString &conversationId, quint64 actorId, const QList<quint64> &userIds,
                    QObject *context, Completion<GroupChange> done) override;
    void removeMember(const QString &conversationId, quint64 actorId, quint64 userId,
                      QObject *context, Completion<GroupChange> done) override;
    void leaveGroup(const QString &conversationId, quint64 userId, QObject *context,
                    Completion<GroupChange> done) override;
    void renameGroup(const QString &conversationId, quint64 actorId, const QString &name,
                     QObject *context, Completion<GroupChange> done) override;
    void setGroupAvatar(const QString &conversationId, quint64 actorId, const QString &fileId,
                        quint32 color, QObject *context, Completion<GroupChange> done) override;

    void createUpload(NewUpload upload, QObject *context, Completion<UploadGrant> done) override;
    void completeUpload(const QString &fileId, qint64 nowMs, QObject *context,
                        Completion<FileRecord> done) override;
    void dropUpload(const QString &fileId, quint64 userId, QObject *context,
                    Completion<Done> done) override;
    void sweepFiles(qint64 nowMs, qint64 unsentGraceMs, int limit, QObject *context,
                    Completion<FileSweep> done) override;

    [[nodiscard]] Stats stats() const override;
    // Read connections currently open (one per thread that has read and not yet exited).
    [[nodiscard]] int openReadConnections() const;
    // How much of a database file of this size the checkpointer writes back
    // at a time after a copy, waiting for each part before the next: 256 KiB,
    // or a 32nd of a bigger file.
    [[nodiscard]] static qint64 writeBackSliceBytes(qint64 fileBytes);

    // WAL checkpoints the checkpointer thread has run since open().
    [[nodiscard]] quint64 backgroundCheckpoints() const
    {
        return m_backgroundCheckpoints.load(std::memory_order_relaxed);
    }
    // Syncs of the write-ahead log the flusher has made since open().
    [[nodiscard]] quint64 logFlushes() const
    {
        return m_logFlushes.load(std::memory_order_relaxed);
    }
    // Of the checkpoints, the ones after which the checkpointer synced the database file.
    [[nodiscard]] quint64 backgroundSyncs() const
    {
        return m_backgroundSyncs.load(std::memory_order_relaxed);
    }

    // Internal to the backend (sqlite_*.h); declared here so they can be members.
    struct Connection;
    struct ReaderRegistry;
    class Writer;
    struct WriteJob
    {
        // Runs on the writer thread inside the job's own savepoint; false rolls it back.
        std::function<bool(Writer &)> apply;
        // Only appends messages: its forward-only row updates may be put off
        // to the end of the batch (see Writer::flushDeferred).
        bool appendOnly = false;
        // Runs once the batch has ended; `failure` is set when the batch did not
        // commit. Adds the job's completion to `completions`.
        std::function<void(const std::optional<Error> &failure,
                           CompletionRelay::Batch &completions)>
            deliver;
    };

private:
    template<class T, class Body>
    void submit(QObject *context, Completion<T> done, Body body, bool appendOnly = false);
    void enqueue(WriteJob job);
    void writerMain(std::promise<Status> *started);
    void checkpointerMain(std::promise<bool> *started);
    void stopCheckpointer();
    [[nodiscard]] Result<Connection *> readConnection();
    [[nodiscard]] Status startFlusher(sqlite3 *db);
    void flusherMain();
    void stopFlusher();
    // Answers a finished batch: at once, or once the flusher has synced it.
    void finishBatch(std::deque<WriteJob> jobs, std::optional<Error> failure);
    static void deliverBatch(std::deque<WriteJob> jobs, const std::optional<Error> &failure);
    [[nodiscard]] bool takeMoreWhileSyncing(std::deque<WriteJob> &batch);
    [[nodiscard]] bool waitUntilDurable();
    [[nodiscard]] static Error brokenLogError();
    void closeReadConnections();

    const QString m_path;
    const Options m_options;

    std::atomic<bool> m_open{false};
    std::atomic<int> m_schemaVersion{0};

    // Shared with each reading thread's exit hook, which closes that thread's
    // connection on the thread itself (pool threads come and go).
    std::shared_ptr<ReaderRegistry> m_readers;

    std::mutex m_queueMutex;
    std::condition_variable m_queueReady;
    std::deque<WriteJob> m_queue;
    bool m_stopping = false;
    std::thread m_writerThread;

    // The checkpointer copies WAL frames into the database beside the writer
    // (see Writer::maybeCheckpoint). State: Idle, Requested (or running),
    // Copied (the writer finishes what was appended meanwhile).
    enum class Checkpoint { Idle, Requested, Copied };
    std::thread m_checkpointThread;
    std::mutex m_checkpointMutex;
    std::condition_variable m_checkpointWake;
    Checkpoint m_checkpoint = Checkpoint::Idle; // guarded by m_checkpointMutex
    bool m_checkpointStopping = false;          // guarded by m_checkpointMutex
    // Frames of the log now in the database and synced there, as the last
    // copy left it (0 once the log starts over); guarded by m_checkpointMutex.
    int m_copiedFrames = 0;
    std::atomic<bool> m_checkpointerRunning{false};
    std::atomic<quint64> m_backgroundCheckpoints{0};
    std::atomic<quint64> m_backgroundSyncs{0};

    // The flusher (Synchronous::Full). COMMIT only writes the log (the
    // connection runs with synchronous = NORMAL); this thread makes it durable
    // with one sync for every batch committed since its last one, and
    // only then sends those batches' completions, while the writer goes on
    // with the next batch. Batches are numbered before their COMMIT, so a
    // read that may have seen one knows which number to wait for: reads that
    // answer clients wait until what they saw is durable (waitUntilDurable),
    // so no one is shown a seq that a power cut could take back and hand to
    // another message.
    struct Flush
    {
        quint64 upTo = 0; // batches numbered up to this one have committed (or failed)
        std::deque<WriteJob> jobs;
        std::optional<Error> failure; // the batch did not commit
    };
    std::thread m_flushThread;
    std::mutex m_flushMutex;
    std::condition_variable m_flushWake;   // the flusher: work or stop
    std::condition_variable m_durableWake; // readers: m_durableBatches moved
    std::deque<Flush> m_flushQueue;        // guarded by m_flushMutex
    bool m_flushStopping = false;          // guarded by m_flushMutex
    sqlite3_file *m_log = nullptr;         // the writer connection's log (SQLite's handle)
    std::atomic<bool> m_flusherRunning{false};
    // Set when a batch is handed on, cleared when the flusher has synced
    // and answered everything handed to it.
    std::atomic<bool> m_flushBusy{false};
    // A sync failed: nothing more is acknowledged or read until a restart.
    std::atomic<bool> m_logBroken{false};
    std::atomic<quint64> m_visibleBatches{0};
    std::atomic<quint64> m_durableBatches{0};
    std::atomic<quint64> m_logFlushes{0};

    std::atomic<quint64> m_commits{0};
    std::atomic<quint64> m_writesCommitted{0};
    std::atomic<quint64> m_maxBatch{0};
    std::atomic<quint64> m_messagesStored{0};
};

} // namespace kith::server
