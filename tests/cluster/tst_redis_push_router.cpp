// RedisPushRouter on a real Redis, several nodes in one process: a push is
// published only to the nodes holding a recipient; presence is told once
// for the first connection anywhere and the last one everywhere, however the
// nodes race; closes and changes of members reach the other nodes; a dead
// or leaving node is cleaned up by a peer, which tells its users' contacts;
// a node taken for dead comes back and says again who it holds; and after
// Redis restarts empty, the nodes join again, say again what they hold and
// deliver the pushes that waited.

#include "redis_push_router.h"
#include "service_fixture.h"
#include "test_redis.h"

#include <QTest>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <memory>

using namespace kith;
using namespace kith::server;
using namespace kith::server::cluster;
using namespace kith::server::test;
using kith::test::TestRedis;

namespace {

constexpr int kBusWaitMs = 20000;
// Short, so that a dead node is noticed within the test's patience.
constexpr int kNodeTtlMs = 1000;

using Heard = QList<std::pair<quint64, bool>>;

// One node: its sessions (LocalPushRouter) and its router across nodes, with
// what its presence and membership listeners were told.
struct Node
{
    Node(quint32 id, const RedisAddress &address)
        : local(nullptr, id)
        , bus(local, options(id, address))
    {
        local.setDeviceListener(
            [this](quint64 deviceId, bool online) { bus.localDeviceChanged(deviceId, online); });
        bus.setPresenceListener([this](quint64 userId, bool online) {
            heard.append({userId, online});
        });
        bus.setMembershipListener(
            [this](const MembershipChanged &change) { membership.append(change); });
        bus.start();
    }
    ~Node() { local.setDeviceListener({}); }

    static BusOptions options(quint32 id, const RedisAddress &address)
    {
        BusOptions options;
        options.address = address;
        options.node = id;
        options.nodeTtlMs = kNodeTtlMs;
        options.firstRetryMs = 50;
        options.maxRetryMs = 500;
        return options;
    }

    LocalPushRouter local;
    RedisPushRouter bus;
    Heard heard;
    QList<MembershipChanged> membership;
};

v1::Envelope typing(quint64 userId)
{
    v1::Envelope push;
    push.mutable_typing_push()->set_user_id(userId);
    return push;
}

int count(const Heard &heard, quint64 userId, bool online)
{
    return int(std::count(heard.begin(), heard.end(), std::pair{userId, online}));
}

quint64 receivedFrom(const RedisPushRouter &bus, quint32 node)
{
    for (const auto &[from, n] : bus.stats().receivedFrom)
        if (from == node)
            return n;
    return 0;
}

} // namespace

class TestRedisPushRouter : public QObject
{
    Q_OBJECT

    std::unique_ptr<TestRedis> m_redis;
    RedisAddress m_address;

    // Runs one command on a connection of its own; the reply as text (an
    // integer as its digits, an array as its elements joined by spaces).
    std::optional<QByteArray> redis(const QList<QByteArray> &command)
    {
        RedisConnection connection(QStringLiteral("test"));
        bool up = false;
        connect(&connection, &RedisConnection::connected, this, [&up] { up = true; });
        connection.open(m_address, 5000);
        if (!QTest::qWaitFor([&] { return up; }, kBusWaitMs))
            return std::nullopt;
        std::optional<QByteArray> answer;
        connection.command(command, [&answer](const redisReply *reply) {
            if (!reply)
                return answer.emplace();
            if (reply->type == REDIS_REPLY_INTEGER)
                return answer.emplace(QByteArray::number(reply->integer));
            if (reply->type == REDIS_REPLY_ARRAY) {
                QList<QByteArray> parts;
                for (size_t i = 0; i < reply->elements; ++i)
                    parts.append(
                        QByteArray(reply->element[i]->str, qsizetype(reply->element[i]->len)));
                std::sort(parts.begin(), parts.end());
                return answer.emplace(parts.join(' '));
            }
            return answer.emplace(reply->str ? QByteArray(reply->str, qsizetype(reply->len))
                                             : QByteArray());
        });
        if (!QTest::qWaitFor([&] { return answer.has_value(); }, kBusWaitMs))
            return std::nullopt;
        return answer;
    }

