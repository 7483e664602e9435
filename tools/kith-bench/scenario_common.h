#pragma once
// What the kith-bench scenarios share: their limits, the printed report, a
// setup connection that waits for each answer, and small helpers.

#include "event_loop.h"
#include "kith_session.h"
#include "kithd_process.h"
#include "scenarios.h"
#include "user_pool.h"
#include "worker_pool.h"

#include <arpa/inet.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace kith::bench {

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

in_addr_t sourceAddress(size_t i);
// The node client i connects to: the nodes in turn (client i on node i mod N),
// so that the two users of a pair are on different nodes when N > 1.
const sockaddr_in &targetFor(const Options &o, size_t client);

int64_t fieldInt(const Fields &f, const std::string &key);

int workerCount(const Options &o, int clients, int units);

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

    // kithd ran on a slow disk (--kithd-fsync-ms): every report says so.
    static void setKithdFsyncExtraUs(long us) { s_fsyncExtraUs = us; }

    void print() const
    {
        std::printf("\n%s%s", m_scenario.c_str(), KithSession::usesTls() ? " (wss://)" : "");
        if (s_fsyncExtraUs > 0)
            std::printf(" (kithd's fsync +%.3f ms)", double(s_fsyncExtraUs) / 1000);
        std::printf("\n");
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
        if (KithSession::usesTls())
            json += ",\"tls\":1";
        if (s_fsyncExtraUs > 0)
            json += ",\"kithd_fsync_extra_us\":" + std::to_string(s_fsyncExtraUs);
        for (const Row &row : m_rows) {
            json += ",\"" + row.jsonKey + "\":" + text(row.value, true);
            if (row.second)
                json += ",\"" + row.secondJsonKey + "\":" + text(*row.second, true);
        }
        std::printf("%s}\n", json.c_str());
        std::fflush(stdout);
    }

private:
    static inline long s_fsyncExtraUs = 0;

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

void fail(const std::string &what);

// With several nodes: each node's RSS, connections and bus traffic (published
// to and received from each other node, from its /metrics), read while the
// clients are still connected, then added as report rows node<K>_..., so
// that a run shows pushes going only where recipients are.
struct NodeSample
{
    int id = 0;
    int64_t rssKiB = -1;
    int64_t connections = -1;
    int64_t published = -1;
    int64_t received = -1;
    std::string publishedTo; // "2:40 3:0": by node
};
[[nodiscard]] std::vector<NodeSample> sampleNodes(const Options &o);
void addNodeRows(const std::vector<NodeSample> &samples, Report &report);
// With several nodes: waits (a minute at most) until every node's copy of
// the bus directory knows where all `users` are (its own users online plus
// those it sees on the others), so that the first pushes are routed, not
// lost to a directory that has not heard of a new connection yet.
void waitForDirectory(const Options &o, int users);
// The resident set of every node together in KiB; -1 when one is unknown.
[[nodiscard]] int64_t residentKiBOfNodes(const Options &o);

// Starts `count` connections, at most kMaxPendingConnects unsettled at a time,
// until every one is ready or failed (the callbacks count them) or the deadline.
bool connectBounded(EventLoop &loop, size_t count, const std::function<void(size_t)> &start,
                    const int &ready, const int &failed, int64_t deadlineNs);

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
std::pair<int64_t, int64_t> parseClientMsgId(const std::string &id);

// "<k> <wall ns at send>" -> (k, wall ns)
std::pair<int64_t, int64_t> parseText(const std::string &body);

std::optional<std::vector<Credentials>> usersFor(const Options &o, const std::string &prefix,
                                                 int count);

} // namespace kith::bench
