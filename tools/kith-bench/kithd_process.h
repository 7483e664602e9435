#pragma once
// KithdProcess starts the kithd under test on a free loopback port with the
// send rate limit raised for benchmarking, waits for its ready line, and
// stops it (SIGTERM, then SIGKILL) when the run ends. Its pid is what the
// connect scenario reads VmRSS from.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kith::bench {

class KithdProcess
{
public:
    KithdProcess() = default;
    ~KithdProcess();
    KithdProcess(const KithdProcess &) = delete;
    KithdProcess &operator=(const KithdProcess &) = delete;

    // kithd's stderr goes to DATA/kithd-bench.log. Without `realLimits` the
    // request budgets and per-address limits are lifted (the scenarios
    // measure speed, from a few loopback addresses).
    [[nodiscard]] bool start(const std::string &kithdPath, const std::string &dataDir,
                             bool realLimits, std::string *error);
    void stop();
    // CPUs kithd may run on (sched_setaffinity before exec), e.g. one core
    // for the server and the rest for the load; empty: wherever it likes.
    void setCpus(std::vector<int> cpus) { m_cpus = std::move(cpus); }

    [[nodiscard]] pid_t pid() const { return m_pid; }
    [[nodiscard]] uint16_t port() const { return m_port; }

private:
    pid_t m_pid = -1;
    uint16_t m_port = 0;
    std::vector<int> m_cpus;
};

// "0", "0,2", "0-3,6": the CPUs named, in order, each once; empty (with
// *error set) for anything else.
[[nodiscard]] std::vector<int> parseCpuList(const std::string &text, std::string *error);

// Resident set of a process in KiB from /proc/<pid>/status; -1 when unknown.
[[nodiscard]] int64_t residentKiB(pid_t pid);

} // namespace kith::bench
