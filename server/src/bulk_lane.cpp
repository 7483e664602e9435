#include "bulk_lane.h"

#include "store/completion_relay.h"

#include <QRunnable>

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

namespace kith::server {

namespace {
// Under CFS a nice-10 thread gets about a tenth of the CPU a nice-0 one does
// when both want it; SCHED_IDLE, tried first, yields at once to any other
// thread that wakes up. Either way the lane has all of a core the loop leaves idle.
constexpr int kBulkNice = 10;
constexpr int kMaxNice = 19;

// Priority alone does not keep bulk work from slowing sends on a machine with
// few cores (the lane's thread and its readers' still share caches and cores
// with the loop and the writer). So while sends flow, and for
// kInteractiveWindowNs after the last one, the lane sleeps as long as each job
// ran: bulk work then takes at most half a core; pages are served at full
// speed again once sends stop.
constexpr qint64 kYieldFactor = 1;
constexpr qint64 kInteractiveWindowNs = 200'000'000;

qint64 monotonicNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void lowerThisThreadsPriority()
{
    thread_local bool lowered = false;
    if (lowered)
        return;
    lowered = true;
    sched_param idle{};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) == 0)
        return;
    // On Linux, PRIO_PROCESS with a thread id reads and sets that one
    // thread's nice value; relative, so a kithd started under nice keeps the
    // lane below its loop.
    const id_t self = id_t(gettid());
    errno = 0;
    const int current = getpriority(PRIO_PROCESS, self);
    if (current == -1 && errno != 0)
        return;
    setpriority(PRIO_PROCESS, self, std::min(kMaxNice, current + kBulkNice));
}
} // namespace

BulkLane::BulkLane()
{
    m_pool.setMaxThreadCount(1);
    m_pool.setExpiryTimeout(-1);
    m_pool.setObjectName(QStringLiteral("kithd-bulk"));
}

BulkLane::~BulkLane()
{
    m_pool.waitForDone();
}

void BulkLane::noteInteractive()
{
    m_interactiveUntilNs.store(monotonicNs() + kInteractiveWindowNs, std::memory_order_relaxed);
}

void BulkLane::post(QObject *context, std::function<BulkAnswer()> job,
                    std::function<void(BulkAnswer)> done)
{
    const CompletionRelay::Target target = CompletionRelay::targetOf(context);
    m_pool.start([this, target, job = std::move(job), done = std::move(done)]() mutable {
        lowerThisThreadsPriority();
        const qint64 started = monotonicNs();
        BulkAnswer answer = job();
        const qint64 took = monotonicNs() - started;
        if (started < m_interactiveUntilNs.load(std::memory_order_relaxed))
            std::this_thread::sleep_for(std::chrono::nanoseconds(took * kYieldFactor));
        CompletionRelay::post(target,
                              [done = std::move(done), answer = std::move(answer)]() mutable {
                                  done(std::move(answer));
                              });
    });
}

void BulkLane::drain()
{
    m_pool.waitForDone();
}

} // namespace kith::server
