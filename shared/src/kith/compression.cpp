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

// One deflate stream per thread and level, reset between frames. Setting one
// up allocates about 270 KiB (window, hash chains, pending buffer); done for
// every history page, those allocations came back to the kernel and faulted in
// again, and each release flushed the TLB of the cores running kithd's
// other threads.
class Deflater
{
public:
    Deflater() = default;
    Deflater(const Deflater &) = delete;
    Deflater &operator=(const Deflater &) = delete;
    ~Deflater()
    {
        if (m_level >= 0)
            deflateEnd(&m_stream);
    }

    // A stream at `level`, ready for a new input; null when zlib cannot make one.
    z_stream *start(int level)
    {
        if (m_level == level)
            return deflateReset(&m_stream) == Z_OK ? &m_stream : nullptr;
        if (m_level >= 0)
            deflateEnd(&m_stream);
        m_stream = z_stream{};
        m_level = deflateInit(&m_stream, level) == Z_OK ? level : -1;
        return m_level >= 0 ? &m_stream : nullptr;
    }

private:
    z_stream m_stream{};
    int m_level = -1; // -1: no stream set up
};

// The same for inflating: about 40 KiB per stream (state and window).
class Inflater
{
public:
    Inflater() = default;
    Inflater(const Inflater &) = delete;
    Inflater &operator=(const Inflater &) = delete;
    ~Inflater()
    {
        if (m_ready)
            inflateEnd(&m_stream);
    }

    z_stream *start()
    {
        if (m_ready)
            return inflateReset(&m_stream) == Z_OK ? &m_stream : nullptr;
        m_ready = inflateInit(&m_stream) == Z_OK;
        return m_ready ? &m_stream : nullptr;
    }

private:
    z_stream m_stream{};
    bool m_ready = false;
};

thread_local Deflater t_deflater;
thread_local Inflater t_inflater;
} // namespace

QByteArray compressEncodedEnvelope(QByteArrayView encoded, quint32 requestId, int level)
{
    if (encoded.size() < kMinCompressBytes || encoded.size() > qsizetype(kMaxInflatedBytes))
        return {};
    z_stream *stream = t_deflater.start(level);
    if (!stream)
        return {};
    std::string deflated(deflateBound(stream, uLong(encoded.size())), '\0');
    stream->next_in = reinterpret_cast<Bytef *>(const_cast<char *>(encoded.data()));
    stream->avail_in = uInt(encoded.size());
    stream->next_out = reinterpret_cast<Bytef *>(deflated.data());
    stream->avail_out = uInt(deflated.size());
    // deflateBound leaves room for all of it, so one call finishes the stream.
    if (deflate(stream, Z_FINISH) != Z_STREAM_END)
        return {};
    deflated.resize(stream->total_out);

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
    z_stream *stream = t_inflater.start();
    if (!stream)
        return makeError(v1::INTERNAL, QStringLiteral("zlib could not start inflating"));
    stream->next_in = reinterpret_cast<Bytef *>(const_cast<char *>(deflated.data()));
    stream->avail_in = uInt(deflated.size());
    stream->next_out = reinterpret_cast<Bytef *>(raw.data());
    stream->avail_out = uInt(raw.size());
    const int status = inflate(stream, Z_FINISH);
    const uLong produced = stream->total_out;
    const uInt leftOver = stream->avail_in;

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
