#pragma once
// Validation of what a user may send, shared so the client can refuse early
// what the server would refuse anyway.

#include <QString>

#include <optional>

#include "kith/v1/envelope.pb.h"

namespace kith {

struct ContentError
{
    v1::ErrorCode code = v1::INVALID_ARGUMENT;
    QString message;
};

// Checks user-sent content: exactly one kind, text that is valid UTF-8, not
// blank and at most kMaxTextBytes, no server-only kinds or fields, no file
// until uploads exist; operations name a target, quote nothing, an edit's text
// is checked as text and a reaction is one emoji.
// reply_to_seq is checked by the server against the conversation's max seq.
[[nodiscard]] std::optional<ContentError> validateUserContent(const v1::Content &content);

// One emoji: a single grapheme cluster of at most kMaxEmojiBytes that starts
// with an emoji code point (or is a keycap such as 1️⃣).
[[nodiscard]] bool isSingleEmoji(const std::string &bytes);

// Edit, delete and reaction: entries that change an earlier message.
[[nodiscard]] bool isOperation(const v1::Content &content);
// The seq an operation changes; 0 for any other content.
[[nodiscard]] quint64 operationTarget(const v1::Content &content);

// Folds operation `op`, made by `actor` at `timeMs` as seq `opSeq`, into its
// target's content as the server does after its checks (the client repeats
// it on its copy): an edit replaces the text (an edit whose text the server
// cleared, being superseded, changes nothing), a delete leaves a tombstone and
// nothing else, a reaction adds or removes the actor. Sets last_op_seq.
void foldOperation(v1::Content &target, const v1::Content &op, quint64 actor, qint64 timeMs,
                   quint64 opSeq);

// A client message id: 1..kMaxClientMsgIdBytes printable ASCII (a UUID in practice).
[[nodiscard]] bool isValidClientMsgId(const std::string &id);

// User names: 3..32 of [a-z0-9._-], starting with a letter or digit.
[[nodiscard]] bool isValidUsername(const QString &name);
// Lower-cases and trims a user name as typed.
[[nodiscard]] QString normalizeUsername(const QString &name);

// A one-line preview of content for lists and notifications.
[[nodiscard]] QString previewText(const v1::Content &content);

} // namespace kith
