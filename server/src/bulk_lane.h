#pragma once
// The bulk lane: history pages and sync answers are read, encoded and
// compressed on a thread of their own, at the lowest CPU priority and paced
// while sends flow (see noteInteractive), so that clients paging deep history
// never hold up sends, acks and pushes on the session loop. One thread keeps each session's bulk
// answers in request order.

#include <QByteArray>
#include <QThreadPool>

#include <atomic>
#include <functional>

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
    QThreadPool m_pool;
    std::atomic<qint64> m_interactiveUntilNs{0};
};

} // namespace kith::server