    static bool allReady(std::initializer_list<const Node *> nodes)
    {
        return std::all_of(nodes.begin(), nodes.end(),
                           [](const Node *node) { return node->bus.isReady(); });
    }

private slots:
    void initTestCase()
    {
        KITH_REQUIRE_REDIS();
        m_redis = std::make_unique<TestRedis>();
        QVERIFY2(m_redis->start(), m_redis->log().right(2000).constData());
        const auto address = parseRedisUrl(m_redis->url());
        QVERIFY(address);
        m_address = *address;
    }

    void init()
    {
        if (!m_redis->isRunning())
            QVERIFY(m_redis->start());
        QCOMPARE(redis({"FLUSHALL"}), std::optional<QByteArray>("OK"));
    }

    // Three nodes, a user on each: a push goes to the node of each recipient
    // only, once per node however many recipients it holds, and skips only
    // the named origin connection there.
    void routesOnlyToNodesHoldingARecipient()
    {
        Node a(1, m_address), b(2, m_address), c(3, m_address);
        QTRY_VERIFY_WITH_TIMEOUT(allReady({&a, &b, &c}), kBusWaitMs);
        RecordingConnection a10(1), b20(1), b20phone(2), b21(3), c30(1);
        a.local.attach(&a10, 10, 100);
        b.local.attach(&b20, 20, 200);
        b.local.attach(&b20phone, 20, 201);
        b.local.attach(&b21, 21, 210);
        c.local.attach(&c30, 30, 300);
        QTRY_VERIFY_WITH_TIMEOUT(a.bus.isOnline(20) && a.bus.isOnline(21) && a.bus.isOnline(30) &&
                                     b.bus.isOnline(10) && c.bus.isOnline(10),
                                 kBusWaitMs);
        QVERIFY(a.bus.isDeviceOnline(201));
        QVERIFY(!a.bus.isOnline(99));

        QCOMPARE(a.bus.pushToUsers({20, 21}, typing(7)), 0); // none on this node
        QTRY_COMPARE_WITH_TIMEOUT(b21.frames.size(), 1, kBusWaitMs);
        QCOMPARE(b20.frames.size(), 1);
        QCOMPARE(b20phone.frames.size(), 1);
        QCOMPARE(b20.frames.first().typing_push().user_id(), 7u);

        // The origin is a connection of node 2: only it is skipped.
        a.bus.pushToUsers({20}, typing(8), ConnectionRef{2, 1});
        QTRY_COMPARE_WITH_TIMEOUT(b20phone.frames.size(), 2, kBusWaitMs);
        QCOMPARE(b20.frames.size(), 1);

        // One local delivery, one for node 3.
        QCOMPARE(a.bus.pushToUsers({10, 30}, typing(9)), 1);
        QTRY_COMPARE_WITH_TIMEOUT(c30.frames.size(), 1, kBusWaitMs);
        QCOMPARE(a10.frames.size(), 1);

        // Node 2 got two messages and node 3 one; nothing else went to node 3
        // (what node 1 published before this last push arrived before it).
        a.bus.pushToUsers({30}, typing(10));
        QTRY_COMPARE_WITH_TIMEOUT(c30.frames.size(), 2, kBusWaitMs);
        QCOMPARE(receivedFrom(c.bus, 1), 2u);
        QCOMPARE(receivedFrom(b.bus, 1), 2u);
        QCOMPARE(receivedFrom(c.bus, 2), 0u);
        const auto published = a.bus.stats().publishedTo;
        QCOMPARE(published, (QList<std::pair<quint32, quint64>>{{2, 2}, {3, 2}}));
    }

