// kith-bench storm: clients that missed messages reconnect at once and catch up.
// With --kill-node K (several nodes): the clients are connected to node K,
// which is killed (-9); the messages they miss are sent through another node,
// and they reconnect to the live nodes (in turn) and catch up there.

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

// ---------------------------------------------------------------- storm

namespace {

// The node the feeder writes through, and those the clients catch up on.
struct StormNodes
{
    sockaddr_in feeder{};
    std::vector<sockaddr_in> live;
};

StormNodes stormNodes(const Options &o)
{
    StormNodes nodes;
    nodes.feeder = o.target;
    if (o.killNode < 0)
        return nodes;
    for (size_t i = 0; i < o.nodes.size(); ++i) {
        if (int(i) != o.killNode)
            nodes.live.push_back(o.nodes[i].address);
    }
    nodes.feeder = nodes.live.front();
    return nodes;
}

} // namespace

int runStorm(const Options &o)
{
    const bool killing = o.killNode >= 0;
    if (killing &&
        (o.killNode >= int(o.nodes.size()) || o.nodes.size() < 2 || !o.killNodeProcess)) {
        fail("--kill-node needs several nodes started by kith-bench (--nodes) and a valid index");
        return 2;
    }
    const auto users = usersFor(o, "bs", o.clients);
    const auto feeders = usersFor(o, "bsf", 1);
    if (!users || !feeders)
        return 2;
    const int missed = o.missed;
    const StormNodes nodes = stormNodes(o);

    // The feeder writes M messages into each client's direct chat while the
    // clients are offline; the seq before the first one is what each held.
    // (When a node is killed, the feeding comes after the workers started:
    // each client learns what it held from a sync on the doomed node.)
    std::vector<std::string> conversations;
    std::vector<uint64_t> held(size_t(o.clients), UINT64_MAX);
    for (const Credentials &c : *users)
        conversations.push_back(directConversationId((*feeders)[0].userId, c.userId).toStdString());
    const auto feedMissed = [&]() -> bool {
        SetupClient feeder((*feeders)[0], nodes.feeder);
        if (!feeder.waitReady()) {
            fail("the storm feeder could not log in: " + feeder.session().failure());
            return false;
        }
        int64_t next = 0, acked = 0, errors = 0;
        const int64_t total = int64_t(o.clients) * missed;
        int inflight = 0;
        feeder.session().onEnvelope = [&](KithSession &, const v1::Envelope &in) {
            if (in.body_case() == v1::Envelope::kError) {
                ++errors;
                --inflight;
                fail(std::string("feeding failed: ") + in.error().message());
            } else if (in.body_case() == v1::Envelope::kSendAck) {
                const auto [client, k] = parseClientMsgId(in.send_ack().client_msg_id());
                held[size_t(client)] = std::min(held[size_t(client)], in.send_ack().seq() - 1);
                ++acked;
                --inflight;
            }
        };
        auto feed = [&] {
            while (inflight < kStormFeedWindow && next < total && errors == 0) {
                const int64_t client = next / missed;
                v1::Envelope env;
                env.set_request_id(feeder.session().nextRequestId());
                auto *send = env.mutable_send();
                send->set_conversation_id(conversations[size_t(client)]);
                send->set_client_msg_id(o.runTag + "-" + std::to_string(client) + "-" +
                                        std::to_string(next % missed));
                send->mutable_content()->mutable_text()->set_body("missed while offline");
                feeder.session().send(env);
                ++inflight;
                ++next;
            }
        };
        feeder.loop().runUntil([&] { return errors > 0 || acked == total; },
                               monoNs() + kSetupTimeoutNs, feed);
        if (acked != total) {
            fail("feeding the storm did not finish");
            return false;
        }
        return true;
    };
    if (!killing && !feedMissed())
        return 2;

    const int workers = workerCount(o, o.clients, o.clients);
    const int64_t deadline = monoNs() + int64_t(o.deadlineSeconds) * 1'000'000'000;
    WorkerPool pool;
    const bool started = pool.start(workers, o.deadlineSeconds, [&](WorkerLink &link) {
        const auto [first, end] = link.slice(o.clients);
        EventLoop loop;
        // One reconnecting client: where its pulls are and where they must end.
        struct Catcher
        {
            std::unique_ptr<KithSession> session;
            uint64_t expected = 0; // next seq to receive
            uint64_t target = 0;   // max_seq from sync
            bool done = false;
        };
        std::vector<Catcher> catchers(size_t(end - first));
        // Killing a node: the clients first hold a connection to it, and learn
        // there (by a sync) the seq each chat is at.
        std::vector<std::unique_ptr<KithSession>> doomed;
        std::vector<uint64_t> heldHere(size_t(end - first), 0);
        int ready = 0, failed = 0, caughtUp = 0;
        int64_t gaps = 0, duplicates = 0, errors = 0, received = 0, lastCaughtNs = 0;
        auto pull = [](Catcher &c, const std::string &conversation) {
            v1::Envelope env;
            env.set_request_id(c.session->nextRequestId());
            env.mutable_pull()->set_conversation_id(conversation);
            env.mutable_pull()->set_direction(v1::PullRequest::FORWARD);
            env.mutable_pull()->set_from_seq(c.expected);
            env.mutable_pull()->set_limit(kPullPage);
            c.session->send(env);
        };
        auto finish = [&](Catcher &c) {
            c.done = true;
            ++caughtUp;
            lastCaughtNs = wallNs();
        };
        if (killing) {
            int doomedReady = 0, doomedFailed = 0, synced = 0;
            for (int i = first; i < end; ++i) {
                doomed.push_back(std::make_unique<KithSession>(loop, (*users)[size_t(i)]));
                const std::string &conversation = conversations[size_t(i)];
                doomed.back()->onReady = [&, conversation](KithSession &s) {
                    ++doomedReady;
                    v1::Envelope env;
                    env.set_request_id(s.nextRequestId());
                    auto *cursor = env.mutable_sync()->add_held();
                    cursor->set_conversation_id(conversation);
                    cursor->set_max_seq(0);
                    s.send(env);
                };
                doomed.back()->onFailed = [&](KithSession &s) {
                    if (doomedFailed++ == 0)
                        fail("storm client failed on the node to be killed: " + s.failure());
                };
                doomed.back()->onEnvelope = [&, i, conversation](KithSession &,
                                                                 const v1::Envelope &in) {
                    if (in.body_case() != v1::Envelope::kSyncResponse)
                        return;
                    for (const v1::ConversationState &state : in.sync_response().changed()) {
                        if (state.id() == conversation)
                            heldHere[size_t(i - first)] = state.max_seq();
                    }
                    ++synced;
                };
            }
            const sockaddr_in victim = o.nodes[size_t(o.killNode)].address;
            connectBounded(
                loop, doomed.size(),
                [&](size_t k) { doomed[k]->start(victim, sourceAddress(size_t(first) + k)); },
                doomedReady, doomedFailed, deadline);
            loop.runUntil([&] { return synced + doomedFailed >= int(doomed.size()); }, deadline);
            link.report({{"phase", "on the node"},
                         {"ready", std::to_string(synced)},
                         {"failed", std::to_string(doomedFailed)}});
            if (link.waitCommand() != 'k')
                return 1;
            // Their node is gone (the parent killed it); nothing more comes
            // from these.
            for (auto &session : doomed) {
                session->onFailed = nullptr;
                session->onEnvelope = nullptr;
            }
        } else {
            for (int i = first; i < end; ++i)
                heldHere[size_t(i - first)] = held[size_t(i)];
        }
        for (int i = first; i < end; ++i) {
            Catcher &c = catchers[size_t(i - first)];
            const std::string &conversation = conversations[size_t(i)];
            const uint64_t before = heldHere[size_t(i - first)];
            c.expected = before + 1;
            c.session = std::make_unique<KithSession>(loop, (*users)[size_t(i)]);
            c.session->onReady = [&, before, conversation](KithSession &s) {
                ++ready;
                v1::Envelope env;
                env.set_request_id(s.nextRequestId());
                auto *cursor = env.mutable_sync()->add_held();
                cursor->set_conversation_id(conversation);
                cursor->set_max_seq(before);
                s.send(env);
            };
            c.session->onFailed = [&](KithSession &s) {
                if (failed++ == 0)
                    fail("storm client failed: " + s.failure());
            };
            c.session->onEnvelope = [&, cp = &c, before, conversation](KithSession &,
                                                                       const v1::Envelope &in) {
                Catcher &me = *cp;
                if (in.body_case() == v1::Envelope::kError) {
                    ++errors;
                } else if (in.body_case() == v1::Envelope::kSyncResponse) {
                    const v1::SyncResponse &page = in.sync_response();
                    for (const v1::ConversationState &state : page.changed()) {
                        if (state.id() == conversation)
                            me.target = state.max_seq();
                    }
                    // Sync comes in pages: the held conversation may be on a later one.
                    if (me.target == 0 && page.has_more()) {
                        v1::Envelope next;
                        next.set_request_id(me.session->nextRequestId());
                        next.mutable_sync()->set_after_conversation_id(page.next_after());
                        if (conversation > page.next_after()) {
                            auto *cursor = next.mutable_sync()->add_held();
                            cursor->set_conversation_id(conversation);
                            cursor->set_max_seq(before);
                        }
                        me.session->send(next);
                        return;
                    }
                    if (me.target != before + uint64_t(missed)) {
                        ++errors;
                        fail("sync did not report the missed messages");
                    } else {
                        pull(me, conversation);
                    }
                } else if (in.body_case() == v1::Envelope::kPullResponse) {
                    for (const v1::Message &m : in.pull_response().messages()) {
                        if (m.seq() == me.expected) {
                            ++me.expected;
                            ++received;
                        } else if (m.seq() < me.expected) {
                            ++duplicates;
                        } else {
                            ++gaps;
                            me.expected = m.seq() + 1;
                        }
                    }
                    if (me.expected > me.target)
                        finish(me);
                    else if (in.pull_response().has_more())
                        pull(me, conversation);
                    else
                        ++gaps; // the server says there is no more, yet seqs are missing
                }
            };
        }
        link.report({{"phase", "ready"}});
        if (link.waitCommand() != 'g')
            return 1;
        doomed.clear();
        const int64_t startNs = wallNs();
        const auto count = catchers.size();
        size_t next = 0;
        loop.runUntil(
            [&] { return size_t(caughtUp + failed) >= count || gaps + errors > 0; }, deadline,
            [&] {
                while (next < count && int64_t(next) - ready - failed < kMaxPendingConnects) {
                    catchers[next].session->start(
                        killing ? nodes.live[(size_t(first) + next) % nodes.live.size()] : o.target,
                        sourceAddress(size_t(first) + next));
                    ++next;
                }
            });
        link.report({{"caught_up", std::to_string(caughtUp)},
                     {"failed", std::to_string(failed)},
                     {"received", std::to_string(received)},
                     {"gaps", std::to_string(gaps)},
                     {"duplicates", std::to_string(duplicates)},
                     {"errors", std::to_string(errors)},
                     {"start_ns", std::to_string(startNs)},
                     {"end_ns", std::to_string(lastCaughtNs)}});
        link.waitCommand();
        return 0;
    });
    const auto startedWorkers = started ? pool.gather(deadline) : std::nullopt;
    if (!startedWorkers) {
        fail("storm workers did not start");
        return 2;
    }
    for (const Fields &f : *startedWorkers) {
        if (killing && fieldInt(f, "failed") != 0) {
            fail("not every client got onto the node to be killed");
            pool.command('q');
            pool.finish(deadline);
            return 2;
        }
    }
    int64_t killNs = 0, feedMs = 0;
    if (killing) {
        // Every client is on the node, synced; kill it, then write what they
        // miss through a live node.
        pool.command('k');
        o.killNodeProcess(o.killNode);
        killNs = wallNs();
        if (!feedMissed()) {
            pool.command('q');
            pool.finish(deadline);
            return 2;
        }
        feedMs = (wallNs() - killNs) / 1'000'000;
        if (!pool.gather(deadline)) {
            fail("storm workers did not get ready");
            return 2;
        }
    }
    pool.command('g');
    const auto results = pool.gather(deadline);
    const auto nodeSamples = sampleNodes(o);
    pool.command('q');
    pool.finish(deadline + 5'000'000'000);
    if (!results) {
        fail("a worker died or the deadline passed");
        return 2;
    }
    int64_t caughtUp = 0, failed = 0, received = 0, gaps = 0, duplicates = 0, errors = 0;
    int64_t startNs = INT64_MAX, endNs = 0;
    for (const Fields &f : *results) {
        caughtUp += fieldInt(f, "caught_up");
        failed += fieldInt(f, "failed");
        received += fieldInt(f, "received");
        gaps += fieldInt(f, "gaps");
        duplicates += fieldInt(f, "duplicates");
        errors += fieldInt(f, "errors");
        startNs = std::min(startNs, fieldInt(f, "start_ns"));
        endNs = std::max(endNs, fieldInt(f, "end_ns"));
    }
    const double seconds = endNs > startNs ? double(endNs - startNs) / 1e9 : 0;
    Report report("storm");
    report.add("clients", int64_t(o.clients));
    report.add("missed_each", int64_t(missed));
    report.add("workers", int64_t(workers));
    report.add("caught_up", caughtUp);
    report.add("received", received);
    report.add("gaps", gaps);
    report.add("duplicates", duplicates);
    report.add("errors", errors + failed);
    report.add("seconds_until_all_caught_up", seconds);
    if (killing) {
        report.add("killed_node", int64_t(o.nodes[size_t(o.killNode)].id));
        report.add("feed_ms_after_kill", feedMs);
        report.add("seconds_from_kill_until_all_caught_up",
                   endNs > killNs ? double(endNs - killNs) / 1e9 : 0.0);
    }
    report.add("nodes", int64_t(std::max<size_t>(1, o.nodes.size())));
    addNodeRows(nodeSamples, report);
    report.print();
    return caughtUp == o.clients && gaps == 0 && duplicates == 0 && errors == 0 && failed == 0 &&
                   received == int64_t(o.clients) * missed
               ? 0
               : 1;
}

} // namespace kith::bench
