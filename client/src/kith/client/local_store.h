#pragma once
// LocalStore: the client's on-disk cache of one (server, account) — one SQLite
// file with conversations, messages keyed by (conversation, seq), the seq
// ranges held, the outbox, drafts, users and sync state. Owned by KithClient;
// the sync engine, the outbox and the models read and write through it and
// follow its change signals.

#include "kith/result.h"
#include "kith/v1/envelope.pb.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QString>
#include <QTimer>
#include <QUrl>

#include <optional>
#include <unordered_map>

namespace kith::client {

struct SeqRange
{
    quint64 first = 0;
    quint64 last = 0;
    friend bool operator==(const SeqRange &, const SeqRange &) = default;
};

struct StoredMessage
{
    QString conversationId;
    quint64 seq = 0;
    quint64 serverId = 0;
    quint64 senderUserId = 0;
    quint64 senderDeviceId = 0;
    QString clientMsgId;
    qint64 serverTimeMs = 0;
    v1::Content content;
    bool hidden = false; // deleted for me: kept without its content, shown nowhere

    [[nodiscard]] QString text() const;
};

struct ConversationRow
{
    QString id;
    v1::ConversationKind kind = v1::DIRECT;
    QString title;
    quint64 peerUserId = 0;
    quint64 maxSeq = 0; // the newest seq the server has told us about
    quint64 readSeq = 0;
    quint64 unreadCount = 0;
    quint64 metadataVersion = 0;
    qint64 lastActivityMs = 0;
    QString lastPreview;
    quint64 lastSenderUserId = 0;
    quint64 peerReadSeq = 0;
    v1::Role myRole = v1::ROLE_UNSPECIFIED;
    quint32 memberCount = 0;
    QString avatarFileId;    // groups: the picture (empty: none)
    quint32 avatarColor = 0; // groups: 0 derived from the id; else palette entry n - 1
    // This user's own settings (chat state), synced across their devices.
    qint64 mutedUntilMs = 0; // 0: not muted; -1: until unmuted; else until then
    bool archived = false;
    // Messages from others after the read marker that mention this user, as
    // they are now (an edit may add or drop a mention; a deleted or hidden
    // message mentions nobody), counted from the messages held.
    quint64 unreadMentions = 0;

    [[nodiscard]] bool isMutedAt(qint64 nowMs) const
    {
        return mutedUntilMs == -1 || mutedUntilMs > nowMs;
    }
};

enum class OutboxStatus { Pending = 0, Failed = 1 };

struct OutboxEntry
{
    qint64 id = 0;
    QString conversationId;
    QString clientMsgId;
    v1::Content content;
    qint64 createdMs = 0;
    OutboxStatus status = OutboxStatus::Pending;
    int attempts = 0;
    QString lastError;
};

struct OutboxSummary
{
    int pending = 0;
    int failed = 0;
    std::optional<OutboxEntry> newest; // by creation time
};

// A file to send or to fetch, kept until it is done so that it resumes
// after a restart (see TransferQueue).
enum class TransferKind { Upload = 0, Download = 1 };
enum class TransferState { Queued = 0, Paused = 1, Failed = 2 };

struct TransferEntry
{
    qint64 id = 0;
    TransferKind kind = TransferKind::Upload;
    QString conversationId; // an upload's message goes there
    QString path;           // the file sent, or where a download goes
    v1::FileRef file;       // a download's; an upload's caption and what is known of it
    TransferState state = TransferState::Queued;
    QString lastError;
    qint64 createdMs = 0;
};

struct UserRow
{
    quint64 id = 0;
    QString username;
    QString displayName;
    bool online = false;
    qint64 lastSeenMs = 0;
    QString avatarFileId;    // empty: no picture
    quint32 avatarColor = 0; // 0: derived from the id; else palette entry n - 1

