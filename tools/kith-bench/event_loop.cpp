#include "event_loop.h"

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

namespace kith::bench {

namespace {
// Enough events per wake-up that thousands of busy sockets drain in a few calls.
constexpr int kMaxEvents = 512;
} // namespace

int64_t monoNs()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t wallNs()
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

EventLoop::EventLoop()
    : m_epoll(epoll_create1(EPOLL_CLOEXEC))
{}

EventLoop::~EventLoop()
{
    if (m_epoll >= 0)
        ::close(m_epoll);
}

bool EventLoop::add(int fd, Pollable *target)
{
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = target;
    return epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void EventLoop::remove(int fd)
{
    epoll_ctl(m_epoll, EPOLL_CTL_DEL, fd, nullptr);
}

bool EventLoop::runUntil(const std::function<bool()> &done, int64_t deadlineNs,
                         const std::function<void()> &tick)
{
    epoll_event events[kMaxEvents];
    while (!done()) {
        const int64_t now = monoNs();
        if (now >= deadlineNs)
            break;
        const int64_t leftMs = (deadlineNs - now) / 1'000'000 + 1;
        const int timeoutMs = int(std::min<int64_t>(tick ? 1 : 20, leftMs));
        const int n = epoll_wait(m_epoll, events, kMaxEvents, timeoutMs);
        for (int i = 0; i < n; ++i)
            static_cast<Pollable *>(events[i].data.ptr)->handleEvents(events[i].events);
        if (tick)
            tick();
    }
    return done();
}

} // namespace kith::bench
