#pragma once
// The storage interface of kithd: users, devices, conversations, members,
// messages and read state. One interface, several backends (SQLite now,
// PostgreSQL for scale-out). Owned by the Server; shared by all services.
//
// Threading contract
//  - Reads are synchronous and may be called from any thread; a backend keeps
//    one database connection per calling thread.
//  - Writes are asynchronous. Each runs on the backend's single writer thread;
//    writes that arrive together share one transaction (group commit). The
//    completion runs on `context`'s thread only after that transaction has
//    committed durably, so an ack sent from it is an ack after commit. If
//    `context` is destroyed first, the completion is dropped (the write stays).
//  - Each write is atomic on its own: one failing write (e.g. a unique-key
//    clash) does not roll back the others in its batch.
//  - Writes run in the order they were called. `context` must be alive when
//    the write is called; its thread at that moment is where the completion
//    runs (that thread needs an event loop). A null context or an empty
//    completion means nobody is told. After close(), writes complete at once
//    with SHUTTING_DOWN.
//  - Unread counts: sending (and acting in a group) moves the sender's read
//    marker to the new seq, so max_seq - read_seq counts exactly the others'
//    messages after the marker.

#include "completion.h"
#include "kith/result.h"
#include "message_ops.h"
#include "records.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QString>

#include <functional>
#include <optional>

namespace kith::server {

struct AppendRequest
{
    QString conversationId; // already validated and membership-checked by the caller
    quint64 senderUserId = 0;
    quint64 senderDeviceId = 0;
    std::string clientMsgId;
    v1::Content content; // validated by the caller (reply_to_seq is checked here)
    OpWindows opWindows; // for an operation (edit, delete, reaction)
};

struct PullQuery
{
    QString conversationId;
    bool backward = false;
    // Seqs at most kMaxSeq (the caller clamps what comes from the wire).
    quint64 fromSeq = 0;   // forward: first seq (0 = 1)
    quint64 toSeq = 0;     // forward: last seq (0 = unbounded)
    quint64 beforeSeq = 0; // backward: strictly below (0 = newest)
    quint32 limit = 50;    // already clamped to 1..kMaxPullLimit
};

// A page of one user's conversations, in the byte order of their ids (the
// order a client sorts them in too, stable while conversations change).
struct ConversationPage
{
    std::string after;   // only ids after this one; empty: from the first
    std::string through; // only ids up to this one; empty: to the last
    int limit = 0;       // at most this many; 0: all of them
};

class Store
{
public:
    virtual ~Store() = default;

    // Opens/creates the database and applies pending migrations. Call once, first.
    [[nodiscard]] virtual Status open() = 0;
    // Finishes queued writes (their completions still run), then stops the writer.
    virtual void close() = 0;
    // Schema version after migrations (for tests and /metrics).
    [[nodiscard]] virtual int schemaVersion() = 0;

    // ---- reads (synchronous) -------------------------------------------------
    [[nodiscard]] virtual Result<UserRecord> userById(quint64 id) = 0;
    [[nodiscard]] virtual Result<UserRecord> userByName(const QString &username) = 0;
    // Case-insensitive match on user name or display name; at most `limit`.
    // Disabled and hidden accounts are left out.
    [[nodiscard]] virtual Result<QList<UserRecord>> searchUsers(const QString &query,
                                                                int limit) = 0;
    // The same search a page at a time: up to `limit` users after `after`
    // (from the start without it), in a stable order (names that start with
    // the query first, then by user name); hasMore when more follow. An empty
    // query matches everyone in the directory.
    [[nodiscard]] virtual Result<DirectoryPage>
    searchUsersPage(const QString &query, int limit,
                    const std::optional<DirectoryCursor> &after) = 0;
    [[nodiscard]] virtual Result<QList<UserRecord>> listUsers() = 0;
    // Ids of disabled accounts (the admin may disable one from another process).
    [[nodiscard]] virtual Result<QList<quint64>> disabledUserIds() = 0;

