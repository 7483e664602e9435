#include "scenarios.h"

#include "chat_text.h"
#include "event_loop.h"
#include "kith_session.h"
#include "kithd_process.h"
#include "latency_histogram.h"
#include "relay_server.h"
#include "user_pool.h"
#include "worker_pool.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"

#include <arpa/inet.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <unordered_set>
#include <variant>

namespace kith::bench {

namespace {

// The machine's per-process fd cap is 20,000; leave room for everything else.
constexpr int kClientsPerWorker = 15000;
// Source addresses 127.0.0.1 .. 127.0.0.8 spread sockets over more 4-tuples.
constexpr int kSourceAddresses = 8;
// kithd's listen backlog is small; a larger burst of SYNs only measures drops.
constexpr int kMaxPendingConnects = 256;
// Time for the last acks and pushes after the senders stop.
constexpr int64_t kDrainNs = 15'000'000'000;
// Latency mode: a sender that has this many sends unanswered skips its turn.
constexpr int kPacedMaxInflight = 256;
// Setup requests (create group, feed storm) on a loaded machine.
constexpr int64_t kSetupTimeoutNs = 120'000'000'000;
constexpr int kMaxMembersPerRequest = 500; // kithd's limit per group request
constexpr int kStormFeedWindow = 256;
constexpr int kHistoryFeedWindow = 256;
constexpr uint32_t kPullPage = 200;
constexpr int64_t kFanoutGapNs = 500'000'000; // between fanout messages

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

// One printed result: a table for people, then one JSON line for scripts.
class Report
{
public:
    using Value = std::variant<int64_t, double, std::string>;

    explicit Report(std::string scenario)
        : m_scenario(std::move(scenario))
    {}
    void add(std::string key, Value value)
    {
        m_rows.push_back({key, std::move(value), key, std::nullopt, std::string()});
    }

    // A report of one measurement made twice names its two columns here;
    // addBoth rows print side by side, and their JSON keys are
    // <name>_<first key><unit> and <name>_<second key><unit>.
    void setColumns(std::string first, std::string firstKey, std::string second,
                    std::string secondKey)
    {
        m_columns = {std::move(first), std::move(firstKey), std::move(second),
                     std::move(secondKey)};
    }
    void addBoth(const std::string &name, const std::string &unit, Value first, Value second)
    {
        m_rows.push_back({name + unit, std::move(first), name + "_" + m_columns[1] + unit,
                          std::move(second), name + "_" + m_columns[3] + unit});
    }

    void print() const
    {
        std::printf("\n%s\n", m_scenario.c_str());
        if (!m_columns[0].empty())
            std::printf("  %-28s %-18s %s\n", "", m_columns[0].c_str(), m_columns[2].c_str());
        for (const Row &row : m_rows) {
            if (row.second)
                std::printf("  %-28s %-18s %s\n", row.label.c_str(), text(row.value, false).c_str(),
                            text(*row.second, false).c_str());
            else
                std::printf("  %-28s %s\n", row.label.c_str(), text(row.value, false).c_str());
        }
        std::string json = "{\"scenario\":\"" + m_scenario + "\"";
        for (const Row &row : m_rows) {
            json += ",\"" + row.jsonKey + "\":" + text(row.value, true);
            if (row.second)
                json += ",\"" + row.secondJsonKey + "\":" + text(*row.second, true);
        }
        std::printf("%s}\n", json.c_str());
        std::fflush(stdout);
    }

private:
    static std::string text(const Value &value, bool json)
    {
        if (const auto *i = std::get_if<int64_t>(&value))
            return std::to_string(*i);
        if (const auto *d = std::get_if<double>(&value)) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.3f", std::isfinite(*d) ? *d : 0.0);
            return buf;
        }
        const auto &s = std::get<std::string>(value);
        return json ? "\"" + s + "\"" : s;
    }

    struct Row
    {
        std::string label;
        Value value;
        std::string jsonKey;
        std::optional<Value> second;
        std::string secondJsonKey;
    };

