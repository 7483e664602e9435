#include "bulk_lane.h"

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

// Called once, by the yielding thread as it starts.
void lowerThisThreadsPriority()
{
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
    : m_steady([this] { workerMain(Worker::Steady); })
    , m_yielding([this] { workerMain(Worker::Yielding); })
{}

BulkLane::~BulkLane()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true; // the jobs still queued run first, on either thread
    }
    m_wakeSteady.notify_all();
    m_wakeYielding.notify_all();
    m_steady.join();
    m_yielding.join();
}

void BulkLane::noteInteractive()
{
    m_interactiveUntilNs.store(monotonicNs() + kInteractiveWindowNs, std::memory_order_relaxed);
}

void BulkLane::post(QObject *context, std::function<BulkAnswer()> job,
                    std::function<void(BulkAnswer)> done)
{
    {
        std::lock_guard lock(m_mutex);
        m_jobs.push_back({CompletionRelay::targetOf(context), std::move(job), std::move(done)});
    }
    // After unlocking, so the worker woken does not block on the mutex at once.
    wakeFor(whoseTurn());
}

void BulkLane::drain()
{
    std::unique_lock lock(m_mutex);
    m_idle.wait(lock, [this] { return m_jobs.empty() && !m_running; });
}

// The yielding thread's while sends flow, the steady one's otherwise.
BulkLane::Worker BulkLane::whoseTurn() const
{
    return monotonicNs() < m_interactiveUntilNs.load(std::memory_order_relaxed) ? Worker::Yielding
                                                                                : Worker::Steady;
}

void BulkLane::wakeFor(Worker worker)
{
    (worker == Worker::Yielding ? m_wakeYielding : m_wakeSteady).notify_one();
}

// A job queued while sends flow waits for the yielding thread, however busy
// the machine, until they stop; then the steady thread takes it. A thread
// that finds the next job is the other's wakes that one.
void BulkLane::workerMain(Worker self)
{
    pthread_setname_np(pthread_self(), self == Worker::Yielding ? "kithd-bulk-idle" : "kithd-bulk");
    if (self == Worker::Yielding)
        lowerThisThreadsPriority();
    std::condition_variable &wake = self == Worker::Yielding ? m_wakeYielding : m_wakeSteady;
    std::unique_lock lock(m_mutex);
    for (;;) {
        const Worker turn = whoseTurn();
        if (!m_jobs.empty() && !m_running && (m_stopping || turn == self)) {
            Job job = std::move(m_jobs.front());
            m_jobs.pop_front();
            m_running = true;
            lock.unlock();
            run(job);
            lock.lock();
            m_running = false;
            if (m_jobs.empty())
                m_idle.notify_all();
            continue;
        }
        if (m_stopping && m_jobs.empty() && !m_running) {
            // The other thread may have seen the stop while this one still
            // ran a job, and gone back to waiting: it must look again.
            wakeFor(self == Worker::Steady ? Worker::Yielding : Worker::Steady);
            return;
        }
        if (!m_jobs.empty() && !m_running && turn != self)
            wakeFor(turn);
        if (self == Worker::Steady && turn == Worker::Yielding && !m_jobs.empty()) {
            const qint64 until = m_interactiveUntilNs.load(std::memory_order_relaxed);
            wake.wait_until(lock,
                            std::chrono::steady_clock::time_point(std::chrono::nanoseconds(until)));
        } else {
            wake.wait(lock);
        }
    }
}

void BulkLane::run(Job &job)
{
    const qint64 started = monotonicNs();
    BulkAnswer answer = job.work();
    const qint64 took = monotonicNs() - started;
    // An answer the lane wrote whole leaves the session's thread nothing to
    // do, and that thread is not woken for it.
    if (answer.needsSession()) {
        CompletionRelay::post(job.target,
                              [done = std::move(job.done), answer = std::move(answer)]() mutable {
                                  done(std::move(answer));
                              });
    }
    job = Job{}; // the job's captures go here, off the session loop
    // The pause comes after the answer is on its way: it slows the next job,
    // not this one.
    if (started < m_interactiveUntilNs.load(std::memory_order_relaxed))
        std::this_thread::sleep_for(std::chrono::nanoseconds(took * kYieldFactor));
}

} // namespace kith::server
