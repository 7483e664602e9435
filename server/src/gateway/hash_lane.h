#pragma once
// Uploads are hashed beside the transfer thread, not on it. SHA-256 runs at
// about the speed the kernel takes a part's bytes into the page cache, so on
// the one transfer thread an upload moved at half the rate the two would
// give side by side. The transfer thread hands each buffer it has stored to
// the lane, with the hash it belongs to, and takes an empty one back; the
// lane's thread adds the buffers to their hashes in the order they came.
//
// Bounded: the lane owns a fixed number of buffers. When all of them wait to
// be hashed, a hand-over waits for the oldest (the transfer thread then runs
// at the hash's speed, as it did when it hashed the bytes itself), so a
// fast client can neither grow the queue nor get bytes past the check.
// Owned by the TransferHub and shared with the hashes still on it.

#include "kith/sha256.h"

#include <QByteArray>
#include <QByteArrayView>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace kith::server {

class HashLane
{
public:
    // The lane's thread runs `niceSteps` below the one that makes it.
    HashLane(int buffers, qsizetype bufferBytes, int niceSteps);
    ~HashLane(); // adds what it holds, then ends its thread
    HashLane(const HashLane &) = delete;
    HashLane &operator=(const HashLane &) = delete;

    // Queues the first `used` bytes of `full` for `hash` and returns an empty
    // buffer of the lane's size in its place.
    [[nodiscard]] QByteArray hand(Sha256 &hash, QByteArray full, qsizetype used);
    // Queues a copy of `bytes` for `hash`.
    void add(Sha256 &hash, QByteArrayView bytes);
    // Returns once every byte queued for `hash` has been added to it.
    void settle(const Sha256 &hash);

private:
    struct Item
    {
        Sha256 *hash = nullptr;
        QByteArray buffer;
        qsizetype used = 0;
    };

    QByteArray takeFree(std::unique_lock<std::mutex> &lock);
    void run();

    const qsizetype m_bufferBytes;
    const int m_niceSteps;
    std::mutex m_mutex;
    std::condition_variable m_queued;  // the lane's thread waits on it
    std::condition_variable m_changed; // a buffer came free or a hash was brought up to date
    std::deque<Item> m_queue;
    std::vector<QByteArray> m_free;
    const Sha256 *m_working = nullptr; // the hash the thread is adding to now
    bool m_stop = false;
    std::thread m_thread;
};

// One upload's hash while its bytes go through a lane: moves, and waits for
// the lane to be done with the hash before it hands the hash on or lets it go.
class LanedHash
{
public:
    LanedHash() = default;
    LanedHash(std::shared_ptr<HashLane> lane, std::unique_ptr<Sha256> hash);
    ~LanedHash() { reset(); }
    LanedHash(LanedHash &&) noexcept = default;
    LanedHash &operator=(LanedHash &&other) noexcept;
    LanedHash(const LanedHash &) = delete;
    LanedHash &operator=(const LanedHash &) = delete;

    explicit operator bool() const { return bool(m_hash); }

    // `buffer`'s first `used` bytes are added: `buffer` is swapped for an
    // empty one of the lane's size.
    void hand(QByteArray &buffer, qsizetype used);
    // A copy of `bytes` is added.
    void add(QByteArrayView bytes);
    // The hash with every byte handed in added; this one is empty after.
    [[nodiscard]] std::unique_ptr<Sha256> release();
    void reset();

private:
    std::shared_ptr<HashLane> m_lane;
    std::unique_ptr<Sha256> m_hash;
};

} // namespace kith::server
