#pragma once
// The SQLite backend's writer: the one write connection, group commit with
// per-job savepoints when needed, the in-memory counters and the checkpoints
// between batches. Lives on the writer thread. Internal to kithd_store_sqlite.

#include "sqlite_rows.h"

#include "kith/conversation_id.h"

#include <QHash>

#include <deque>
#include <optional>
#include <vector>

namespace kith::server {

namespace sqlite {
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
    std::optional<v1::Content> op; // an edit, delete or reaction (decoded)
    OpWindows opWindows;
    // A file's message: the file it carries (empty id otherwise).
    QString fileId;
    quint64 fileSize = 0;
    QByteArray fileSha256;
};
} // namespace sqlite

// Owns the write connection and the in-memory counters (max seq per
// conversation, next server id, next group id) so appends need no extra reads.
// Lives on the writer thread only.
class SqliteStore::Writer
{
public:
    Writer(SqliteStore &store, std::unique_ptr<sqlite::Connection> connection)
        : m_store(store)
        , m_c(std::move(connection))
    {}

    [[nodiscard]] Status loadState();
    void runBatch(std::deque<WriteJob> &batch);

    // Job bodies: run inside a transaction and the job's savepoint.
    Result<UserRecord> createUser(const QString &username, const QString &displayName,
                                  const QByteArray &passwordHash);
    Result<UserRecord> setDisplayName(quint64 userId, const QString &displayName);
    Result<UserRecord> setAvatar(quint64 userId, const QString &fileId, quint32 color);
    Status setPasswordHash(quint64 userId, const QByteArray &passwordHash);
    Result<bool> replacePasswordHash(quint64 userId, const QByteArray &expected,
                                     const QByteArray &passwordHash);
    Status setDisabled(quint64 userId, bool disabled);
    Status setHidden(quint64 userId, bool hidden);
    Result<DeviceRecord> createDevice(quint64 userId, const QString &name,
                                      const QByteArray &tokenHash);
    Status revokeDevice(quint64 userId, quint64 deviceId);
    Status touchDevice(quint64 deviceId, qint64 lastSeenMs);
    Result<AppendResult> appendMessage(const sqlite::EncodedAppend &request);
    Result<ReadResult> markRead(const QString &conversationId, quint64 userId, quint64 seq);
    Result<v1::ChatState> setChatState(const ChatStateWrite &write);
    Result<v1::ChatState> setBlocked(quint64 userId, quint64 otherId, bool blocked);
    // Takes the next value of the user's chat state counter.
    Result<quint64> nextChatStateVersion(quint64 userId);
    Result<GroupChange> createGroup(quint64 ownerId, const QString &name,
                                    const QList<quint64> &memberIds);
    Result<GroupChange> addMembers(const QString &conversationId, quint64 actorId,
                                   const QList<quint64> &userIds);
    Result<GroupChange> removeMember(const QString &conversationId, quint64 actorId,
                                     quint64 userId);
    Result<GroupChange> leaveGroup(const QString &conversationId, quint64 userId);
    Result<GroupChange> renameGroup(const QString &conversationId, quint64 actorId,
                                    const QString &name);
    Result<GroupChange> setGroupAvatar(const QString &conversationId, quint64 actorId,
                                       const QString &fileId, quint32 color);
    Result<UploadGrant> createUpload(const NewUpload &upload);
    Result<FileRecord> completeUpload(const QString &fileId, qint64 nowMs);
    Status dropUpload(const QString &fileId, quint64 userId);
    Result<FileSweep> sweepFiles(qint64 nowMs, qint64 unsentGraceMs, int limit);

private:
    [[nodiscard]] std::optional<Error> runTransaction(std::deque<WriteJob> &batch, bool savepoints,
                                                      bool *retry);
    [[nodiscard]] bool execControl(const QString &sql);
    [[nodiscard]] Status refreshIfChangedElsewhere();
    void setMaxSeq(const QString &conversationId, quint64 seq);
    [[nodiscard]] Result<QList<quint64>> recipientsOf(const QString &conversationId,
                                                      const ConversationRef &ref);
    void forgetRecipients(const QString &conversationId) { m_recipients.remove(conversationId); }
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
    Result<AppendResult> appendOperation(const sqlite::EncodedAppend &request,
                                         const ConversationRef &ref);
    Status clearEditTexts(const QString &conversationId, quint64 targetSeq, quint64 beforeSeq);
    void scrubDeletedContent();
    Result<v1::Message> appendSystemEvent(const QString &conversationId, quint64 actorId,
                                          v1::SystemEvent event);
    Status createDirect(const QString &conversationId, const ConversationRef &ref, qint64 now);
    Status insertMember(const QString &conversationId, quint64 userId, v1::Role role, qint64 now,
                        quint64 joinedSeq, quint64 readSeq);
    Status checkUsersExist(const QList<quint64> &userIds);
    // INVALID_ARGUMENT unless the append's file is a finished file of its sender
    // of that size and checksum.
    Status checkAttachedFile(const sqlite::EncodedAppend &request);
    // The group and the actor's row; NOT_FOUND when either is missing.
    Result<QList<sqlite::MemberRow>> groupMembers(const QString &conversationId, quint64 actorId,
                                                  v1::Role *actorRole);
    Result<GroupChange> finishChange(const QString &conversationId, quint64 actorId,
                                     v1::Message event, QList<quint64> added,
                                     QList<quint64> removed);

    SqliteStore &m_store;
    std::unique_ptr<sqlite::Connection> m_c;

    QHash<QString, quint64> m_maxSeq; // every conversation that exists
    // Members of the conversations appended to lately, read in the writer's
    // transaction when first needed and forgotten when a group changes, so an
    // append hands back its recipients without a read per message.
    QHash<QString, QList<quint64>> m_recipients;
    quint64 m_nextServerId = 1;
    quint64 m_nextGroupId = 1;
    qint64 m_dataVersion = -1;
    bool m_stateStale = true; // the counters above need loading (see loadState)

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
    // A committed batch deleted content: the log still holds old page images.
    bool m_batchDeleted = false;
    // A committed deletion whose text may still be in the log.
    bool m_scrubPending = false;
};

} // namespace kith::server
