#pragma once
// The "deflate" feature: a big answer travels as a Compressed envelope holding
// the zlib-compressed encoding of the real one. kithd compresses, libkithclient
// (and the tools) unwrap; both ends share the limits here.

#include "kith/result.h"

#include <QByteArray>
#include <QByteArrayView>

#include "kith/v1/envelope.pb.h"

namespace kith {

// Listed in Hello.features by a client that can unwrap Compressed frames, and
// echoed in HelloOk.features by a server that will send them.
inline constexpr char kDeflateFeature[] = "deflate";

// Smaller answers could save a few hundred bytes at best: not worth zlib's
// time on both ends, nor an extra unwrap on the client.
constexpr qsizetype kMinCompressBytes = 512;
// A pull page of 200 messages at the 64 KiB text limit is about 13 MiB; a
// raw_size beyond this is refused before a byte is inflated.
constexpr quint32 kMaxInflatedBytes = 16 * 1024 * 1024;
// zlib's default. Measured on a 200-message page of chat text (32 KiB): level 1
// made 15.1 KB at ~0.5 ms, level 6 14.0 KB at ~1.5 ms, level 9 no smaller.
// A page is pulled once per screenful of history, so the 8% wins over the CPU.
constexpr int kDeflateLevel = 6;

// The encoded Compressed envelope that carries `encoded` (the encoding of an
// envelope with request id `requestId`), or an empty array when it is not
// worth it: shorter than kMinCompressBytes, longer than kMaxInflatedBytes, or
// not smaller once compressed.
[[nodiscard]] QByteArray compressEncodedEnvelope(QByteArrayView encoded, quint32 requestId,
                                                 int level = kDeflateLevel);
// The same for an envelope that is not encoded yet.
[[nodiscard]] QByteArray compressEnvelope(const v1::Envelope &envelope, int level = kDeflateLevel);

// The envelope a Compressed body carries. BAD_FRAME when raw_size is over
// kMaxInflatedBytes, the bytes do not inflate, inflate to another length than
// raw_size, are not an Envelope, or are themselves a Compressed envelope.
[[nodiscard]] Result<v1::Envelope> inflateEnvelope(const v1::Compressed &compressed);

// Decodes one frame from the server, unwrapping a Compressed one (whose inner
// request id must match the outer one). BAD_FRAME when any of it is wrong.
[[nodiscard]] Result<v1::Envelope> decodeServerFrame(QByteArrayView bytes);

} // namespace kith
