// The "deflate" codec both ends rely on: what gets compressed, that it comes
// back exactly, and that every malformed Compressed frame is refused.
#include "kith/compression.h"
#include "kith/protocol.h"

#include <QRandomGenerator>
#include <QTest>
#include <QUuid>

#include <zlib.h>

using namespace kith;

namespace {

// A page of chat history that reads like one: sentences put together from
// varied words, different lengths, increasing seqs and times.
v1::Envelope historyPage(int messages, quint32 requestId = 7)
{
    static const char *const kWords[] = {
        "the",     "meeting",  "moved",  "to",     "Thursday", "afternoon", "because",  "Marta",
        "is",      "still",    "on",     "the",    "train",    "from",      "Lisbon",   "and",
        "I",       "think",    "we",     "should", "order",    "pizza",     "again",    "unless",
        "someone", "objects",  "did",    "you",    "see",      "deploy",    "logs",     "build",
        "failed",  "twice",    "flaky",  "test",   "quarter",  "numbers",   "look",     "better",
        "than",    "expected", "could",  "review", "my",       "patch",     "tomorrow", "morning",
        "coffee",  "machine",  "broken", "again",  "weekend",  "hiking",    "weather",  "rain"};
    QRandomGenerator random(42);
    v1::Envelope envelope;
    envelope.set_request_id(requestId);
    auto *page = envelope.mutable_pull_response();
    page->set_conversation_id("d:3:7");
    for (int i = 0; i < messages; ++i) {
        auto *message = page->add_messages();
        message->set_conversation_id("d:3:7");
        message->set_seq(quint64(i + 1));
        message->set_server_id(quint64(1000 + i));
        message->set_sender_user_id(i % 3 ? 3 : 7);
        message->set_sender_device_id(i % 3 ? 11 : 12);
        message->set_client_msg_id(QUuid::createUuidV5(QUuid(), QString::number(i))
                                       .toString(QUuid::WithoutBraces)
                                       .toStdString());
        message->set_server_time_ms(1'790'000'000'000 + i * 37'000 + random.bounded(30'000));
        std::string text;
        const int words = 3 + random.bounded(25);
        for (int w = 0; w < words; ++w) {
            if (w)
                text += ' ';
            text += kWords[random.bounded(int(std::size(kWords)))];
        }
        text += random.bounded(4) ? "." : "?";
        message->mutable_content()->mutable_text()->set_body(text);
    }
    page->set_max_seq(quint64(messages));
    return envelope;
}

// The zlib stream of `bytes`, made here with zlib itself rather than the code
// under test, on a stream of its own.
std::string deflateBytes(const QByteArray &bytes, int level = Z_DEFAULT_COMPRESSION)
{
    uLongf size = compressBound(uLong(bytes.size()));
    std::string out(size, '\0');
    if (compress2(reinterpret_cast<Bytef *>(out.data()), &size,
                  reinterpret_cast<const Bytef *>(bytes.constData()), uLong(bytes.size()),
                  level) != Z_OK)
        return {};
    out.resize(size);
    return out;
}

v1::Envelope wrap(quint32 requestId, quint32 rawSize, std::string deflated)
{
    v1::Envelope outer;
    outer.set_request_id(requestId);
    outer.mutable_compressed()->set_raw_size(rawSize);
    outer.mutable_compressed()->set_deflated(std::move(deflated));
    return outer;
}

// An envelope whose encoding is exactly `size` bytes, compressible as can be.
v1::Envelope envelopeOfSize(qsizetype size)
{
    v1::Envelope envelope;
    envelope.set_request_id(5);
    for (qsizetype padding = 0; padding < size; ++padding) {
        envelope.mutable_pull_response()->set_conversation_id(std::string(size_t(padding), 'g'));
        if (qsizetype(envelope.ByteSizeLong()) == size)
            return envelope;
    }
    return {};
}

} // namespace

