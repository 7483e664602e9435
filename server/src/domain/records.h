#pragma once
// The records kithd's storage hands to the services: users, devices, members,
// conversation views and the results of writes. Every Store backend returns
// these; the services and the domain rules read them.

#include "kith/v1/envelope.pb.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <limits>

namespace kith::server {

// The largest seq a store holds (its integers are signed 64-bit). Seqs come
// as uint64 from the wire: where they enter, larger ones are clamped to this.
inline constexpr quint64 kMaxSeq = quint64(std::numeric_limits<qint64>::max());

// Groups larger than this do not broadcast their members' presence (see
// Store::contactsOf); their members see it in the member list.
inline constexpr int kPresenceGroupLimit = 256;

struct UserRecord
{
    quint64 id = 0;
    QString username; // normalised (lower case)
    QString displayName;
    QByteArray passwordHash; // libsodium crypto_pwhash_str output
    bool disabled = false;
    qint64 createdMs = 0;
    bool hidden = false;     // left out of the directory (search) by the admin
    QString avatarFileId;    // the picture (a finished file of the user's); empty: none
    quint32 avatarColor = 0; // 0: derived from the id; else the palette entry n - 1
};

// Where a page of the directory starts: after this user in the search's
// order (names that start with the query first, then by user name).
struct DirectoryCursor
{
    bool prefix = false; // the user's name started with the query
    QString username;
};

struct DirectoryPage
{
    QList<UserRecord> users;
    QList<bool> prefix; // per user: its name starts with the query
    bool hasMore = false;
};

struct DeviceRecord
{
    quint64 id = 0;
    quint64 userId = 0;
    QString name;
    qint64 createdMs = 0;
    qint64 lastSeenMs = 0;
    bool revoked = false;
};

struct MemberRecord
{
    quint64 userId = 0;
    v1::Role role = v1::MEMBER; // MEMBER for both sides of a direct chat
    qint64 joinedMs = 0;
};

// What one user sees of one conversation (the store fills every field of the
// protocol's ConversationState except presence-derived ones).
using ConversationView = v1::ConversationState;

struct AppendResult
{
    v1::Message message;    // as stored (the original one for a duplicate)
    bool duplicate = false; // (sender, client_msg_id) was already stored
    // Who was a member when it committed (the sender included): the push goes
    // to them with no second trip to the store. Empty for a duplicate.
    QList<quint64> recipients;
};

// A group change: the new state and the system message it added to the stream.
struct GroupChange
{
    v1::ConversationState state; // as the acting user sees it
    v1::Message event;           // the SystemEvent message (seq assigned)
    QList<quint64> memberIds;    // members after the change
    QList<MemberRecord> members; // the same, with roles, in order of standing
    QList<quint64> removedIds;   // who lost access (removed / left)
    QList<quint64> addedIds;     // who gained access (createGroup: everyone, creator included)
};

// One user's change of their own chat state (checked by the caller but for
// membership and the hidden seq, which the store checks in its transaction).
struct ChatStateWrite
{
    QString conversationId;
    quint64 userId = 0;
    v1::SetChatStateRequest::ChangeCase change = v1::SetChatStateRequest::CHANGE_NOT_SET;
    qint64 mutedUntilMs = 0;
    bool archived = false;
    quint64 hideSeq = 0;
};

// The rows of one user's chat state changed after some version, oldest change first.
struct ChatStatePage
{
    QList<v1::ChatState> states;
    bool hasMore = false;
};

struct PullPage
{
    QList<v1::Message> messages; // in the requested order
    quint64 maxSeq = 0;
    bool hasMore = false;
};

// A file as the store keeps it: an upload while its bytes arrive, then, once
// they are verified and stored (complete), something messages may refer to.
// Its bytes live in the BlobStore under their SHA-256, stored once however
// many files hold them.
struct FileRecord
{
    QString id; // random (not guessable); the upload's id and then the file's
    quint64 uploaderId = 0;
    quint64 size = 0;
    QByteArray sha256;
    QString mimeType; // the uploader's word
    bool complete = false;
    qint64 createdMs = 0;
    qint64 expiresMs = 0; // an unfinished upload is dropped from then on
    qint64 completedMs = 0;
};

// A new upload, with the limits the store checks atomically with its insert.
struct NewUpload
{
    QString id; // a new random id (kith::newFileId)
    quint64 uploaderId = 0;
    quint64 size = 0;
    QByteArray sha256;
    QString mimeType;
    qint64 nowMs = 0;
    qint64 expiresMs = 0;
    quint64 quotaBytes = 0; // the uploader's storage; 0: no quota
    int maxUnfinished = 0;  // the uploader's uploads under way at once; 0: no limit
};

struct UploadGrant
{
    // The new upload; or, for the same size and checksum, the uploader's
    // upload already under way or their finished file.
    FileRecord file;
    bool existing = false;
    quint64 usedBytes = 0; // the uploader's storage in use, this upload included
};

// What one sweep of the files removed.
struct FileSweep
{
    QList<QString> expiredUploads; // unfinished uploads past their time: remove their bytes
    QList<QString> unsentFiles;    // finished files no message referred to in time
    QList<QByteArray> blobs;       // SHA-256 of bytes no file refers to any more
};

struct ReadResult
{
    quint64 readSeq = 0;     // after the update (never moves back)
    quint64 unreadCount = 0; // for the reader
    bool moved = false;      // false when the marker was already there or beyond
};

} // namespace kith::server