    std::string m_scenario;
    std::array<std::string, 4> m_columns; // first title, first key, second title, second key
    std::vector<Row> m_rows;
};

void fail(const std::string &what)
{
    std::fprintf(stderr, "kith-bench: %s\n", what.c_str());
}

// Starts `count` connections, at most kMaxPendingConnects unsettled at a time,
// until every one is ready or failed (the callbacks count them) or the deadline.
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

// A setup connection in the parent that waits for each answer in turn.
class SetupClient
{
public:
    SetupClient(const Credentials &credentials, const sockaddr_in &target,
                std::vector<std::string> features = {})
        : m_session(m_loop, credentials)
    {
        m_session.onEnvelope = [this](KithSession &s, const v1::Envelope &env) {
            if (env.request_id() != 0 && env.request_id() == m_waitingFor) {
                m_answer = env;
                m_answerWireBytes = s.frameWireBytes();
                m_answerRawBytes = s.frameRawBytes();
                m_answerCompressed = s.frameWasCompressed();
            } else if (onPush) {
                onPush(env);
            }
        };
        m_session.requestFeatures(std::move(features));
        m_session.start(target, htonl(INADDR_LOOPBACK));
    }

    [[nodiscard]] bool waitReady()
    {
        return m_loop.runUntil(
                   [this] {
                       return m_session.state() != KithSession::State::Connecting &&
                              m_session.state() != KithSession::State::Authenticating;
                   },
                   monoNs() + kSetupTimeoutNs) &&
               m_session.state() == KithSession::State::Ready;
    }

    [[nodiscard]] std::optional<v1::Envelope> request(v1::Envelope &env)
    {
        m_waitingFor = m_session.nextRequestId();
        env.set_request_id(m_waitingFor);
        m_answer.reset();
        m_session.send(env);
        m_loop.runUntil([this] { return m_answer.has_value() || !m_session.isOpen(); },
                        monoNs() + kSetupTimeoutNs);
        return m_answer;
    }

    EventLoop &loop() { return m_loop; }
    KithSession &session() { return m_session; }
    std::function<void(const v1::Envelope &)> onPush;

