#pragma once
// WorkerPool spreads simulated clients over several processes: this machine
// caps open files per process, so a large run forks workers that each drive
// a slice of the clients and talk to the parent over two pipes. Workers send
// one line per phase ("key=value ..."); the parent answers with one byte to
// start the next phase. Every worker dies by itself at the hard deadline.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kith::bench {

using Fields = std::map<std::string, std::string>;

// A worker's end of its pipes.
class WorkerLink
{
public:
    WorkerLink(int toParent, int fromParent, int index, int count);
    void report(const Fields &fields);
    // Blocks for the parent's next command byte; 0 when the parent is gone.
    char waitCommand();
    // True when a command (or the parent's exit) is waiting to be read.
    [[nodiscard]] bool commandPending() const;

    [[nodiscard]] int index() const { return m_index; }
    [[nodiscard]] int count() const { return m_count; }
    // The share [begin, end) of `total` items that belongs to this worker.
    [[nodiscard]] std::pair<int, int> slice(int total) const;

private:
    int m_toParent;
    int m_fromParent;
    int m_index;
    int m_count;
};

class WorkerPool
{
public:
    WorkerPool() = default;
    ~WorkerPool();
    WorkerPool(const WorkerPool &) = delete;
    WorkerPool &operator=(const WorkerPool &) = delete;

    // Forks `count` workers running body; each exits with body's result and
    // gets SIGKILL from the kernel after deadlineSeconds.
    bool start(int count, unsigned deadlineSeconds, const std::function<int(WorkerLink &)> &body);
    // One report line from every worker, or nullopt when one died or the
    // deadline passed.
    [[nodiscard]] std::optional<std::vector<Fields>> gather(int64_t deadlineNs);
    void command(char c);
    // Waits for every worker to exit (killing the ones still there at the
    // deadline); true when all exited with status 0.
    bool finish(int64_t deadlineNs);

private:
    struct Worker
    {
        pid_t pid = -1;
        int fromWorker = -1;
        int toWorker = -1;
        std::string buffer;
    };
    std::vector<Worker> m_workers;
};

// "k=v k=v" <-> Fields; values never contain spaces.
[[nodiscard]] std::string formatFields(const Fields &fields);
[[nodiscard]] Fields parseFields(const std::string &line);

} // namespace kith::bench
