#include "kith/compression.h"

#include "kith/protocol.h"

#include <zlib.h>

namespace kith {

namespace {
Error badFrame(const char *why)
{
    return makeError(v1::BAD_FRAME,
                     QStringLiteral("Compressed frame refused: %1").arg(QString::fromLatin1(why)));
}
} // namespace

QByteArray compressEncodedEnvelope(QByteArrayView encoded, quint32 requestId, int level)
{
    if (encoded.size() < kMinCompressBytes || encoded.size() > qsizetype(kMaxInflatedBytes))
        return {};
    uLongf deflatedSize = compressBound(uLong(encoded.size()));
    std::string deflated(deflatedSize, '\0');
    if (compress2(reinterpret_cast<Bytef *>(deflated.data()), &deflatedSize,
                  reinterpret_cast<const Bytef *>(encoded.data()), uLong(encoded.size()),
                  level) != Z_OK)
        return {};
    deflated.resize(deflatedSize);

    v1::Envelope outer;
    outer.set_request_id(requestId);
    auto *compressed = outer.mutable_compressed();
    compressed->set_raw_size(quint32(encoded.size()));
    compressed->set_deflated(std::move(deflated));
    QByteArray frame = encodeEnvelope(outer);
    if (frame.size() >= encoded.size())
        return {};
    return frame;
}

QByteArray compressEnvelope(const v1::Envelope &envelope, int level)
{
    return compressEncodedEnvelope(encodeEnvelope(envelope), envelope.request_id(), level);
}

Result<v1::Envelope> inflateEnvelope(const v1::Compressed &compressed)
{
    const quint32 rawSize = compressed.raw_size();
    if (rawSize > kMaxInflatedBytes)
        return badFrame("raw_size is over the limit");
    const std::string &deflated = compressed.deflated();

    // One byte more than announced, so that a stream that inflates to more
    // than raw_size shows as a length mismatch instead of a full buffer.
    QByteArray raw(qsizetype(rawSize) + 1, Qt::Uninitialized);
    z_stream stream{};
    if (inflateInit(&stream) != Z_OK)
        return makeError(v1::INTERNAL, QStringLiteral("zlib could not start inflating"));
    stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(deflated.data()));
    stream.avail_in = uInt(deflated.size());
    stream.next_out = reinterpret_cast<Bytef *>(raw.data());
    stream.avail_out = uInt(raw.size());
    const int status = inflate(&stream, Z_FINISH);
    const uLong produced = stream.total_out;
    const uInt leftOver = stream.avail_in;
    inflateEnd(&stream);

    if (produced > rawSize)
        return badFrame("inflates to more than raw_size");
    if (status != Z_STREAM_END)
        return badFrame("not a complete zlib stream");
    if (leftOver != 0)
        return badFrame("bytes after the end of the zlib stream");
    if (produced != rawSize)
        return badFrame("inflates to less than raw_size");

    std::optional<v1::Envelope> inner = decodeEnvelope(QByteArrayView(raw.constData(), rawSize));
    if (!inner)
        return badFrame("the inflated bytes are not an envelope");
    if (inner->body_case() == v1::Envelope::kCompressed)
        return badFrame("a compressed envelope inside another");
    return std::move(*inner);
}

Result<v1::Envelope> decodeServerFrame(QByteArrayView bytes)
{
    std::optional<v1::Envelope> envelope = decodeEnvelope(bytes);
    if (!envelope)
        return makeError(v1::BAD_FRAME, QStringLiteral("Not a Kith envelope"));
    if (envelope->body_case() != v1::Envelope::kCompressed)
        return std::move(*envelope);
    Result<v1::Envelope> inner = inflateEnvelope(envelope->compressed());
    if (inner && inner->request_id() != envelope->request_id())
        return badFrame("the inner request id differs from the outer one");
    return inner;
}

} // namespace kith