    // The last answer's frame: as received, and inflated.
    [[nodiscard]] int64_t answerWireBytes() const { return int64_t(m_answerWireBytes); }
    [[nodiscard]] int64_t answerRawBytes() const { return int64_t(m_answerRawBytes); }
    [[nodiscard]] bool answerCompressed() const { return m_answerCompressed; }

private:
    EventLoop m_loop;
    KithSession m_session;
    uint32_t m_waitingFor = 0;
    std::optional<v1::Envelope> m_answer;
    size_t m_answerWireBytes = 0;
    size_t m_answerRawBytes = 0;
    bool m_answerCompressed = false;
};

// "<tag>-<user index>-<k>" -> (user index, k)
std::pair<int64_t, int64_t> parseClientMsgId(const std::string &id)
{
    const size_t last = id.rfind('-');
    const size_t before = last == std::string::npos ? std::string::npos : id.rfind('-', last - 1);
    if (before == std::string::npos)
        return {-1, -1};
    return {std::strtoll(id.c_str() + before + 1, nullptr, 10),
            std::strtoll(id.c_str() + last + 1, nullptr, 10)};
}

// "<k> <wall ns at send>" -> (k, wall ns)
std::pair<int64_t, int64_t> parseText(const std::string &body)
{
    char *end = nullptr;
    const int64_t k = std::strtoll(body.c_str(), &end, 10);
    const int64_t t = std::strtoll(end, nullptr, 10);
    return {k, t};
}

// ---------------------------------------------------------------- pair traffic

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
                e.session->start(target, source);
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

// ---------------------------------------------------------------- seeded history

// The group conversation the priority and history scenarios page through. A
// feeder writes it once; DATA/kith-bench-history.tsv (next to the token cache)
// remembers its id and how many texts it holds, so later runs on the same
// data folder reuse it and only top it up.
struct SeededHistory
{
    std::string conversationId;
    int64_t texts = 0;   // feeder messages in it
    uint64_t maxSeq = 0; // its newest seq: the texts plus membership events
    bool reused = false;
};

std::string historyFile(const Options &o)
{
    return (std::filesystem::path(o.tokenCache).parent_path() / "kith-bench-history.tsv").string();
}

// Adds `ids` to the group (creating it when conversationId is empty) in
// requests of at most kMaxMembersPerRequest.
bool addToGroup(SetupClient &owner, std::string &conversationId, const std::vector<uint64_t> &ids,
                const std::string &groupName)
{
    for (size_t first = 0; first < ids.size() || conversationId.empty();
         first += kMaxMembersPerRequest) {
        v1::Envelope env;
        google::protobuf::RepeatedField<uint64_t> *added = nullptr;
        if (conversationId.empty()) {
            env.mutable_create_group()->set_name(groupName);
            added = env.mutable_create_group()->mutable_member_user_ids();
        } else {
            env.mutable_add_members()->set_conversation_id(conversationId);
            added = env.mutable_add_members()->mutable_user_ids();
        }
        for (size_t i = first; i < std::min(ids.size(), first + kMaxMembersPerRequest); ++i)
            added->Add(ids[i]);
        const auto answer = owner.request(env);
        if (!answer || answer->body_case() == v1::Envelope::kError) {
            fail("setting up the history group failed" +
                 (answer ? ": " + answer->error().message() : std::string()));
            return false;
        }
        if (conversationId.empty())
            conversationId = answer->conversation().state().id();
    }
    return true;
}

// Makes sure the history group exists on this kithd, holds at least `depth`
// feeder texts and has every reader as a member.
std::optional<SeededHistory> ensureHistory(const Options &o,
                                           const std::vector<Credentials> &readers, int depth)
{
    const auto feeders = usersFor(o, "bhf", 1);
    if (!feeders)
        return std::nullopt;
    SetupClient feeder((*feeders)[0], o.target);
    if (!feeder.waitReady()) {
        fail("the history feeder could not log in: " + feeder.session().failure());
        return std::nullopt;
    }

    SeededHistory history;
    {
        std::ifstream in(historyFile(o));
        std::string id;
        int64_t texts = 0;
        while (in >> id >> texts) {
            history.conversationId = id;
            history.texts = texts;
        }
    }
    // A remembered group counts only when this kithd still has it.
    if (!history.conversationId.empty()) {
        v1::Envelope env;
        env.mutable_sync();
        const auto answer = feeder.request(env);
        if (answer && answer->body_case() == v1::Envelope::kSyncResponse) {
            for (const v1::ConversationState &state : answer->sync_response().changed())
                history.reused |= state.id() == history.conversationId;
        }
        if (!history.reused)
            history = {};
    }

    std::vector<uint64_t> missing;
    if (history.reused) {
        v1::Envelope env;
        env.mutable_list_members()->set_conversation_id(history.conversationId);
        const auto answer = feeder.request(env);
        if (!answer || answer->body_case() != v1::Envelope::kMemberList) {
            fail("listing the history group's members failed");
            return std::nullopt;
        }
        std::unordered_set<uint64_t> members;
        for (const v1::Member &member : answer->member_list().members())
            members.insert(member.user().id());
        for (const Credentials &reader : readers) {
            if (!members.contains(reader.userId))
                missing.push_back(reader.userId);
        }
    } else {
        for (const Credentials &reader : readers)
            missing.push_back(reader.userId);
    }
    if ((!missing.empty() || history.conversationId.empty()) &&
        !addToGroup(feeder, history.conversationId, missing, "kith-bench history"))
        return std::nullopt;

    if (history.texts < depth) {
        const int64_t total = depth - history.texts;
        int64_t next = 0, acked = 0, errors = 0;
        int inflight = 0;
        feeder.onPush = [&](const v1::Envelope &in) {
            if (in.body_case() == v1::Envelope::kError) {
                ++errors;
                --inflight;
                fail(std::string("seeding the history failed: ") + in.error().message());
            } else if (in.body_case() == v1::Envelope::kSendAck) {
                ++acked;
                --inflight;
            }
        };
        auto feed = [&] {
            while (inflight < kHistoryFeedWindow && next < total && errors == 0) {
                v1::Envelope env;
                env.set_request_id(feeder.session().nextRequestId());
                auto *send = env.mutable_send();
                send->set_conversation_id(history.conversationId);
                send->set_client_msg_id(o.runTag + "-h-" + std::to_string(next));
                send->mutable_content()->mutable_text()->set_body(
                    chatText(uint64_t(history.texts + next)));
                feeder.session().send(env);
                ++inflight;
                ++next;
            }
        };
        feeder.loop().runUntil([&] { return errors > 0 || acked == total; },
                               monoNs() + kSetupTimeoutNs, feed);
        feeder.onPush = nullptr;
        if (acked != total) {
            fail("seeding the history did not finish");
            return std::nullopt;
        }
        history.texts = depth;
        std::ofstream(historyFile(o), std::ios::app)
            << history.conversationId << '\t' << history.texts << '\n';
    }

    v1::Envelope newest;
    newest.mutable_pull()->set_conversation_id(history.conversationId);
    newest.mutable_pull()->set_direction(v1::PullRequest::BACKWARD);
    newest.mutable_pull()->set_limit(1);
    const auto answer = feeder.request(newest);
    if (!answer || answer->body_case() != v1::Envelope::kPullResponse ||
        answer->pull_response().max_seq() < uint64_t(history.texts)) {
        fail("the history group holds fewer messages than it was given");
        return std::nullopt;
    }
    history.maxSeq = answer->pull_response().max_seq();
    return history;
}

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

// ---------------------------------------------------------------- history

// One pass over the whole seeded history on one connection: what came, and
// how many bytes it took as received and once inflated.
struct HistoryPass
{
    bool deflateGranted = false;
    int64_t pages = 0, fullPages = 0, compressedFrames = 0, gaps = 0;
    int64_t rawBytes = 0, wireBytes = 0, fullPageRawBytes = 0, fullPageWireBytes = 0;
    int64_t syncRawBytes = 0, syncWireBytes = 0;
    bool syncCompressed = false;
    double seconds = 0;
    std::vector<std::string> messages; // every Message encoded, in seq order
};

std::optional<HistoryPass> readHistory(const Options &o, const Credentials &reader,
                                       const std::string &conversation, bool deflate)
{
    SetupClient client(reader, o.target,
                       deflate ? std::vector<std::string>{"deflate"} : std::vector<std::string>{});
    if (!client.waitReady()) {
        fail("the history reader could not log in: " + client.session().failure());
        return std::nullopt;
    }
    HistoryPass pass;
    pass.deflateGranted = client.session().granted("deflate");
    auto refused = [&](const std::optional<v1::Envelope> &answer, const char *what) {
        fail(std::string(what) +
             " failed: " + (answer ? answer->error().message() : client.session().failure()));
        return std::nullopt;
    };

    v1::Envelope sync;
    sync.mutable_sync();
    auto answer = client.request(sync);
    if (!answer || answer->body_case() != v1::Envelope::kSyncResponse)
        return refused(answer, "sync");
    pass.syncRawBytes = client.answerRawBytes();
    pass.syncWireBytes = client.answerWireBytes();
    pass.syncCompressed = client.answerCompressed();

    const int64_t start = monoNs();
    uint64_t next = 1;
    for (;;) {
        v1::Envelope env;
        auto *request = env.mutable_pull();
        request->set_conversation_id(conversation);
        request->set_direction(v1::PullRequest::FORWARD);
        request->set_from_seq(next);
        request->set_limit(kPullPage);
        answer = client.request(env);
        if (!answer || answer->body_case() != v1::Envelope::kPullResponse)
            return refused(answer, "pulling the history");
        const v1::PullResponse &page = answer->pull_response();
        ++pass.pages;
        pass.rawBytes += client.answerRawBytes();
        pass.wireBytes += client.answerWireBytes();
        pass.compressedFrames += client.answerCompressed() ? 1 : 0;
        if (page.messages_size() == int(kPullPage)) {
            ++pass.fullPages;
            pass.fullPageRawBytes += client.answerRawBytes();
            pass.fullPageWireBytes += client.answerWireBytes();
        }
        for (const v1::Message &m : page.messages()) {
            if (m.seq() != next)
                ++pass.gaps;
            next = m.seq() + 1;
            pass.messages.push_back(m.SerializeAsString());
        }
        if (!page.has_more() || page.messages().empty())
            break;
    }
    pass.seconds = double(monoNs() - start) / 1e9;
    return pass;
}

} // namespace

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
    report.print();
    return kith->clean() && (!relay || relay->clean()) ? 0 : 1;
}

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
            [&](size_t i) { sessions[i]->start(o.target, sourceAddress(size_t(first) + i)); },
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
    const int64_t rssBefore = o.kithdPid > 0 ? residentKiB(o.kithdPid) : -1;
    pool.command('g');
    const auto results = pool.gather(deadline);
    // Let kithd finish the work that follows a login (presence, timers) first.
    ::usleep(1'000'000);
    const int64_t rssAfter = o.kithdPid > 0 ? residentKiB(o.kithdPid) : -1;
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
    report.print();
    return ready == connections && failed == 0 ? 0 : 1;
}

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
            [&](size_t i) { sessions[i]->start(o.target, sourceAddress(size_t(first) + i)); },
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
    pool.command('g');
    const auto results = pool.gather(deadline);
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
    report.print();
    return missing == 0 && duplicates == 0 && errors == 0 &&
                   deliveries == int64_t(o.members - 1) * messages
               ? 0
               : 1;
}

