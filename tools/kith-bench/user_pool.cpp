#include "user_pool.h"

#include <arpa/inet.h>

#include <fstream>
#include <memory>
#include <sstream>

namespace kith::bench {

namespace {
// Satisfies kithd's 8-byte minimum; these accounts only exist on benchmark servers.
constexpr const char *kPassword = "kith-bench-password";
} // namespace

UserPool::UserPool(std::string cacheFile)
    : m_cacheFile(std::move(cacheFile))
{
    load();
}

void UserPool::load()
{
    std::ifstream in(m_cacheFile);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        Credentials c;
        if (fields >> c.username >> c.userId >> c.token)
            m_known[c.username] = c;
    }
}

void UserPool::append(const Credentials &credentials)
{
    m_known[credentials.username] = credentials;
    std::ofstream out(m_cacheFile, std::ios::app);
    out << credentials.username << '\t' << credentials.userId << '\t' << credentials.token << '\n';
}

std::optional<std::vector<Credentials>> UserPool::ensure(const std::string &prefix, int count,
                                                         const sockaddr_in &target, int concurrency,
                                                         int64_t deadlineNs, std::string *error)
{
    std::vector<std::string> missing;
    for (int i = 0; i < count; ++i) {
        const std::string name = prefix + std::to_string(i);
        if (!m_known.contains(name))
            missing.push_back(name);
    }

    struct Job
    {
        std::string name;
        bool login = false;
    };
    std::vector<Job> queue;
    for (auto it = missing.rbegin(); it != missing.rend(); ++it)
        queue.push_back({*it, false});

    EventLoop loop;
    // Sessions stay alive until the loop has stopped: callbacks run inside them.
    std::vector<std::unique_ptr<KithSession>> sessions;
    int running = 0;
    std::string failure;
    auto startJobs = [&] {
        while (running < concurrency && !queue.empty() && failure.empty()) {
            const Job job = queue.back();
            queue.pop_back();
            Credentials c;
            c.username = job.name;
            c.password = kPassword;
            c.loginWithPassword = job.login;
            auto session = std::make_unique<KithSession>(loop, c);
            session->onReady = [&](KithSession &s) {
                append(s.credentials());
                s.close();
                --running;
            };
            session->onFailed = [&, job](KithSession &s) {
                --running;
                // A name from a lost cache: log in with the known password instead.
                if (!job.login && s.failure().find("NAME_TAKEN") != std::string::npos)
                    queue.push_back({job.name, true});
                else if (failure.empty())
                    failure = job.name + ": " + s.failure();
            };
            ++running;
            sessions.push_back(std::move(session));
            sessions.back()->start(target, htonl(INADDR_LOOPBACK));
        }
    };
    const bool done = loop.runUntil(
        [&] { return !failure.empty() || (queue.empty() && running == 0); }, deadlineNs, startJobs);
    if (!failure.empty() || !done) {
        *error = failure.empty() ? "registering users timed out" : "registering " + failure;
        return std::nullopt;
    }

    std::vector<Credentials> users;
    users.reserve(size_t(count));
    for (int i = 0; i < count; ++i)
        users.push_back(m_known.at(prefix + std::to_string(i)));
    return users;
}

} // namespace kith::bench
