#include "bulk_lane.h"

#include "thread_priority.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace kith::server {

namespace {
// Under CFS a nice-10 thread gets about a tenth of the CPU a nice-0 one does
// when both want it; SCHED_IDLE, tried first, yields at once to any other
// thread that wakes up. Either way the lane has all of a core the loop leaves idle.
constexpr int kBulkNice = 10;

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

} // namespace

BulkLane::BulkLane()
    : m_handle(std::make_shared<Handle>())
    , m_steady([this] { workerMain(Worker::Steady); })
    , m_yielding([this] { workerMain(Worker::Yielding); })
{
    m_handle->lane = this;
}

BulkLane::~BulkLane()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true; // the jobs still queued run first, on either thread
        unpauseAll();
    }
    m_wakeSteady.notify_all();
    m_wakeYielding.notify_all();
    m_steady.join();
    m_yielding.join();
    std::lock_guard lock(m_handle->mutex);
    m_handle->lane = nullptr; // answers still on their way count for nobody
}

qint64 BulkLane::undeliveredBytes()
{
    std::lock_guard lock(m_mutex);
    return m_undelivered;
}

void BulkLane::delivered(qint64 bytes)
{
    {
        std::lock_guard lock(m_mutex);
        m_undelivered -= bytes;
    }
    wakeFor(whoseTurn());
}

void BulkLane::noteInteractive()
{
    m_interactiveUntilNs.store(monotonicNs() + kInteractiveWindowNs, std::memory_order_relaxed);
}

int BulkLane::post(QObject *context, std::function<BulkAnswer()> job,
                   std::function<void(BulkAnswer)> done)
{
    int pending = 0;
    {
        std::lock_guard lock(m_mutex);
        Queue &queue = m_queues[context];
        if (queue.generation == 0)
            queue.generation = m_nextGeneration++;
        queue.jobs.push_back({CompletionRelay::targetOf(context), std::move(job), std::move(done),
                              context, queue.generation});
        ++m_queued;
        enqueueTurn(context, queue);
        pending = queue.pending();
    }
    // After unlocking, so the worker woken does not block on the mutex at once.
    wakeFor(whoseTurn());
    return pending;
}

void BulkLane::whenBelow(QObject *context, int below, std::function<void()> ready)
{
    {
        std::lock_guard lock(m_mutex);
        const auto it = m_queues.find(context);
        if (it != m_queues.end() && it->second.pending() >= below) {
            it->second.wakeBelow = below;
            it->second.wakeTarget = CompletionRelay::targetOf(context);
            it->second.wake = std::move(ready);
            return;
        }
    }
    ready();
}

void BulkLane::setPaused(QObject *context, bool paused)
{
    {
        std::lock_guard lock(m_mutex);
        Queue &queue = m_queues[context];
        if (queue.generation == 0)
            queue.generation = m_nextGeneration++;
        queue.paused = paused;
        if (paused || queue.jobs.empty()) {
            if (!paused && queue.running == 0 && !queue.wake)
                m_queues.erase(context);
            return;
        }
        enqueueTurn(context, queue);
    }
    wakeFor(whoseTurn());
}

void BulkLane::forget(QObject *context)
{
    std::lock_guard lock(m_mutex);
    const auto it = m_queues.find(context);
    if (it == m_queues.end())
        return;
    m_queued -= qsizetype(it->second.jobs.size());
    m_queues.erase(it);
    m_turns.erase(std::remove(m_turns.begin(), m_turns.end(), context), m_turns.end());
    if (m_queued == 0 && !m_running)
        m_idle.notify_all();
}

void BulkLane::drain()
{
    std::unique_lock lock(m_mutex);
    m_draining = true;
    unpauseAll();
    wakeFor(whoseTurn());
    m_idle.wait(lock, [this] { return m_queued == 0 && !m_running; });
    m_draining = false;
}

void BulkLane::enqueueTurn(QObject *owner, Queue &queue)
{
    if (queue.inTurn || queue.jobs.empty() || (queue.paused && !m_draining && !m_stopping))
        return;
    queue.inTurn = true;
    m_turns.push_back(owner);
}

void BulkLane::unpauseAll()
{
    for (auto &[owner, queue] : m_queues)
        enqueueTurn(owner, queue);
}

