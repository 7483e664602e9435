#pragma once
// Client message ids (SendMessageRequest.client_msg_id): what makes a resend
// idempotent. The server treats them as opaque and keeps them unique per
// sender in an index ordered by (sender, id). A random id lands anywhere in
// the sender's part of that index, so on a server with history each send
// dirties (and on a small box may first read) a leaf of its own; these ids
// start with the time, so a sender's new ids go at the end of its part,
// into a page that is already in memory and dirty.

#include <QString>

#include <cstdint>

namespace kith {

// A UUID in the version 7 layout: 48 bits of Unix milliseconds, then 12 bits
// that count within one millisecond, then 62 random bits. The ids one
// process makes sort (as strings, too) in the order they were made, even if
// the clock steps back; 62 random bits keep those of different devices apart.
[[nodiscard]] QString newClientMessageId();

// The same for a given clock reading and random bits, for tests.
[[nodiscard]] QString clientMessageIdFor(std::uint64_t unixMs, std::uint16_t counter,
                                         std::uint64_t random);

} // namespace kith
