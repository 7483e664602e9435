// kith-bench fanout: one big group, every message pushed to every member.

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

// ---------------------------------------------------------------- fanout

int runFanout(const Options &o)
{
    if (o.members < 2) {
        fail("fanout needs at least two members");
        return 2;
    }
    const auto users = usersFor(o, "bf", o.members);
    if (!users)
        return 2;

    std::string groupId;
    {
        SetupClient owner((*users)[0], o.target);
        if (!owner.waitReady()) {
            fail("the group owner could not log in: " + owner.session().failure());
            return 2;
        }
        for (int first = 1; first < o.members; first += kMaxMembersPerRequest) {
            v1::Envelope env;
            const int last = std::min(o.members, first + kMaxMembersPerRequest);
            google::protobuf::RepeatedField<uint64_t> *ids = nullptr;
            if (groupId.empty()) {
                env.mutable_create_group()->set_name("kith-bench fanout " + o.runTag);
                ids = env.mutable_create_group()->mutable_member_user_ids();
            } else {
                env.mutable_add_members()->set_conversation_id(groupId);
                ids = env.mutable_add_members()->mutable_user_ids();
            }
            for (int i = first; i < last; ++i)
                ids->Add((*users)[size_t(i)].userId);
            const auto answer = owner.request(env);
            if (!answer || answer->body_case() == v1::Envelope::kError) {
                fail("creating the group failed" +
                     (answer ? ": " + answer->error().message() : std::string()));
                return 2;
            }
            if (groupId.empty())
                groupId = answer->conversation().state().id();
        }
    }

    const int workers = workerCount(o, o.members, o.members);
    const int messages = o.fanoutMessages;
    const int64_t deadline = monoNs() + int64_t(o.deadlineSeconds) * 1'000'000'000;
    WorkerPool pool;
    const bool started = pool.start(workers, o.deadlineSeconds, [&](WorkerLink &link) {
        const auto [first, end] = link.slice(o.members);
        EventLoop loop;
        std::vector<std::unique_ptr<KithSession>> sessions;
        std::vector<std::vector<uint8_t>> seen(size_t(end - first),
                                               std::vector<uint8_t>(size_t(messages), 0));
        std::vector<int64_t> count(size_t(messages), 0), slowest(size_t(messages), 0);
        int ready = 0, failed = 0;
        int64_t duplicates = 0, errors = 0, pending = int64_t(end - first) * messages;
        if (first == 0)
            pending -= messages; // the sender gets acks, not pushes
        for (int i = first; i < end; ++i) {
            sessions.push_back(std::make_unique<KithSession>(loop, (*users)[size_t(i)]));
            sessions.back()->onReady = [&](KithSession &) { ++ready; };
            sessions.back()->onFailed = [&](KithSession &s) {
                if (failed++ == 0)
                    fail("member failed: " + s.failure());
            };
            sessions.back()->onEnvelope = [&, slot = size_t(i - first)](KithSession &,
                                                                        const v1::Envelope &in) {
                if (in.body_case() == v1::Envelope::kError) {
                    ++errors;
                    return;
                }
                if (in.body_case() != v1::Envelope::kMessage ||
                    in.message().message().conversation_id() != groupId ||
                    !in.message().message().content().has_text())
                    return;
                const int64_t now = wallNs();
                const auto [k, sentNs] = parseText(in.message().message().content().text().body());
                if (k < 0 || k >= messages)
                    return;
                if (seen[slot][size_t(k)]) {
                    ++duplicates;
                    return;
                }
                seen[slot][size_t(k)] = 1;
                ++count[size_t(k)];
                --pending;
                slowest[size_t(k)] = std::max(slowest[size_t(k)], now - sentNs);
            };
        }
        connectBounded(
            loop, sessions.size(),
            [&](size_t i) {
                sessions[i]->start(targetFor(o, size_t(first) + i),
                                   sourceAddress(size_t(first) + i));
            },
            ready, failed, deadline);
        link.report({{"ready", std::to_string(ready)}, {"failed", std::to_string(failed)}});
        if (link.waitCommand() != 'g')
            return 1;
        const int64_t start = monoNs();
        int sentCount = 0;
        auto sendDue = [&] {
            if (first != 0 || sentCount >= messages || monoNs() < start + sentCount * kFanoutGapNs)
                return;
            v1::Envelope env;
            env.set_request_id(sessions[0]->nextRequestId());
            auto *send = env.mutable_send();
            send->set_conversation_id(groupId);
            send->set_client_msg_id(o.runTag + "-0-" + std::to_string(sentCount));
            send->mutable_content()->mutable_text()->set_body(std::to_string(sentCount) + " " +
                                                              std::to_string(wallNs()));
            sessions[0]->send(env);
            ++sentCount;
        };
        loop.runUntil([&] { return pending == 0 && (first != 0 || sentCount == messages); },
                      std::min(deadline, start + messages * kFanoutGapNs + kDrainNs), sendDue);
        Fields result{{"missing", std::to_string(pending)},
                      {"duplicates", std::to_string(duplicates)},
                      {"errors", std::to_string(errors)},
                      {"failed", std::to_string(failed)}};
        for (int k = 0; k < messages; ++k) {
            result["count" + std::to_string(k)] = std::to_string(count[size_t(k)]);
            result["slowest" + std::to_string(k)] = std::to_string(slowest[size_t(k)]);
        }
        link.report(result);
        link.waitCommand();
        return 0;
    });
    const auto connected = started ? pool.gather(deadline) : std::nullopt;
    if (!connected) {
        fail("fanout workers did not connect");
        return 2;
    }
    waitForDirectory(o, o.members);
    pool.command('g');
    const auto results = pool.gather(deadline);
    const auto nodeSamples = sampleNodes(o);
    pool.command('q');
    pool.finish(deadline + 5'000'000'000);
    if (!results) {
        fail("a worker died or the deadline passed");
        return 2;
    }
    int64_t missing = 0, duplicates = 0, errors = 0, deliveries = 0;
    std::vector<double> lastMs;
    for (int k = 0; k < messages; ++k) {
        int64_t slowest = 0;
        for (const Fields &f : *results) {
            deliveries += fieldInt(f, "count" + std::to_string(k));
            slowest = std::max(slowest, fieldInt(f, "slowest" + std::to_string(k)));
        }
        lastMs.push_back(double(slowest) / 1e6);
    }
    for (const Fields &f : *results) {
        missing += fieldInt(f, "missing");
        duplicates += fieldInt(f, "duplicates");
        errors += fieldInt(f, "errors") + fieldInt(f, "failed");
    }
    std::sort(lastMs.begin(), lastMs.end());
    const double medianLast = lastMs.empty() ? 0 : lastMs[lastMs.size() / 2];
    Report report("fanout");
    report.add("members", int64_t(o.members));
    report.add("messages", int64_t(messages));
    report.add("workers", int64_t(workers));
    report.add("deliveries", deliveries);
    report.add("missing", missing);
    report.add("duplicates", duplicates);
    report.add("errors", errors);
    report.add("last_delivery_ms_median", medianLast);
    report.add("last_delivery_ms_max", lastMs.empty() ? 0.0 : lastMs.back());
    report.add("deliveries_per_s",
               medianLast > 0 ? double(o.members - 1) / (medianLast / 1000.0) : 0.0);
    report.add("nodes", int64_t(std::max<size_t>(1, o.nodes.size())));
    addNodeRows(nodeSamples, report);
    report.print();
    return missing == 0 && duplicates == 0 && errors == 0 &&
                   deliveries == int64_t(o.members - 1) * messages
               ? 0
               : 1;
}

} // namespace kith::bench
