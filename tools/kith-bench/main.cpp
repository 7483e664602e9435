// kith-bench: load generator for kithd. See docs/performance.md.

#include "event_loop.h"
#include "kith_session.h"
#include "kithd_process.h"
#include "scenario_common.h"
#include "scenarios.h"

#include <QCommandLineParser>
#include <QStringList>
#include <QUrl>

#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

using namespace kith::bench;

namespace {

constexpr const char *kScenarios =
    "connect | direct | relay | latency | fanout | storm | history | hostile | reactions | files";

// ws:// or wss:// (*tls tells which) on a 127.x.x.x address.
bool parseLoopbackUrl(const QString &text, sockaddr_in *target, bool *tls)
{
    const QUrl url(text);
    in_addr addr{};
    *tls = url.scheme() == QLatin1String("wss");
    if ((url.scheme() != QLatin1String("ws") && !*tls) || url.port() <= 0 ||
        inet_pton(AF_INET, url.host().toLatin1().constData(), &addr) != 1)
        return false;
    // Benchmarks only ever load this machine.
    if ((ntohl(addr.s_addr) >> 24) != 127)
        return false;
    target->sin_family = AF_INET;
    target->sin_addr = addr;
    target->sin_port = htons(uint16_t(url.port()));
    return true;
}

// Every node joined the bus and read the directory (its /metrics), so that
// the first pushes are routed; false after a minute. (Which other nodes are
// alive each learns only at its next heartbeat; routing does not need it.)
bool waitForBus(const std::vector<Node> &nodes)
{
    const int64_t deadline = monoNs() + 60'000'000'000;
    while (monoNs() < deadline) {
        bool all = true;
        for (const Node &node : nodes) {
            const std::string metrics = fetchMetrics(node.adminPort);
            all = all && metricValue(metrics, "kith_bus_ready") == 1;
        }
        if (all)
            return true;
        ::usleep(100'000);
    }
    return false;
}

} // namespace

int main(int argc, char **argv)
{
    // A worker whose parent stopped reading must not die of a broken pipe mid-report.
    ::signal(SIGPIPE, SIG_IGN);

    QStringList arguments;
    for (int i = 0; i < argc; ++i)
        arguments << QString::fromLocal8Bit(argv[i]);

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("kith-bench: load generator for kithd (loopback only)."));
    parser.addHelpOption();
    parser.addPositionalArgument(QStringLiteral("scenario"), QString::fromLatin1(kScenarios));
    const QCommandLineOption kithd(QStringLiteral("kithd"),
                                   QStringLiteral("Start this kithd binary for the run."),
                                   QStringLiteral("PATH"));
    const QCommandLineOption kithdCpus(
        QStringLiteral("kithd-cpus"),
        QStringLiteral("With --kithd: the CPUs kithd runs on, e.g. 0 (a one-core box; run "
                       "kith-bench itself under taskset -c 1)."),
        QStringLiteral("LIST"));
    const QCommandLineOption kithdFsyncMs(
        QStringLiteral("kithd-fsync-ms"),
        QStringLiteral("With --kithd: a slow disk, every fsync kithd makes costs MS more "
                       "(e.g. 5, a slow SD card; fractions allowed)."),
        QStringLiteral("MS"));
    const QCommandLineOption kithdFiles(
        QStringLiteral("kithd-files"),
        QStringLiteral("With --kithd: the folder kithd keeps the bytes of files in (its "
                       "--files), e.g. on another disk than its database; shared by the "
                       "nodes. Default: in the data folder."),
        QStringLiteral("DIR"));
    const QCommandLineOption data(
        QStringLiteral("data"),
        QStringLiteral("Data folder for the kithd started with --kithd (kept, so users "
                       "registered once are reused); a temporary one by default."),
        QStringLiteral("DIR"));
    const QCommandLineOption url(QStringLiteral("url"),
                                 QStringLiteral("A running kithd, e.g. ws://127.0.0.1:7400/ "
                                                "(its send rate limit must be raised); repeat "
                                                "it for several nodes, clients go to them in "
                                                "turn."),
                                 QStringLiteral("URL"));
    const QCommandLineOption nodes(
        QStringLiteral("nodes"),
        QStringLiteral("With --kithd: start N kithd nodes (node ids 1..N, each its own ports "
                       "and data folder DATA/node-K) on --store and, for N > 1, --bus; clients "
                       "go to them in turn. Default 1."),
        QStringLiteral("N"), QStringLiteral("1"));
    const QCommandLineOption store(
        QStringLiteral("store"),
        QStringLiteral("With --kithd: the nodes' PostgreSQL store (postgresql://...); default: "
                       "SQLite in the data folder (one node only)."),
        QStringLiteral("URL"));
    const QCommandLineOption bus(QStringLiteral("bus"),
                                 QStringLiteral("With --kithd --nodes N > 1: the nodes' Redis "
                                                "bus (redis://HOST:PORT)."),
                                 QStringLiteral("URL"));
    const QCommandLineOption killNode(
        QStringLiteral("kill-node"),
        QStringLiteral("storm, with --nodes: connect the clients to node K (1..N), kill it (-9), "
                       "send what they miss through another node, and time them reconnecting "
                       "to the live nodes and catching up."),
        QStringLiteral("K"));
    const QCommandLineOption pid(QStringLiteral("pid"),
                                 QStringLiteral("Pid of the kithd at --url (connect: RSS)."),
                                 QStringLiteral("PID"));
    const QCommandLineOption tokenCache(
        QStringLiteral("token-cache"),
        QStringLiteral("File of registered users and tokens (default: in the data folder, or "
                       "./kith-bench-tokens.tsv with --url)."),
        QStringLiteral("FILE"));
    const QCommandLineOption workers(QStringLiteral("workers"),
                                     QStringLiteral("Worker processes (default: enough for "
                                                    "15,000 sockets each)."),
                                     QStringLiteral("N"));
    const QCommandLineOption deadline(QStringLiteral("deadline"),
                                      QStringLiteral("Hard stop of a scenario in seconds."),
                                      QStringLiteral("S"), QStringLiteral("300"));
    const QCommandLineOption registerConcurrency(
        QStringLiteral("register-concurrency"),
        QStringLiteral("Password hashes in flight while registering users."), QStringLiteral("N"),
        QStringLiteral("4"));
    const QCommandLineOption users(QStringLiteral("users"), QStringLiteral("connect: users."),
                                   QStringLiteral("N"), QStringLiteral("200"));
    const QCommandLineOption perUser(
        QStringLiteral("connections-per-user"),
        QStringLiteral("connect: sockets each user opens with its token."), QStringLiteral("N"),
        QStringLiteral("1"));
    const QCommandLineOption pairs(QStringLiteral("pairs"),
                                   QStringLiteral("direct, relay, latency: user pairs."),
                                   QStringLiteral("N"), QStringLiteral("10"));
    const QCommandLineOption seconds(QStringLiteral("seconds"),
                                     QStringLiteral("direct, relay, latency: sending time."),
                                     QStringLiteral("S"), QStringLiteral("5"));
    const QCommandLineOption window(QStringLiteral("window"),
                                    QStringLiteral("direct, relay: unacknowledged sends per "
                                                   "sender."),
                                    QStringLiteral("N"), QStringLiteral("16"));
    const QCommandLineOption rate(QStringLiteral("rate"),
                                  QStringLiteral("latency: offered messages per second."),
                                  QStringLiteral("N"), QStringLiteral("1000"));
    const QCommandLineOption members(
        QStringLiteral("members"), QStringLiteral("fanout, reactions: group members (all online)."),
        QStringLiteral("N"), QStringLiteral("100"));
    const QCommandLineOption messages(QStringLiteral("messages"),
                                      QStringLiteral("fanout: messages sent to the group."),
                                      QStringLiteral("N"), QStringLiteral("5"));
    const QCommandLineOption clients(
        QStringLiteral("clients"),
        QStringLiteral("storm: clients reconnecting at once; hostile: hostile connections; files: "
                       "users uploading a 1 MiB image each at once."),
        QStringLiteral("N"), QStringLiteral("100"));
    const QCommandLineOption missed(QStringLiteral("missed"),
                                    QStringLiteral("storm: messages each client missed."),
                                    QStringLiteral("N"), QStringLiteral("10"));
    const QCommandLineOption idle(
        QStringLiteral("idle"),
        QStringLiteral("direct: idle connections held open during the run (users of "
                       "connect; --users of them)."),
        QStringLiteral("N"), QStringLiteral("0"));
    const QCommandLineOption pullers(
        QStringLiteral("pullers"),
        QStringLiteral("latency: measure without and with N clients paging the seeded "
                       "history (pages of 200, one in flight each); 0: once, no pullers."),
        QStringLiteral("N"), QStringLiteral("0"));
    const QCommandLineOption pullDepth(
        QStringLiteral("pull-depth"),
        QStringLiteral("latency --pullers, history: messages in the seeded history group "
                       "(written once per data folder, topped up when a run asks for more)."),
        QStringLiteral("M"), QStringLiteral("10000"));
    const QCommandLineOption pullDeflate(
        QStringLiteral("pull-deflate"),
        QStringLiteral("latency --pullers: the pullers ask for \"deflate\" in their hello, as "
                       "libkithclient does, and get compressed pages."));
    const QCommandLineOption pullerNice(
        QStringLiteral("puller-nice"),
        QStringLiteral("latency --pullers: nice value of the pullers' worker processes (0-19; "
                       "default 19). They stand for devices elsewhere, so their own decoding "
                       "yields to the latency clients sharing this machine's cores."),
        QStringLiteral("N"), QStringLiteral("19"));
    const QCommandLineOption pullerIdle(
        QStringLiteral("puller-idle"),
        QStringLiteral("latency --pullers: the pullers' worker processes run under SCHED_IDLE, "
                       "taking only CPU time nothing else on the machine wants."));
    const QCommandLineOption pullRounds(
        QStringLiteral("pull-rounds"),
        QStringLiteral("latency --pullers: loaded runs, each followed by a quiet one (default 1: "
                       "quiet, loaded, quiet). More rounds spread the machine's drift evenly "
                       "over both sides; raise --deadline to fit them."),
        QStringLiteral("N"), QStringLiteral("1"));
    const QCommandLineOption pullControl(
        QStringLiteral("pull-control"),
        QStringLiteral("latency --pullers: a control run. The pullers connect but never page, "
                       "so the \"loaded\" runs are quiet ones too, and the ratio and its "
                       "interval show what the machine's own drift alone makes of them."));
    const QCommandLineOption fileMiB(
        QStringLiteral("file-mib"),
        QStringLiteral("files: size of the big file uploaded and downloaded, in MiB (kithd is "
                       "started with --max-file-bytes to fit it)."),
        QStringLiteral("N"), QStringLiteral("1024"));
    const QCommandLineOption transferNice(
        QStringLiteral("transfer-nice"),
        QStringLiteral("files: nice value (0-19) of the worker process that uploads and downloads "
                       "the big file while the chat latency is measured. Default 0."),
        QStringLiteral("N"), QStringLiteral("0"));
    const QCommandLineOption tls(
        QStringLiteral("tls"),
        QStringLiteral("connect, direct, hostile: speak wss:// (TLS, the server's certificate "
                       "not checked); with --kithd, kithd serves wss:// with its own "
                       "certificate instead of plain ws://. A wss:// --url implies it."));
    const QCommandLineOption withRelay(
        QStringLiteral("with-relay"),
        QStringLiteral("direct: also run the bare relay and print the ratio."));
    parser.addOptions({kithd,      kithdCpus,  kithdFsyncMs, data,       url,
                       pid,        tokenCache, workers,      deadline,   registerConcurrency,
                       users,      perUser,    pairs,        seconds,    window,
                       rate,       members,    messages,     clients,    missed,
                       withRelay,  idle,       pullers,      pullDepth,  pullDeflate,
                       pullerNice, pullRounds, pullerIdle,   pullControl});
    parser.addOptions({nodes, store, bus, killNode, fileMiB, transferNice, tls, kithdFiles});
    if (!parser.parse(arguments)) {
        std::fprintf(stderr, "kith-bench: %s\n", qPrintable(parser.errorText()));
        return 2;
    }
    if (parser.isSet(QStringLiteral("help")) || parser.positionalArguments().size() != 1) {
        std::fputs(qPrintable(parser.helpText()),
                   parser.isSet(QStringLiteral("help")) ? stdout : stderr);
        return parser.isSet(QStringLiteral("help")) ? 0 : 2;
    }
    const QString scenario = parser.positionalArguments().constFirst();

