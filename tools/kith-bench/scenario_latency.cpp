// kith-bench latency: pairs at an offered rate, their latency percentiles;
// with --pullers, the same while other clients page the seeded history.

#include "pair_traffic.h"
#include "seeded_history.h"

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

namespace {

// ---------------------------------------------------------------- pullers

struct PullTotals
{
    int64_t ready = 0, failed = 0, pages = 0, messages = 0, laps = 0, gaps = 0, errors = 0,
            inFlight = 0; // pages still unanswered when a phase ended
    double seconds = 0;   // time spent paging, over all phases

    [[nodiscard]] double pagesPerSecond() const
    {
        return seconds > 0 ? double(pages) / seconds : 0;
    }
    [[nodiscard]] double messagesPerSecond() const
    {
        return seconds > 0 ? double(messages) / seconds : 0;
    }
};

// Bulk work for the priority measurement: reader connections in worker
// processes of their own, each paging the whole seeded history while resumed:
// forward from seq 1 in pages of kPullPage, the next page from the last seq +
// 1, back to seq 1 at the head, one page in flight each. pause() waits for
// the pages in flight, so nothing of the load spills into a quiet run.
class PullLoad
{
public:
    // Connects the pullers; they page only once resumed.
    bool connect(const Options &o, const std::vector<Credentials> &readers,
                 const SeededHistory &history)
    {
        const int count = int(readers.size());
        const int workers = std::max(1, (count + kClientsPerWorker - 1) / kClientsPerWorker);
        m_deadline = monoNs() + int64_t(o.deadlineSeconds) * 1'000'000'000;
        const std::string &conversation = history.conversationId;
        const bool started = m_pool.start(workers, o.deadlineSeconds, [&](WorkerLink &link) {
            // The pullers stand for devices elsewhere: their own decoding
            // yields to the latency clients on this machine's cores, so what
            // the run compares is kithd's handling of the bulk work.
            if (o.pullerNice > 0)
                setpriority(PRIO_PROCESS, 0, o.pullerNice);
            if (o.pullerIdle) {
                const sched_param idle{};
                if (sched_setscheduler(0, SCHED_IDLE, &idle) != 0)
                    fail("the pullers could not switch to SCHED_IDLE");
            }
            const auto [first, end] = link.slice(count);
            EventLoop loop;
            struct Puller
            {
                std::unique_ptr<KithSession> session;
                uint64_t next = 1;    // the seq the next page starts from
                bool waiting = false; // a page is in flight
            };
            std::vector<Puller> pullers(size_t(end - first));
            int ready = 0, failed = 0;
            int64_t pages = 0, messages = 0, laps = 0, gaps = 0, errors = 0, pagingNs = 0;
            bool pulling = false;
            auto pull = [&](Puller &p) {
                v1::Envelope env;
                env.set_request_id(p.session->nextRequestId());
                auto *request = env.mutable_pull();
                request->set_conversation_id(conversation);
                request->set_direction(v1::PullRequest::FORWARD);
                request->set_from_seq(p.next);
                request->set_limit(kPullPage);
                p.session->send(env);
                p.waiting = true;
            };
            for (int i = first; i < end; ++i) {
                Puller &p = pullers[size_t(i - first)];
                p.session = std::make_unique<KithSession>(loop, readers[size_t(i)]);
                if (o.pullDeflate)
                    p.session->requestFeatures({"deflate"});
                p.session->onReady = [&](KithSession &) { ++ready; };
                p.session->onFailed = [&, pp = &p](KithSession &s) {
                    if (failed++ == 0)
                        fail("puller failed: " + s.failure());
                    pp->waiting = false;
                };
                p.session->onEnvelope = [&, pp = &p](KithSession &, const v1::Envelope &in) {
                    const auto kind = in.body_case();
                    if (kind != v1::Envelope::kError && kind != v1::Envelope::kPullResponse)
                        return;
                    pp->waiting = false;
                    if (kind == v1::Envelope::kError) {
                        // This puller stops: it has no page in flight any more.
                        if (errors++ == 0)
                            fail(std::string("pull refused: ") + errorCodeName(in.error().code()) +
                                 " " + in.error().message());
                        return;
                    }
                    const v1::PullResponse &page = in.pull_response();
                    for (const v1::Message &m : page.messages()) {
                        if (m.seq() != pp->next)
                            ++gaps;
                        pp->next = m.seq() + 1;
                        ++messages;
                    }
                    ++pages;
                    if (!page.has_more() || page.messages().empty()) {
                        pp->next = 1;
                        ++laps;
                    }
                    if (pulling)
                        pull(*pp);
                };
            }
            connectBounded(
                loop, pullers.size(),
                [&](size_t i) {
                    pullers[i].session->start(o.target, sourceAddress(size_t(first) + i));
                },
                ready, failed, m_deadline);
            link.report({{"ready", std::to_string(ready)}, {"failed", std::to_string(failed)}});
            // 'g' starts a paging phase, 's' ends it; anything else ends the worker.
            while (link.waitCommand() == 'g') {
                pulling = true;
                const int64_t startNs = monoNs();
                const int64_t pagesBefore = pages;
                for (Puller &p : pullers) {
                    if (p.session->state() == KithSession::State::Ready)
                        pull(p);
                }
                // The loaded run starts once pages flow (kithd's bulk lane
                // yields to everything else, so on a busy machine the first
                // ones can take a while), or it would measure no load at all.
                loop.runUntil(
                    [&] { return pages > pagesBefore || errors > 0 || link.commandPending(); },
                    m_deadline);
                link.report({{"paging", std::to_string(pages > pagesBefore ? 1 : 0)}});
                loop.runUntil([&] { return link.commandPending(); }, m_deadline);
                pulling = false;
                if (link.waitCommand() != 's')
                    return 1;
                pagingNs += monoNs() - startNs;
                auto unanswered = [&] {
                    return std::count_if(pullers.cbegin(), pullers.cend(),
                                         [](const Puller &p) { return p.waiting; });
                };
                loop.runUntil([&] { return unanswered() == 0; }, m_deadline);
                link.report({{"ready", std::to_string(ready)},
                             {"failed", std::to_string(failed)},
                             {"pages", std::to_string(pages)},
                             {"messages", std::to_string(messages)},
                             {"laps", std::to_string(laps)},
                             {"gaps", std::to_string(gaps)},
                             {"errors", std::to_string(errors)},
                             {"in_flight", std::to_string(unanswered())},
                             {"paging_ns", std::to_string(pagingNs)}});
            }
            return 0;
        });
        const auto connected = started ? m_pool.gather(m_deadline) : std::nullopt;
        if (!connected)
            return false;
        int64_t ready = 0;
        for (const Fields &f : *connected)
            ready += fieldInt(f, "ready");
        return ready == count;
    }

