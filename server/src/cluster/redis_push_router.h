#pragma once
// RedisPushRouter: the PushRouter of a node among several, over a Redis bus.
// It wraps the node's own router (its sessions) and routes the rest: each
// node has a channel of its own, and a directory in Redis says which nodes
// hold which users and devices (every node keeps a copy, see NodeDirectory),
// so a push is published only to the nodes holding a recipient, never to all.
// Presence is decided in Redis: a user comes online with the first
// connection anywhere and goes offline with the last one everywhere. A node
// renews a key with a time to live while it runs; when the key lapses (the
// node died or lost Redis), a peer removes what it held and tells its users'
// contacts that they went offline.
//
// A push is a hint: while Redis cannot be reached this node keeps serving
// (sends are stored and acked; pushes reach its own connections), queues a
// bounded backlog of pushes for the others, reconnects with back-off and then
// says again what it holds. Clients repair whatever was lost by seq gaps and
// sync. Owned by the Server; session loop only.

#include "bus_scripts.h"
#include "node_directory.h"
#include "push_router.h"
#include "redis_address.h"
#include "redis_connection.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <deque>
#include <functional>

namespace kith::server::cluster {

struct BusOptions
{
    RedisAddress address;
    quint32 node = 0; // this node's id, 1 or more
    // How long a node counts as alive after its last heartbeat (it renews
    // every third of it). A dead node's users go offline after about this.
    int nodeTtlMs = 15000;
    int connectTimeoutMs = 3000;
    int firstRetryMs = 100; // back-off doubles from here ...
    int maxRetryMs = 5000;  // ... up to here (with jitter)
    // Pushes waiting for Redis (down, or not keeping up) at most; past it the
    // oldest are dropped and clients repair the gap.
    qint64 maxBacklogBytes = 32 * 1024 * 1024;
    // Commands Redis has not answered yet at most; past it pushes are dropped.
    qint64 maxPendingReplies = 200'000;
};

class RedisPushRouter final : public QObject, public PushRouter
{
    Q_OBJECT
public:
    // `local` is this node's own router (its sessions); it must outlive this.
    RedisPushRouter(PushRouter &local, BusOptions options, QObject *parent = nullptr);
    ~RedisPushRouter() override;

    // Connects, joins the directory and keeps at it until leave().
    void start();
    // The server stops: connections closing from now on are not written to
    // Redis (the whole node goes at once, in leave()).
    void prepareToLeave();
    // Stops counting as alive, so that a peer reaps this node at its next
    // heartbeat (telling contacts its users went offline); `done` runs once
    // Redis has it, or after a short wait when it cannot be reached.
    void leave(std::function<void()> done);

    // This node's device listener (the Server wires it to its LocalPushRouter).
    void localDeviceChanged(quint64 deviceId, bool online);

    // For tests: stops renewing this node's place on the bus (as a node cut
    // off from Redis would), and starts again.
    void suspendHeartbeat(bool suspended) { m_heartbeatSuspended = suspended; }

    int pushToUsers(const QList<quint64> &userIds, const v1::Envelope &push,
                    ConnectionRef except = {}) override;
    int closeDevice(quint64 deviceId, v1::ErrorCode code, const QString &message,
                    ConnectionRef except = {}) override;
    int closeUser(quint64 userId, v1::ErrorCode code, const QString &message) override;
    [[nodiscard]] bool isOnline(quint64 userId) const override;
    [[nodiscard]] bool isDeviceOnline(quint64 deviceId) const override;
    // This node's users (for /metrics; the directory knows the others').
    [[nodiscard]] quint64 onlineUserCount() const override;
    void setPresenceListener(PresenceListener listener) override;
    void membershipChanged(const MembershipChanged &event) override;
    void setMembershipListener(MembershipListener listener) override;

    enum class State {
        Stopped,    // before start(), after leave()
        Connecting, // both connections, scripts, subscriptions
        Joining,    // telling Redis what this node holds
        Ready,      // routing
        Waiting,    // lost Redis: trying again after a back-off
    };
    [[nodiscard]] State state() const { return m_state; }
    [[nodiscard]] bool isReady() const { return m_state == State::Ready && m_routing; }
    [[nodiscard]] quint32 node() const { return m_options.node; }
    [[nodiscard]] const RedisAddress &address() const { return m_options.address; }
    [[nodiscard]] const NodeDirectory &directory() const { return m_directory; }

