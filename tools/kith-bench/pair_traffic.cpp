#include "pair_traffic.h"

#include "chat_text.h"
#include "relay_server.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_set>

namespace kith::bench {

int pairWorker(WorkerLink &link, const Options &o, const std::vector<Credentials> &users,
               const sockaddr_in &target, bool relay, PairMode mode)
{
    const auto [firstPair, endPair] = link.slice(o.pairs);
    EventLoop loop;
    std::vector<PairEnd> ends(size_t(endPair - firstPair) * 2);
    int ready = 0, failed = 0;
    int64_t sent = 0, ackedTotal = 0, deliveredUnique = 0, duplicates = 0, reordered = 0,
            errors = 0, inflightTotal = 0;
    int64_t firstSendNs = INT64_MAX, lastDeliveryNs = 0;
    LatencyHistogram latency;
    bool sending = false;
    int64_t endMono = 0;
    uint32_t requestId = 0;
    v1::Envelope out;
    std::string bytes;

    auto sendOne = [&](PairEnd &e) {
        out.Clear();
        out.set_request_id(++requestId);
        auto *send = out.mutable_send();
        send->set_conversation_id(e.conversation);
        send->set_client_msg_id(o.runTag + "-" + std::to_string(e.index) + "-" +
                                std::to_string(e.nextK));
        const int64_t now = wallNs();
        send->mutable_content()->mutable_text()->set_body(std::to_string(e.nextK) + " " +
                                                          std::to_string(now));
        firstSendNs = std::min(firstSendNs, now);
        if (relay) {
            out.SerializeToString(&bytes);
            e.relay->sendBinary(bytes);
        } else {
            e.session->send(out);
        }
        ++e.nextK;
        e.ackedK.push_back(0);
        ++e.inflight;
        ++inflightTotal;
        ++sent;
    };
    auto refill = [&](PairEnd &e) {
        while (sending && mode == PairMode::Window && e.inflight < o.window && monoNs() < endMono)
            sendOne(e);
    };
    auto onAck = [&](PairEnd &e, int64_t k) {
        if (k < 0 || k >= e.nextK || e.ackedK[size_t(k)])
            return;
        e.ackedK[size_t(k)] = 1;
        ++ackedTotal;
        --e.inflight;
        --inflightTotal;
        refill(e);
    };
    auto onDelivery = [&](PairEnd &e, int64_t k, int64_t sentNs, uint64_t seq) {
        const int64_t now = wallNs();
        if (k < 0)
            return;
        if (size_t(k) >= e.seenK.size())
            e.seenK.resize(size_t(k) + 1, 0);
        if (e.seenK[size_t(k)]) {
            ++duplicates;
            return;
        }
        e.seenK[size_t(k)] = 1;
        if (k < e.maxSeenK || (seq != 0 && seq <= e.lastSeq))
            ++reordered;
        e.maxSeenK = std::max(e.maxSeenK, k);
        e.lastSeq = std::max<uint64_t>(e.lastSeq, seq);
        ++deliveredUnique;
        lastDeliveryNs = std::max(lastDeliveryNs, now);
        latency.add(now - sentNs);
    };

    for (int p = firstPair; p < endPair; ++p) {
        for (int side = 0; side < 2; ++side) {
            PairEnd &e = ends[size_t(p - firstPair) * 2 + size_t(side)];
            e.index = 2 * p + side;
            e.peer = size_t(p - firstPair) * 2 + size_t(1 - side);
            const Credentials &me = users[size_t(e.index)];
            const Credentials &peer = users[size_t(2 * p + 1 - side)];
            e.peerUserId = peer.userId;
            e.conversation =
                relay ? "relay" : directConversationId(me.userId, peer.userId).toStdString();
            if (relay) {
                e.relay = std::make_unique<WsConnection>(loop, WsConnection::Role::Client);
                e.relay->onOpen = [&] { ++ready; };
                e.relay->onClosed = [&] { ++failed; };
                e.relay->onMessage = [&, pe = &e](std::string_view frame) {
                    v1::Envelope in;
                    if (!in.ParseFromArray(frame.data(), int(frame.size())) ||
                        in.body_case() != v1::Envelope::kSend) {
                        ++errors;
                        return;
                    }
                    const auto [from, k] = parseClientMsgId(in.send().client_msg_id());
                    if (from == pe->index) {
                        onAck(*pe, k);
                    } else {
                        const auto [textK, sentNs] = parseText(in.send().content().text().body());
                        onDelivery(*pe, textK, sentNs, 0);
                    }
                };
            } else {
                e.session = std::make_unique<KithSession>(loop, me);
                e.session->onReady = [&](KithSession &) { ++ready; };
                e.session->onFailed = [&](KithSession &s) {
                    ++failed;
                    fail("session failed: " + s.failure());
                };
                e.session->onEnvelope = [&, pe = &e](KithSession &, const v1::Envelope &in) {
                    switch (in.body_case()) {
                    case v1::Envelope::kSendAck:
                        onAck(*pe, parseClientMsgId(in.send_ack().client_msg_id()).second);
                        break;
                    case v1::Envelope::kMessage: {
                        const v1::Message &m = in.message().message();
                        if (m.sender_user_id() != pe->peerUserId)
                            break;
                        const auto [k, sentNs] = parseText(m.content().text().body());
                        onDelivery(*pe, k, sentNs, m.seq());
                        break;
                    }
                    case v1::Envelope::kError:
                        ++errors;
                        if (in.request_id() != 0 && pe->inflight > 0) {
                            --pe->inflight;
                            --inflightTotal;
                        }
                        fail(std::string("error from kithd: ") + errorCodeName(in.error().code()) +
                             " " + in.error().message());
                        break;
                    default:
                        break;
                    }
                };
            }
        }
    }

    const int64_t deadline = monoNs() + int64_t(o.deadlineSeconds) * 1'000'000'000;
    connectBounded(
        loop, ends.size(),
        [&](size_t i) {
            PairEnd &e = ends[i];
            const in_addr_t source = sourceAddress(size_t(e.index));
            if (relay)
                e.relay->connectTo(target, source, "/p" + std::to_string(e.index / 2));
            else
                e.session->start(o.nodes.empty() ? target : targetFor(o, size_t(e.index)), source);
        },
        ready, failed, deadline);
    link.report({{"ready", std::to_string(ready)}, {"failed", std::to_string(failed)}});
    if (link.waitCommand() != 'g')
        return 1;

    const int64_t start = monoNs();
    endMono = start + int64_t(o.seconds * 1e9);
    sending = true;
    const double perWorkerRate = o.rate * double(ends.size()) / double(2 * o.pairs);
    size_t turn = 0;
    for (PairEnd &e : ends)
        refill(e);
    auto pace = [&] {
        if (mode != PairMode::Paced || ends.empty())
            return;
        const int64_t now = std::min(monoNs(), endMono);
        const auto due = int64_t(double(now - start) / 1e9 * perWorkerRate);
        size_t skipped = 0;
        while (sent < due && skipped < ends.size()) {
            PairEnd &e = ends[turn++ % ends.size()];
            if (e.inflight >= kPacedMaxInflight) {
                ++skipped;
                continue;
            }
            skipped = 0;
            sendOne(e);
        }
    };
    loop.runUntil(
        [&] { return monoNs() >= endMono && inflightTotal == 0 && deliveredUnique >= ackedTotal; },
        std::min(deadline, endMono + kDrainNs), pace);

    int64_t lost = 0;
    for (const PairEnd &e : ends) {
        const PairEnd &receiver = ends[e.peer];
        for (size_t k = 0; k < e.ackedK.size(); ++k) {
            if (e.ackedK[k] && (k >= receiver.seenK.size() || !receiver.seenK[k]))
                ++lost;
        }
    }
    link.report({{"sent", std::to_string(sent)},
                 {"acked", std::to_string(ackedTotal)},
                 {"delivered", std::to_string(deliveredUnique)},
                 {"lost", std::to_string(lost)},
                 {"duplicates", std::to_string(duplicates)},
                 {"reordered", std::to_string(reordered)},
                 {"errors", std::to_string(errors)},
                 {"failed", std::to_string(failed)},
                 {"first_send_ns", std::to_string(firstSendNs == INT64_MAX ? 0 : firstSendNs)},
                 {"last_delivery_ns", std::to_string(lastDeliveryNs)},
                 {"latency", latency.serialize()}});
    link.waitCommand();
    return 0;
}

std::optional<PairTotals> runPairs(const Options &o, const std::vector<Credentials> &users,
                                   const sockaddr_in &target, bool relay, PairMode mode)
{
    PairTotals totals;
    totals.workers = workerCount(o, 2 * o.pairs, o.pairs);
    WorkerPool pool;
    const int64_t deadline = monoNs() + int64_t(o.deadlineSeconds) * 1'000'000'000;
    if (!pool.start(totals.workers, o.deadlineSeconds, [&](WorkerLink &link) {
            return pairWorker(link, o, users, target, relay, mode);
        })) {
        fail("could not start workers");
        return std::nullopt;
    }
    const auto connected = pool.gather(deadline);
    if (!connected) {
        fail("a worker died while connecting");
        return std::nullopt;
    }
    for (const Fields &f : *connected) {
        if (fieldInt(f, "failed") > 0) {
            fail("some clients could not connect");
            pool.command('q');
            return std::nullopt;
        }
    }
    if (!relay)
        waitForDirectory(o, 2 * o.pairs);
    pool.command('g');
    const auto results = pool.gather(deadline);
    pool.command('q');
    pool.finish(deadline + 5'000'000'000);
    if (!results) {
        fail("a worker died or the deadline passed");
        return std::nullopt;
    }
    for (const Fields &f : *results) {
        totals.sent += fieldInt(f, "sent");
        totals.acked += fieldInt(f, "acked");
        totals.delivered += fieldInt(f, "delivered");
        totals.lost += fieldInt(f, "lost");
        totals.duplicates += fieldInt(f, "duplicates");
        totals.reordered += fieldInt(f, "reordered");
        totals.errors += fieldInt(f, "errors");
        totals.failed += fieldInt(f, "failed");
        if (fieldInt(f, "first_send_ns") > 0)
            totals.firstSendNs = std::min(totals.firstSendNs, fieldInt(f, "first_send_ns"));
        totals.lastDeliveryNs = std::max(totals.lastDeliveryNs, fieldInt(f, "last_delivery_ns"));
        totals.latency.merge(LatencyHistogram::parse(f.at("latency")));
    }
    return totals;
}

void addPairRows(Report &report, const PairTotals &t)
{
    report.add("workers", int64_t(t.workers));
    report.add("sent", t.sent);
    report.add("acked", t.acked);
    report.add("delivered", t.delivered);
    report.add("lost", t.lost);
    report.add("duplicates", t.duplicates);
    report.add("reordered", t.reordered);
    report.add("errors", t.errors + t.failed);
    report.add("seconds", t.seconds());
    report.add("msgs_per_s", t.perSecond());
    report.add("p50_ms", t.latency.percentileMs(0.50));
    report.add("p99_ms", t.latency.percentileMs(0.99));
    report.add("p999_ms", t.latency.percentileMs(0.999));
    report.add("max_ms", t.latency.maxMs());
}

std::optional<PairTotals> relayRun(const Options &o)
{
    RelayProcess relay;
    if (!relay.start(o.deadlineSeconds + 10)) {
        fail("could not start the relay");
        return std::nullopt;
    }
    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    target.sin_port = htons(relay.port());
    const std::vector<Credentials> nobody(size_t(2 * o.pairs));
    return runPairs(o, nobody, target, true, PairMode::Window);
}

} // namespace kith::bench
