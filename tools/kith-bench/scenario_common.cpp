#include "scenario_common.h"

#include <unistd.h>

#include <algorithm>

namespace kith::bench {

in_addr_t sourceAddress(size_t i)
{
    return htonl(INADDR_LOOPBACK + uint32_t(i % kSourceAddresses));
}

const sockaddr_in &targetFor(const Options &o, size_t client)
{
    if (o.nodes.empty())
        return o.target;
    return o.nodes[client % o.nodes.size()].address;
}

std::vector<NodeSample> sampleNodes(const Options &o)
{
    std::vector<NodeSample> samples;
    if (o.nodes.size() < 2)
        return samples;
    for (const Node &node : o.nodes) {
        NodeSample sample;
        sample.id = node.id;
        const std::string metrics = node.adminPort != 0 ? fetchMetrics(node.adminPort) : "";
        if (!metrics.empty() && node.pid > 0)
            sample.rssKiB = residentKiB(node.pid);
        sample.connections = int64_t(metricValue(metrics, "kith_connections"));
        // A node with no traffic yet shows the family without samples.
        const auto counter = [&](const char *name) {
            return metrics.empty() ? int64_t(-1)
                                   : std::max<int64_t>(0, int64_t(metricValue(metrics, name)));
        };
        sample.published = counter("kith_bus_published_total");
        sample.received = counter("kith_bus_received_total");
        for (const Node &other : o.nodes) {
            if (other.id == node.id)
                continue;
            const double count = metricValue(metrics, "kith_bus_published_total",
                                             "to=\"" + std::to_string(other.id) + "\"");
            sample.publishedTo += (sample.publishedTo.empty() ? "" : " ") +
                                  std::to_string(other.id) + ":" +
                                  std::to_string(int64_t(count < 0 ? 0 : count));
        }
        samples.push_back(sample);
    }
    return samples;
}

void addNodeRows(const std::vector<NodeSample> &samples, Report &report)
{
    for (const NodeSample &sample : samples) {
        const std::string key = "node" + std::to_string(sample.id) + "_";
        report.add(key + "rss_kib", sample.rssKiB);
        report.add(key + "connections", sample.connections);
        report.add(key + "bus_published", sample.published);
        report.add(key + "bus_received", sample.received);
        report.add(key + "bus_published_to", sample.publishedTo);
    }
}

void waitForDirectory(const Options &o, int users)
{
    if (o.nodes.size() < 2)
        return;
    const int64_t deadline = monoNs() + 60'000'000'000;
    while (monoNs() < deadline) {
        bool all = true;
        for (const Node &node : o.nodes) {
            const std::string metrics = fetchMetrics(node.adminPort);
            all = all && metricValue(metrics, "kith_users_online") +
                                 metricValue(metrics, "kith_bus_remote_users") >=
                             double(users);
        }
        if (all)
            return;
        ::usleep(50'000);
    }
    fail("the nodes' directories did not learn of every user; pushes may be lost at first");
}

int64_t residentKiBOfNodes(const Options &o)
{
    if (o.nodes.empty())
        return o.kithdPid > 0 ? residentKiB(o.kithdPid) : -1;
    int64_t sum = 0;
    for (const Node &node : o.nodes) {
        const int64_t kib = node.pid > 0 ? residentKiB(node.pid) : -1;
        if (kib < 0)
            return -1;
        sum += kib;
    }
    return sum;
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
