// kith-bench direct: pairs sending as fast as their window allows; with
// --with-relay the same load against the bare relay, and the ratio.

#include "pair_traffic.h"

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

int runDirect(const Options &o)
{
    const auto users = usersFor(o, "bp", 2 * o.pairs);
    if (!users)
        return 2;
    IdleLoad idle;
    if (o.idle > 0 && !idle.start(o, o.idle)) {
        fail("could not hold the idle connections");
        return 2;
    }
    std::optional<PairTotals> relay;
    if (o.withRelay) {
        relay = relayRun(o);
        if (!relay)
            return 2;
    }
    const auto kith = runPairs(o, *users, o.target, false, PairMode::Window);
    if (!kith)
        return 2;
    Report report("direct");
    report.add("pairs", int64_t(o.pairs));
    report.add("idle_connections", idle.ready());
    report.add("window", int64_t(o.window));
    addPairRows(report, *kith);
    if (relay) {
        report.add("relay_msgs_per_s", relay->perSecond());
        report.add("relay_lost", relay->lost + relay->duplicates + relay->reordered);
        report.add("ratio_to_relay",
                   relay->perSecond() > 0 ? kith->perSecond() / relay->perSecond() : 0.0);
    }
    report.add("nodes", int64_t(std::max<size_t>(1, o.nodes.size())));
    addNodeRows(sampleNodes(o), report);
    report.print();
    return kith->clean() && (!relay || relay->clean()) ? 0 : 1;
}

} // namespace kith::bench
