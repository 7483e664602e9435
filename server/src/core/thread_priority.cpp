#include "thread_priority.h"

#ifdef __linux__
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#endif

namespace kith::server::threads {

#ifdef __linux__
namespace {
constexpr int kMaxNice = 19;
// linux/ioprio.h (glibc has no wrapper).
constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassShift = 13;
constexpr int kIoprioClassBestEffort = 2;
} // namespace

void nameThisThread(const char *name)
{
    pthread_setname_np(pthread_self(), name);
}

void lowerThisThreadsCpu(int steps)
{
    // On Linux, PRIO_PROCESS with a thread id reads and sets that one
    // thread's nice value.
    const id_t self = id_t(gettid());
    errno = 0;
    const int current = getpriority(PRIO_PROCESS, self);
    if (current == -1 && errno != 0)
        return;
    setpriority(PRIO_PROCESS, self, std::min(kMaxNice, current + steps));
}

void makeThisThreadIdle(int fallbackSteps)
{
    sched_param idle{};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) != 0)
        lowerThisThreadsCpu(fallbackSteps);
}

void lowerThisThreadsDisk(int level)
{
    ::syscall(SYS_ioprio_set, kIoprioWhoProcess, int(gettid()),
              (kIoprioClassBestEffort << kIoprioClassShift) | std::clamp(level, 0, 7));
}
#else
void nameThisThread(const char *) {}
void lowerThisThreadsCpu(int) {}
void makeThisThreadIdle(int) {}
void lowerThisThreadsDisk(int) {}
#endif

} // namespace kith::server::threads
