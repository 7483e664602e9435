#pragma once
// PostgresStore: the PostgreSQL backend of the Store interface, for several
// kithd nodes sharing one database. Reads lease a connection from a bounded
// pool; writes go to one writer thread per store (per node) that commits
// them in batches (see PgWriter). Seqs come from UPDATE ... RETURNING on the
// conversation's row inside the append's transaction, so they stay
// contiguous whichever nodes write; a unique (sender, client_msg_id) index
// makes a resend return the original. Owned by the Server (or an admin
// command) for the process lifetime.

#include "completion_relay.h"
#include "pg_writer.h"
#include "store.h"

#include <QByteArray>
#include <QString>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

namespace kith::server {

namespace pg {
class PgPool;
class PgNotifier;
} // namespace pg

class PostgresStore final : public Store
{
public:
    struct Options
    {
        // Read connections at most (the writer and the listener have one each).
        int readConnections = 8;
        // A read waits this long for a busy pool before it fails (UNAVAILABLE).
        int acquireTimeoutMs = 5000;
        // Bounds one transaction so a flood of writes still commits in steps.
        int maxBatch = 1024;
        // Migrate only up to this schema version (0 = the latest), for tests.
        int migrateUpTo = 0;
        // Shown in pg_stat_activity as "kithd <name> ..." (e.g. the node).
        QString name = QStringLiteral("kithd");
    };

    // Whether `location` names a PostgreSQL database (a postgresql:// or
    // postgres:// URL) rather than a file.
    [[nodiscard]] static bool isUrl(const QString &location);
    [[nodiscard]] static int latestSchemaVersion();

    explicit PostgresStore(QString url);
    PostgresStore(QString url, Options options);
    ~PostgresStore() override;

    PostgresStore(const PostgresStore &) = delete;
    PostgresStore &operator=(const PostgresStore &) = delete;

    [[nodiscard]] Status open() override;
    void close() override;
    [[nodiscard]] int schemaVersion() override;

    [[nodiscard]] Result<UserRecord> userById(quint64 id) override;
    [[nodiscard]] Result<UserRecord> userByName(const QString &username) override;
    [[nodiscard]] Result<QList<UserRecord>> searchUsers(const QString &query, int limit) override;
    [[nodiscard]] Result<DirectoryPage>
    searchUsersPage(const QString &query, int limit,
                    const std::optional<DirectoryCursor> &after) override;
    [[nodiscard]] Result<QList<UserRecord>> listUsers() override;
    [[nodiscard]] Result<QList<quint64>> disabledUserIds() override;

    [[nodiscard]] Result<DeviceRecord> deviceByTokenHash(const QByteArray &tokenHash) override;
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
    [[nodiscard]] Result<ChatStatePage> chatStateSince(quint64 userId, quint64 afterVersion,
                                                       int limit) override;
    [[nodiscard]] Result<QList<quint64>> blockersOf(quint64 userId) override;
    [[nodiscard]] Result<std::optional<v1::Message>>
    messageByClientId(quint64 senderUserId, const std::string &clientMsgId) override;
    [[nodiscard]] Result<std::optional<FileRecord>> file(const QString &fileId) override;
    [[nodiscard]] Result<std::optional<FileRecord>> downloadableFile(const QString &fileId,
                                                                     quint64 userId) override;
    [[nodiscard]] Result<bool> blobInUse(const QByteArray &sha256) override;

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

    // `kithd user disable` and the other nodes write the same database; they
    // are heard through LISTEN/NOTIFY on a connection of its own (see Store). Call
    // after open(); close() ends it. Always true.
    [[nodiscard]] bool
    watchDisabledAccounts(QObject *context,
                          std::function<void(quint64 userId)> onDisabled) override;

    // For tests and /metrics: read connections open now and at most so far.
    [[nodiscard]] int openReadConnections() const;
    [[nodiscard]] int peakReadConnections() const;
    // Batches run again after a deadlock or another node's duplicate; times
    // the writer connected again after losing the database.
    [[nodiscard]] quint64 batchRetries() const;
    [[nodiscard]] quint64 writerReconnects() const;
    // Whether the database answers, as the connection listening for disabled
    // accounts sees it (it notices a lost database at once and tries again
    // every second); false before watchDisabledAccounts. For /healthz.
    [[nodiscard]] bool databaseReachable() const;

private:
    // A write that runs statement by statement in its own savepoint.
    template<class T, class Body> void submit(QObject *context, Completion<T> done, Body body);
    // A write made of single statements, sent in the batch's pipeline; `job`
    // holds its lock key and user and its prelude, if any.
    template<class T, class Queue, class Receive>
    void submitPipelined(QObject *context, Completion<T> done, pg::WriteJob job, Queue queue,
                         Receive receive);
    template<class T>
    void finishJob(pg::WriteJob &job, QObject *context, Completion<T> done,
                   std::shared_ptr<std::optional<Result<T>>> outcome);
    void enqueue(pg::WriteJob job);
    void writerMain(std::promise<Status> *started);
    // Runs `read` on a leased read connection.
    template<class T>
    [[nodiscard]] Result<T> read(const std::function<Result<T>(pg::PgConnection &)> &read);

    const QByteArray m_url;
    const Options m_options;

    std::atomic<bool> m_open{false};
    std::atomic<int> m_schemaVersion{0};
    std::unique_ptr<pg::PgPool> m_pool;
    std::unique_ptr<pg::PgNotifier> m_notifier;

    std::mutex m_queueMutex;
    std::condition_variable m_queueReady;
    std::deque<pg::WriteJob> m_queue;
    bool m_stopping = false;
    std::thread m_writerThread;
    pg::WriterStats m_stats;
};

} // namespace kith::server
