#include "kithd_process.h"

#include "event_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <vector>

namespace kith::bench {

namespace {
// Argon2 at the minimum kithd accepts: registration is setup, not the subject.
constexpr const char *kArgon2MemoryKiB = "19456";
// High enough that no benchmark sender is ever rate limited.
constexpr const char *kSendRate = "10000000";
// A cold start on a loaded machine (schema creation, first fsync) is slow.
constexpr int64_t kReadyTimeoutNs = 30'000'000'000;
constexpr int64_t kStopTimeoutNs = 15'000'000'000;
} // namespace

std::vector<int> parseCpuList(const std::string &text, std::string *error)
{
    std::vector<int> cpus;
    const auto add = [&cpus](int cpu) {
        if (std::find(cpus.begin(), cpus.end(), cpu) == cpus.end())
            cpus.push_back(cpu);
    };
    static const std::regex item(R"((\d+)(?:-(\d+))?)");
    size_t start = 0;
    while (start <= text.size()) {
        const size_t comma = std::min(text.find(',', start), text.size());
        const std::string part = text.substr(start, comma - start);
        std::smatch m;
        if (!std::regex_match(part, m, item)) {
            *error = "not a CPU list: '" + text + "' (e.g. 0 or 0,2 or 0-3)";
            return {};
        }
        const int first = std::stoi(m[1].str());
        const int last = m[2].matched ? std::stoi(m[2].str()) : first;
        if (last < first || last >= CPU_SETSIZE) {
            *error = "not a CPU list: '" + text + "' (e.g. 0 or 0,2 or 0-3)";
            return {};
        }
        for (int cpu = first; cpu <= last; ++cpu)
            add(cpu);
        start = comma + 1;
    }
    return cpus;
}

KithdProcess::~KithdProcess()
{
    if (m_readyPipe >= 0)
        ::close(m_readyPipe);
    stop();
}

bool KithdProcess::start(const std::string &kithdPath, const std::string &dataDir,
                         const std::vector<std::string> &extraArgs, bool realLimits,
                         std::string *error)
{
    return launch(kithdPath, dataDir, extraArgs, realLimits, error) && waitReady(error);
}

bool KithdProcess::launch(const std::string &kithdPath, const std::string &dataDir,
                          const std::vector<std::string> &extraArgs, bool realLimits,
                          std::string *error)
{
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
        *error = "pipe failed";
        return false;
    }
    const std::string logPath = dataDir + "/kithd-bench.log";
    std::vector<std::string> args{kithdPath, "--data", dataDir, "--listen", "127.0.0.1", "--port",
                                  "0", "--admin-port", "0", "--send-rate", kSendRate,
                                  "--send-burst", kSendRate, "--argon2-memory-kib",
                                  kArgon2MemoryKiB, "--argon2-ops", "2",
                                  // Thousands of users register from loopback.
                                  "--registrations-per-hour", "0"};
    if (!m_tls)
        args.push_back("--plain");
    if (!realLimits) {
        for (const char *flag :
             {"--read-rate", "--write-rate", "--group-change-rate", "--typing-rate", "--auth-rate",
              "--max-unauthenticated-per-address"})
            args.insert(args.end(), {flag, "0"});
        args.insert(args.end(), {"--hashes-per-address", "1000"});
    } else {
        // Setting up registers and resumes many users from a few addresses.
        args.insert(args.end(), {"--auth-rate", "0", "--hashes-per-address", "1000"});
    }
    args.insert(args.end(), extraArgs.begin(), extraArgs.end());
    const pid_t pid = ::fork();
    if (pid < 0) {
        *error = "fork failed";
        return false;
    }
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        // kith-bench ignores SIGPIPE, and an ignored signal stays ignored
        // across exec: kithd runs with it as from a shell, so that a write
        // that would end it there ends it here too.
        ::signal(SIGPIPE, SIG_DFL);
        if (!m_cpus.empty()) {
            cpu_set_t set;
            CPU_ZERO(&set);
            for (const int cpu : m_cpus)
                CPU_SET(cpu, &set);
            if (::sched_setaffinity(0, sizeof set, &set) != 0)
                ::_exit(126);
        }
        if (m_fsyncDelayUs > 0) {
            const std::string library = slowFsyncLibrary();
            ::setenv("LD_PRELOAD", library.c_str(), 1);
            ::setenv("KITH_SLOW_FSYNC_US", std::to_string(m_fsyncDelayUs).c_str(), 1);
        }
        ::dup2(out[1], STDOUT_FILENO);
        const int log = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (log >= 0)
            ::dup2(log, STDERR_FILENO);
        std::vector<char *> argv;
        for (std::string &a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(out[1]);
    m_pid = pid;
    m_readyPipe = out[0];
    m_logPath = logPath;
    return true;
}

bool KithdProcess::waitReady(std::string *error)
{
    int out[2] = {m_readyPipe, -1};
    m_readyPipe = -1;
    if (out[0] < 0) {
        *error = "kithd was not launched";
        return false;
    }
    const std::string &logPath = m_logPath;

    static const std::regex readyLine(
        R"(kithd ready: wss?://[^\s/]+:(\d+)/ admin=http://[^\s/]+:(\d+)/)");
    std::string seen;
    const int64_t deadline = monoNs() + kReadyTimeoutNs;
    while (monoNs() < deadline) {
        pollfd p{out[0], POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0)
            continue;
        char chunk[1024];
        const ssize_t n = ::read(out[0], chunk, sizeof chunk);
        if (n <= 0)
            break;
        seen.append(chunk, size_t(n));
        std::smatch match;
        if (std::regex_search(seen, match, readyLine)) {
            m_port = uint16_t(std::stoi(match[1].str()));
            m_adminPort = uint16_t(std::stoi(match[2].str()));
            // kithd keeps writing to stdout only at startup; the pipe may close.
            ::close(out[0]);
            if (m_fsyncDelayUs > 0 && !processMaps(m_pid, "libkith_slow_fsync")) {
                *error = "kithd runs without " + slowFsyncLibrary() +
                         " (not preloaded): the slow disk would not be measured";
                stop();
                return false;
            }
            return true;
        }
    }
    ::close(out[0]);
    *error = "kithd did not print its ready line (see " + logPath + ")";
    stop();
    return false;
}

void KithdProcess::stop()
{
    if (m_pid <= 0)
        return;
    ::kill(m_pid, SIGTERM);
    int status = 0;
    const int64_t deadline = monoNs() + kStopTimeoutNs;
    while (::waitpid(m_pid, &status, WNOHANG) == 0) {
        if (monoNs() > deadline) {
            ::kill(m_pid, SIGKILL);
            ::waitpid(m_pid, &status, 0);
            break;
        }
        ::usleep(20'000);
    }
    m_pid = -1;
}

void KithdProcess::kill9()
{
    if (m_pid <= 0)
        return;
    ::kill(m_pid, SIGKILL);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
    m_pid = -1;
}

std::string slowFsyncLibrary()
{
    if (const char *path = std::getenv("KITH_SLOW_FSYNC_LIB"); path && *path)
        return path;
    return KITH_SLOW_FSYNC_LIB;
}

bool processMaps(pid_t pid, const std::string &name)
{
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    std::string line;
    while (std::getline(maps, line)) {
        if (line.find(name) != std::string::npos)
            return true;
    }
    return false;
}

std::string fetchMetrics(uint16_t adminPort)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return {};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(adminPort);
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    std::string response;
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof addr) == 0) {
        const std::string request =
            "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size())) {
            // Qt's HTTP server may keep the connection open: read up to the
            // end its Content-Length gives.
            char chunk[4096];
            ssize_t n = 0;
            while ((n = ::recv(fd, chunk, sizeof chunk, 0)) > 0) {
                response.append(chunk, size_t(n));
                const size_t head = response.find("\r\n\r\n");
                if (head == std::string::npos)
                    continue;
                std::string headers = response.substr(0, head);
                for (char &c : headers)
                    c = char(std::tolower(static_cast<unsigned char>(c)));
                const size_t length = headers.find("content-length:");
                if (length != std::string::npos &&
                    response.size() >=
                        head + 4 + std::strtoull(headers.c_str() + length + 15, nullptr, 10))
                    break;
            }
        }
    }
    ::close(fd);
    const size_t body = response.find("\r\n\r\n");
    return body == std::string::npos ? std::string() : response.substr(body + 4);
}

double metricValue(const std::string &metrics, const std::string &name, const std::string &labels)
{
    double sum = -1;
    size_t at = 0;
    while (at < metrics.size()) {
        size_t end = metrics.find('\n', at);
        if (end == std::string::npos)
            end = metrics.size();
        const std::string line = metrics.substr(at, end - at);
        at = end + 1;
        if (line.compare(0, name.size(), name) != 0 || line.size() == name.size())
            continue;
        const char next = line[name.size()];
        if (next != ' ' && next != '{')
            continue;
        const size_t space = line.rfind(' ');
        const std::string labelPart = line.substr(name.size(), space - name.size());
        if (!labels.empty() && labelPart.find(labels) == std::string::npos)
            continue;
        sum = (sum < 0 ? 0 : sum) + std::strtod(line.c_str() + space + 1, nullptr);
    }
    return sum;
}

int64_t residentKiB(pid_t pid)
{
    return statusKiB(pid, "VmRSS:");
}

int64_t statusKiB(pid_t pid, const std::string &field)
{
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string key;
    while (status >> key) {
        if (key == field) {
            int64_t kib = -1;
            status >> kib;
            return kib;
        }
        status.ignore(4096, '\n');
    }
    return -1;
}

} // namespace kith::bench
