#pragma once
// Validation of what a user may send, shared so the client can refuse early
// what the server would refuse anyway.

#include <QList>
#include <QString>

#include <optional>
#include <string_view>

#include "kith/v1/envelope.pb.h"

namespace kith {

struct ContentError
{
    v1::ErrorCode code = v1::INVALID_ARGUMENT;
    QString message;
};

// A file's name as sent is shown, never used as a path; long enough for any
// file system's names, short enough to keep a message small.
constexpr int kMaxFileNameBytes = 1024;
constexpr int kMaxMimeTypeBytes = 255;
// A blurred placeholder of an image, not a preview of it: a message stays small.
constexpr int kMaxThumbnailBytes = 16 * 1024;
constexpr int kSha256Bytes = 32;
// File ids: 16 random bytes in base64url without padding.
constexpr int kFileIdChars = 22;

// Checks user-sent content: exactly one kind, text that is valid UTF-8, not
// blank and at most kMaxTextBytes, no server-only kinds or fields; a file with
// a well-formed id and checksum, a name (valid UTF-8, no control characters),
// small extras; operations name a target, quote nothing, an edit's text is
// checked as text and a reaction is one emoji; at most kMaxMentions mentions,
// on a text, a caption or an edit only, each naming a user and, when it says
// where, a range of whole characters of that text. reply_to_seq is checked by the
// server against the conversation's max seq, a file's id, size and checksum
// against what it stored.
[[nodiscard]] std::optional<ContentError> validateUserContent(const v1::Content &content);

// Whether the content mentions userId (a deleted message mentions nobody).
[[nodiscard]] bool mentionsUser(const v1::Content &content, quint64 userId);
// The users a content mentions, each once, in the order first named.
[[nodiscard]] QList<quint64> mentionedUsers(const v1::Content &content);

// One emoji: a single grapheme cluster of at most kMaxEmojiBytes that starts
// with an emoji code point (or is a keycap such as 1️⃣).
[[nodiscard]] bool isSingleEmoji(const std::string &bytes);

// Edit, delete, reaction and pin: entries that change an earlier message.
[[nodiscard]] bool isOperation(const v1::Content &content);
// The seq an operation changes; 0 for any other content.
[[nodiscard]] quint64 operationTarget(const v1::Content &content);

// Folds operation `op`, made by `actor` at `timeMs` as seq `opSeq`, into its
// target's content as the server does after its checks (the client repeats
// it on its copy): an edit replaces the text and the mentions (an edit whose text the server
// cleared, being superseded, changes nothing), a delete leaves a tombstone and
// nothing else, a reaction adds or removes the actor, a pin sets or clears
// pinned_ms and pinned_by_user_id (pinning a pinned message keeps the first
// pin). Sets last_op_seq.
void foldOperation(v1::Content &target, const v1::Content &op, quint64 actor, qint64 timeMs,
                   quint64 opSeq);

// 22 characters of base64url (A-Z a-z 0-9 - _).
[[nodiscard]] bool isValidFileId(std::string_view id);
// A new random file id.
[[nodiscard]] std::string newFileId();

// A file name as it may be shown: without the characters that reorder or hide
// text (bidirectional overrides and isolates, other format and control
// characters), cut in the middle to `maxChars` keeping the extension. Never empty.
[[nodiscard]] QString displayFileName(const QString &name, int maxChars = 120);
// A name to save a received file under in a folder of one's choice: the shown
// name without path separators, a leading dot or names the system reserves,
// at most 200 bytes of UTF-8. Never empty.
[[nodiscard]] QString safeLocalFileName(const QString &name);

// A client message id: 1..kMaxClientMsgIdBytes printable ASCII (a UUID in practice).
[[nodiscard]] bool isValidClientMsgId(const std::string &id);

// User names: 3..32 of [a-z0-9._-], starting with a letter or digit.
[[nodiscard]] bool isValidUsername(const QString &name);
// Lower-cases and trims a user name as typed.
[[nodiscard]] QString normalizeUsername(const QString &name);

// A one-line preview of content for lists and notifications.
[[nodiscard]] QString previewText(const v1::Content &content);

} // namespace kith
