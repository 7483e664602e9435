#include "hash_lane.h"

#include "thread_priority.h"

#include <algorithm>
#include <cstring>

namespace kith::server {

HashLane::HashLane(int buffers, qsizetype bufferBytes, int niceSteps)
    : m_bufferBytes(bufferBytes)
    , m_niceSteps(niceSteps)
{
    m_free.resize(size_t(std::max(buffers, 1))); // allocated on first use
    m_thread = std::thread([this] { run(); });
}

HashLane::~HashLane()
{
    {
        const std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_queued.notify_all();
    m_thread.join();
}

QByteArray HashLane::takeFree(std::unique_lock<std::mutex> &lock)
{
    m_changed.wait(lock, [this] { return !m_free.empty(); });
    QByteArray buffer = std::move(m_free.back());
    m_free.pop_back();
    if (buffer.size() != m_bufferBytes)
        buffer.resize(m_bufferBytes);
    return buffer;
}

QByteArray HashLane::hand(Sha256 &hash, QByteArray full, qsizetype used)
{
    std::unique_lock lock(m_mutex);
    QByteArray empty = takeFree(lock);
    m_queue.push_back(Item{&hash, std::move(full), used});
    lock.unlock();
    m_queued.notify_one();
    return empty;
}

void HashLane::add(Sha256 &hash, QByteArrayView bytes)
{
    while (!bytes.isEmpty()) {
        std::unique_lock lock(m_mutex);
        QByteArray buffer = takeFree(lock);
        lock.unlock();
        const qsizetype take = std::min(bytes.size(), buffer.size());
        std::memcpy(buffer.data(), bytes.data(), size_t(take));
        bytes = bytes.sliced(take);
        lock.lock();
        m_queue.push_back(Item{&hash, std::move(buffer), take});
        lock.unlock();
        m_queued.notify_one();
    }
}

void HashLane::settle(const Sha256 &hash)
{
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] {
        return m_working != &hash &&
               std::none_of(m_queue.begin(), m_queue.end(),
                            [&](const Item &item) { return item.hash == &hash; });
    });
}

void HashLane::run()
{
    threads::nameThisThread("kithd-hash");
    threads::lowerThisThreadsCpu(m_niceSteps);
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_queued.wait(lock, [this] { return m_stop || !m_queue.empty(); });
        if (m_queue.empty())
            return; // stopping, and nothing is left to add
        Item item = std::move(m_queue.front());
        m_queue.pop_front();
        m_working = item.hash;
        lock.unlock();
        item.hash->add(QByteArrayView(item.buffer.constData(), item.used));
        lock.lock();
        m_working = nullptr;
        m_free.push_back(std::move(item.buffer));
        m_changed.notify_all();
    }
}

LanedHash::LanedHash(std::shared_ptr<HashLane> lane, std::unique_ptr<Sha256> hash)
    : m_lane(std::move(lane))
    , m_hash(std::move(hash))
{}

LanedHash &LanedHash::operator=(LanedHash &&other) noexcept
{
    if (this != &other) {
        reset();
        m_lane = std::move(other.m_lane);
        m_hash = std::move(other.m_hash);
    }
    return *this;
}

void LanedHash::hand(QByteArray &buffer, qsizetype used)
{
    if (!m_hash || used <= 0)
        return;
    buffer = m_lane->hand(*m_hash, std::move(buffer), used);
}

void LanedHash::add(QByteArrayView bytes)
{
    if (m_hash)
        m_lane->add(*m_hash, bytes);
}

std::unique_ptr<Sha256> LanedHash::release()
{
    if (m_hash)
        m_lane->settle(*m_hash);
    return std::move(m_hash);
}

void LanedHash::reset()
{
    (void)release();
}

} // namespace kith::server
