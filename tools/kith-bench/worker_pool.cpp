#include "worker_pool.h"

#include "event_loop.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

namespace kith::bench {

std::string formatFields(const Fields &fields)
{
    std::string line;
    for (const auto &[key, value] : fields) {
        if (!line.empty())
            line += ' ';
        line += key + '=' + value;
    }
    return line;
}

Fields parseFields(const std::string &line)
{
    Fields fields;
    std::istringstream in(line);
    std::string token;
    while (in >> token) {
        const size_t eq = token.find('=');
        if (eq != std::string::npos)
            fields[token.substr(0, eq)] = token.substr(eq + 1);
    }
    return fields;
}

WorkerLink::WorkerLink(int toParent, int fromParent, int index, int count)
    : m_toParent(toParent)
    , m_fromParent(fromParent)
    , m_index(index)
    , m_count(count)
{}

void WorkerLink::report(const Fields &fields)
{
    const std::string line = formatFields(fields) + '\n';
    size_t done = 0;
    while (done < line.size()) {
        const ssize_t n = ::write(m_toParent, line.data() + done, line.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        done += size_t(n);
    }
}

char WorkerLink::waitCommand()
{
    char c = 0;
    for (;;) {
        const ssize_t n = ::read(m_fromParent, &c, 1);
        if (n < 0 && errno == EINTR)
            continue;
        return n == 1 ? c : 0;
    }
}

bool WorkerLink::commandPending() const
{
    pollfd p{m_fromParent, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
}

std::pair<int, int> WorkerLink::slice(int total) const
{
    const int begin = int(int64_t(total) * m_index / m_count);
    const int end = int(int64_t(total) * (m_index + 1) / m_count);
    return {begin, end};
}

WorkerPool::~WorkerPool()
{
    for (Worker &w : m_workers) {
        if (w.pid > 0)
            ::kill(w.pid, SIGKILL);
    }
    finish(monoNs() + 2'000'000'000);
}

bool WorkerPool::start(int count, unsigned deadlineSeconds,
                       const std::function<int(WorkerLink &)> &body)
{
    for (int i = 0; i < count; ++i) {
        int up[2];
        int down[2];
        if (::pipe2(up, O_CLOEXEC) != 0)
            return false;
        if (::pipe2(down, O_CLOEXEC) != 0) {
            ::close(up[0]);
            ::close(up[1]);
            return false;
        }
        const pid_t pid = ::fork();
        if (pid < 0)
            return false;
        if (pid == 0) {
            // A worker never outlives the run: the parent's death or the
            // scenario's hard deadline ends it.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::alarm(deadlineSeconds);
            ::close(up[0]);
            ::close(down[1]);
            for (const Worker &w : m_workers) {
                ::close(w.fromWorker);
                ::close(w.toWorker);
            }
            WorkerLink link(up[1], down[0], i, count);
            ::_exit(body(link));
        }
        ::close(up[1]);
        ::close(down[0]);
        m_workers.push_back({pid, up[0], down[1], {}});
    }
    return true;
}

std::optional<std::vector<Fields>> WorkerPool::gather(int64_t deadlineNs)
{
    std::vector<std::optional<std::string>> lines(m_workers.size());
    size_t have = 0;
    while (have < m_workers.size()) {
        std::vector<pollfd> fds;
        std::vector<size_t> which;
        for (size_t i = 0; i < m_workers.size(); ++i) {
            if (!lines[i]) {
                fds.push_back({m_workers[i].fromWorker, POLLIN, 0});
                which.push_back(i);
            }
        }
        const int64_t leftMs = (deadlineNs - monoNs()) / 1'000'000;
        if (leftMs <= 0)
            return std::nullopt;
        const int n = ::poll(fds.data(), fds.size(), int(std::min<int64_t>(leftMs, 1000)));
        if (n < 0 && errno != EINTR)
            return std::nullopt;
        for (size_t k = 0; n > 0 && k < fds.size(); ++k) {
            if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            Worker &w = m_workers[which[k]];
            char chunk[4096];
            const ssize_t got = ::read(w.fromWorker, chunk, sizeof chunk);
            if (got <= 0)
                return std::nullopt; // the worker died before reporting
            w.buffer.append(chunk, size_t(got));
            const size_t eol = w.buffer.find('\n');
            if (eol != std::string::npos) {
                lines[which[k]] = w.buffer.substr(0, eol);
                w.buffer.erase(0, eol + 1);
                ++have;
            }
        }
    }
    std::vector<Fields> result;
    for (const auto &line : lines)
        result.push_back(parseFields(*line));
    return result;
}

void WorkerPool::command(char c)
{
    for (const Worker &w : m_workers) {
        if (::write(w.toWorker, &c, 1) != 1)
            continue;
    }
}

bool WorkerPool::finish(int64_t deadlineNs)
{
    bool allOk = true;
    for (Worker &w : m_workers) {
        if (w.pid <= 0)
            continue;
        int status = 0;
        pid_t r = 0;
        while ((r = ::waitpid(w.pid, &status, WNOHANG)) == 0 && monoNs() < deadlineNs)
            ::usleep(10'000);
        if (r == 0) {
            ::kill(w.pid, SIGKILL);
            ::waitpid(w.pid, &status, 0);
            allOk = false;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            allOk = false;
        }
        w.pid = -1;
        ::close(w.fromWorker);
        ::close(w.toWorker);
    }
    return allOk;
}

} // namespace kith::bench
