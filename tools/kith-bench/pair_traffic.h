#pragma once
// Pairs of users sending to each other, against kithd or the bare relay: the
// workers, their totals, and idle connections held beside them. Used by the
// direct, relay and latency scenarios.

#include "latency_histogram.h"
#include "scenario_common.h"
#include "ws_connection.h"

#include <memory>

namespace kith::bench {

// Totals of a direct, relay or latency run over all workers.
struct PairTotals
{
    int64_t sent = 0, acked = 0, delivered = 0, lost = 0, duplicates = 0, reordered = 0, errors = 0,
            failed = 0;
    int64_t firstSendNs = INT64_MAX, lastDeliveryNs = 0;
    LatencyHistogram latency;
    int workers = 0;

    [[nodiscard]] double seconds() const
    {
        return lastDeliveryNs > firstSendNs ? double(lastDeliveryNs - firstSendNs) / 1e9 : 0;
    }
    [[nodiscard]] double perSecond() const
    {
        return seconds() > 0 ? double(delivered) / seconds() : 0;
    }
    [[nodiscard]] bool clean() const
    {
        return lost == 0 && duplicates == 0 && reordered == 0 && errors == 0 && failed == 0 &&
               delivered == acked && acked > 0;
    }

    // Adds a separate run of the same load: counts and latencies add up, and
    // the rate is over the runs' own durations only (kept as a duration
    // counted from 0).
    void add(const PairTotals &run)
    {
        const double total = seconds() + run.seconds();
        sent += run.sent;
        acked += run.acked;
        delivered += run.delivered;
        lost += run.lost;
        duplicates += run.duplicates;
        reordered += run.reordered;
        errors += run.errors;
        failed += run.failed;
        workers = std::max(workers, run.workers);
        latency.merge(run.latency);
        firstSendNs = 0;
        lastDeliveryNs = int64_t(total * 1e9);
    }
};

// One simulated user of a pair: sends to its peer and checks what the peer sent.
struct PairEnd
{
    int index = 0;   // global user index: pair p has users 2p and 2p+1
    size_t peer = 0; // position of the peer in the worker's list
    uint64_t peerUserId = 0;
    std::string conversation;
    std::unique_ptr<KithSession> session; // against kithd
    std::unique_ptr<WsConnection> relay;  // against the bare relay
    int64_t nextK = 0;
    int inflight = 0;
    std::vector<uint8_t> ackedK;
    std::vector<uint8_t> seenK; // from the peer
    int64_t maxSeenK = -1;
    uint64_t lastSeq = 0;
};

enum class PairMode { Window, Paced };

int pairWorker(WorkerLink &link, const Options &o, const std::vector<Credentials> &users,
               const sockaddr_in &target, bool relay, PairMode mode);

std::optional<PairTotals> runPairs(const Options &o, const std::vector<Credentials> &users,
                                   const sockaddr_in &target, bool relay, PairMode mode);

void addPairRows(Report &report, const PairTotals &t);

std::optional<PairTotals> relayRun(const Options &o);

// Holds `count` idle, authenticated connections (spread over the connect
// scenario's users) in worker processes of their own until it is destroyed;
// they keep answering kithd's pings, so a long run does not lose them.
class IdleLoad
{
public:
    bool start(const Options &o, int count)
    {
        const auto users = usersFor(o, "bc", std::min(o.users, count));
        if (!users)
            return false;
        const int workers = std::max(1, (count + kClientsPerWorker - 1) / kClientsPerWorker);
        const int64_t deadline = monoNs() + int64_t(o.deadlineSeconds) * 1'000'000'000;
        const bool started = m_pool.start(workers, o.deadlineSeconds, [&](WorkerLink &link) {
            const auto [first, end] = link.slice(count);
            EventLoop loop;
            std::vector<std::unique_ptr<KithSession>> sessions;
            int ready = 0, failed = 0;
            for (int i = first; i < end; ++i) {
                sessions.push_back(
                    std::make_unique<KithSession>(loop, (*users)[size_t(i) % users->size()]));
                sessions.back()->onReady = [&](KithSession &) { ++ready; };
                sessions.back()->onFailed = [&](KithSession &) { ++failed; };
            }
            connectBounded(
                loop, sessions.size(),
                [&](size_t i) { sessions[i]->start(o.target, sourceAddress(size_t(first) + i)); },
                ready, failed, deadline);
            link.report({{"ready", std::to_string(ready)}, {"failed", std::to_string(failed)}});
            loop.runUntil([&] { return link.commandPending(); }, deadline);
            return 0;
        });
        const auto connected = started ? m_pool.gather(deadline) : std::nullopt;
        if (!connected)
            return false;
        for (const Fields &f : *connected)
            m_ready += fieldInt(f, "ready");
        return m_ready == count;
    }
    ~IdleLoad()
    {
        m_pool.command('q');
        m_pool.finish(monoNs() + 10'000'000'000);
    }
    [[nodiscard]] int64_t ready() const { return m_ready; }

private:
    WorkerPool m_pool;
    int64_t m_ready = 0;
};

} // namespace kith::bench
