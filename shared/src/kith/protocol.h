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
constexpr quint32 kProtocolMinor = 0;

// One message (text up to kMaxTextBytes) plus envelope and metadata headroom.
constexpr qint64 kMaxFrameBytes = 256 * 1024;
// A chat message, not a document: long enough for a pasted log excerpt.
constexpr int kMaxTextBytes = 64 * 1024;
// A reaction's emoji (one grapheme cluster; ZWJ families stay well under it).
constexpr int kMaxEmojiBytes = 64;
// Distinct emoji one user may put on one message.
constexpr int kMaxReactionsPerUser = 20;
// Bounded pages keep one history pull from monopolising a connection.
constexpr quint32 kMaxPullLimit = 200;
constexpr quint32 kDefaultPullLimit = 50;
constexpr int kMaxGroupNameChars = 100;
constexpr int kMaxDisplayNameChars = 64;
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
