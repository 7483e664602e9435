// kith-bench connect: many authenticated connections held at once, and the
// memory kithd spends on each.

#include "scenario_common.h"

#include "chat_text.h"
#include "latency_histogram.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <unordered_set>

namespace kith::bench {

// ---------------------------------------------------------------- connect

int runConnect(const Options &o)
{
    const auto users = usersFor(o, "bc", o.users);
    if (!users)
        return 2;
    // Several connections per user reach socket counts that would otherwise
    // need as many Argon2 registrations; each resume is a full login.
    const int connections = o.users * o.connectionsPerUser;
    const int workers = workerCount(o, connections, connections);
    const int64_t deadline = monoNs() + int64_t(o.deadlineSeconds) * 1'000'000'000;
    WorkerPool pool;
    const bool started = pool.start(workers, o.deadlineSeconds, [&](WorkerLink &link) {
        const auto [first, end] = link.slice(connections);
        EventLoop loop;
        std::vector<std::unique_ptr<KithSession>> sessions;
        int ready = 0, failed = 0;
        for (int i = first; i < end; ++i) {
            sessions.push_back(std::make_unique<KithSession>(loop, (*users)[size_t(i % o.users)]));
            sessions.back()->onReady = [&](KithSession &) { ++ready; };
            sessions.back()->onFailed = [&](KithSession &s) {
                if (failed++ == 0)
                    fail("login failed: " + s.failure());
            };
        }
        link.report({{"phase", "ready"}});
        if (link.waitCommand() != 'g')
            return 1;
        const int64_t startNs = wallNs();
        connectBounded(
            loop, sessions.size(),
            [&](size_t i) {
                sessions[i]->start(targetFor(o, size_t(first) + i),
                                   sourceAddress(size_t(first) + i));
            },
            ready, failed, deadline);
        const int64_t endNs = wallNs();
        // Hold the idle connections while the parent reads kithd's memory.
        link.report({{"ready", std::to_string(ready)},
                     {"failed", std::to_string(failed)},
                     {"start_ns", std::to_string(startNs)},
                     {"end_ns", std::to_string(endNs)}});
        link.waitCommand();
        return 0;
    });
    if (!started || !pool.gather(deadline)) {
        fail("workers did not start");
        return 2;
    }
    // With several nodes: all of them together (the clients are spread evenly).
    const int64_t rssBefore = residentKiBOfNodes(o);
    pool.command('g');
    const auto results = pool.gather(deadline);
    // Let kithd finish the work that follows a login (presence, timers) first.
    ::usleep(1'000'000);
    const int64_t rssAfter = residentKiBOfNodes(o);
    const auto nodeSamples = sampleNodes(o);
    pool.command('q');
    pool.finish(deadline + 5'000'000'000);
    if (!results) {
        fail("a worker died or the deadline passed");
        return 2;
    }
    int64_t ready = 0, failed = 0, startNs = INT64_MAX, endNs = 0;
    for (const Fields &f : *results) {
        ready += fieldInt(f, "ready");
        failed += fieldInt(f, "failed");
        startNs = std::min(startNs, fieldInt(f, "start_ns"));
        endNs = std::max(endNs, fieldInt(f, "end_ns"));
    }
    const double seconds = double(endNs - startNs) / 1e9;
    Report report("connect");
    report.add("users", int64_t(o.users));
    report.add("connections", int64_t(connections));
    report.add("workers", int64_t(workers));
    report.add("connected", ready);
    report.add("failed", failed);
    report.add("seconds", seconds);
    report.add("logins_per_s", seconds > 0 ? double(ready) / seconds : 0.0);
    report.add("rss_before_kib", rssBefore);
    report.add("rss_after_kib", rssAfter);
    report.add("kib_per_connection",
               rssBefore > 0 && ready > 0 ? double(rssAfter - rssBefore) / double(ready) : 0.0);
    report.add("nodes", int64_t(std::max<size_t>(1, o.nodes.size())));
    addNodeRows(nodeSamples, report);
    report.print();
    return ready == connections && failed == 0 ? 0 : 1;
}

} // namespace kith::bench