    // The live (not revoked) device whose token hashes to tokenHash; NOT_FOUND otherwise.
    [[nodiscard]] virtual Result<DeviceRecord> deviceByTokenHash(const QByteArray &tokenHash) = 0;
    [[nodiscard]] virtual Result<QList<DeviceRecord>> devicesOfUser(quint64 userId) = 0;

    // nullopt when the user is not a member (direct chats: not one of the pair).
    [[nodiscard]] virtual Result<std::optional<MemberRecord>>
    membership(const QString &conversationId, quint64 userId) = 0;
    [[nodiscard]] virtual Result<QList<MemberRecord>> members(const QString &conversationId) = 0;
    // The conversations the user belongs to that hold at least one message
    // (direct chats exist from their first message), as that user sees them,
    // within `page`, ordered by id (byte order).
    [[nodiscard]] virtual Result<QList<ConversationView>>
    conversationsOf(quint64 userId, const ConversationPage &page) = 0;
    // All of them.
    [[nodiscard]] Result<QList<ConversationView>> conversationsOf(quint64 userId)
    {
        return conversationsOf(userId, ConversationPage{});
    }
    [[nodiscard]] virtual Result<ConversationView> conversation(const QString &conversationId,
                                                                quint64 userId) = 0;
    // Who hears userId's presence: the peers of userId's direct chats and the
    // members of its groups of at most kPresenceGroupLimit members.
    [[nodiscard]] virtual Result<QList<quint64>> contactsOf(quint64 userId) = 0;
    [[nodiscard]] virtual Result<PullPage> pull(const PullQuery &query) = 0;
    // The stored message for (sender, clientMsgId), if any.
    [[nodiscard]] virtual Result<std::optional<v1::Message>>
    messageByClientId(quint64 senderUserId, const std::string &clientMsgId) = 0;

    // The rows of userId's chat state (blocks included) whose version is above
    // afterVersion, in version order, at most `limit` (hasMore when there are more).
    [[nodiscard]] virtual Result<ChatStatePage> chatStateSince(quint64 userId, quint64 afterVersion,
                                                               int limit) = 0;

    // The users who block userId now.
    [[nodiscard]] virtual Result<QList<quint64>> blockersOf(quint64 userId) = 0;

    // Files: an upload or a finished file, by id.
    [[nodiscard]] virtual Result<std::optional<FileRecord>> file(const QString &fileId) = 0;
    // The finished file if `userId` may fetch it: its uploader, a member of
    // a conversation where a message carries it, a member of a group whose
    // picture it is, or anyone when it is some user's picture (avatar) unless
    // `userId` blocks that user; nullopt otherwise, exactly as for a file
    // that does not exist.
    [[nodiscard]] virtual Result<std::optional<FileRecord>> downloadableFile(const QString &fileId,
                                                                             quint64 userId) = 0;
    // Whether a finished file holds these bytes (the blob must stay).
    [[nodiscard]] virtual Result<bool> blobInUse(const QByteArray &sha256) = 0;

    // ---- writes (asynchronous, group-committed) ---------------------------------
    // NAME_TAKEN when the user name exists.
    virtual void createUser(const QString &username, const QString &displayName,
                            const QByteArray &passwordHash, QObject *context,
                            Completion<UserRecord> done) = 0;
    virtual void setDisplayName(quint64 userId, const QString &displayName, QObject *context,
                                Completion<UserRecord> done) = 0;
    // Sets the user's picture (a finished file the user uploaded; empty: none)
    // and colour. NOT_FOUND when the file is not one of the user's finished
    // files (whoever else's it is) or there is no such user. The file a
    // picture replaces is no longer held by it (see sweepFiles).
    virtual void setAvatar(quint64 userId, const QString &fileId, quint32 color, QObject *context,
                           Completion<UserRecord> done) = 0;
    virtual void setPasswordHash(quint64 userId, const QByteArray &passwordHash, QObject *context,
                                 Completion<Done> done) = 0;
    // Replaces the hash only while it is still `expected`, so that a login's
    // upgrade cannot undo a password the admin set meanwhile: true when
    // replaced, false when left alone; NOT_FOUND without the user.
    virtual void replacePasswordHash(quint64 userId, const QByteArray &expected,
                                     const QByteArray &passwordHash, QObject *context,
                                     Completion<bool> done) = 0;
    virtual void setDisabled(quint64 userId, bool disabled, QObject *context,
                             Completion<Done> done) = 0;
    // Hides the account from the directory (search), or shows it again; it
    // is still found by its exact name or id. NOT_FOUND without the user.
    virtual void setHidden(quint64 userId, bool hidden, QObject *context,
                           Completion<Done> done) = 0;