    // Starts a paging phase; true once every worker has pages flowing.
    bool resume()
    {
        m_pool.command('g');
        m_pulling = true;
        const auto paging = m_pool.gather(m_deadline);
        if (!paging)
            return false;
        return std::all_of(paging->cbegin(), paging->cend(),
                           [](const Fields &f) { return fieldInt(f, "paging") == 1; });
    }

    // Ends the phase once the pages in flight are in, and adds up what every
    // worker did in all phases so far.
    [[nodiscard]] std::optional<PullTotals> pause()
    {
        if (!m_pulling)
            return std::nullopt;
        m_pulling = false;
        m_pool.command('s');
        const auto results = m_pool.gather(m_deadline);
        if (!results)
            return std::nullopt;
        PullTotals totals;
        int64_t pagingNs = 0;
        for (const Fields &f : *results) {
            totals.ready += fieldInt(f, "ready");
            totals.failed += fieldInt(f, "failed");
            totals.pages += fieldInt(f, "pages");
            totals.messages += fieldInt(f, "messages");
            totals.laps += fieldInt(f, "laps");
            totals.gaps += fieldInt(f, "gaps");
            totals.errors += fieldInt(f, "errors");
            totals.inFlight += fieldInt(f, "in_flight");
            pagingNs = std::max(pagingNs, fieldInt(f, "paging_ns"));
        }
        totals.seconds = double(pagingNs) / 1e9;
        return totals;
    }

