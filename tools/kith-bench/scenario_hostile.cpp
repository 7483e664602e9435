// kith-bench hostile: N connections that each do the worst one client can do
// to kithd's memory and loop at once (a quarter each: pull history pages and
// never read; ping and never read; hold a partial 1 MiB frame before
// authenticating; flood typing and never read), while two bystanders chat.
// (KITH_HOSTILE_ONLY=K makes every hostile connection of kind K, 0-3 in
// that order, to see which one costs the bystanders what.)
// Reports kithd's resident memory against the bound the output budget
// promises (baseline + N x (budget + 320 KiB)) and the bystanders' send ->
// push latency. Fails only when a bystander's message is lost, never on time.
// With --tls every connection speaks wss://: a hostile one finishes its TLS
// handshake, sends the upgrade alone and reads the answer to it (kithd's
// WebSocket server over TLS drops what comes behind the request in the same
// read), then does its worst and reads nothing more.

#include "scenario_common.h"

#include "kith_session.h"
#include "kithd_process.h"
#include "latency_histogram.h"
#include "ws_connection.h"

#include "kith/conversation_id.h"
#include "kith/protocol.h"
#include "kith/ws_frame.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <unordered_map>

namespace kith::bench {

namespace {
// kithd's defaults (docs/security.md): the bound assumes them.
constexpr int64_t kBudgetKiB = 1024;
constexpr int64_t kPerConnectionExtraKiB = 320; // a frame being read, a read chunk
constexpr int kKinds = 4;
constexpr int kConnectionsPerUser = 10; // under the per-user cap of 20
constexpr double kBystanderRate = 20;   // messages per second
constexpr int kBigMessages = 8;         // of the history the pullers page
constexpr size_t kBigMessageBytes = 60 * 1024;

std::string clientFrame(uint8_t opcode, const std::string &payload, uint64_t claimedLength = 0)
{
    char head[ws::kMaxFrameHeadBytes];
    const ws::Mask mask{0x11, 0x22, 0x33, 0x44};
    const size_t headSize =
        ws::writeFrameHead(opcode, claimedLength ? claimedLength : payload.size(), head, &mask);
    std::string frame(head, headSize);
    std::string body = payload;
    ws::applyMask(body.data(), body.size(), mask);
    return frame + body;
}

std::string envelopeFrame(const v1::Envelope &envelope)
{
    return clientFrame(ws::kBinary, envelope.SerializeAsString());
}

// One hostile socket: what it sends (all of it, as far as the kernel takes
// it), and never a byte read (over TLS, none after the upgrade's answer).
struct Hostile
{
    enum class Tls { Off, Handshake, Upgrade, Answer, Flood };