    [[nodiscard]] QString shownName() const
    {
        return displayName.isEmpty() ? username : displayName;
    }
};

struct MemberRow
{
    quint64 userId = 0;
    v1::Role role = v1::MEMBER;
    qint64 joinedMs = 0;
};

class LocalStore : public QObject
{
    Q_OBJECT
public:
    // Keys of the sync_state table.
    static constexpr auto kKeyServerUrl = "server_url";
    static constexpr auto kKeyUsername = "username";
    static constexpr auto kKeyUserId = "user_id";
    static constexpr auto kKeyDeviceId = "device_id";
    // SHA-256 (hex) of the self-signed certificate trusted for this server.
    static constexpr auto kKeyPinnedFingerprint = "pinned_fingerprint";
    // Read only to move a token of an earlier version into the TokenVault.
    static constexpr auto kKeyLegacyToken = "token";
    // The highest chat state version held with every change up to it.
    static constexpr auto kKeyChatStateVersion = "chat_state_version";

    explicit LocalStore(QObject *parent = nullptr);
    ~LocalStore() override;

    // <AppDataLocation>/accounts/<host>_<port>/<username>.sqlite, so
    // XDG_DATA_HOME (or another base folder) moves every account's cache.
    [[nodiscard]] static QString defaultPath(const QUrl &server, const QString &username,
                                             const QString &baseDir = {});

    // Opens (creating it if needed) and migrates the file to the current schema.
    [[nodiscard]] Status open(const QString &path);
    void close();
    [[nodiscard]] bool isOpen() const { return m_db.isOpen(); }
    [[nodiscard]] QString path() const { return m_path; }
    [[nodiscard]] int schemaVersion();
    static constexpr int kSchemaVersion = 7;

    // Why the file cannot be written right now (a full disk, a read-only or
    // failing one), as a sentence for the user; empty while writes work. Set
    // by a write that fails for such a reason, cleared by the next one that
    // works; meanwhile a small write is tried every kStorageProbeMs.
    [[nodiscard]] QString storageError() const { return m_storageError; }
    // Tries that small write now.
    Status probeStorage();
    static constexpr int kStorageProbeMs = 5'000;

    // sync_state
    [[nodiscard]] QString value(const QString &key);
    [[nodiscard]] Status setValue(const QString &key, const QString &value);
    [[nodiscard]] Status removeValue(const QString &key);
    [[nodiscard]] quint64 myUserId();

    // Conversations.
    [[nodiscard]] Status applyConversationState(const v1::ConversationState &state);
    [[nodiscard]] Status ensureConversation(const QString &conversationId);
    [[nodiscard]] Status removeConversation(const QString &conversationId);
    [[nodiscard]] std::optional<ConversationRow> conversation(const QString &conversationId);
    [[nodiscard]] QList<ConversationRow> conversations();
    [[nodiscard]] QStringList conversationIds();
    // What this device holds, for sync: max_seq is the end of the stored run
    // that starts at seq 1, so a cursor is never ahead of what is on disk.
    [[nodiscard]] QList<v1::ConversationCursor> cursors();
    [[nodiscard]] Status setReadSeq(const QString &conversationId, quint64 readSeq,
                                    std::optional<quint64> unreadCount = std::nullopt);
    [[nodiscard]] Status setPeerReadSeq(const QString &conversationId, quint64 seq);
    // A group's name or avatar as a pushed event says (the newest one: the
    // state the next sync brings says the same).
    [[nodiscard]] Status applyGroupEvent(const QString &conversationId,
                                         const v1::SystemEvent &event);
    // The server says the conversation ends at maxSeq (clamps a stale higher value).
    [[nodiscard]] Status setServerMaxSeq(const QString &conversationId, quint64 maxSeq);