    // tokenHash is stored; the token itself never is.
    virtual void createDevice(quint64 userId, const QString &name, const QByteArray &tokenHash,
                              QObject *context, Completion<DeviceRecord> done) = 0;
    // NOT_FOUND unless the device belongs to userId and is live.
    virtual void revokeDevice(quint64 userId, quint64 deviceId, QObject *context,
                              Completion<Done> done) = 0;
    virtual void touchDevice(quint64 deviceId, qint64 lastSeenMs) = 0; // fire and forget

    // Assigns the next seq of the conversation (contiguous), or returns the
    // original message for a (sender, client_msg_id) already stored. Creates a
    // direct conversation on its first message. INVALID_ARGUMENT when
    // content.reply_to_seq is not an earlier seq of the conversation. A new
    // message comes with its recipients, read in the same transaction.
    // An operation (edit, delete, reaction) is checked and folded into its
    // target in the same transaction, by the rules of domain/message_ops.h:
    // NOT_FOUND (no such message, or not a member: one answer),
    // PERMISSION_DENIED, EDIT_WINDOW_CLOSED, TOO_MANY_REACTIONS. A superseded
    // edit's text and a deleted target's content are gone from storage; the
    // members whose marker was at the end have it moved past the op.
    // A file's message (content.file) must name a finished file of the sender
    // of the same size and checksum (INVALID_ARGUMENT otherwise); the message
    // is then recorded as referring to it, which lets the conversation's
    // members fetch it and keeps it from being collected.
    virtual void appendMessage(AppendRequest request, QObject *context,
                               Completion<AppendResult> done) = 0;
    // Moves the user's read marker forward to min(seq, max seq).
    virtual void markRead(const QString &conversationId, quint64 userId, quint64 seq,
                          QObject *context, Completion<ReadResult> done) = 0;

    // Changes one user's own chat state: the conversation's settings (mute,
    // archive; the other setting is kept) or a hidden message (delete for
    // me). Each change takes the next version of the user's counter, in the
    // order the changes commit, so a device that holds version v has every
    // change up to v. NOT_FOUND when the user is not a member or (hide) the
    // seq is not one of the conversation's: one answer. Answers the row as it
    // now is.
    virtual void setChatState(ChatStateWrite write, QObject *context,
                              Completion<v1::ChatState> done) = 0;
    // userId blocks (or unblocks) otherId: a change of userId's chat state,
    // with the next version, answered as a block row. NOT_FOUND when otherId
    // does not exist. (The caller refuses blocking oneself.)
    virtual void setBlocked(quint64 userId, quint64 otherId, bool blocked, QObject *context,
                            Completion<v1::ChatState> done) = 0;

