#pragma once
// Framing for Kith protocol v1: one kith::v1::Envelope per WebSocket binary
// message. Shared by kithd, libkithclient and the tools.

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <optional>

#include "kith/v1/envelope.pb.h"

namespace kith {

constexpr quint32 kProtocolMajor = 1;
// 1: paged sync (SyncRequest.limit, after_conversation_id, held_through).
// 2: pins, and one user's chat state (mute, archive, delete for me, block).
// 3: mentions (Content.mentions), directory pages (SearchUsersRequest.page_after).
// 4: avatars (User.avatar_file_id, avatar_color; SetAvatarRequest, ProfilePush).
// 5: group avatars (ConversationState.avatar_file_id, avatar_color;
//    SetGroupAvatarRequest, SystemEvent GROUP_AVATAR_CHANGED).
constexpr quint32 kProtocolMinor = 5;

// One message (text up to kMaxTextBytes) plus envelope and metadata headroom.
constexpr qint64 kMaxFrameBytes = 256 * 1024;
// Before authentication a client sends hello and one auth request at a time;
// the largest (register: a 1024-byte password, names) is well under this.
constexpr qint64 kMaxPreAuthFrameBytes = 8 * 1024;
// Answers that grow with the data (a pull page, a sync page) stop adding
// items past this size, so that a page stays small next to the per-connection
// output budget; a page always holds at least one item.
constexpr qint64 kMaxPageBytes = 256 * 1024;
// A conversation state carries its last message only when that encodes to at
// most this; a longer one is left out (the client pulls it like any other).
constexpr qint64 kMaxPreviewBytes = 2 * 1024;
// Conversation states per sync page: SyncRequest.limit 0 means the default,
// larger values are clamped. A SyncRequest lists at most kMaxSyncHeld cursors.
constexpr quint32 kDefaultSyncLimit = 100;
constexpr quint32 kMaxSyncLimit = 500;
constexpr int kMaxSyncHeld = 1000;
// A chat message, not a document: long enough for a pasted log excerpt.
constexpr int kMaxTextBytes = 64 * 1024;
// A reaction's emoji (one grapheme cluster; ZWJ families stay well under it).
constexpr int kMaxEmojiBytes = 64;
// Distinct emoji one user may put on one message.
constexpr int kMaxReactionsPerUser = 20;
// Mentions in one message (Content.mentions).
constexpr int kMaxMentions = 50;
// Chat state rows per ChatStateSyncResponse: 0 means the default, larger are clamped.
constexpr quint32 kDefaultChatStateLimit = 200;
constexpr quint32 kMaxChatStateLimit = 1000;
// SetChatStateRequest.mute_until_ms: muted until unmuted.
constexpr qint64 kMutedForever = -1;
// Bounded pages keep one history pull from monopolising a connection.
constexpr quint32 kMaxPullLimit = 200;
constexpr quint32 kDefaultPullLimit = 50;
constexpr int kMaxGroupNameChars = 100;
constexpr int kMaxDisplayNameChars = 64;
// An avatar picture: a small square image (the app sends 256 px), never a photo
// at full size; its colour is 0 (derived from the id) or an entry 1..16.
constexpr quint64 kMaxAvatarBytes = 1024 * 1024;
constexpr quint32 kMaxAvatarColor = 16;
constexpr int kMaxClientMsgIdBytes = 64;

// Serialises an envelope for one WebSocket binary message.
[[nodiscard]] QByteArray encodeEnvelope(const v1::Envelope &envelope);

// Parses one WebSocket binary message; nullopt when the bytes are not an Envelope.
[[nodiscard]] std::optional<v1::Envelope> decodeEnvelope(QByteArrayView bytes);

// An answer carrying only an error, echoing the request id.
[[nodiscard]] v1::Envelope errorEnvelope(quint32 requestId, v1::ErrorCode code,
                                         const QString &message, quint32 retryAfterMs = 0);

// Human-readable name of a body case, for logs and metrics ("send", "pull", …).
[[nodiscard]] const char *bodyName(v1::Envelope::BodyCase body);
[[nodiscard]] const char *errorCodeName(v1::ErrorCode code);

// protobuf strings <-> Qt strings (protobuf holds UTF-8 in std::string).
[[nodiscard]] inline QString toQString(const std::string &s)
{
    return QString::fromUtf8(s.data(), qsizetype(s.size()));
}
[[nodiscard]] inline std::string toStd(const QString &s)
{
    return s.toStdString();
}

// Milliseconds since the Unix epoch.
[[nodiscard]] qint64 nowMs();

} // namespace kith