    int fd = -1;
    std::string out;
    size_t sent = 0;
    SSL *ssl = nullptr;
    Tls tls = Tls::Off;
    size_t upgradeBytes = 0; // the head of `out` that goes alone over TLS
    std::string answer;      // to the upgrade, as far as read
    bool upgraded = false;   // the 101 came (TLS only)
};

std::string upgradeRequest()
{
    return "GET / HTTP/1.1\r\nHost: kithd\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
}

std::string authenticated(const Credentials &user)
{
    v1::Envelope hello;
    hello.set_request_id(1);
    hello.mutable_hello()->set_protocol_major(kProtocolMajor);
    v1::Envelope resume;
    resume.set_request_id(2);
    resume.mutable_resume()->set_token(user.token);
    return upgradeRequest() + envelopeFrame(hello) + envelopeFrame(resume);
}

std::string hostileBytes(int kind, const Credentials &user, const std::string &group)
{
    std::string out;
    switch (kind) {
    case 0: { // pages of big messages, never read
        out = authenticated(user);
        for (int i = 0; i < 300; ++i) {
            v1::Envelope pull;
            pull.set_request_id(uint32_t(100 + i));
            pull.mutable_pull()->set_conversation_id(group);
            pull.mutable_pull()->set_limit(kMaxPullLimit);
            out += envelopeFrame(pull);
        }
        break;
    }
    case 1: // WebSocket pings before hello, never read
        out = upgradeRequest();
        for (int i = 0; i < 4000; ++i)
            out += clientFrame(ws::kPing, std::string(125, 'p'));
        break;
    case 2: { // a 1 MiB frame begun before authentication, never finished
        v1::Envelope hello;
        hello.set_request_id(1);
        hello.mutable_hello()->set_protocol_major(kProtocolMajor);
        out = upgradeRequest() + envelopeFrame(hello);
        out += clientFrame(ws::kBinary, std::string(64 * 1024, 'x'), 1024 * 1024);
        break;
    }
    default: { // typing, as fast as it goes, never read
        out = authenticated(user);
        for (int i = 0; i < 4000; ++i) {
            v1::Envelope typing;
            typing.set_request_id(uint32_t(100 + i));
            typing.mutable_typing()->set_conversation_id(group);
            typing.mutable_typing()->set_typing(i % 2 == 0);
            out += envelopeFrame(typing);
        }
        break;
    }
    }
    return out;
}

void drop(Hostile &h)
{
    if (h.ssl) {
        SSL_free(h.ssl);
        h.ssl = nullptr;
    }
    ERR_clear_error();
    if (h.fd >= 0)
        ::close(h.fd);
    h.fd = -1;
}

// Writes out[sent, end) through TLS as far as it goes; true when all of it went.
bool writeTls(Hostile &h, size_t end)
{
    while (h.fd >= 0 && h.sent < end) {
        ERR_clear_error();
        const int n = SSL_write(h.ssl, h.out.data() + h.sent, int(end - h.sent));
        if (n > 0) {
            h.sent += size_t(n);
            continue;
        }
        const int error = SSL_get_error(h.ssl, n);
        if (error != SSL_ERROR_WANT_WRITE && error != SSL_ERROR_WANT_READ)
            drop(h); // kithd dropped it: as it should
        return false;
    }
    return h.fd >= 0;
}

void pushOutTls(Hostile &h)
{
    switch (h.tls) {
    case Hostile::Tls::Off:
        return;
    case Hostile::Tls::Handshake: {
        ERR_clear_error();
        const int rc = SSL_do_handshake(h.ssl);
        if (rc != 1) {
            const int error = SSL_get_error(h.ssl, rc);
            if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE)
                drop(h);
            return;
        }
        h.tls = Hostile::Tls::Upgrade;
        [[fallthrough]];
    }
    case Hostile::Tls::Upgrade:
        if (!writeTls(h, h.upgradeBytes))
            return;
        h.tls = Hostile::Tls::Answer;
        [[fallthrough]];
    case Hostile::Tls::Answer:
        while (h.answer.find("\r\n\r\n") == std::string::npos) {
            char chunk[512];
            ERR_clear_error();
            const int n = SSL_read(h.ssl, chunk, sizeof chunk);
            if (n <= 0) {
                const int error = SSL_get_error(h.ssl, n);
                if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE)
                    drop(h);
                return;
            }
            h.answer.append(chunk, size_t(n));
            if (h.answer.size() > 16 * 1024) {
                drop(h);
                return;
            }
        }
        if (h.answer.rfind("HTTP/1.1 101", 0) != 0) {
            drop(h); // refused (e.g. too many unauthenticated connections)
            return;
        }
        h.upgraded = true;
        h.answer = {};
        h.tls = Hostile::Tls::Flood;
        [[fallthrough]];
    case Hostile::Tls::Flood:
        writeTls(h, h.out.size());
        return;
    }
}

void pushOut(Hostile &h)
{
    if (h.ssl)
        return pushOutTls(h);
    while (h.fd >= 0 && h.sent < h.out.size()) {
        const ssize_t n =
            ::send(h.fd, h.out.data() + h.sent, h.out.size() - h.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                ::close(h.fd); // kithd dropped it: as it should
                h.fd = -1;
            }
            return;
        }
        h.sent += size_t(n);
    }
}
} // namespace

