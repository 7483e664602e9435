#pragma once
// Rows to records: the column lists the SQLite backend selects, the mapping of
// a row onto a record, and the reads shared by the writer and the readers.
// Internal to kithd_store_sqlite.

#include "sqlite_connection.h"

#include <optional>

namespace kith::server::sqlite {

// SQLite integers are signed 64-bit; every id and seq we store fits.
[[nodiscard]] inline qint64 intValue(quint64 v)
{
    return qint64(v);
}

[[nodiscard]] QByteArray serialize(const google::protobuf::MessageLite &message);
[[nodiscard]] Error notFound(const QString &what);
[[nodiscard]] Error invalid(const QString &what);

inline const QString kUserColumns =
    QStringLiteral("id, username, display_name, password_hash, disabled, created_ms, hidden,"
                   " COALESCE(avatar_file_id, ''), avatar_color");
constexpr int kUserColumnCount = 9;
inline const QString kDeviceColumns =
    QStringLiteral("id, user_id, name, created_ms, last_seen_ms, revoked");
inline const QString kFileColumns =
    QStringLiteral("id, uploader_id, size, sha256, mime_type, complete, created_ms, expires_ms, "
                   "completed_ms");
inline const QString kMessageColumns =
    QStringLiteral("conversation_id, seq, server_id, sender_user_id, sender_device_id, "
                   "client_msg_id, server_time_ms, content");

// One user's view of conversations; m = the viewer's membership (may be NULL
// for the single-conversation form), p = the peer of a direct chat (kind 1 is
// v1::DIRECT in the joins below), lm = the last message. The column order is
// what viewFromRow reads.
inline const QString kViewSelect = QStringLiteral(
    "SELECT c.id, c.kind, c.title, c.max_seq, c.metadata_version, c.last_activity_ms,"
    " m.user_id, m.role, m.read_seq, p.user_id, p.read_seq,"
    " (SELECT COUNT(*) FROM members mc WHERE mc.conversation_id = c.id),"
    " lm.conversation_id, lm.seq, lm.server_id, lm.sender_user_id, lm.sender_device_id,"
    " lm.client_msg_id, lm.server_time_ms, lm.content,"
    " COALESCE(c.avatar_file_id, ''), c.avatar_color ");
inline constexpr int kViewLastMessageColumn = 12;
inline constexpr int kViewAvatarColumn = 20; // a group's picture, then its colour
static_assert(v1::DIRECT == 1, "the view joins spell DIRECT as 1");

[[nodiscard]] UserRecord userFromRow(const Stmt &s);
[[nodiscard]] DeviceRecord deviceFromRow(const Stmt &s);
[[nodiscard]] v1::Message messageFromRow(const Stmt &s, int first);
[[nodiscard]] FileRecord fileFromRow(const Stmt &s);
// Reads the view columns of kViewSelect. `isMember` tells whether m matched.
[[nodiscard]] ConversationView viewFromRow(const Stmt &s, bool *isMember);

[[nodiscard]] Result<UserRecord> loadUser(Connection &c, quint64 id);
// requireMember: NOT_FOUND unless the user is a member (what a reader may see);
// otherwise also the view of someone who just left (for GroupChange::state).
[[nodiscard]] Result<ConversationView> loadView(Connection &c, const QString &conversationId,
                                                quint64 userId, bool requireMember);

struct MemberRow
{
    MemberRecord record;
    quint64 joinedSeq = 0;
};

// Members in order of standing: earliest event first, then user id.
[[nodiscard]] Result<QList<MemberRow>> loadMembers(Connection &c, const QString &conversationId);
[[nodiscard]] Result<std::optional<FileRecord>> loadFile(Connection &c, const QString &fileId);
[[nodiscard]] Result<std::optional<v1::Message>>
loadMessageByClientId(Connection &c, quint64 senderUserId, const std::string &clientMsgId);

} // namespace kith::server::sqlite