    Options o;
    o.workers = parser.value(workers).toInt();
    o.deadlineSeconds = parser.value(deadline).toUInt();
    o.registerConcurrency = std::max(1, parser.value(registerConcurrency).toInt());
    o.users = parser.value(users).toInt();
    o.connectionsPerUser = std::max(1, parser.value(perUser).toInt());
    o.pairs = parser.value(pairs).toInt();
    o.seconds = parser.value(seconds).toDouble();
    o.window = std::max(1, parser.value(window).toInt());
    o.rate = parser.value(rate).toDouble();
    o.members = parser.value(members).toInt();
    o.fanoutMessages = std::max(1, parser.value(messages).toInt());
    o.clients = parser.value(clients).toInt();
    o.missed = std::max(1, parser.value(missed).toInt());
    o.withRelay = parser.isSet(withRelay);
    o.idle = std::max(0, parser.value(idle).toInt());
    o.pullers = std::max(0, parser.value(pullers).toInt());
    o.pullDepth = parser.value(pullDepth).toInt();
    o.pullDeflate = parser.isSet(pullDeflate);
    o.pullerNice = std::clamp(parser.value(pullerNice).toInt(), 0, 19);
    o.pullRounds = parser.value(pullRounds).toInt();
    o.pullerIdle = parser.isSet(pullerIdle);
    o.pullControl = parser.isSet(pullControl);
    o.fileMiB = parser.value(fileMiB).toInt();
    o.transferNice = std::clamp(parser.value(transferNice).toInt(), 0, 19);
    o.runTag = std::to_string(wallNs() / 1'000'000) + "." + std::to_string(::getpid());
    if (o.deadlineSeconds == 0 || o.pairs < 1 || o.users < 1 || o.clients < 1 || o.pullDepth < 1 ||
        o.pullRounds < 1 || o.fileMiB < 1) {
        std::fprintf(stderr, "kith-bench: sizes and the deadline must be positive\n");
        return 2;
    }