int runHostile(const Options &o)
{
    const int hostiles = o.clients;
    const int hostileUsers =
        std::max(1, (hostiles + kConnectionsPerUser - 1) / kConnectionsPerUser);
    const auto users = usersFor(o, "bh", hostileUsers + 2);
    if (!users)
        return 2;
    const Credentials &sender = (*users)[0];
    const Credentials &receiver = (*users)[1];

    // The history the pullers page: a group of the hostile users.
    std::string group;
    {
        SetupClient owner((*users)[2], o.target);
        if (!owner.waitReady()) {
            fail("the hostile group's owner could not log in");
            return 2;
        }
        v1::Envelope create;
        create.mutable_create_group()->set_name("hostile " + o.runTag);
        for (int i = 3; i < hostileUsers + 2; ++i)
            create.mutable_create_group()->add_member_user_ids((*users)[size_t(i)].userId);
        const auto created = owner.request(create);
        if (!created || !created->has_conversation()) {
            fail("creating the hostile group failed");
            return 2;
        }
        group = created->conversation().state().id();
        for (int i = 0; i < kBigMessages; ++i) {
            v1::Envelope send;
            send.mutable_send()->set_conversation_id(group);
            send.mutable_send()->set_client_msg_id(o.runTag + "-big-" + std::to_string(i));
            send.mutable_send()->mutable_content()->mutable_text()->set_body(
                std::string(kBigMessageBytes, char('a' + i)));
            const auto ack = owner.request(send);
            if (!ack || !ack->has_send_ack()) {
                fail("seeding the hostile history failed");
                return 2;
            }
        }
    }

    EventLoop loop;
    const int64_t deadline = monoNs() + int64_t(o.deadlineSeconds) * 1'000'000'000;
    KithSession a(loop, sender);
    KithSession b(loop, receiver);
    int ready = 0, failed = 0;
    for (KithSession *s : {&a, &b}) {
        s->onReady = [&](KithSession &) { ++ready; };
        s->onFailed = [&](KithSession &session) {
            ++failed;
            fail("bystander failed: " + session.failure());
        };
    }
    const std::string chat = directConversationId(sender.userId, receiver.userId).toStdString();
    std::unordered_map<std::string, int64_t> sentAt;
    LatencyHistogram latency;
    // (sent at, latency) of every bystander message, for when the slow ones were.
    std::vector<std::pair<int64_t, int64_t>> worst;
    int64_t received = 0, errors = 0;
    b.onEnvelope = [&](KithSession &, const v1::Envelope &env) {
        if (env.body_case() != v1::Envelope::kMessage)
            return;
        const auto it = sentAt.find(env.message().message().client_msg_id());
        if (it == sentAt.end())
            return;
        const int64_t took = wallNs() - it->second;
        latency.add(took);
        worst.push_back({it->second, took});
        sentAt.erase(it);
        ++received;
    };
    a.onEnvelope = [&](KithSession &, const v1::Envelope &env) {
        if (env.body_case() == v1::Envelope::kError)
            ++errors;
    };
    a.start(o.target, sourceAddress(0));
    b.start(o.target, sourceAddress(1));
    if (!loop.runUntil([&] { return ready + failed == 2; }, deadline) || failed > 0)
        return 2;

    const int64_t rssBefore = o.kithdPid > 0 ? residentKiB(o.kithdPid) : -1;
    // The hostile sockets are driven by a thread of their own, so that
    // writing to a thousand of them never delays the bystanders' loop: the
    // latency measured is kithd's, not this tool's.
    std::atomic<bool> stopHostiles{false};
    int refused = 0, open = 0, upgraded = 0;
    const bool tls = KithSession::usesTls();
    std::atomic<bool> hostilesBuilt{false};
    std::thread hostileThread([&] {
        // What each sends is made before the clock starts: making it is not
        // part of the attack, and on two cores it would compete with kithd.
        static const int only =
            std::getenv("KITH_HOSTILE_ONLY") ? std::atoi(std::getenv("KITH_HOSTILE_ONLY")) : -1;
        std::vector<Hostile> hostile;
        hostile.resize(size_t(hostiles));
        for (int i = 0; i < hostiles; ++i)
            hostile[size_t(i)].out =
                hostileBytes(only >= 0 ? only : i % kKinds,
                             (*users)[size_t(2 + (i / kConnectionsPerUser) % hostileUsers)], group);
        hostilesBuilt.store(true);
        for (int i = 0; i < hostiles; ++i) {
            Hostile &h = hostile[size_t(i)];
            h.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            sockaddr_in source{};
            source.sin_family = AF_INET;
            source.sin_addr.s_addr = sourceAddress(size_t(i) + 2);
            (void)::bind(h.fd, reinterpret_cast<const sockaddr *>(&source), sizeof source);
            if (::connect(h.fd, reinterpret_cast<const sockaddr *>(&o.target), sizeof o.target) !=
                    0 &&
                errno != EINPROGRESS) {
                ::close(h.fd);
                h.fd = -1;
                ++refused;
                continue;
            }
            if (tls) {
                SSL_CTX *context = clientTlsContext();
                h.ssl = context ? SSL_new(context) : nullptr;
                if (!h.ssl || SSL_set_fd(h.ssl, h.fd) != 1) {
                    drop(h);
                    ++refused;
                    continue;
                }
                SSL_set_connect_state(h.ssl);
                h.tls = Hostile::Tls::Handshake;
                h.upgradeBytes = upgradeRequest().size(); // every kind begins with it
            }
        }
        while (!stopHostiles.load()) {
            for (Hostile &h : hostile)
                pushOut(h);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        for (Hostile &h : hostile) {
            upgraded += h.upgraded ? 1 : 0;
            if (h.fd >= 0) {
                // Still open from here: kithd may have dropped it (a reset
                // shows on the next send).
                const ssize_t n = ::send(h.fd, "", 0, MSG_NOSIGNAL | MSG_DONTWAIT);
                open += n == 0 ? 1 : 0;
            }
            drop(h);
        }
    });

    while (!hostilesBuilt.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const int64_t hostileStartWallNs = wallNs();
    int64_t rssMax = rssBefore, sent = 0, nextSendNs = monoNs(), nextRssNs = 0;
    const int64_t endNs = monoNs() + int64_t(o.seconds * 1e9);
    loop.runUntil([&] { return monoNs() >= endNs; }, deadline,
                  [&] {
                      const int64_t now = monoNs();
                      if (now >= nextSendNs) {
                          nextSendNs += int64_t(1e9 / kBystanderRate);
                          v1::Envelope env;
                          env.set_request_id(a.nextRequestId());
                          const std::string id = o.runTag + "-by-" + std::to_string(sent++);
                          env.mutable_send()->set_conversation_id(chat);
                          env.mutable_send()->set_client_msg_id(id);
                          env.mutable_send()->mutable_content()->mutable_text()->set_body(
                              "bystander");
                          sentAt[id] = wallNs();
                          a.send(env);
                      }
                      if (now >= nextRssNs && o.kithdPid > 0) {
                          nextRssNs = now + 200'000'000;
                          rssMax = std::max(rssMax, residentKiB(o.kithdPid));
                      }
                  });
    // The last messages' pushes, with the hostile sockets still there.
    loop.runUntil([&] { return sentAt.empty(); }, std::min(deadline, monoNs() + kDrainNs));
    stopHostiles.store(true);
    hostileThread.join();
    const int64_t bound = rssBefore + int64_t(hostiles) * (kBudgetKiB + kPerConnectionExtraKiB);
    const int64_t lost = int64_t(sentAt.size());
    Report report("hostile");
    report.add("hostile_connections", int64_t(hostiles));
    report.add("refused_at_connect", int64_t(refused));
    report.add("still_open", int64_t(open));
    // Over TLS: those that got their upgrade's answer (the others were
    // refused or dropped before, by the handshake's limits).
    if (tls)
        report.add("upgraded", int64_t(upgraded));
    report.add("seconds", o.seconds);
    report.add("rss_before_kib", rssBefore);
    report.add("rss_max_kib", rssMax);
    report.add("rss_bound_kib", rssBefore > 0 ? bound : int64_t(-1));
    report.add("within_bound", int64_t(rssBefore > 0 && rssMax <= bound ? 1 : 0));
    report.add("bystander_sent", sent);
    report.add("bystander_received", received);
    report.add("bystander_lost", lost);
    report.add("bystander_errors", errors);
    report.add("bystander_p50_ms", latency.percentileMs(0.50));
    report.add("bystander_p99_ms", latency.percentileMs(0.99));
    report.add("bystander_max_ms", latency.maxMs());
    report.print();
    // The slowest bystander messages, and when they were sent (seconds from
    // the hostile connections' start): a stall's place in the run.
    std::sort(worst.begin(), worst.end(),
              [](const auto &x, const auto &y) { return x.second > y.second; });
    std::fprintf(stderr, "slowest bystander messages (sent at s: ms):");
    for (size_t i = 0; i < std::min<size_t>(worst.size(), 10); ++i)
        std::fprintf(stderr, " %.2f: %.1f", double(worst[i].first - hostileStartWallNs) / 1e9,
                     double(worst[i].second) / 1e6);
    std::fprintf(stderr, "\n");
    return lost == 0 && errors == 0 ? 0 : 1;
}

} // namespace kith::bench