    // Messages: a page and the seq range it covers are stored in one
    // transaction, so a crash never leaves a range claimed but not stored.
    // Own messages that match an outbox entry remove that entry.
    [[nodiscard]] Status storeMessages(const QString &conversationId,
                                       const QList<v1::Message> &messages, SeqRange covered);
    // The outbox entry clientMsgId was acked: it becomes message ack.seq.
    [[nodiscard]] Status acknowledge(const QString &clientMsgId, const v1::SendAck &ack);
    [[nodiscard]] std::optional<StoredMessage> message(const QString &conversationId, quint64 seq);
    // Views, counts and search leave out operations (edit, delete, reaction):
    // storeMessages folds them into their targets, whichever comes first.
    // Up to limit messages with seq < beforeSeq (0: from the newest), oldest first.
    [[nodiscard]] QList<StoredMessage> messagesBefore(const QString &conversationId,
                                                      quint64 beforeSeq, int limit);
    // Up to limit messages with seq > afterSeq, oldest first.
    [[nodiscard]] QList<StoredMessage> messagesAfter(const QString &conversationId,
                                                     quint64 afterSeq, int limit);
    [[nodiscard]] qint64 messageCount(const QString &conversationId);
    [[nodiscard]] quint64 maxStoredSeq(const QString &conversationId);
    // Full-text search over message text (each word a prefix), newest first;
    // in one conversation when conversationId is given.
    [[nodiscard]] QList<StoredMessage> search(const QString &query, int limit = 50,
                                              const QString &conversationId = {});
    // The pinned messages of a conversation that are held, the newest pin first.
    [[nodiscard]] QList<StoredMessage> pinnedMessages(const QString &conversationId);

    // Chat state: this user's own mute, archive, hidden messages and blocks. A hidden
    // message (delete for me) loses its content from the store and the search
    // index at once (the row stays, so its seq stays held), and is left out of views, counts and
    // search; one hidden before it is held loses it as it arrives.
    [[nodiscard]] Status applyChatState(const v1::ChatState &state);
    [[nodiscard]] bool isHidden(const QString &conversationId, quint64 seq);
    // The users this account blocks (a block row of the chat state).
    [[nodiscard]] bool isBlocked(quint64 userId);
    [[nodiscard]] QList<quint64> blockedUsers();
    [[nodiscard]] quint64 chatStateVersion();
    [[nodiscard]] Status setChatStateVersion(quint64 version);

    // Seq ranges.
    [[nodiscard]] QList<SeqRange> heldRanges(const QString &conversationId);
    // Seqs 1..maxSeq that are not held, oldest first.
    [[nodiscard]] QList<SeqRange> missingRanges(const QString &conversationId);

    // Outbox, oldest first per conversation.
    [[nodiscard]] Result<OutboxEntry> enqueue(const QString &conversationId,
                                              const v1::Content &content);
    [[nodiscard]] QList<OutboxEntry> outbox(const QString &conversationId = {});
    [[nodiscard]] std::optional<OutboxEntry> outboxEntry(const QString &clientMsgId);
    // The oldest pending entry of a conversation: what goes out next. One
    // indexed row, so sending n queued messages is linear, not quadratic.
    [[nodiscard]] std::optional<OutboxEntry> outboxHead(const QString &conversationId);
    [[nodiscard]] bool hasPendingOutbox();
    [[nodiscard]] QStringList conversationsWithPendingOutbox();
    // Pending and failed messages (not ops) of a conversation, and the newest.
    [[nodiscard]] OutboxSummary outboxSummary(const QString &conversationId);
    // Outbox rows read so far (for tests: sending n queued messages must read O(n)).
    [[nodiscard]] quint64 outboxRowsRead() const { return m_outboxRowsRead; }
    [[nodiscard]] Status setOutboxStatus(const QString &clientMsgId, OutboxStatus status,
                                         const QString &error = {});
    [[nodiscard]] Status noteOutboxAttempt(const QString &clientMsgId);
    [[nodiscard]] Status removeOutboxEntry(const QString &clientMsgId);

    // Transfers, oldest first.
    [[nodiscard]] Result<qint64> addTransfer(const TransferEntry &entry);
    [[nodiscard]] QList<TransferEntry> transfers();
    [[nodiscard]] std::optional<TransferEntry> transfer(qint64 id);
    [[nodiscard]] Status setTransferState(qint64 id, TransferState state,
                                          const QString &error = {});
    [[nodiscard]] Status removeTransfer(qint64 id);
    // An upload done: its message goes to the outbox and the transfer goes,
    // in one transaction (a crash between the two would send it twice).
    [[nodiscard]] Result<OutboxEntry> finishUploadTransfer(qint64 id, const v1::Content &content);

