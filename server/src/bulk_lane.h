#pragma once
// The bulk lane: history pages and sync answers are read, encoded and
// compressed on a thread of their own, at a lower CPU priority (nice 10), so
// that clients paging deep history never hold up sends, acks and pushes on the
// session loop. One thread keeps each session's bulk answers in request order.

#include <QByteArray>
#include <QThreadPool>

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

private:
    QThreadPool m_pool;
};

} // namespace kith::server
