#include "scenario_common.h"

#include <algorithm>

namespace kith::bench {

in_addr_t sourceAddress(size_t i)
{
    return htonl(INADDR_LOOPBACK + uint32_t(i % kSourceAddresses));
}

int64_t fieldInt(const Fields &f, const std::string &key)
{
    const auto it = f.find(key);
    return it == f.end() ? 0 : std::stoll(it->second);
}

int workerCount(const Options &o, int clients, int units)
{
    const int wanted = o.workers > 0
                           ? o.workers
                           : std::max(1, (clients + kClientsPerWorker - 1) / kClientsPerWorker);
    return std::max(1, std::min(wanted, units));
}

void fail(const std::string &what)
{
    std::fprintf(stderr, "kith-bench: %s\n", what.c_str());
}

bool connectBounded(EventLoop &loop, size_t count, const std::function<void(size_t)> &start,
                    const int &ready, const int &failed, int64_t deadlineNs)
{
    size_t next = 0;
    return loop.runUntil([&] { return size_t(ready + failed) >= count; }, deadlineNs,
                         [&] {
                             while (next < count &&
                                    int64_t(next) - ready - failed < kMaxPendingConnects)
                                 start(next++);
                         });
}

std::pair<int64_t, int64_t> parseClientMsgId(const std::string &id)
{
    const size_t last = id.rfind('-');
    const size_t before = last == std::string::npos ? std::string::npos : id.rfind('-', last - 1);
    if (before == std::string::npos)
        return {-1, -1};
    return {std::strtoll(id.c_str() + before + 1, nullptr, 10),
            std::strtoll(id.c_str() + last + 1, nullptr, 10)};
}

std::pair<int64_t, int64_t> parseText(const std::string &body)
{
    char *end = nullptr;
    const int64_t k = std::strtoll(body.c_str(), &end, 10);
    const int64_t t = std::strtoll(end, nullptr, 10);
    return {k, t};
}

std::optional<std::vector<Credentials>> usersFor(const Options &o, const std::string &prefix,
                                                 int count)
{
    UserPool pool(o.tokenCache);
    std::string error;
    auto users = pool.ensure(prefix, count, o.target, o.registerConcurrency,
                             monoNs() + int64_t(o.deadlineSeconds) * 1'000'000'000, &error);
    if (!users)
        fail(error);
    return users;
}

} // namespace kith::bench