    struct Stats
    {
        State state = State::Stopped;
        QString lastError;
        quint64 reconnects = 0; // joins after the first
        quint64 published = 0;  // messages to other nodes' channels
        quint64 publishedBytes = 0;
        quint64 broadcasts = 0; // messages to every node (changes of members)
        quint64 received = 0;   // from other nodes
        quint64 receivedBytes = 0;
        quint64 directoryUpdates = 0;
        quint64 dropped = 0;   // pushes not routed: backlog or Redis over budget
        quint64 malformed = 0; // messages on the bus we could not read
        quint64 reaped = 0;    // dead nodes this node cleaned up after
        qint64 backlogBytes = 0;
        QList<std::pair<quint32, quint64>> publishedTo;  // by node
        QList<std::pair<quint32, quint64>> receivedFrom; // by node
        QList<quint32> nodes;                            // others alive, as last seen
        qsizetype remoteUsers = 0;
        qsizetype remoteDevices = 0;
    };
    [[nodiscard]] Stats stats() const;

signals:
    // Joined and the directory read: pushes are routed from now on.
    void ready();
    // Lost Redis (or was told this node's entry is gone); trying again.
    void lostBus(const QString &why);

private:
    using ReplyHandler = RedisConnection::ReplyHandler;

    void connectBoth();
    void onCommandsConnected();
    void onSubscribed(const QByteArray &channel);
    void maybeJoin();
    void join();
    void resync();
    void sweep();
    void readDirectory();
    void heartbeat();
    void reap(quint32 node, const QByteArray &incarnation);
    void teardown(const QString &why);
    void scheduleRetry();
    void enterReady();

    // Runs a script; `handler` sees only a good reply of this connection.
    bool eval(scripts::Id script, QList<QByteArray> args, ReplyHandler handler = {});
    // Publishes unless Redis is over its budget (then counts a drop).
    bool publish(const QByteArray &channel, const QByteArray &payload);
    void routePush(const QList<quint64> &userIds, const QByteArray &envelope, ConnectionRef except);
    void broadcastOrQueue(const QByteArray &payload);
    void onLocalUser(quint64 userId, bool online);
    void onMessage(const QByteArray &channel, const QByteArray &payload);
    void announce(quint64 userId, bool online);

    PushRouter &m_local;
    const BusOptions m_options;
    const QByteArray m_nodeName;    // the node id as Redis sees it
    const QByteArray m_incarnation; // this process among the node id's lives
    const QByteArray m_channel;
    RedisConnection m_commands;
    RedisConnection m_subscriber;
    NodeDirectory m_directory;
    PresenceListener m_presence;
    MembershipListener m_membership;

    State m_state = State::Stopped;
    bool m_leaving = false;
    bool m_heartbeatSuspended = false;
    bool m_routing = false;      // the directory was read since the last join
    bool m_commandsUp = false;   // connected, scripts loaded
    int m_subscriptions = 0;     // of the two channels
    quint64 m_epoch = 0;         // bumped by teardown: older replies are ignored
    quint64 m_snapshotEpoch = 0; // the same for the directory being read
    bool m_joinedBefore = false; // for the reconnect count
    QByteArray m_joinMode;
    int m_retryMs = 0;
    QTimer m_retry;
    QTimer m_heartbeat;

    QSet<quint64> m_localUsers;
    QSet<quint64> m_localDevices;
    // Users whose presence changed here while the directory could not be told.
    QSet<quint64> m_changedWhileAway;
    QSet<quint32> m_reaping;

    struct Queued
    {
        QList<quint64> users;
        QByteArray envelope;
        ConnectionRef except;
    };
    std::deque<Queued> m_backlog;
    // Changes of members and closes for every node, sent when Redis is back.
    QList<QByteArray> m_pendingBroadcasts;
    bool m_pendingForgetAll = false;

    Stats m_stats;
    QHash<quint32, quint64> m_publishedTo;
    QHash<quint32, quint64> m_receivedFrom;
    QSet<quint32> m_aliveNodes;
};

} // namespace kith::server::cluster