    ~PullLoad()
    {
        if (m_pulling)
            m_pool.command('s');
        m_pool.command('q');
        m_pool.finish(monoNs() + 10'000'000'000);
    }

private:
    WorkerPool m_pool;
    int64_t m_deadline = 0;
    bool m_pulling = false;
};

// The priority measurement: the latency run without pullers, then
// --pull-rounds times a run while the pullers page the seeded history and
// one without them again. "Without" is all the quiet runs together and
// "with" all the loaded ones, so what drifts over the invocation (a
// write-ahead log that grows during the first run, a neighbour's load on
// this machine) weighs on both sides alike; more, shorter rounds spread it
// more evenly. What drift remains shows in the ratio's bootstrap interval
// over the runs, and --pull-control measures it alone: the same rounds with
// the pullers connected but idle.
int runLatencyUnderPulls(const Options &o, const std::vector<Credentials> &users)
{
    const auto readers = usersFor(o, "bh", o.pullers);
    if (!readers)
        return 2;
    const auto history = ensureHistory(o, *readers, o.pullDepth);
    if (!history)
        return 2;
    PullLoad pulls;
    if (!pulls.connect(o, *readers, *history)) {
        fail("the pullers could not connect before the deadline");
        return 2;
    }

    PairTotals without, with;
    std::vector<LatencyHistogram> quietRuns, loadedRuns; // each run's latencies, in order
    auto p99Of = [](const LatencyHistogram &run) { return run.percentileMs(0.99); };
    std::string phases; // each run's p99, in the order run: "q 4.81 l 5.02 q ..."
    // Each run needs client_msg_ids of its own: kithd answers a repeated one
    // as a resend.
    auto measure = [&](bool loaded) {
        Options run = o;
        run.runTag =
            o.runTag + (loaded ? "l" : "q") + std::to_string(quietRuns.size() + loadedRuns.size());
        const auto t = runPairs(run, users, o.target, false, PairMode::Paced);
        if (!t)
            return false;
        const double p99 = p99Of(t->latency);
        (loaded ? loadedRuns : quietRuns).push_back(t->latency);
        (loaded ? with : without).add(*t);
        char text[32];
        std::snprintf(text, sizeof text, "%s%c %.2f", phases.empty() ? "" : " ", loaded ? 'l' : 'q',
                      p99);
        phases += text;
        return true;
    };
    if (!measure(false))
        return 2;
    // A control run leaves the pullers idle, so its totals stay at zero.
    std::optional<PullTotals> pulled = PullTotals{};
    for (int round = 0; round < o.pullRounds; ++round) {
        if (!o.pullControl && !pulls.resume()) {
            fail("the pullers got no page before the deadline");
            return 2;
        }
        const bool measured = measure(true);
        if (!o.pullControl)
            pulled = pulls.pause();
        if (!pulled) {
            fail("a puller worker died or the deadline passed");
            return 2;
        }
        if (!measured || !measure(false))
            return 2;
    }
    // Each loaded run against the quiet runs on either side of it.
    std::vector<double> roundRatios, roundLogRatios;
    for (size_t i = 0; i < loadedRuns.size(); ++i) {
        const double loaded = p99Of(loadedRuns[i]);
        const double before = p99Of(quietRuns[i]);
        const double after = p99Of(quietRuns[i + 1]);
        roundRatios.push_back(2 * loaded / (before + after));
        roundLogRatios.push_back(std::log(loaded) - (std::log(before) + std::log(after)) / 2);
    }
    double meanLog = 0;
    for (const double r : roundLogRatios)
        meanLog += r / double(roundLogRatios.size());
    const RatioInterval pairedInterval = bootstrapMean(roundLogRatios);
    std::sort(roundRatios.begin(), roundRatios.end());
    const size_t middle = roundRatios.size() / 2;
    const double medianRatio = roundRatios.size() % 2
                                   ? roundRatios[middle]
                                   : (roundRatios[middle - 1] + roundRatios[middle]) / 2;

    auto deliveredRatio = [](const PairTotals &t) {
        return t.sent > 0 ? double(t.delivered) / double(t.sent) : 0.0;
    };
    const double p99Without = without.latency.percentileMs(0.99);
    const double p99With = with.latency.percentileMs(0.99);
    const RatioInterval interval = bootstrapPercentileRatio(loadedRuns, quietRuns, 0.99);
    Report report("latency");
    report.setColumns("without (quiet runs)", "without",
                      o.pullControl ? "with (pullers idle)" : "with pullers", "with");
    report.add("users", int64_t(2 * o.pairs));
    report.add("offered_per_s", o.rate);
    report.add("pullers", int64_t(o.pullers));
    report.add("puller_nice", int64_t(o.pullerNice));
    report.add("puller_idle", int64_t(o.pullerIdle ? 1 : 0));
    report.add("pull_deflate", int64_t(o.pullDeflate ? 1 : 0));
    report.add("pull_control", int64_t(o.pullControl ? 1 : 0));
    report.add("history_conversations", int64_t(1));
    report.add("history_messages", int64_t(history->maxSeq));
    report.add("history_reused", int64_t(history->reused ? 1 : 0));
    report.addBoth("sent", "", without.sent, with.sent);
    report.addBoth("acked", "", without.acked, with.acked);
    report.addBoth("delivered", "", without.delivered, with.delivered);
    report.addBoth("lost", "", without.lost, with.lost);
    report.addBoth("duplicates", "", without.duplicates, with.duplicates);
    report.addBoth("reordered", "", without.reordered, with.reordered);
    report.addBoth("errors", "", without.errors + without.failed, with.errors + with.failed);
    report.addBoth("delivered_ratio", "", deliveredRatio(without), deliveredRatio(with));
    report.addBoth("msgs_per_s", "", without.perSecond(), with.perSecond());
    report.addBoth("p50", "_ms", without.latency.percentileMs(0.50),
                   with.latency.percentileMs(0.50));
    report.addBoth("p99", "_ms", p99Without, p99With);
    report.addBoth("p999", "_ms", without.latency.percentileMs(0.999),
                   with.latency.percentileMs(0.999));
    report.addBoth("max", "_ms", without.latency.maxMs(), with.latency.maxMs());
    report.add("p99_without_first_ms", p99Of(quietRuns.front()));
    report.add("p99_without_last_ms", p99Of(quietRuns.back()));
    report.add("p99_ratio", p99Without > 0 ? p99With / p99Without : 0.0);
    // 90 % bootstrap interval over the runs (each side's resampled apart).
    report.add("p99_ratio_low", interval.low);
    report.add("p99_ratio_high", interval.high);
    report.add("rounds", int64_t(o.pullRounds));
    report.add("p99_ratio_round_median", medianRatio);
    // Geometric mean of the rounds' ratios (each loaded run over the quiet
    // runs beside it), with its 90 % bootstrap interval over the rounds.
    report.add("p99_ratio_paired", std::exp(meanLog));
    report.add("p99_ratio_paired_low", std::exp(pairedInterval.low));
    report.add("p99_ratio_paired_high", std::exp(pairedInterval.high));
    report.add("p99_runs", phases);
    report.add("pull_pages", pulled->pages);
    report.add("pull_messages", pulled->messages);
    report.add("pull_laps", pulled->laps);
    report.add("pull_gaps", pulled->gaps);
    report.add("pull_errors", pulled->errors + pulled->failed);
    report.add("pull_unanswered", pulled->inFlight);
    report.add("pull_seconds", pulled->seconds);
    report.add("pull_pages_per_s", pulled->pagesPerSecond());
    report.add("pull_messages_per_s", pulled->messagesPerSecond());
    report.print();
    const bool pullsClean = pulled->gaps == 0 && pulled->errors == 0 && pulled->failed == 0 &&
                            (pulled->pages > 0) != o.pullControl && pulled->inFlight == 0;
    return without.clean() && with.clean() && pullsClean ? 0 : 1;
}

} // namespace

int runLatency(const Options &o)
{
    const auto users = usersFor(o, "bp", 2 * o.pairs);
    if (!users)
        return 2;
    if (o.pullers > 0)
        return runLatencyUnderPulls(o, *users);
    const auto t = runPairs(o, *users, o.target, false, PairMode::Paced);
    if (!t)
        return 2;
    Report report("latency");
    report.add("users", int64_t(2 * o.pairs));
    report.add("offered_per_s", o.rate);
    addPairRows(report, *t);
    report.add("delivered_ratio", t->sent > 0 ? double(t->delivered) / double(t->sent) : 0.0);
    report.print();
    return t->clean() ? 0 : 1;
}

} // namespace kith::bench
