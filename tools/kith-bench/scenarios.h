#pragma once
// The kith-bench scenarios. Each sets up its users (registered once, then
// resumed), spreads its clients over worker processes, prints a table for
// people and one JSON line for scripts, and returns non-zero when a count
// check failed (a lost, duplicated or reordered message, a client that never
// caught up), never because something was slow.

#include <netinet/in.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kith::bench {

// One kithd among the nodes under test.
struct Node
{
    sockaddr_in address{};  // its WebSocket address (loopback)
    pid_t pid = -1;         // for RSS; -1 when unknown
    uint16_t adminPort = 0; // for /metrics; 0 when unknown
    int id = 0;             // its --node-id (0: one node without a bus)
};

struct Options
{
    sockaddr_in target{}; // kithd's WebSocket address (loopback): the first node's
    pid_t kithdPid = -1;  // for RSS; -1 when unknown
    // Where the first node keeps the bytes of files, when kith-bench started it.
    std::string kithdFiles;
    // Every node (one or more); clients are spread over them in turn.
    std::vector<Node> nodes;
    // storm: kill this node (an index into nodes) with the clients on it;
    // -1: the plain storm.
    int killNode = -1;
    // Kills a node that kith-bench started (storm --kill-node).
    std::function<void(int index)> killNodeProcess;
    std::string tokenCache; // file of registered users and their tokens
    std::string runTag;     // makes client message ids unique per run
    int workers = 0;        // 0: as many as the per-process fd cap needs
    unsigned deadlineSeconds = 300;
    int registerConcurrency = 4;

    int users = 200;            // connect
    int connectionsPerUser = 1; // connect: sockets per user (one device token each)
    int pairs = 10;             // direct, relay, latency
    double seconds = 5;         // direct, relay, latency
    int window = 16;            // direct, relay: in-flight sends per sender
    double rate = 1000;         // latency: offered messages per second
    int members = 100;          // fanout, reactions
    int fanoutMessages = 5;     // fanout
    int clients = 100;          // storm, hostile
    int missed = 10;            // storm: messages each client missed
    bool withRelay = false;     // direct: also run the relay, print the ratio
    int idle = 0;               // direct: idle connections held open during the run
    int pullers = 0;            // latency: clients paging the seeded history in loaded runs
    bool pullDeflate = false;   // latency with pullers: pullers ask for "deflate" as the app does
    int pullerNice = 19;        // latency with pullers: nice value of the pullers' worker processes
    int pullDepth = 10000;      // latency with pullers, history: messages in the seeded history
    bool pullerIdle = false;    // latency with pullers: their workers run under SCHED_IDLE
    int pullRounds = 1;         // latency with pullers: loaded runs, each followed by a quiet one
    bool pullControl = false;   // latency with pullers: they stay idle in the "loaded" runs too
    int fileMiB = 1024;         // files: the big file's size
    int transferNice = 0;       // files: nice value of the transfer load's worker process
};

[[nodiscard]] int runConnect(const Options &options);
[[nodiscard]] int runDirect(const Options &options);
[[nodiscard]] int runRelay(const Options &options);
[[nodiscard]] int runLatency(const Options &options);
[[nodiscard]] int runFanout(const Options &options);
[[nodiscard]] int runStorm(const Options &options);
[[nodiscard]] int runHistory(const Options &options);
[[nodiscard]] int runHostile(const Options &options);
[[nodiscard]] int runReactions(const Options &options);
[[nodiscard]] int runFiles(const Options &options);

} // namespace kith::bench