class TestCompression : public QObject
{
    Q_OBJECT
private slots:
    void historyPageRoundTrips()
    {
        const v1::Envelope page = historyPage(200);
        const QByteArray encoded = encodeEnvelope(page);
        const QByteArray frame = compressEnvelope(page);
        QVERIFY(!frame.isEmpty());
        QVERIFY2(frame.size() < encoded.size(),
                 qPrintable(u"%1 >= %2"_qs.arg(frame.size()).arg(encoded.size())));
        qInfo("200-message page: %lld bytes raw, %lld compressed (%.2f)", qlonglong(encoded.size()),
              qlonglong(frame.size()), double(frame.size()) / double(encoded.size()));

        const auto outer = decodeEnvelope(frame);
        QVERIFY(outer);
        QCOMPARE(outer->body_case(), v1::Envelope::kCompressed);
        QCOMPARE(outer->request_id(), page.request_id());
        QCOMPARE(qsizetype(outer->compressed().raw_size()), encoded.size());

        const Result<v1::Envelope> inner = decodeServerFrame(frame);
        QVERIFY2(inner, qPrintable(inner ? QString() : inner.error().message));
        QCOMPARE(encodeEnvelope(*inner), encoded);
        QCOMPARE(inner->pull_response().messages_size(), 200);
    }

    void plainFramesPassThrough()
    {
        const v1::Envelope page = historyPage(3);
        const Result<v1::Envelope> decoded = decodeServerFrame(encodeEnvelope(page));
        QVERIFY(decoded);
        QCOMPARE(encodeEnvelope(*decoded), encodeEnvelope(page));
        QCOMPARE(decodeServerFrame(QByteArray("\xff\xff\xff", 3)).error().code, v1::BAD_FRAME);
    }

    void belowTheThresholdStaysUncompressed()
    {
        const v1::Envelope under = envelopeOfSize(kMinCompressBytes - 1);
        const v1::Envelope at = envelopeOfSize(kMinCompressBytes);
        QCOMPARE(qsizetype(under.ByteSizeLong()), kMinCompressBytes - 1);
        QCOMPARE(qsizetype(at.ByteSizeLong()), kMinCompressBytes);
        QVERIFY(compressEnvelope(under).isEmpty());
        // The same kind of bytes one longer compresses well: only the size decided.
        const QByteArray frame = compressEnvelope(at);
        QVERIFY(!frame.isEmpty());
        QVERIFY(frame.size() < kMinCompressBytes);
        QVERIFY(compressEnvelope(historyPage(1)).isEmpty());
    }

    void incompressibleStaysUncompressed()
    {
        v1::Envelope envelope;
        envelope.set_request_id(3);
        auto *message = envelope.mutable_pull_response()->add_messages();
        QByteArray noise(4096, Qt::Uninitialized);
        QRandomGenerator random(7);
        random.fillRange(reinterpret_cast<quint32 *>(noise.data()), noise.size() / 4);
        message->mutable_content()->mutable_file()->set_thumbnail(noise.toStdString());
        QVERIFY(encodeEnvelope(envelope).size() >= kMinCompressBytes);
        QVERIFY(compressEnvelope(envelope).isEmpty());
    }

