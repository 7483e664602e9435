#pragma once
// The bulk lane: history pages and sync answers are read, encoded and
// compressed off the session loop, one job at a time. Each context (a
// session) has its own queue, run in posting order (so its bulk answers keep
// their request order), and the contexts take turns, one job each: a session
// with fifty pulls queued delays another's sync by one job, not fifty. A
// context whose connection is backed up is paused (its jobs wait) until it
// drains. While sends flow (see
// noteInteractive) the jobs run on a thread at the lowest CPU priority and
// pace themselves, so clients paging deep history never hold up sends, acks
// and pushes; otherwise they run on a thread at kithd's own priority, so that
// other busy programs on the machine cannot starve history and sync (an
// unprivileged thread cannot raise its priority back, hence two threads).
// The lane also waits while kMaxUndeliveredBytes of its answers are on their
// way to a session thread and not yet taken there: each pass of the session
// loop then meets at most that much bulk work (a wss:// answer is encrypted
// there), and the sockets' events between passes are not kept waiting behind
// a thousand pages posted at once.

#include "completion_relay.h"

#include <QByteArray>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

class QObject;

namespace kith::server {

// What a bulk job hands back to its session: the frame to send, and what the
// session's metrics want to know about it.
struct BulkAnswer
{
    QByteArray frame;
    int errorCode = 0;    // a v1::ErrorCode when the answer is an error
    quint64 rawBytes = 0; // with compression: the encoded size before it
    bool compressed = false;
    // Written by the lane itself (DirectWriter): all of it, or all but `rest`.
    bool sentDirect = false;
    QByteArray rest;
    // Left for the session's thread to send: DirectWriter::sentByOwner after.
    bool heldForOwner = false;

    // False for an answer the lane wrote whole: nothing left for the session.
    [[nodiscard]] bool needsSession() const
    {
        return !sentDirect || !rest.isEmpty() || errorCode != 0;
    }
};

class BulkLane
{
public:
    BulkLane();
    ~BulkLane(); // waits for the jobs in flight
    BulkLane(const BulkLane &) = delete;
    BulkLane &operator=(const BulkLane &) = delete;

    // Runs `job` on the lane in `context`'s turn, then `done` on `context`'s
    // thread, unless `context` is gone by then. Call on `context`'s thread.
    // Returns how many of `context`'s jobs are queued or running now.
    int post(QObject *context, std::function<BulkAnswer()> job,
             std::function<void(BulkAnswer)> done);
    // Runs `ready` on `context`'s thread once fewer than `below` of its jobs
    // are queued or running (at once, here, when that is so already). One
    // such wish per context; a later one replaces it.
    void whenBelow(QObject *context, int below, std::function<void()> ready);
    // A paused context's jobs wait (a running one finishes); the others' go on.
    void setPaused(QObject *context, bool paused);
    // Drops `context`'s queued jobs and its state (it is going away); a
    // running job finishes, and its answer is dropped with the context.
    void forget(QObject *context);
    // Blocks until every job posted so far has run, paused ones too (their
    // completions may still be queued). The store must outlive the jobs:
    // call before closing it.
    void drain();

    // Interactive traffic (a send) just happened: for a while the lane gives
    // the cores back between jobs. Cheap; call on the session loop.
    void noteInteractive();

    // Answer bytes handed to session threads that have not taken them yet
    // (run, or dropped with their context). Past this the lane waits; one
    // answer however big always goes.
    static constexpr qint64 kMaxUndeliveredBytes = 1024 * 1024;
    [[nodiscard]] qint64 undeliveredBytes();

private:
    enum class Worker { Steady, Yielding };
    struct Job
    {
        CompletionRelay::Target target;
        std::function<BulkAnswer()> work;
        std::function<void(BulkAnswer)> done;
        QObject *owner = nullptr;
        quint64 generation = 0; // of the owner's queue when posted
    };
    // One context's jobs and state. A context's address may be reused by a
    // later object: a queue is known by its generation too.
    struct Queue
    {
        quint64 generation = 0;
        std::deque<Job> jobs;
        int running = 0;
        bool paused = false;
        bool inTurn = false; // listed in m_turns
        int wakeBelow = 0;   // with `wake`: call it when pending drops under this
        CompletionRelay::Target wakeTarget;
        std::function<void()> wake;

        [[nodiscard]] int pending() const { return int(jobs.size()) + running; }
    };

    [[nodiscard]] Worker whoseTurn() const;
    [[nodiscard]] bool hasRunnable() const { return !m_turns.empty(); }
    void wakeFor(Worker worker); // with m_mutex held
    void workerMain(Worker self);
    // Takes the next job in turn (with m_mutex held; hasRunnable()).
    Job takeNext();
    // The job of `owner` ended (with m_mutex held): its queue's accounting.
    void jobEnded(QObject *owner, quint64 generation);
    void enqueueTurn(QObject *owner, Queue &queue);
    // Runs every paused queue's jobs too (drain, stop).
    void unpauseAll();
    // Returns the bytes of the answer posted to the session's thread.
    qint64 run(Job &job);
    // On whichever thread took (or dropped) an answer of `bytes`.
    void delivered(qint64 bytes);
    [[nodiscard]] bool mayRunMore() const
    {
        return m_undelivered < kMaxUndeliveredBytes || m_draining || m_stopping;
    }

    std::mutex m_mutex;
    std::condition_variable m_wakeSteady;   // a job, its turn or the stop
    std::condition_variable m_wakeYielding; // likewise
    std::condition_variable m_idle;         // nothing queued or running (drain)
    // Guarded by m_mutex, as are the members below them.
    std::unordered_map<QObject *, Queue> m_queues;
    std::deque<QObject *> m_turns; // queues with jobs, not paused, in turn order
    quint64 m_nextGeneration = 1;
    qsizetype m_queued = 0;  // jobs in all queues
    bool m_draining = false; // paused queues run too
    bool m_running = false;  // a job (or its pacing pause) is under way
    bool m_stopping = false;
    qint64 m_undelivered = 0; // may dip below 0 while an answer's post races its count
    // What an answer on its way holds to say it was taken: outlives the lane,
    // which clears it as it goes.
    struct Handle
    {
        std::mutex mutex;
        BulkLane *lane = nullptr;
    };
    std::shared_ptr<Handle> m_handle;
    class Delivery;
    std::atomic<qint64> m_interactiveUntilNs{0};
    std::thread m_steady;
    std::thread m_yielding;
};

} // namespace kith::server
