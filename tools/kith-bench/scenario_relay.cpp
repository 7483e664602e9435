// kith-bench relay: the pair load against the bare relay alone.

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

int runRelay(const Options &o)
{
    const auto relay = relayRun(o);
    if (!relay)
        return 2;
    Report report("relay");
    report.add("pairs", int64_t(o.pairs));
    report.add("window", int64_t(o.window));
    addPairRows(report, *relay);
    report.print();
    return relay->clean() ? 0 : 1;
}

} // namespace kith::bench