    void badCompressedFramesAreRefused_data()
    {
        QTest::addColumn<QByteArray>("frame");
        const v1::Envelope page = historyPage(50, 9);
        const QByteArray encoded = encodeEnvelope(page);
        const std::string deflated = deflateBytes(encoded);
        const quint32 rawSize = quint32(encoded.size());
        QVERIFY(!deflated.empty());
        // The well-formed frame the rows below spoil one way each.
        QVERIFY(decodeServerFrame(encodeEnvelope(wrap(9, rawSize, deflated))));

        QTest::newRow("raw_size over 16 MiB")
            << encodeEnvelope(wrap(9, kMaxInflatedBytes + 1, deflated));
        QTest::newRow("raw_size one too big") << encodeEnvelope(wrap(9, rawSize + 1, deflated));
        QTest::newRow("raw_size one too small") << encodeEnvelope(wrap(9, rawSize - 1, deflated));
        QTest::newRow("raw_size zero") << encodeEnvelope(wrap(9, 0, deflated));
        QTest::newRow("garbage deflated")
            << encodeEnvelope(wrap(9, rawSize, std::string(300, '\x5a')));
        QTest::newRow("no deflated bytes") << encodeEnvelope(wrap(9, rawSize, {}));
        QTest::newRow("truncated stream")
            << encodeEnvelope(wrap(9, rawSize, deflated.substr(0, deflated.size() / 2)));
        QTest::newRow("bytes after the stream")
            << encodeEnvelope(wrap(9, rawSize, deflated + "trailing"));
        std::string corrupt = deflated;
        corrupt[corrupt.size() / 2] = char(corrupt[corrupt.size() / 2] ^ 0x55);
        QTest::newRow("corrupted stream") << encodeEnvelope(wrap(9, rawSize, corrupt));

        const QByteArray notAnEnvelope(600, '\xff');
        QTest::newRow("inflates to no envelope")
            << encodeEnvelope(wrap(9, quint32(notAnEnvelope.size()), deflateBytes(notAnEnvelope)));

        const QByteArray innerFrame = encodeEnvelope(wrap(9, rawSize, deflated));
        QTest::newRow("nested compressed")
            << encodeEnvelope(wrap(9, quint32(innerFrame.size()), deflateBytes(innerFrame)));

        QTest::newRow("request id differs") << encodeEnvelope(wrap(10, rawSize, deflated));
    }
    void badCompressedFramesAreRefused()
    {
        QFETCH(QByteArray, frame);
        const Result<v1::Envelope> decoded = decodeServerFrame(frame);
        QVERIFY(!decoded);
        QCOMPARE(decoded.error().code, v1::BAD_FRAME);

        // The thread's inflate stream, left wherever the bad frame stopped
        // it, starts the next frame afresh.
        const v1::Envelope page = historyPage(20, 9);
        const Result<v1::Envelope> next = decodeServerFrame(compressEnvelope(page));
        QVERIFY(next);
        QCOMPARE(next->SerializeAsString(), page.SerializeAsString());
    }

    void reusedStreamsDeflateLikeFreshOnes()
    {
        // Each thread keeps its deflate stream between frames: whatever came
        // before (another page, another level), a frame's bytes must be
        // exactly what a stream of its own makes of them.
        const v1::Envelope big = historyPage(200, 3);
        const v1::Envelope small = historyPage(12, 4);
        const int levels[] = {kDeflateLevel, 1, kDeflateLevel, 9, 9, kDeflateLevel};
        for (const int level : levels) {
            for (const v1::Envelope *page : {&big, &small}) {
                const std::optional<v1::Envelope> outer =
                    decodeEnvelope(compressEnvelope(*page, level));
                QVERIFY(outer && outer->has_compressed());
                QCOMPARE(outer->compressed().deflated(),
                         deflateBytes(encodeEnvelope(*page), level));
            }
        }
    }

    void rawSizeOverTheLimitIsRefusedEvenWhenTrue()
    {
        // A real stream of just over 16 MiB (it deflates to a few KiB): the
        // announced size alone refuses it, whatever it would inflate to.
        v1::Envelope big;
        big.mutable_pull_response()->set_conversation_id(
            std::string(size_t(kMaxInflatedBytes) + 1, 'z'));
        const QByteArray encoded = encodeEnvelope(big);
        QVERIFY(encoded.size() > qsizetype(kMaxInflatedBytes));
        QVERIFY(compressEnvelope(big).isEmpty()); // nor does the sender make one
        v1::Compressed compressed;
        compressed.set_raw_size(quint32(encoded.size()));
        compressed.set_deflated(deflateBytes(encoded));
        const Result<v1::Envelope> decoded = inflateEnvelope(compressed);
        QVERIFY(!decoded);
        QCOMPARE(decoded.error().code, v1::BAD_FRAME);
    }
};

QTEST_GUILESS_MAIN(TestCompression)
#include "tst_compression.moc"
