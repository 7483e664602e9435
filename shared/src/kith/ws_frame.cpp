#include "kith/ws_frame.h"

#include <cstring>

namespace kith::ws {

HeadRead readFrameHead(const char *data, size_t size, FrameHead &head)
{
    if (size < 2)
        return HeadRead::Incomplete;
    const auto *bytes = reinterpret_cast<const uint8_t *>(data);
    head.fin = (bytes[0] & 0x80) != 0;
    head.reserved = bytes[0] & 0x70;
    head.opcode = bytes[0] & 0x0F;
    head.masked = (bytes[1] & 0x80) != 0;
    uint64_t length = bytes[1] & 0x7F;
    size_t extended = 0;
    if (length == 126)
        extended = 2;
    else if (length == 127)
        extended = 8;
    const size_t headSize = 2 + extended + (head.masked ? 4 : 0);
    if (size < headSize)
        return HeadRead::Incomplete;
    if (extended > 0) {
        length = 0;
        for (size_t i = 0; i < extended; ++i)
            length = (length << 8) | bytes[2 + i];
        if (length >> 63)
            return HeadRead::LengthOutOfRange;
    }
    if (head.masked)
        std::memcpy(head.mask.data(), bytes + 2 + extended, 4);
    head.length = length;
    head.size = headSize;
    return HeadRead::Complete;
}

size_t writeFrameHead(uint8_t opcode, uint64_t length, char *out, const Mask *mask)
{
    auto *bytes = reinterpret_cast<uint8_t *>(out);
    const uint8_t maskBit = mask ? 0x80 : 0;
    size_t n = 0;
    bytes[n++] = uint8_t(0x80 | opcode);
    if (length < 126) {
        bytes[n++] = uint8_t(maskBit | length);
    } else if (length <= 0xFFFF) {
        bytes[n++] = uint8_t(maskBit | 126);
        bytes[n++] = uint8_t(length >> 8);
        bytes[n++] = uint8_t(length);
    } else {
        bytes[n++] = uint8_t(maskBit | 127);
        for (int shift = 56; shift >= 0; shift -= 8)
            bytes[n++] = uint8_t(length >> shift);
    }
    if (mask) {
        std::memcpy(bytes + n, mask->data(), 4);
        n += 4;
    }
    return n;
}

void applyMask(char *data, size_t size, const Mask &mask)
{
    size_t i = 0;
    // Eight bytes at a time, then the tail byte by byte.
    uint64_t wide = 0;
    for (size_t k = 0; k < 8; ++k)
        reinterpret_cast<uint8_t *>(&wide)[k] = mask[k % 4];
    for (; i + 8 <= size; i += 8) {
        uint64_t chunk;
        std::memcpy(&chunk, data + i, 8);
        chunk ^= wide;
        std::memcpy(data + i, &chunk, 8);
    }
    for (; i < size; ++i)
        data[i] = char(uint8_t(data[i]) ^ mask[i % 4]);
}

} // namespace kith::ws
