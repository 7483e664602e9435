#pragma once
// RFC 6455 frames as bytes, with no socket and no policy: reading a frame's
// head, writing one, masking a payload. kithd's own WebSocket socket and
// kith-bench's client both use it; what a frame may be (its size, which
// opcodes when, whether it must be masked) stays with each of them.

#include <array>
#include <cstddef>
#include <cstdint>

namespace kith::ws {

// RFC 6455 section 5.2.
enum Opcode : uint8_t {
    kContinuation = 0x0,
    kText = 0x1,
    kBinary = 0x2,
    kClose = 0x8,
    kPing = 0x9,
    kPong = 0xA,
};

// Two bytes, an 8-byte extended length, a 4-byte mask: the longest head.
inline constexpr size_t kMaxFrameHeadBytes = 14;

using Mask = std::array<uint8_t, 4>;

struct FrameHead
{
    bool fin = false;
    uint8_t reserved = 0; // RSV1-3 as they stand in the first byte (0x70)
    uint8_t opcode = 0;
    bool masked = false;
    Mask mask{};
    uint64_t length = 0; // payload bytes
    size_t size = 0;     // head bytes, 2 to 14
};

enum class HeadRead {
    Incomplete,       // more bytes are needed (the first two, when there, are read)
    Complete,         // `head` is whole; the payload follows it
    LengthOutOfRange, // a 64-bit length with its top bit set (section 5.2)
};

// Reads the head of the frame starting at `data`, `size` bytes being there.
// With two bytes or more, fin, reserved, opcode and masked are filled even
// when the rest has not come yet, so a caller can refuse a frame early.
[[nodiscard]] HeadRead readFrameHead(const char *data, size_t size, FrameHead &head);

// Writes the head of a final (FIN) frame with `opcode` and `length` to `out`
// (kMaxFrameHeadBytes of room), masked with `mask` when one is given. Returns
// the head's size.
[[nodiscard]] size_t writeFrameHead(uint8_t opcode, uint64_t length, char *out,
                                    const Mask *mask = nullptr);

// XORs `size` bytes with the mask (section 5.3): masks and unmasks alike.
void applyMask(char *data, size_t size, const Mask &mask);

[[nodiscard]] constexpr bool isControl(uint8_t opcode)
{
    return (opcode & 0x8) != 0;
}

} // namespace kith::ws
