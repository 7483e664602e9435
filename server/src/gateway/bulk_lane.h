#pragma once
// The bulk lane: history pages and sync answers are read, encoded and
// compressed off the session loop, one job at a time in posting order (so each
// session's bulk answers keep their request order). While sends flow (see
// noteInteractive) the jobs run on a thread at the lowest CPU priority and
// pace themselves, so clients paging deep history never hold up sends, acks
// and pushes; otherwise they run on a thread at kithd's own priority, so that
// other busy programs on the machine cannot starve history and sync (an
// unprivileged thread cannot raise its priority back, hence two threads).

#include "completion_relay.h"

#include <QByteArray>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

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

    // Runs `job` on the lane, then `done` on `context`'s thread, unless
    // `context` is gone by then. Call on `context`'s thread.
    void post(QObject *context, std::function<BulkAnswer()> job,
              std::function<void(BulkAnswer)> done);
    // Blocks until every job posted so far has run (their completions may
    // still be queued). The store must outlive the jobs: call before closing it.
    void drain();

    // Interactive traffic (a send) just happened: for a while the lane gives
    // the cores back between jobs. Cheap; call on the session loop.
    void noteInteractive();

private:
    enum class Worker { Steady, Yielding };
    struct Job
    {
        CompletionRelay::Target target;
        std::function<BulkAnswer()> work;
        std::function<void(BulkAnswer)> done;
    };

    [[nodiscard]] Worker whoseTurn() const;
    void wakeFor(Worker worker); // with m_mutex held
    void workerMain(Worker self);
    void run(Job &job);

    std::mutex m_mutex;
    std::condition_variable m_wakeSteady;   // a job, its turn or the stop
    std::condition_variable m_wakeYielding; // likewise
    std::condition_variable m_idle;         // nothing queued or running (drain)
    std::deque<Job> m_jobs;                 // guarded by m_mutex, as are the two below
    bool m_running = false;                 // a job (or its pacing pause) is under way
    bool m_stopping = false;
    std::atomic<qint64> m_interactiveUntilNs{0};
    std::thread m_steady;
    std::thread m_yielding;
};

} // namespace kith::server