// ---------------------------------------------------------------- storm

int runStorm(const Options &o)
{
    const auto users = usersFor(o, "bs", o.clients);
    const auto feeders = usersFor(o, "bsf", 1);
    if (!users || !feeders)
        return 2;
    const int missed = o.missed;

    // The feeder writes M messages into each client's direct chat while the
    // clients are offline; the seq before the first one is what each held.
    std::vector<std::string> conversations;
    std::vector<uint64_t> held(size_t(o.clients), UINT64_MAX);
    for (const Credentials &c : *users)
        conversations.push_back(directConversationId((*feeders)[0].userId, c.userId).toStdString());
    {
        SetupClient feeder((*feeders)[0], o.target);
        if (!feeder.waitReady()) {
            fail("the storm feeder could not log in: " + feeder.session().failure());
            return 2;
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
            return 2;
        }
    }

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
        for (int i = first; i < end; ++i) {
            Catcher &c = catchers[size_t(i - first)];
            const std::string &conversation = conversations[size_t(i)];
            const uint64_t before = held[size_t(i)];
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
                    for (const v1::ConversationState &state : in.sync_response().changed()) {
                        if (state.id() == conversation)
                            me.target = state.max_seq();
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
        const int64_t startNs = wallNs();
        const auto count = catchers.size();
        size_t next = 0;
        loop.runUntil(
            [&] { return size_t(caughtUp + failed) >= count || gaps + errors > 0; }, deadline,
            [&] {
                while (next < count && int64_t(next) - ready - failed < kMaxPendingConnects) {
                    catchers[next].session->start(o.target, sourceAddress(size_t(first) + next));
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
    if (!started || !pool.gather(deadline)) {
        fail("storm workers did not start");
        return 2;
    }
    pool.command('g');
    const auto results = pool.gather(deadline);
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
    report.print();
    return caughtUp == o.clients && gaps == 0 && duplicates == 0 && errors == 0 && failed == 0 &&
                   received == int64_t(o.clients) * missed
               ? 0
               : 1;
}

// ---------------------------------------------------------------- history

int runHistory(const Options &o)
{
    const auto readers = usersFor(o, "bh", 1);
    if (!readers)
        return 2;
    const auto history = ensureHistory(o, *readers, o.pullDepth);
    if (!history)
        return 2;
    const Credentials &reader = (*readers)[0];
    const auto plain = readHistory(o, reader, history->conversationId, false);
    if (!plain)
        return 2;
    const auto deflated = readHistory(o, reader, history->conversationId, true);
    if (!deflated)
        return 2;

    // Both connections must have been given exactly the same messages.
    int64_t mismatches =
        std::abs(int64_t(plain->messages.size()) - int64_t(deflated->messages.size()));
    for (size_t i = 0; i < std::min(plain->messages.size(), deflated->messages.size()); ++i)
        mismatches += plain->messages[i] != deflated->messages[i] ? 1 : 0;
    const int64_t messages = int64_t(deflated->messages.size());
    const double ratio =
        deflated->rawBytes > 0 ? double(deflated->wireBytes) / double(deflated->rawBytes) : 1.0;
    auto mean = [](int64_t bytes, int64_t pages) {
        return pages > 0 ? double(bytes) / double(pages) : 0.0;
    };

    if (!deflated->deflateGranted)
        std::printf("kithd did not grant \"deflate\": every frame came plain, ratio 1.0\n");
    Report report("history");
    report.add("history_messages", int64_t(history->maxSeq));
    report.add("history_reused", int64_t(history->reused ? 1 : 0));
    report.add("deflate_granted", int64_t(deflated->deflateGranted ? 1 : 0));
    report.add("pages", deflated->pages);
    report.add("messages", messages);
    report.add("plain_pages", plain->pages);
    report.add("plain_messages", int64_t(plain->messages.size()));
    report.add("mismatches", mismatches);
    report.add("gaps", plain->gaps + deflated->gaps);
    report.add("compressed_frames", deflated->compressedFrames);
    report.add("raw_bytes", deflated->rawBytes);
    report.add("wire_bytes", deflated->wireBytes);
    report.add("plain_wire_bytes", plain->wireBytes);
    report.add("ratio", ratio);
    report.add("saved_pct", (1.0 - ratio) * 100.0);
    report.add("full_pages", deflated->fullPages);
    report.add("page_raw_bytes_mean", mean(deflated->fullPageRawBytes, deflated->fullPages));
    report.add("page_wire_bytes_mean", mean(deflated->fullPageWireBytes, deflated->fullPages));
    report.add("sync_raw_bytes", deflated->syncRawBytes);
    report.add("sync_wire_bytes", deflated->syncWireBytes);
    report.add("sync_compressed", int64_t(deflated->syncCompressed ? 1 : 0));
    report.add("plain_seconds", plain->seconds);
    report.add("deflate_seconds", deflated->seconds);
    report.print();
    const bool complete = messages >= int64_t(history->maxSeq) && plain->pages == deflated->pages;
    return mismatches == 0 && plain->gaps == 0 && deflated->gaps == 0 && complete ? 0 : 1;
}

} // namespace kith::bench