    // Groups: each change is one transaction that also appends its SystemEvent.
    // Permission checks (roles, the rules of domain/group_rules.h) are done
    // here, atomically with the change:
    // PERMISSION_DENIED / NOT_FOUND / INVALID_ARGUMENT as the protocol says.
    //  - NOT_FOUND: no such group, or the actor is not a member (also for the
    //    target of removeMember); PERMISSION_DENIED: a plain member managing,
    //    or anyone removing the owner; INVALID_ARGUMENT: a bad name, unknown
    //    users, nobody new to add, removing yourself (leave instead).
    //  - New members have the event that added them unread; the actor has read it.
    //  - An owner who leaves hands ownership to the longest-standing admin,
    //    else member; GroupChange::state is then the leaver's view (no role).
    virtual void createGroup(quint64 ownerId, const QString &name, const QList<quint64> &memberIds,
                             QObject *context, Completion<GroupChange> done) = 0;
    virtual void addMembers(const QString &conversationId, quint64 actorId,
                            const QList<quint64> &userIds, QObject *context,
                            Completion<GroupChange> done) = 0;
    virtual void removeMember(const QString &conversationId, quint64 actorId, quint64 userId,
                              QObject *context, Completion<GroupChange> done) = 0;
    virtual void leaveGroup(const QString &conversationId, quint64 userId, QObject *context,
                            Completion<GroupChange> done) = 0;
    virtual void renameGroup(const QString &conversationId, quint64 actorId, const QString &name,
                             QObject *context, Completion<GroupChange> done) = 0;
    // Sets the group's picture (a finished file the actor uploaded; empty:
    // none) and colour, as renameGroup: admins and owners, a SystemEvent
    // GROUP_AVATAR_CHANGED. INVALID_ARGUMENT when the file is not one of the
    // actor's finished files (whoever else's it is). The file a picture
    // replaces is no longer held by it (see sweepFiles).
    virtual void setGroupAvatar(const QString &conversationId, quint64 actorId,
                                const QString &fileId, quint32 color, QObject *context,
                                Completion<GroupChange> done) = 0;

    // Files. createUpload answers, for the same uploader, size and checksum,
    // with the finished file or the upload under way (existing); else it
    // checks the limits and inserts: RATE_LIMITED when maxUnfinished uploads
    // are under way, QUOTA_EXCEEDED when the uploader's files (finished and
    // under way, this one included) would pass quotaBytes.
    virtual void createUpload(NewUpload upload, QObject *context, Completion<UploadGrant> done) = 0;
    // Marks a verified upload finished and its bytes as a blob; NOT_FOUND
    // unless it is an upload under way.
    virtual void completeUpload(const QString &fileId, qint64 nowMs, QObject *context,
                                Completion<FileRecord> done) = 0;
    // Drops an upload under way (not a finished file); NOT_FOUND unless there
    // is one of `userId` (0: anyone's, for the server's own cleanup).
    virtual void dropUpload(const QString &fileId, quint64 userId, QObject *context,
                            Completion<Done> done) = 0;
    // Drops at most `limit` of each: uploads under way past their expiry,
    // finished files that no message refers to, that are no user's or group's
    // picture and that finished before nowMs - unsentGraceMs, and then the
    // blobs no finished file holds.
    virtual void sweepFiles(qint64 nowMs, qint64 unsentGraceMs, int limit, QObject *context,
                            Completion<FileSweep> done) = 0;

    // Tells `onDisabled`, on `context`'s thread, of each account disabled from
    // now on by anyone (an admin command, another node); with 0 when some may
    // have been missed (check them all). False when this store cannot tell:
    // the server then looks for disabled accounts on a beat (SQLite, where
    // `kithd user disable` writes the file from another process).
    [[nodiscard]] virtual bool watchDisabledAccounts(QObject *context,
                                                     std::function<void(quint64 userId)> onDisabled)
    {
        Q_UNUSED(context);
        Q_UNUSED(onDisabled);
        return false;
    }

    // ---- statistics (for /metrics) ----------------------------------------------
    struct Stats
    {
        quint64 commits = 0;         // transactions committed by the writer
        quint64 writesCommitted = 0; // writes in those transactions
        quint64 maxBatch = 0;        // largest batch so far
        quint64 messagesStored = 0;  // new (non-duplicate) messages
    };
    [[nodiscard]] virtual Stats stats() const = 0;
};

} // namespace kith::server
