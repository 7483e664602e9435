#pragma once
// Chat-like message texts for the seeded history: sentences of everyday
// English words, 20 to 300 characters, mostly short with a long tail, the
// way people write in a group chat. Compression and paging figures only mean
// something on text like this, not on one repeated character.

#include <cstdint>
#include <string>

namespace kith::bench {

// The n-th text; the same n always gives the same text.
[[nodiscard]] std::string chatText(uint64_t n);

} // namespace kith::bench
