#pragma once
// CommitGate: holds a store's writer between its writes and its COMMIT (through
// SqliteStore::Options::beforeCommitForTesting), so a test can look at what
// is acknowledged and visible while a batch is written but not committed,
// without sleeping. Header-only, standard library only.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

namespace kith::test {

class CommitGate
{
public:
    // For the store's options; runs on the writer thread. While the gate is
    // closed, every batch that reaches its COMMIT waits there.
    [[nodiscard]] std::function<void()> hook()
    {
        return [this] {
            std::unique_lock lock(m_mutex);
            if (m_open)
                return;
            ++m_held;
            m_changed.notify_all();
            m_changed.wait(lock, [this] { return m_open; });
        };
    }

    // Batches reaching their COMMIT wait from now on.
    void close()
    {
        std::lock_guard lock(m_mutex);
        m_open = false;
        m_held = 0;
    }
    // Lets the held batch commit, and every batch after it.
    void open()
    {
        std::lock_guard lock(m_mutex);
        m_open = true;
        m_changed.notify_all();
    }
    // True once a batch waits at its COMMIT (false after `timeoutMs`).
    [[nodiscard]] bool waitHeld(int timeoutMs)
    {
        std::unique_lock lock(m_mutex);
        return m_changed.wait_for(lock, std::chrono::milliseconds(timeoutMs),
                                  [this] { return m_held > 0; });
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_changed;
    bool m_open = true;
    int m_held = 0; // batches that have waited since close()
};

} // namespace kith::test