BulkLane::Job BulkLane::takeNext()
{
    QObject *owner = m_turns.front();
    m_turns.pop_front();
    Queue &queue = m_queues.at(owner);
    queue.inTurn = false;
    Job job = std::move(queue.jobs.front());
    queue.jobs.pop_front();
    --m_queued;
    ++queue.running;
    // Back of the line for its next job: one job per context per turn.
    enqueueTurn(owner, queue);
    return job;
}

void BulkLane::jobEnded(QObject *owner, quint64 generation)
{
    const auto it = m_queues.find(owner);
    if (it == m_queues.end() || it->second.generation != generation)
        return; // forgotten meanwhile
    Queue &queue = it->second;
    --queue.running;
    if (queue.wake && queue.pending() < queue.wakeBelow) {
        CompletionRelay::post(queue.wakeTarget, std::move(queue.wake));
        queue.wake = nullptr;
    }
    if (queue.pending() == 0 && !queue.paused && !queue.wake)
        m_queues.erase(it);
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
    threads::nameThisThread(self == Worker::Yielding ? "kithd-bulk-idle" : "kithd-bulk");
    if (self == Worker::Yielding)
        threads::makeThisThreadIdle(kBulkNice);
    std::condition_variable &wake = self == Worker::Yielding ? m_wakeYielding : m_wakeSteady;
    std::unique_lock lock(m_mutex);
    for (;;) {
        const Worker turn = whoseTurn();
        if (hasRunnable() && !m_running && (m_stopping || turn == self) && mayRunMore()) {
            Job job = takeNext();
            QObject *owner = job.owner;
            const quint64 generation = job.generation;
            m_running = true;
            lock.unlock();
            const qint64 posted = run(job);
            lock.lock();
            m_undelivered += posted;
            m_running = false;
            jobEnded(owner, generation);
            if (m_queued == 0)
                m_idle.notify_all();
            continue;
        }
        if (m_stopping && !hasRunnable() && !m_running) {
            // The other thread may have seen the stop while this one still
            // ran a job, and gone back to waiting: it must look again.
            wakeFor(self == Worker::Steady ? Worker::Yielding : Worker::Steady);
            return;
        }
        if (hasRunnable() && !m_running && turn != self && mayRunMore())
            wakeFor(turn);
        if (self == Worker::Steady && turn == Worker::Yielding && hasRunnable()) {
            const qint64 until = m_interactiveUntilNs.load(std::memory_order_relaxed);
            wake.wait_until(lock,
                            std::chrono::steady_clock::time_point(std::chrono::nanoseconds(until)));
        } else {
            wake.wait(lock);
        }
    }
}

// Tells the lane its answer was taken or dropped, as the lambda holding it
// goes (on whichever thread that happens).
class BulkLane::Delivery
{
public:
    Delivery(std::shared_ptr<Handle> handle, qint64 bytes)
        : m_handle(std::move(handle))
        , m_bytes(bytes)
    {}
    Delivery(const Delivery &) = delete;
    Delivery &operator=(const Delivery &) = delete;
    ~Delivery()
    {
        std::lock_guard lock(m_handle->mutex);
        if (m_handle->lane)
            m_handle->lane->delivered(m_bytes);
    }

private:
    std::shared_ptr<Handle> m_handle;
    qint64 m_bytes;
};

qint64 BulkLane::run(Job &job)
{
    const qint64 started = monotonicNs();
    BulkAnswer answer = job.work();
    const qint64 took = monotonicNs() - started;
    // An answer the lane wrote whole leaves the session's thread nothing to
    // do, and that thread is not woken for it.
    qint64 posted = 0;
    if (answer.needsSession()) {
        posted = answer.frame.size() + answer.rest.size();
        auto delivery = std::make_shared<Delivery>(m_handle, posted);
        CompletionRelay::post(job.target, [done = std::move(job.done), answer = std::move(answer),
                                           delivery = std::move(delivery)]() mutable {
            done(std::move(answer));
            delivery.reset(); // taken: the lane may go on
        });
    }
    job = Job{}; // the job's captures go here, off the session loop
    // The pause comes after the answer is on its way: it slows the next job,
    // not this one.
    if (started < m_interactiveUntilNs.load(std::memory_order_relaxed))
        std::this_thread::sleep_for(std::chrono::nanoseconds(took * kYieldFactor));
    return posted;
}

} // namespace kith::server
