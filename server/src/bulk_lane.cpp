#include "bulk_lane.h"

#include "store/completion_relay.h"

#include <QRunnable>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace kith::server {

namespace {
// Under CFS a nice-10 thread gets about a tenth of the CPU a nice-0 one does
// when both want it, and all of it when the session loop is idle.
constexpr int kBulkNice = 10;
constexpr int kMaxNice = 19;

void lowerThisThreadsPriority()
{
    thread_local bool lowered = false;
    if (lowered)
        return;
    lowered = true;
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

void BulkLane::post(QObject *context, std::function<BulkAnswer()> job,
                    std::function<void(BulkAnswer)> done)
{
    const CompletionRelay::Target target = CompletionRelay::targetOf(context);
    m_pool.start([target, job = std::move(job), done = std::move(done)]() mutable {
        lowerThisThreadsPriority();
        BulkAnswer answer = job();
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
