// The hash lane: bytes handed to it end up in their hash in the order they
// were handed, whatever other uploads interleave; a hash is only let go once
// the lane is done with it; the buffers it hands back are its own, and it
// never holds more of them than it was given.

#include "hash_lane.h"

#include <QRandomGenerator>
#include <QTest>

#include <algorithm>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

using kith::Sha256;
using kith::server::HashLane;
using kith::server::LanedHash;

namespace {

constexpr qsizetype kBufferBytes = 4096;

QByteArray randomBytes(qsizetype size, quint32 seed)
{
    QByteArray bytes(size, Qt::Uninitialized);
    QRandomGenerator generator(seed);
    for (qsizetype i = 0; i < size; ++i)
        bytes[i] = char(generator.bounded(256));
    return bytes;
}

} // namespace

class TestHashLane : public QObject
{
    Q_OBJECT

private slots:
    void handedBytesMakeTheWholeHash();
    void interleavedUploadsKeepTheirOwnBytes();
    void copiedBytesLargerThanABuffer();
    void releaseWaitsForTheLane();
    void emptyHashTakesNothing();
    void theLaneOutlivesItsOwner();
};

// One upload's bytes handed a buffer at a time, the reader's buffer swapped
// each time as the transfer connection does: the digest is the file's.
void TestHashLane::handedBytesMakeTheWholeHash()
{
    const auto lane = std::make_shared<HashLane>(2, kBufferBytes, 0);
    const QByteArray file = randomBytes(37 * kBufferBytes + 123, 1);
    LanedHash hash(lane, std::make_unique<Sha256>());
    QByteArray buffer(kBufferBytes, Qt::Uninitialized);
    for (qsizetype at = 0; at < file.size();) {
        const qsizetype take = std::min<qsizetype>(buffer.size(), file.size() - at);
        std::memcpy(buffer.data(), file.constData() + at, size_t(take));
        const char *before = buffer.constData();
        hash.hand(buffer, take);
        QVERIFY(buffer.constData() != before); // swapped, not copied
        QCOMPARE(buffer.size(), kBufferBytes);
        at += take;
    }
    const std::unique_ptr<Sha256> done = hash.release();
    QVERIFY(done);
    QVERIFY(!hash);
    QCOMPARE(done->count(), file.size());
    QCOMPARE(done->result(), Sha256::of(file));
}

// Uploads on several transfer threads at once through one lane of three
// buffers (fewer than the uploads, so hand-overs wait for each other): each
// digest is its own file's.
void TestHashLane::interleavedUploadsKeepTheirOwnBytes()
{
    const auto lane = std::make_shared<HashLane>(3, kBufferBytes, 0);
    constexpr int kUploads = 6;
    std::vector<QByteArray> files, digests(kUploads);
    for (int i = 0; i < kUploads; ++i)
        files.push_back(randomBytes((20 + i) * kBufferBytes + i * 17, quint32(10 + i)));
    std::vector<std::thread> uploaders;
    for (int i = 0; i < kUploads; ++i) {
        uploaders.emplace_back([&, i] {
            LanedHash hash(lane, std::make_unique<Sha256>());
            QByteArray buffer(kBufferBytes, Qt::Uninitialized);
            const QByteArray &file = files[size_t(i)];
            // Odd sizes, so that the pieces straddle the buffers' bounds.
            for (qsizetype at = 0, step = 1; at < file.size(); step = step * 7 % 4001 + 1) {
                const qsizetype take = std::min<qsizetype>(step, file.size() - at);
                if (step % 2) {
                    hash.add(QByteArrayView(file).sliced(at, take));
                } else {
                    std::memcpy(buffer.data(), file.constData() + at, size_t(take));
                    hash.hand(buffer, take);
                }
                at += take;
            }
            digests[size_t(i)] = hash.release()->result();
        });
    }
    for (std::thread &uploader : uploaders)
        uploader.join();
    for (int i = 0; i < kUploads; ++i)
        QCOMPARE(digests[size_t(i)], Sha256::of(files[size_t(i)]));
}

// add() splits what does not fit one buffer.
void TestHashLane::copiedBytesLargerThanABuffer()
{
    const auto lane = std::make_shared<HashLane>(1, kBufferBytes, 0);
    const QByteArray bytes = randomBytes(5 * kBufferBytes + 1, 3);
    LanedHash hash(lane, std::make_unique<Sha256>());
    hash.add(bytes);
    QCOMPARE(hash.release()->result(), Sha256::of(bytes));
}

// Once release() returns, every byte handed in is in the hash: its count is
// the whole, at once, with the lane still busy with nothing else.
void TestHashLane::releaseWaitsForTheLane()
{
    const auto lane = std::make_shared<HashLane>(4, kBufferBytes, 0);
    for (int round = 0; round < 50; ++round) {
        auto sha = std::make_unique<Sha256>();
        const Sha256 *raw = sha.get();
        LanedHash hash(lane, std::move(sha));
        QByteArray buffer(kBufferBytes, 'x');
        for (int i = 0; i < 4; ++i)
            hash.hand(buffer, kBufferBytes);
        const std::unique_ptr<Sha256> done = hash.release();
        QCOMPARE(done.get(), raw);
        QCOMPARE(done->count(), 4 * kBufferBytes);
    }
}

// A connection whose hash is unknown (resumed elsewhere) holds none: its
// buffer is left as it is and nothing is queued.
void TestHashLane::emptyHashTakesNothing()
{
    const auto lane = std::make_shared<HashLane>(1, kBufferBytes, 0);
    LanedHash hash(lane, nullptr);
    QVERIFY(!hash);
    QByteArray buffer(kBufferBytes, 'y');
    const char *before = buffer.constData();
    hash.hand(buffer, kBufferBytes);
    hash.add(buffer);
    QCOMPARE(buffer.constData(), before);
    QVERIFY(!hash.release());
}

// The hub that made the lane may go first: a hash still on it keeps it, and
// dropping the hash waits for its bytes rather than leaving the lane's thread
// with a dangling hash.
void TestHashLane::theLaneOutlivesItsOwner()
{
    auto lane = std::make_shared<HashLane>(2, kBufferBytes, 0);
    const std::weak_ptr<HashLane> watch = lane;
    {
        LanedHash hash(lane, std::make_unique<Sha256>());
        lane.reset();
        QVERIFY(!watch.expired());
        QByteArray buffer(kBufferBytes, 'z');
        for (int i = 0; i < 8; ++i)
            hash.hand(buffer, kBufferBytes);
        LanedHash moved = std::move(hash);
        QVERIFY(!hash);
        QVERIFY(moved);
    }
    QVERIFY(watch.expired());
}

QTEST_GUILESS_MAIN(TestHashLane)
#include "tst_hash_lane.moc"
