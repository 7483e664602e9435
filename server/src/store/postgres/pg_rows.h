#pragma once
// Row mapping and the reads that the PostgreSQL store's readers and its
// writer share: what a column list means as a record, a view or a message.

#include "pg_connection.h"
#include "store.h"

#include <QList>
#include <QString>

#include <optional>

namespace kith::server::pg {

// Column lists, in the order the *FromRow functions read them (constants,
// so that statements built at static initialisation can use them).
inline constexpr QLatin1StringView kUserColumns{
    "id, username, display_name, password_hash, disabled, created_ms, hidden,"
    " COALESCE(avatar_file_id, ''), avatar_color"};
constexpr int kUserColumnCount = 9;
inline constexpr QLatin1StringView kDeviceColumns{
    "id, user_id, name, created_ms, last_seen_ms, revoked"};
inline constexpr QLatin1StringView kFileColumns{
    "id, uploader_id, size, sha256, mime_type, complete, created_ms, expires_ms, completed_ms"};
inline constexpr QLatin1StringView kMessageColumns{
    "conversation_id, seq, server_id, sender_user_id, sender_device_id, client_msg_id, "
    "server_time_ms, content"};
// One user's view of conversations: c = the conversation, m = the viewer's
// membership (NULL when not a member), p = the peer of a direct chat, lm = the
// last message. A query goes on with "FROM ..." joining those names.
static_assert(v1::DIRECT == 1, "the view joins spell DIRECT as 1");
inline constexpr QLatin1StringView kViewSelect{
    "SELECT c.id, c.kind, c.title, c.max_seq, c.metadata_version, c.last_activity_ms,"
    " m.user_id, m.role, m.read_seq, p.user_id, p.read_seq,"
    " (SELECT COUNT(*) FROM members mc WHERE mc.conversation_id = c.id),"
    " lm.conversation_id, lm.seq, lm.server_id, lm.sender_user_id, lm.sender_device_id,"
    " lm.client_msg_id, lm.server_time_ms, lm.content,"
    " COALESCE(c.avatar_file_id, ''), c.avatar_color "};

[[nodiscard]] QString displayKey(const QString &displayName);

[[nodiscard]] UserRecord userFromRow(const Rows &r);
[[nodiscard]] DeviceRecord deviceFromRow(const Rows &r);
[[nodiscard]] v1::Message messageFromRow(const Rows &r, int first);
[[nodiscard]] FileRecord fileFromRow(const Rows &r);
// Reads the columns of kViewSelect; `isMember` tells whether m matched.
[[nodiscard]] ConversationView viewFromRow(const Rows &r, bool *isMember);

[[nodiscard]] Error notFound(const QString &what);
[[nodiscard]] Error invalid(const QString &what);

[[nodiscard]] Result<UserRecord> loadUser(PgConnection &c, quint64 id);
// requireMember: NOT_FOUND unless the user is a member (what a reader may
// see); otherwise also the view of someone who just left.
[[nodiscard]] Result<ConversationView> loadView(PgConnection &c, const QString &conversationId,
                                                quint64 userId, bool requireMember);

struct MemberRow
{
    MemberRecord record;
    quint64 joinedSeq = 0;
};
// Members in order of standing: earliest event first, then user id.
[[nodiscard]] Result<QList<MemberRow>> loadMembers(PgConnection &c, const QString &conversationId);
[[nodiscard]] Result<std::optional<FileRecord>> loadFile(PgConnection &c, const QString &fileId);
[[nodiscard]] Result<std::optional<v1::Message>>
loadMessageByClientId(PgConnection &c, quint64 senderUserId, const std::string &clientMsgId);

} // namespace kith::server::pg
