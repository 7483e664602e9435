#pragma once
// EventLoop is a single-threaded epoll loop for kith-bench's sockets: each
// registered Pollable gets its ready events, and callers run the loop until a
// condition holds or a deadline passes. One per process; no Qt event loop.

#include <cstdint>
#include <functional>

namespace kith::bench {

class Pollable
{
public:
    virtual ~Pollable() = default;
    virtual void handleEvents(uint32_t events) = 0;
};

// CLOCK_MONOTONIC in nanoseconds: for durations inside one process.
[[nodiscard]] int64_t monoNs();
// CLOCK_REALTIME in nanoseconds: comparable across worker processes, so it is
// the clock embedded in message texts.
[[nodiscard]] int64_t wallNs();

class EventLoop
{
public:
    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop &) = delete;
    EventLoop &operator=(const EventLoop &) = delete;

    // Edge-triggered read and write readiness for fd.
    bool add(int fd, Pollable *target);
    void remove(int fd);

    // Runs until done() is true or monoNs() passes deadlineNs; tick (when set)
    // runs at least once a millisecond. Returns done().
    bool runUntil(const std::function<bool()> &done, int64_t deadlineNs,
                  const std::function<void()> &tick = {});

private:
    int m_epoll = -1;
};

} // namespace kith::bench