    const int nodeCount = parser.value(nodes).toInt();
    if (nodeCount < 1 || (nodeCount > 1 && (!parser.isSet(store) || !parser.isSet(bus)))) {
        std::fprintf(stderr, "kith-bench: --nodes N > 1 needs --store postgresql://... and "
                             "--bus redis://...\n");
        return 2;
    }
    if (parser.isSet(killNode)) {
        o.killNode = parser.value(killNode).toInt() - 1;
        if (o.killNode < 0 || o.killNode >= nodeCount || nodeCount < 2) {
            std::fprintf(stderr, "kith-bench: --kill-node K needs --nodes N > 1 and 1 <= K <= N\n");
            return 2;
        }
    }

    std::vector<std::unique_ptr<KithdProcess>> servers;
    std::string tempDir;
    const bool needsKithd = scenario != QLatin1String("relay");
    // A wss:// --url asks for TLS as --tls does.
    const bool useTls = parser.isSet(tls) || (!parser.isSet(kithd) && parser.isSet(url) &&
                                              parser.value(url).startsWith(QLatin1String("wss:")));
    if (useTls) {
        if (scenario != QLatin1String("connect") && scenario != QLatin1String("direct") &&
            scenario != QLatin1String("hostile")) {
            std::fprintf(stderr, "kith-bench: --tls is for connect, direct and hostile only; the "
                                 "other scenarios speak plain ws://\n");
            return 2;
        }
        if (o.withRelay) {
            std::fprintf(stderr, "kith-bench: --tls does not go with --with-relay (the bare "
                                 "relay speaks plain ws://, so the ratio would compare TLS "
                                 "with none)\n");
            return 2;
        }
        KithSession::setUseTls(true);
    }
    if (needsKithd && parser.isSet(kithd)) {
        std::string dataDir = parser.value(data).toStdString();
        if (dataDir.empty()) {
            char pattern[] = "/tmp/kith-bench-XXXXXX";
            if (!::mkdtemp(pattern)) {
                std::perror("kith-bench: mkdtemp");
                return 2;
            }
            tempDir = dataDir = pattern;
        }
        std::filesystem::create_directories(dataDir);
        std::vector<int> cpus;
        if (parser.isSet(kithdCpus)) {
            std::string error;
            cpus = parseCpuList(parser.value(kithdCpus).toStdString(), &error);
            if (cpus.empty()) {
                std::fprintf(stderr, "kith-bench: --kithd-cpus: %s\n", error.c_str());
                return 2;
            }
        }
        long fsyncDelayUs = 0;
        if (parser.isSet(kithdFsyncMs)) {
            bool ok = false;
            const double ms = parser.value(kithdFsyncMs).toDouble(&ok);
            if (!ok || ms < 0 || ms > 10'000) {
                std::fprintf(stderr, "kith-bench: --kithd-fsync-ms takes 0 to 10000\n");
                return 2;
            }
            fsyncDelayUs = std::lround(ms * 1000);
            Report::setKithdFsyncExtraUs(fsyncDelayUs);
        }
        // hostile measures kithd with its real limits; the others measure
        // speed, with the per-user and per-address budgets out of the way.
        const bool realLimits = scenario == QLatin1String("hostile");
        for (int n = 1; n <= nodeCount; ++n) {
            std::vector<std::string> extra;
            // files: the big file fits, and no quota stops its variants.
            if (scenario == QLatin1String("files"))
                extra.insert(extra.end(), {"--max-file-bytes",
                                           std::to_string(std::max<int64_t>(
                                               int64_t(o.fileMiB) << 20, int64_t(100) << 20)),
                                           "--quota-bytes", "0"});
            std::string nodeDir = dataDir;
            if (parser.isSet(kithdFiles))
                extra.insert(extra.end(), {"--files", parser.value(kithdFiles).toStdString()});
            if (parser.isSet(store))
                extra.insert(extra.end(), {"--store", parser.value(store).toStdString()});
            if (nodeCount > 1) {
                extra.insert(extra.end(), {"--bus", parser.value(bus).toStdString(), "--node-id",
                                           std::to_string(n)});
                nodeDir = dataDir + "/node-" + std::to_string(n);
                std::filesystem::create_directories(nodeDir);
            }
            if (n == 1)
                o.kithdFiles =
                    parser.isSet(kithdFiles) ? parser.value(kithdFiles).toStdString() : nodeDir;
            servers.push_back(std::make_unique<KithdProcess>());
            servers.back()->setCpus(cpus);
            servers.back()->setTls(useTls);
            servers.back()->setFsyncDelayUs(fsyncDelayUs);
            std::string error;
            if (!servers.back()->launch(parser.value(kithd).toStdString(), nodeDir, extra,
                                        realLimits, &error)) {
                std::fprintf(stderr, "kith-bench: node %d: %s\n", n, error.c_str());
                return 2;
            }
        }
        // Side by side: the nodes start (and migrate the schema in turn) together.
        for (int n = 1; n <= nodeCount; ++n) {
            KithdProcess &server = *servers[size_t(n - 1)];
            std::string error;
            if (!server.waitReady(&error)) {
                std::fprintf(stderr, "kith-bench: node %d: %s\n", n, error.c_str());
                return 2;
            }
            Node node;
            node.address.sin_family = AF_INET;
            node.address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            node.address.sin_port = htons(server.port());
            node.pid = server.pid();
            node.adminPort = server.adminPort();
            node.id = nodeCount > 1 ? n : 0;
            o.nodes.push_back(node);
        }
        o.target = o.nodes.front().address;
        o.kithdPid = o.nodes.front().pid;
        o.killNodeProcess = [&servers](int index) { servers[size_t(index)]->kill9(); };
        // The users live in the store: with PostgreSQL, in the database whatever
        // the folder; keep the cache with the folder all the same.
        o.tokenCache = dataDir + "/kith-bench-tokens.tsv";
        if (nodeCount > 1 && !waitForBus(o.nodes)) {
            std::fprintf(stderr, "kith-bench: the nodes did not all join the bus\n");
            return 2;
        }
    } else if (needsKithd && parser.isSet(url)) {
        for (const QString &text : parser.values(url)) {
            Node node;
            bool urlTls = false;
            if (!parseLoopbackUrl(text, &node.address, &urlTls)) {
                std::fprintf(stderr, "kith-bench: --url must be ws://127.x.x.x:PORT/ or "
                                     "wss://127.x.x.x:PORT/\n");
                return 2;
            }
            if (urlTls != useTls) {
                std::fprintf(stderr, "kith-bench: every --url is ws:// or every one wss:// "
                                     "(with --tls: wss://)\n");
                return 2;
            }
            node.id = int(o.nodes.size()) + 1;
            o.nodes.push_back(node);
        }
        o.target = o.nodes.front().address;
        o.kithdPid = parser.isSet(pid) ? parser.value(pid).toInt() : -1;
        o.nodes.front().pid = o.kithdPid;
        if (o.killNode >= 0) {
            std::fprintf(stderr, "kith-bench: --kill-node needs the nodes kith-bench starts\n");
            return 2;
        }
        o.tokenCache = "kith-bench-tokens.tsv";
    } else if (needsKithd) {
        std::fprintf(stderr, "kith-bench: give --kithd PATH or --url URL\n");
        return 2;
    }
    if (parser.isSet(tokenCache))
        o.tokenCache = parser.value(tokenCache).toStdString();

    int status = 2;
    if (scenario == QLatin1String("connect"))
        status = runConnect(o);
    else if (scenario == QLatin1String("direct"))
        status = runDirect(o);
    else if (scenario == QLatin1String("relay"))
        status = runRelay(o);
    else if (scenario == QLatin1String("latency"))
        status = runLatency(o);
    else if (scenario == QLatin1String("fanout"))
        status = runFanout(o);
    else if (scenario == QLatin1String("storm"))
        status = runStorm(o);
    else if (scenario == QLatin1String("history"))
        status = runHistory(o);
    else if (scenario == QLatin1String("hostile"))
        status = runHostile(o);
    else if (scenario == QLatin1String("reactions"))
        status = runReactions(o);
    else if (scenario == QLatin1String("files"))
        status = runFiles(o);
    else
        std::fprintf(stderr, "kith-bench: unknown scenario; one of %s\n", kScenarios);

    servers.clear();
    if (!tempDir.empty())
        std::filesystem::remove_all(tempDir);
    return status;
}