    // Presence comes from Redis: the first connection anywhere and the last
    // one everywhere are each told once, on the node that made them.
    void presenceIsToldOnceAcrossNodes()
    {
        Node a(1, m_address), b(2, m_address);
        QTRY_VERIFY_WITH_TIMEOUT(allReady({&a, &b}), kBusWaitMs);
        RecordingConnection onA(1), onB(1);
        a.local.attach(&onA, 40, 400);
        QTRY_COMPARE_WITH_TIMEOUT(a.heard, (Heard{{40, true}}), kBusWaitMs);
        b.local.attach(&onB, 40, 401);
        QTRY_VERIFY_WITH_TIMEOUT(a.bus.isDeviceOnline(401), kBusWaitMs);
        a.local.detach(&onA);
        QTRY_VERIFY_WITH_TIMEOUT(!b.bus.isDeviceOnline(400), kBusWaitMs);
        QVERIFY(b.bus.isOnline(40));
        QVERIFY(a.bus.isOnline(40));
        b.local.detach(&onB);
        QTRY_COMPARE_WITH_TIMEOUT(b.heard, (Heard{{40, false}}), kBusWaitMs);
        QCOMPARE(a.heard, (Heard{{40, true}}));
        QTRY_VERIFY_WITH_TIMEOUT(!a.bus.isOnline(40), kBusWaitMs);

        // Both nodes at once, in one turn of the loop: still once each way.
        a.local.attach(&onA, 41, 410);
        b.local.attach(&onB, 41, 411);
        QTRY_VERIFY_WITH_TIMEOUT(a.bus.isDeviceOnline(411) && b.bus.isDeviceOnline(410),
                                 kBusWaitMs);
        QCOMPARE(count(a.heard, 41, true) + count(b.heard, 41, true), 1);
        a.local.detach(&onA);
        b.local.detach(&onB);
        QTRY_COMPARE_WITH_TIMEOUT(count(a.heard, 41, false) + count(b.heard, 41, false), 1,
                                  kBusWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(!a.bus.isDeviceOnline(411) && !b.bus.isDeviceOnline(410),
                                 kBusWaitMs);
        QCOMPARE(count(a.heard, 41, false) + count(b.heard, 41, false), 1);
    }

    // A device revoked on one node loses its connections on another; a user
    // closed on one node, on every node.
    void closesReachTheOtherNodes()
    {
        Node a(1, m_address), b(2, m_address);
        QTRY_VERIFY_WITH_TIMEOUT(allReady({&a, &b}), kBusWaitMs);
        RecordingConnection laptopOnA(1), laptopOnB(1), phoneOnB(2);
        a.local.attach(&laptopOnA, 50, 500);
        b.local.attach(&laptopOnB, 50, 500); // the same device twice
        b.local.attach(&phoneOnB, 50, 501);
        QTRY_VERIFY_WITH_TIMEOUT(a.bus.isDeviceOnline(501) && b.bus.directory().deviceOnline(500),
                                 kBusWaitMs);
        // Revoked by its own connection on node 2, which answers and closes itself.
        QCOMPARE(b.bus.closeDevice(500, v1::TOKEN_INVALID, QStringLiteral("revoked"),
                                   ConnectionRef{2, 1}),
                 0);
        QTRY_COMPARE_WITH_TIMEOUT(laptopOnA.terminatedWith, std::optional(v1::TOKEN_INVALID),
                                  kBusWaitMs);
        QVERIFY(!laptopOnB.terminatedWith);
        QVERIFY(!phoneOnB.terminatedWith);
        QCOMPARE(a.bus.closeUser(50, v1::ACCOUNT_DISABLED, QStringLiteral("disabled")), 1);
        QTRY_COMPARE_WITH_TIMEOUT(phoneOnB.terminatedWith, std::optional(v1::ACCOUNT_DISABLED),
                                  kBusWaitMs);
        QCOMPARE(laptopOnB.terminatedWith, std::optional(v1::ACCOUNT_DISABLED));
    }

    // What one node's caches must forget reaches every other node's listener,
    // not its own.
    void changesOfMembersReachEveryOtherNode()
    {
        Node a(1, m_address), b(2, m_address), c(3, m_address);
        QTRY_VERIFY_WITH_TIMEOUT(allReady({&a, &b, &c}), kBusWaitMs);
        // Each node forgot everything when it joined (it may have missed changes).
        for (Node *node : {&a, &b, &c}) {
            QCOMPARE(node->membership.size(), 1);
            QVERIFY(node->membership.first().everything);
            node->membership.clear();
        }
        a.bus.membershipChanged(MembershipChanged{QStringLiteral("g:7"), {1, 2}, false});
        QTRY_COMPARE_WITH_TIMEOUT(b.membership.size(), 1, kBusWaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(c.membership.size(), 1, kBusWaitMs);
        QCOMPARE(b.membership.first().groupId, QStringLiteral("g:7"));
        QCOMPARE(b.membership.first().users, (QList<quint64>{1, 2}));
        // Node 1's own message came back to it on the channel for all, before
        // node 2's: it was not handed to its listener.
        b.bus.membershipChanged(MembershipChanged{{}, {3}, false});
        QTRY_COMPARE_WITH_TIMEOUT(a.membership.size(), 1, kBusWaitMs);
        QCOMPARE(a.membership.first().users, QList<quint64>{3});
    }

    // A node that dies (no leave, no heartbeat) is reaped by a peer once its
    // time to live lapses: its users that no other node holds are told
    // offline once, and the others' copies of the directory forget it.
    void aDeadNodeIsReaped()
    {
        Node a(1, m_address), b(2, m_address);
        auto c = std::make_unique<Node>(3, m_address);
        QTRY_VERIFY_WITH_TIMEOUT(allReady({&a, &b, c.get()}), kBusWaitMs);
        RecordingConnection onlyOnC(1), alsoOnC(2), alsoOnA(1);
        c->local.attach(&onlyOnC, 60, 600);
        c->local.attach(&alsoOnC, 61, 610);
        a.local.attach(&alsoOnA, 61, 611);
        QTRY_VERIFY_WITH_TIMEOUT(
            a.bus.isOnline(60) && b.bus.directory().nodesOfUser(61).size() == 2, kBusWaitMs);
        c.reset(); // its connections to Redis go with it
        QTRY_COMPARE_WITH_TIMEOUT(count(a.heard, 60, false) + count(b.heard, 60, false), 1,
                                  kBusWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(!a.bus.isOnline(60) && !b.bus.isOnline(60), kBusWaitMs);
        QCOMPARE(b.bus.directory().nodesOfUser(61), QList<quint32>{1});
        QCOMPARE(count(a.heard, 61, false) + count(b.heard, 61, false), 0);
        QCOMPARE(redis({"SMEMBERS", "kith:u:61"}), std::optional<QByteArray>("1"));
        QCOMPARE(redis({"EXISTS", "kith:u:60"}), std::optional<QByteArray>("0"));
        QTRY_COMPARE_WITH_TIMEOUT(redis({"HKEYS", "kith:nodes"}), std::optional<QByteArray>("1 2"),
                                  kBusWaitMs);
    }

    // A node that stops on purpose is reaped at a peer's next heartbeat; its
    // connections closing on the way out are not told one by one.
    void aLeavingNodeIsReapedByAPeer()
    {
        auto a = std::make_unique<Node>(1, m_address);
        Node b(2, m_address);
        QTRY_VERIFY_WITH_TIMEOUT(allReady({a.get(), &b}), kBusWaitMs);
        RecordingConnection onA(1);
        a->local.attach(&onA, 70, 700);
        QTRY_VERIFY_WITH_TIMEOUT(b.bus.isOnline(70), kBusWaitMs);
        a->bus.prepareToLeave();
        a->local.detach(&onA);
        bool left = false;
        a->bus.leave([&left] { left = true; });
        QTRY_VERIFY_WITH_TIMEOUT(left, kBusWaitMs);
        QCOMPARE(a->heard, (Heard{{70, true}}));
        QTRY_COMPARE_WITH_TIMEOUT(b.heard, (Heard{{70, false}}), kBusWaitMs);
        QVERIFY(!b.bus.isOnline(70));
    }

    // A node cut off from Redis longer than its time to live is reaped (its
    // users told offline); when it is back it joins again and tells them
    // online, and the others route to it again.
    void aNodeTakenForDeadComesBack()
    {
        Node a(1, m_address), b(2, m_address);
        QTRY_VERIFY_WITH_TIMEOUT(allReady({&a, &b}), kBusWaitMs);
        RecordingConnection onA(1);
        a.local.attach(&onA, 80, 800);
        QTRY_VERIFY_WITH_TIMEOUT(b.bus.isOnline(80) && a.heard == (Heard{{80, true}}), kBusWaitMs);
        a.bus.suspendHeartbeat(true);
        QTRY_COMPARE_WITH_TIMEOUT(b.heard, (Heard{{80, false}}), kBusWaitMs);
        QVERIFY(!b.bus.isOnline(80));
        a.bus.suspendHeartbeat(false);
        QTRY_COMPARE_WITH_TIMEOUT(a.heard, (Heard{{80, true}, {80, true}}), kBusWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(b.bus.isOnline(80) && a.bus.isReady(), kBusWaitMs);
        b.bus.pushToUsers({80}, typing(1));
        QTRY_COMPARE_WITH_TIMEOUT(onA.frames.size(), 1, kBusWaitMs);
    }

    // Redis killed and started again, empty: the nodes notice, keep pushes
    // for the others meanwhile, join again, say again what they hold (a user
    // who came while Redis was away included), and route again. What waited
    // is routed by the directory as it is when this node is back: it reaches
    // a recipient whose node said again what it holds first, and is dropped
    // otherwise (a push is a hint; sync brings the messages), so the test
    // checks it arrives at most once, and that a push after both are back
    // arrives.
    void redisRestartsEmpty()
    {
        Node a(1, m_address), b(2, m_address);
        QTRY_VERIFY_WITH_TIMEOUT(allReady({&a, &b}), kBusWaitMs);
        RecordingConnection onB(1), onA(1);
        b.local.attach(&onB, 90, 900);
        QTRY_VERIFY_WITH_TIMEOUT(a.bus.isOnline(90), kBusWaitMs);
        QVERIFY(m_redis->kill9());
        QTRY_VERIFY_WITH_TIMEOUT(a.bus.state() == RedisPushRouter::State::Waiting ||
                                     a.bus.state() == RedisPushRouter::State::Connecting,
                                 kBusWaitMs);
        QVERIFY(!a.bus.isReady());
        a.bus.pushToUsers({90}, typing(3));
        a.local.attach(&onA, 91, 910);
        // Told at once from what this node knows (no other node holds 91).
        QCOMPARE(count(a.heard, 91, true), 1);
        QVERIFY(m_redis->start());
        QTRY_VERIFY_WITH_TIMEOUT(allReady({&a, &b}), kBusWaitMs);
        QTRY_VERIFY_WITH_TIMEOUT(b.bus.isOnline(91) && a.bus.isOnline(90), kBusWaitMs);
        a.bus.pushToUsers({90}, typing(4));
        // What waited may still be on its way when the nodes are back: the
        // push after both are back arrives, and what waited at most once.
        const auto from = [&onB](quint64 user) {
            return std::count_if(onB.frames.cbegin(), onB.frames.cend(),
                                 [user](const v1::Envelope &frame) {
                                     return frame.typing_push().user_id() == user;
                                 });
        };
        QTRY_COMPARE_WITH_TIMEOUT(from(4), 1, kBusWaitMs);
        QVERIFY(from(3) <= 1);
        QCOMPARE(onB.frames.size(), from(3) + from(4));
        QCOMPARE(redis({"SMEMBERS", "kith:u:90"}), std::optional<QByteArray>("2"));
        QCOMPARE(redis({"SMEMBERS", "kith:nu:1"}), std::optional<QByteArray>("91"));
        QCOMPARE(a.bus.stats().reconnects, 1u);
        QCOMPARE(b.bus.stats().reconnects, 1u);
        // Redis lost who was online: nobody is told twice for it.
        QCOMPARE(count(b.heard, 90, true), 1);
    }
};

QTEST_GUILESS_MAIN(TestRedisPushRouter)
#include "tst_redis_push_router.moc"
