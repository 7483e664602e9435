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
// blank and at most kMaxTextBytes, no server-only kinds, no file until uploads exist.
// reply_to_seq is checked by the server against the conversation's max seq.
[[nodiscard]] std::optional<ContentError> validateUserContent(const v1::Content &content);

// A client message id: 1..kMaxClientMsgIdBytes printable ASCII (a UUID in practice).
[[nodiscard]] bool isValidClientMsgId(const std::string &id);

// User names: 3..32 of [a-z0-9._-], starting with a letter or digit.
[[nodiscard]] bool isValidUsername(const QString &name);
// Lower-cases and trims a user name as typed.
[[nodiscard]] QString normalizeUsername(const QString &name);

// A one-line preview of content for lists and notifications.
[[nodiscard]] QString previewText(const v1::Content &content);

} // namespace kith