    // Drafts.
    [[nodiscard]] QString draft(const QString &conversationId);
    [[nodiscard]] Status setDraft(const QString &conversationId, const QString &text);

    // Users and group members.
    [[nodiscard]] Status upsertUser(const v1::User &user);
    [[nodiscard]] Status setPresence(quint64 userId, bool online, qint64 lastSeenMs);
    [[nodiscard]] std::optional<UserRow> user(quint64 userId);
    // People this account knows of (direct peers, group members, search
    // results), the most recent direct chat first, then by name; not itself.
    [[nodiscard]] QList<UserRow> knownUsers(int limit);
    [[nodiscard]] Status replaceMembers(const QString &conversationId,
                                        const QList<v1::Member> &members);
    [[nodiscard]] QList<MemberRow> members(const QString &conversationId);

signals:
    // The file was opened or closed: everything read before is stale.
    void reset();
    void conversationChanged(const QString &conversationId);
    void transfersChanged();
    void conversationRemoved(const QString &conversationId);
    // Seqs newly stored (or replaced), ascending.
    void messagesStored(const QString &conversationId, const QList<quint64> &seqs);
    void outboxChanged(const QString &conversationId);
    void userChanged(quint64 userId);
    void membersChanged(const QString &conversationId);
    void storageErrorChanged();

private:
    [[nodiscard]] QSqlQuery &prepared(const char *sql);
    [[nodiscard]] Status exec(QSqlQuery &query);
    // Runs a bound statement on one outbox entry (NOT_FOUND when there is none) and
    // tells the views of its conversation.
    [[nodiscard]] Status changeOutboxEntry(const QString &clientMsgId, QSqlQuery &statement);
    [[nodiscard]] Status migrate();
    [[nodiscard]] Status beginTransaction();
    [[nodiscard]] Status commit();
    void rollback();
    [[nodiscard]] Status insertMessage(const QString &conversationId, const v1::Message &message);
    // Applies the held ops of targetSeq that it does not reflect yet; true
    // when it changed (false also when the target is not held).
    [[nodiscard]] Result<bool> foldInto(const QString &conversationId, quint64 targetSeq);
    // Clears the content of the held messages in range that are hidden for
    // this user; true when one was cleared.
    [[nodiscard]] Result<bool> hideHeld(const QString &conversationId, SeqRange range);
    // When the newest entry held is hidden or an operation (edit, deletion,
    // reaction, pin): the preview becomes the newest visible message's, as it
    // now is.
    [[nodiscard]] Status previewWithoutOps(const QString &conversationId);
    // After a deletion: merges the search index and clears the log.
    void scrubDeleted();
    [[nodiscard]] Status addRange(const QString &conversationId, SeqRange range);
    [[nodiscard]] Status raiseMaxSeq(const QString &conversationId, const v1::Message &newest);
    [[nodiscard]] Status recomputeUnread(const QString &conversationId);
    [[nodiscard]] Status ensureConversationRow(const QString &conversationId);
    [[nodiscard]] StoredMessage readMessage(const QSqlQuery &query) const;
    [[nodiscard]] QList<SeqRange> rangesInTransaction(const QString &conversationId);
    void noteFailure(const QSqlError &error);
    void noteWriteWorked();

    QSqlDatabase m_db;
    QString m_connectionName;
    QString m_path;
    // Prepared once per connection; std::unordered_map keeps references stable.
    std::unordered_map<const char *, QSqlQuery> m_statements;
    quint64 m_myUserId = 0;
    bool m_inTransaction = false;    // a write inside one proves nothing until COMMIT
    bool m_transactionWrote = false; // ... and a COMMIT only if something in it changed rows
    QString m_storageError;
    QTimer m_storageProbe;
    bool m_scrubPending = false; // a deletion was folded: scrub after the commit
    quint64 m_outboxRowsRead = 0;
};

} // namespace kith::client
