// libkith_slow_fsync: a disk whose flushes cost more than this machine's.
//
// Preloaded into kithd (LD_PRELOAD; kith-bench --kithd-fsync-ms does it), it
// wraps fsync and fdatasync: each calls the real one, then sleeps
// KITH_SLOW_FSYNC_US microseconds before returning, as a slow SD card or a
// cheap SSD whose flush takes milliseconds would hold the caller. Everything
// else, writes included, stays as fast as the real disk. The device flushes
// one file at a time, as an SD card does: two threads syncing at once (the
// store's writer and its checkpointer) wait in turn, while threads that do
// not sync run on.
//
// For measuring only: nothing in Kith links it, and kithd does not know it
// is there.

#include <dlfcn.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace {

using SyncFn = int (*)(int);

long delayUs()
{
    // Read on each call: cheap next to a flush, and no start-up order to
    // worry about. Unset, empty, not a number, negative or over 10 s: none.
    const char *text = std::getenv("KITH_SLOW_FSYNC_US");
    if (!text || !*text)
        return 0;
    char *end = nullptr;
    const long us = std::strtol(text, &end, 10);
    if (*end != '\0' || us <= 0 || us > 10L * 1000 * 1000)
        return 0;
    return us;
}

std::mutex device;

void hold()
{
    const long us = delayUs();
    if (us == 0)
        return;
    const std::lock_guard oneAtATime(device);
    timespec left{us / 1'000'000, (us % 1'000'000) * 1000};
    // A signal does not cut a real flush short either.
    while (::nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}

int callThenHold(const char *name, std::atomic<SyncFn> &slot, int fd)
{
    SyncFn real = slot.load(std::memory_order_acquire);
    if (!real) {
        real = reinterpret_cast<SyncFn>(::dlsym(RTLD_NEXT, name));
        slot.store(real, std::memory_order_release);
    }
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    const int rc = real(fd);
    const int saved = errno;
    if (rc == 0)
        hold();
    errno = saved;
    return rc;
}

std::atomic<SyncFn> realFsync{nullptr};
std::atomic<SyncFn> realFdatasync{nullptr};

} // namespace

extern "C" {

__attribute__((visibility("default"))) int fsync(int fd)
{
    return callThenHold("fsync", realFsync, fd);
}

__attribute__((visibility("default"))) int fdatasync(int fd)
{
    return callThenHold("fdatasync", realFdatasync, fd);
}

} // extern "C"
