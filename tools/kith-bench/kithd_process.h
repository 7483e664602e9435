#pragma once
// KithdProcess starts the kithd under test on a free loopback port with the
// send rate limit raised for benchmarking, waits for its ready line, and
// stops it (SIGTERM, then SIGKILL) when the run ends. Its pid is what the
// connect scenario reads VmRSS from; its admin port serves /metrics (the bus
// traffic of a node among several).

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

    // kithd's stderr goes to DATA/kithd-bench.log; `extraArgs` follow the
    // bench's own (e.g. --store, --bus, --node-id). Without `realLimits` the
    // request budgets and per-address limits are lifted (the scenarios
    // measure speed, from a few loopback addresses).
    [[nodiscard]] bool start(const std::string &kithdPath, const std::string &dataDir,
                             const std::vector<std::string> &extraArgs, bool realLimits,
                             std::string *error);
    // start() in two halves, so that several nodes come up side by side.
    [[nodiscard]] bool launch(const std::string &kithdPath, const std::string &dataDir,
                              const std::vector<std::string> &extraArgs, bool realLimits,
                              std::string *error);
    [[nodiscard]] bool waitReady(std::string *error);
    void stop();
    // CPUs kithd may run on (sched_setaffinity before exec), e.g. one core
    // for the server and the rest for the load; empty: wherever it likes.
    void setCpus(std::vector<int> cpus) { m_cpus = std::move(cpus); }
    // Serve wss:// with kithd's own certificate (made in the data folder on
    // first start) instead of plain ws://. Call before launch().
    void setTls(bool on) { m_tls = on; }
    // A slow disk: every fsync/fdatasync kithd makes costs `us` more (the
    // slow-fsync library preloaded, KITH_SLOW_FSYNC_US set); 0: the real
    // disk. waitReady() checks the library is in kithd before it says ready.
    void setFsyncDelayUs(long us) { m_fsyncDelayUs = us; }
    // SIGKILL, as a node dies: no goodbye on the bus, connections cut.
    void kill9();

    [[nodiscard]] pid_t pid() const { return m_pid; }
    [[nodiscard]] uint16_t port() const { return m_port; }
    [[nodiscard]] uint16_t adminPort() const { return m_adminPort; }

private:
    pid_t m_pid = -1;
    uint16_t m_port = 0;
    uint16_t m_adminPort = 0;
    int m_readyPipe = -1; // kithd's stdout until its ready line
    std::string m_logPath;
    std::vector<int> m_cpus;
    bool m_tls = false;
    long m_fsyncDelayUs = 0;
};

// "0", "0,2", "0-3,6": the CPUs named, in order, each once; empty (with
// *error set) for anything else.
[[nodiscard]] std::vector<int> parseCpuList(const std::string &text, std::string *error);
// GET http://127.0.0.1:PORT/metrics (the body; empty when it does not answer).
[[nodiscard]] std::string fetchMetrics(uint16_t adminPort);
// The sum of a metric's samples in a /metrics text whose labels contain
// `labels` (all when empty); -1 when absent.
[[nodiscard]] double metricValue(const std::string &metrics, const std::string &name,
                                 const std::string &labels = {});

// The slow-fsync library kith-bench preloads for setFsyncDelayUs(): the one
// built with it, or $KITH_SLOW_FSYNC_LIB.
[[nodiscard]] std::string slowFsyncLibrary();
// Whether a process has a file whose name contains `name` mapped.
[[nodiscard]] bool processMaps(pid_t pid, const std::string &name);

// Resident set of a process in KiB from /proc/<pid>/status; -1 when unknown.
[[nodiscard]] int64_t residentKiB(pid_t pid);
// A KiB field of /proc/<pid>/status ("VmRSS:", "VmHWM:"); -1 when unknown.
[[nodiscard]] int64_t statusKiB(pid_t pid, const std::string &field);

} // namespace kith::bench
