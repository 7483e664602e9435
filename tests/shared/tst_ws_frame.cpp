// The RFC 6455 frame codec kithd and kith-bench share: heads at each length
// encoding's edges, masked and not, read back whole or in pieces; the limits
// of a 64-bit length; masking, which undoes itself.

#include "kith/ws_frame.h"

#include <QTest>

#include <limits>
#include <string>

using namespace kith;

class TestWsFrame : public QObject
{
    Q_OBJECT

private slots:
    void headsRoundTrip_data()
    {
        QTest::addColumn<quint64>("length");
        QTest::addColumn<bool>("masked");
        QTest::addColumn<int>("headSize");
        for (bool masked : {false, true}) {
            const int m = masked ? 4 : 0;
            const char *tag = masked ? "masked" : "plain";
            QTest::addRow("0 %s", tag) << quint64(0) << masked << 2 + m;
            QTest::addRow("125 %s", tag) << quint64(125) << masked << 2 + m;
            QTest::addRow("126 %s", tag) << quint64(126) << masked << 4 + m;
            QTest::addRow("65535 %s", tag) << quint64(65535) << masked << 4 + m;
            QTest::addRow("65536 %s", tag) << quint64(65536) << masked << 10 + m;
            QTest::addRow("2^63-1 %s", tag)
                << quint64(std::numeric_limits<qint64>::max()) << masked << 10 + m;
        }
    }
    void headsRoundTrip()
    {
        QFETCH(quint64, length);
        QFETCH(bool, masked);
        QFETCH(int, headSize);
        const ws::Mask mask{0x12, 0x34, 0x56, 0x78};
        std::array<char, ws::kMaxFrameHeadBytes> bytes{};
        const size_t written =
            ws::writeFrameHead(ws::kBinary, length, bytes.data(), masked ? &mask : nullptr);
        QCOMPARE(int(written), headSize);

        // Every prefix is incomplete; the whole head reads back as written.
        ws::FrameHead head;
        for (size_t cut = 0; cut < written; ++cut)
            QCOMPARE(ws::readFrameHead(bytes.data(), cut, head), ws::HeadRead::Incomplete);
        QCOMPARE(ws::readFrameHead(bytes.data(), written, head), ws::HeadRead::Complete);
        QVERIFY(head.fin);
        QCOMPARE(head.reserved, quint8(0));
        QCOMPARE(head.opcode, quint8(ws::kBinary));
        QCOMPARE(head.masked, masked);
        QCOMPARE(head.length, length);
        QCOMPARE(head.size, written);
        if (masked)
            QVERIFY(head.mask == mask);
    }

    // Known bytes from RFC 6455 section 5.7: a masked "Hello" from a client.
    void readsTheRfcExample()
    {
        const std::string frame("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
        ws::FrameHead head;
        QCOMPARE(ws::readFrameHead(frame.data(), frame.size(), head), ws::HeadRead::Complete);
        QCOMPARE(head.opcode, quint8(ws::kText));
        QVERIFY(head.masked);
        QCOMPARE(head.length, quint64(5));
        std::string payload = frame.substr(head.size);
        ws::applyMask(payload.data(), payload.size(), head.mask);
        QCOMPARE(payload, std::string("Hello"));
    }

    // The first two bytes are read as soon as they are there, so a socket
    // can refuse a bad frame before its length or mask has come.
    void firstBytesBeforeTheRest()
    {
        const std::string start("\xf2\x7f", 2); // RSV bits set, unmasked, 64-bit length follows
        ws::FrameHead head;
        QCOMPARE(ws::readFrameHead(start.data(), start.size(), head), ws::HeadRead::Incomplete);
        QCOMPARE(head.reserved, quint8(0x70));
        QVERIFY(!head.masked);
        QCOMPARE(head.opcode, quint8(ws::kBinary));
    }

    void lengthWithTheTopBitIsRefused_data()
    {
        QTest::addColumn<quint64>("length");
        QTest::newRow("2^63") << (quint64(1) << 63);
        QTest::newRow("2^64-1") << std::numeric_limits<quint64>::max();
    }
    void lengthWithTheTopBitIsRefused()
    {
        QFETCH(quint64, length);
        std::array<char, ws::kMaxFrameHeadBytes> bytes{};
        const size_t written = ws::writeFrameHead(ws::kBinary, length, bytes.data());
        ws::FrameHead head;
        QCOMPARE(ws::readFrameHead(bytes.data(), written, head), ws::HeadRead::LengthOutOfRange);
    }

    void maskingUndoesItself()
    {
        const ws::Mask mask{0xa1, 0x02, 0xff, 0x5c};
        // Lengths around the eight-byte steps, so the tail is covered too.
        for (size_t size : {0, 1, 7, 8, 9, 16, 23}) {
            std::string original;
            for (size_t i = 0; i < size; ++i)
                original.push_back(char(i * 37 + 11));
            std::string data = original;
            ws::applyMask(data.data(), data.size(), mask);
            for (size_t i = 0; i < size; ++i)
                QCOMPARE(quint8(data[i]), quint8(quint8(original[i]) ^ mask[i % 4]));
            ws::applyMask(data.data(), data.size(), mask);
            QCOMPARE(data, original);
        }
    }
};

QTEST_GUILESS_MAIN(TestWsFrame)
#include "tst_ws_frame.moc"
