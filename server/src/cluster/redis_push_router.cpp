#include "redis_push_router.h"

#include "bus_logging.h"

#include <QRandomGenerator>

#include <hiredis/hiredis.h>

namespace kith::server::cluster {

namespace {
// Ids per resync command: small enough that Redis is never held long by one.
constexpr int kResyncChunk = 500;
// Entries per sweep and reap step, for the same reason.
constexpr int kSweepBatch = 1000;
// Closes and changes of members kept for every node while Redis is away; past
// it the changes of members become one "forget everything".
constexpr qsizetype kMaxPendingBroadcasts = 10'000;
// How long a stopping node waits for Redis to hear that it leaves.
constexpr int kLeaveTimeoutMs = 1000;

QByteArray replyString(const redisReply *reply)
{
    if (!reply || (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_STATUS))
        return {};
    return QByteArray(reply->str, qsizetype(reply->len));
}

// The ids in an array reply (ids come back as strings from Lua tables).
QList<quint64> replyIds(const redisReply *reply)
{
    QList<quint64> ids;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return ids;
    ids.reserve(qsizetype(reply->elements));
    for (size_t i = 0; i < reply->elements; ++i) {
        bool ok = false;
        const quint64 id = replyString(reply->element[i]).toULongLong(&ok);
        if (ok && id != 0)
            ids.append(id);
    }
    return ids;
}

QByteArray newIncarnation()
{
    return QByteArray::number(QRandomGenerator::system()->generate64(), 36);
}
} // namespace

RedisPushRouter::RedisPushRouter(PushRouter &local, BusOptions options, QObject *parent)
    : QObject(parent)
    , m_local(local)
    , m_options(std::move(options))
    , m_nodeName(QByteArray::number(m_options.node))
    , m_incarnation(newIncarnation())
    , m_channel(names::nodeChannel(m_options.node))
    , m_commands(QStringLiteral("bus (commands)"))
    , m_subscriber(QStringLiteral("bus (subscriber)"))
    , m_directory(m_options.node)
{
    m_retry.setSingleShot(true);
    connect(&m_retry, &QTimer::timeout, this, &RedisPushRouter::connectBoth);
    m_heartbeat.setInterval(qMax(100, m_options.nodeTtlMs / 3));
    connect(&m_heartbeat, &QTimer::timeout, this, &RedisPushRouter::heartbeat);

    connect(&m_commands, &RedisConnection::connected, this, &RedisPushRouter::onCommandsConnected);
    connect(&m_subscriber, &RedisConnection::connected, this, [this] {
        m_subscriber.subscribe({m_channel, QByteArray(names::kAll)});
    });
    connect(&m_subscriber, &RedisConnection::subscribedTo, this, &RedisPushRouter::onSubscribed);
    connect(&m_subscriber, &RedisConnection::messageReceived, this, &RedisPushRouter::onMessage);
    // Queued: hiredis is still inside its own call when it reports a loss.
    for (RedisConnection *connection : {&m_commands, &m_subscriber})
        connect(connection, &RedisConnection::disconnected, this, &RedisPushRouter::teardown,
                Qt::QueuedConnection);

    m_local.setPresenceListener(
        [this](quint64 userId, bool online) { onLocalUser(userId, online); });
}

RedisPushRouter::~RedisPushRouter()
{
    m_local.setPresenceListener({});
    ++m_epoch;
    m_commands.close();
    m_subscriber.close();
}

void RedisPushRouter::start()
{
    if (m_state != State::Stopped)
        return;
    qCInfo(lcBus).noquote() << "node" << m_options.node << "joining the bus at"
                            << m_options.address.describe();
    m_retryMs = m_options.firstRetryMs;
    connectBoth();
}

void RedisPushRouter::connectBoth()
{
    if (m_leaving)
        return;
    m_state = State::Connecting;
    m_commandsUp = false;
    m_subscriptions = 0;
    m_commands.open(m_options.address, m_options.connectTimeoutMs);
    m_subscriber.open(m_options.address, m_options.connectTimeoutMs);
}

void RedisPushRouter::onCommandsConnected()
{
    // Loaded before anything runs them; EVALSHA finds them in the same order.
    const quint64 epoch = m_epoch;
    for (int id = 0; id < scripts::Count; ++id) {
        m_commands.command({QByteArrayLiteral("SCRIPT"), QByteArrayLiteral("LOAD"),
                            scripts::source(scripts::Id(id))},
                           [this, epoch](const redisReply *reply) {
                               if (epoch == m_epoch && reply && reply->type == REDIS_REPLY_ERROR)
                                   teardown(QStringLiteral("cannot load a script: ") +
                                            QString::fromUtf8(reply->str));
                           });
    }
    m_commandsUp = true;
    maybeJoin();
}

void RedisPushRouter::onSubscribed(const QByteArray &channel)
{
    if (channel == m_channel || channel == names::kAll)
        ++m_subscriptions;
    maybeJoin();
}

void RedisPushRouter::maybeJoin()
{
    if (m_state == State::Connecting && m_commandsUp && m_subscriptions >= 2)
        join();
}

void RedisPushRouter::join()
{
    m_state = State::Joining;
    m_routing = false;
    // Whatever the other nodes changed while this one was not listening.
    if (m_membership)
        m_membership(MembershipChanged{{}, {}, true});
    eval(scripts::Join, {m_nodeName, m_incarnation, QByteArray::number(m_options.nodeTtlMs)},
         [this](const redisReply *reply) {
             if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
                 teardown(QStringLiteral("unexpected answer to join"));
                 return;
             }
             const QByteArray mode = replyString(reply->element[0]);
             if (mode == "taken") {
                 teardown(QStringLiteral("node id %1 is in use by another live node; give each "
                                         "node its own --node-id")
                              .arg(m_options.node));
                 return;
             }
             m_joinMode = mode;
             resync();
         });
}

// Tells Redis everything this node holds now; what it held before and holds
// no more is swept after. From here on every change is told as it happens.
void RedisPushRouter::resync()
{
    // Users who came online anywhere by this: announced unless Redis lost
    // its data, in which case only the ones whose change nobody heard of.
    const bool announceAll = m_joinMode != "fresh";
    const QList<quint64> users = m_localUsers.values();
    for (qsizetype first = 0; first < users.size(); first += kResyncChunk) {
        QList<QByteArray> args{m_nodeName};
        for (quint64 user : users.mid(first, kResyncChunk))
            args.append(QByteArray::number(user));
        eval(scripts::ResyncUsers, std::move(args), [this, announceAll](const redisReply *reply) {
            for (quint64 user : replyIds(reply)) {
                if (announceAll || m_changedWhileAway.contains(user))
                    announce(user, true);
            }
        });
    }
    const QList<quint64> devices = m_localDevices.values();
    for (qsizetype first = 0; first < devices.size(); first += kResyncChunk) {
        QList<QByteArray> args{m_nodeName};
        for (quint64 device : devices.mid(first, kResyncChunk))
            args.append(QByteArray::number(device));
        eval(scripts::ResyncDevices, std::move(args));
    }
    m_state = State::Ready;
    sweep();
    m_heartbeat.start();
    readDirectory();
}

void RedisPushRouter::sweep()
{
    eval(scripts::Sweep, {m_nodeName, QByteArray::number(kSweepBatch)},
         [this](const redisReply *reply) {
             // The resync's answers came first: what changed while away is told.
             m_changedWhileAway.clear();
             if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2)
                 return;
             for (quint64 user : replyIds(reply->element[1]))
                 announce(user, false);
             if (reply->element[0]->integer > 0)
                 sweep();
         });
}

// The directory as Redis holds it now; deltas that come meanwhile wait.
void RedisPushRouter::readDirectory()
{
    m_directory.beginSnapshot();
    // A join again while one is read: only the newest counts.
    const quint64 epoch = ++m_snapshotEpoch;
    m_commands.command(
        {QByteArrayLiteral("HGETALL"), QByteArrayLiteral("kith:nodes")},
        [this, epoch](const redisReply *reply) {
            if (epoch != m_snapshotEpoch || !reply || reply->type != REDIS_REPLY_ARRAY)
                return;
            auto holdings = std::make_shared<QHash<quint32, NodeDirectory::Holdings>>();
            auto due = std::make_shared<int>(0);
            for (size_t i = 0; i + 1 < reply->elements; i += 2) {
                bool ok = false;
                const quint32 node = replyString(reply->element[i]).toUInt(&ok);
                if (!ok || node == 0 || node == m_options.node)
                    continue;
                const QByteArray name = QByteArray::number(node);
                // What a node that is joining again held before counts too.
                for (const bool devices : {false, true}) {
                    ++*due;
                    const QByteArray kind = devices ? "d:" : "u:";
                    m_commands.command(
                        {QByteArrayLiteral("SUNION"), "kith:n" + kind + name,
                         "kith:s" + kind + name},
                        [this, epoch, holdings, due, node, devices](const redisReply *members) {
                            if (epoch != m_snapshotEpoch || !members)
                                return;
                            auto &held = (*holdings)[node];
                            (devices ? held.devices : held.users) = replyIds(members);
                            if (--*due == 0) {
                                m_directory.finishSnapshot(*holdings);
                                enterReady();
                            }
                        });
                }
            }
            if (*due == 0) {
                m_directory.finishSnapshot({});
                enterReady();
            }
        });
}

void RedisPushRouter::enterReady()
{
    m_routing = true;
    m_retryMs = m_options.firstRetryMs;
    if (m_joinedBefore)
        ++m_stats.reconnects;
    m_joinedBefore = true;
    m_stats.lastError.clear();
    qCInfo(lcBus).noquote() << "node" << m_options.node << "on the bus (" + m_joinMode + "),"
                            << m_localUsers.size() << "users here," << m_directory.userCount()
                            << "on other nodes";
    // What waited for the bus: changes of members and closes first (they
    // concern every node), then the pushes, routed by the fresh directory.
    if (m_pendingForgetAll)
        publish(QByteArray(names::kAll),
                encode(MembershipMessage{m_options.node, MembershipChanged{{}, {}, true}}));
    m_pendingForgetAll = false;
    for (const QByteArray &payload : std::exchange(m_pendingBroadcasts, {})) {
        ++m_stats.broadcasts;
        publish(QByteArray(names::kAll), payload);
    }
    std::deque<Queued> backlog = std::exchange(m_backlog, {});
    m_stats.backlogBytes = 0;
    for (const Queued &queued : backlog)
        routePush(queued.users, queued.envelope, queued.except);
    emit ready();
}

void RedisPushRouter::heartbeat()
{
    if (m_state != State::Ready || m_heartbeatSuspended)
        return;
    eval(scripts::Heartbeat, {m_nodeName, m_incarnation, QByteArray::number(m_options.nodeTtlMs)},
         [this](const redisReply *reply) {
             if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1)
                 return;
             if (replyString(reply->element[0]) == "lost") {
                 // Peers took this node for dead (or Redis lost its data).
                 qCWarning(lcBus) << "node" << m_options.node
                                  << "was dropped from the directory; joining again";
                 m_heartbeat.stop();
                 join();
                 return;
             }
             QSet<quint32> alive;
             for (size_t i = 1; i < reply->elements; ++i) {
                 const QByteArray entry = replyString(reply->element[i]);
                 const qsizetype colon = entry.indexOf(':');
                 bool ok = false;
                 const quint32 node = entry.mid(1, colon < 0 ? -1 : colon - 1).toUInt(&ok);
                 if (!ok || node == m_options.node)
                     continue;
                 if (entry.startsWith('+'))
                     alive.insert(node);
                 else if (colon > 0)
                     reap(node, entry.mid(colon + 1));
             }
             m_aliveNodes = alive;
             m_directory.keepOnly(alive);
         });
}

void RedisPushRouter::reap(quint32 node, const QByteArray &incarnation)
{
    if (m_reaping.contains(node))
        return;
    m_reaping.insert(node);
    m_directory.dropNode(node);
    eval(scripts::Reap, {QByteArray::number(node), incarnation, QByteArray::number(kSweepBatch)},
         [this, node, incarnation](const redisReply *reply) {
             m_reaping.remove(node);
             if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2)
                 return;
             const QList<quint64> gone = replyIds(reply->element[1]);
             for (quint64 user : gone)
                 announce(user, false);
             const long long left = reply->element[0]->integer;
             if (left > 0) {
                 reap(node, incarnation);
             } else if (left == 0) {
                 ++m_stats.reaped;
                 qCInfo(lcBus) << "node" << node << "is gone; cleaned up after it";
             }
         });
}

void RedisPushRouter::teardown(const QString &why)
{
    if (m_state == State::Stopped || m_state == State::Waiting)
        return;
    const bool wasReady = m_state == State::Ready;
    ++m_epoch;
    ++m_snapshotEpoch;
    m_commands.close();
    m_subscriber.close();
    m_heartbeat.stop();
    m_routing = false;
    m_commandsUp = false;
    m_subscriptions = 0;
    m_reaping.clear();
    if (m_directory.readingSnapshot())
        m_directory.abandonSnapshot();
    m_stats.lastError = why;
    if (wasReady)
        qCWarning(lcBus).noquote() << "node" << m_options.node << "lost the bus:" << why
                                   << "- serving its own connections meanwhile";
    emit lostBus(why);
    if (m_leaving) {
        m_state = State::Stopped;
        return;
    }
    m_state = State::Waiting;
    scheduleRetry();
}

void RedisPushRouter::scheduleRetry()
{
    // Jitter, so that nodes that lost Redis together do not come back in step.
    const int jitter = int(QRandomGenerator::global()->bounded(m_retryMs / 4 + 1));
    m_retry.start(m_retryMs + jitter);
    m_retryMs = qMin(m_options.maxRetryMs, m_retryMs * 2);
}

void RedisPushRouter::prepareToLeave()
{
    m_leaving = true;
}

void RedisPushRouter::leave(std::function<void()> done)
{
    m_leaving = true;
    m_retry.stop();
    m_heartbeat.stop();
    auto finish = std::make_shared<std::function<void()>>(std::move(done));
    const auto once = [this, finish] {
        if (!*finish)
            return;
        const auto callback = std::exchange(*finish, {});
        ++m_epoch;
        ++m_snapshotEpoch;
        m_commands.close();
        m_subscriber.close();
        m_state = State::Stopped;
        callback();
    };
    if (m_state != State::Ready || !eval(scripts::Leave, {m_nodeName, m_incarnation},
                                         [once](const redisReply *) { once(); })) {
        once();
        return;
    }
    QTimer::singleShot(kLeaveTimeoutMs, this, once);
}

bool RedisPushRouter::eval(scripts::Id script, QList<QByteArray> args, ReplyHandler handler)
{
    QList<QByteArray> command{QByteArrayLiteral("EVALSHA"), scripts::sha1(script),
                              QByteArrayLiteral("0")};
    command += args;
    return m_commands.command(command, [this, epoch = m_epoch, script,
                                        handler = std::move(handler)](const redisReply *reply) {
        if (epoch != m_epoch || !reply)
            return; // the loss of the connection is handled once, by teardown
        if (reply->type == REDIS_REPLY_ERROR) {
            teardown(QStringLiteral("script %1 failed: %2")
                         .arg(int(script))
                         .arg(QString::fromUtf8(reply->str, int(reply->len))));
            return;
        }
        if (handler)
            handler(reply);
    });
}

bool RedisPushRouter::publish(const QByteArray &channel, const QByteArray &payload)
{
    if (m_commands.pendingReplies() >= m_options.maxPendingReplies ||
        m_commands.unsentBytes() >= m_options.maxBacklogBytes) {
        if (m_stats.dropped++ == 0)
            qCWarning(lcBus) << "Redis is not keeping up; pushes to other nodes are dropped "
                                "(clients repair the gaps)";
        return false;
    }
    if (!m_commands.command({QByteArrayLiteral("PUBLISH"), channel, payload}))
        return false;
    m_stats.publishedBytes += quint64(payload.size());
    return true;
}

// ------------------------------------------------------------ PushRouter

int RedisPushRouter::pushToUsers(const QList<quint64> &userIds, const v1::Envelope &push,
                                 ConnectionRef except)
{
    const int delivered = m_local.pushToUsers(userIds, push, except);
    if (m_leaving || m_state == State::Stopped)
        return delivered;
    if (!m_routing) {
        // Routed once the directory is read again.
        Queued queued{userIds, QByteArray::fromStdString(push.SerializeAsString()), except};
        m_stats.backlogBytes += queued.envelope.size() + 8 * queued.users.size();
        m_backlog.push_back(std::move(queued));
        while (m_stats.backlogBytes > m_options.maxBacklogBytes && !m_backlog.empty()) {
            const Queued &oldest = m_backlog.front();
            m_stats.backlogBytes -= oldest.envelope.size() + 8 * oldest.users.size();
            m_backlog.pop_front();
            ++m_stats.dropped;
        }
        return delivered;
    }
    const auto routed = m_directory.usersByNode(userIds);
    if (routed.isEmpty())
        return delivered;
    const QByteArray envelope = QByteArray::fromStdString(push.SerializeAsString());
    for (const auto &[node, users] : routed) {
        if (publish(names::nodeChannel(node),
                    encode(PushMessage{m_options.node, except, users, envelope}))) {
            ++m_stats.published;
            ++m_publishedTo[node];
        }
    }
    return delivered;
}

void RedisPushRouter::routePush(const QList<quint64> &userIds, const QByteArray &envelope,
                                ConnectionRef except)
{
    for (const auto &[node, users] : m_directory.usersByNode(userIds)) {
        if (publish(names::nodeChannel(node),
                    encode(PushMessage{m_options.node, except, users, envelope}))) {
            ++m_stats.published;
            ++m_publishedTo[node];
        }
    }
}

// Sent to every node (not routed) when the directory may be stale: closes
// are rare and must not be lost to a stale directory.
void RedisPushRouter::broadcastOrQueue(const QByteArray &payload)
{
    if (m_routing) {
        ++m_stats.broadcasts;
        publish(QByteArray(names::kAll), payload);
        return;
    }
    if (m_pendingBroadcasts.size() >= kMaxPendingBroadcasts)
        m_pendingBroadcasts.removeFirst();
    m_pendingBroadcasts.append(payload);
}

int RedisPushRouter::closeDevice(quint64 deviceId, v1::ErrorCode code, const QString &message,
                                 ConnectionRef except)
{
    const int closed = m_local.closeDevice(deviceId, code, message, except);
    if (m_leaving || m_state == State::Stopped)
        return closed;
    const QByteArray payload =
        encode(CloseMessage{m_options.node, true, deviceId, code, message, except});
    if (!m_routing) {
        broadcastOrQueue(payload);
        return closed;
    }
    for (quint32 node : m_directory.nodesOfDevice(deviceId)) {
        if (publish(names::nodeChannel(node), payload)) {
            ++m_stats.published;
            ++m_publishedTo[node];
        }
    }
    return closed;
}

int RedisPushRouter::closeUser(quint64 userId, v1::ErrorCode code, const QString &message)
{
    const int closed = m_local.closeUser(userId, code, message);
    if (m_leaving || m_state == State::Stopped)
        return closed;
    const QByteArray payload =
        encode(CloseMessage{m_options.node, false, userId, code, message, {}});
    if (!m_routing) {
        broadcastOrQueue(payload);
        return closed;
    }
    for (quint32 node : m_directory.nodesOfUser(userId)) {
        if (publish(names::nodeChannel(node), payload)) {
            ++m_stats.published;
            ++m_publishedTo[node];
        }
    }
    return closed;
}

bool RedisPushRouter::isOnline(quint64 userId) const
{
    return m_local.isOnline(userId) || m_directory.userOnline(userId);
}

bool RedisPushRouter::isDeviceOnline(quint64 deviceId) const
{
    return m_local.isDeviceOnline(deviceId) || m_directory.deviceOnline(deviceId);
}

quint64 RedisPushRouter::onlineUserCount() const
{
    return m_local.onlineUserCount();
}

void RedisPushRouter::setPresenceListener(PresenceListener listener)
{
    m_presence = std::move(listener);
}

void RedisPushRouter::membershipChanged(const MembershipChanged &event)
{
    if (m_leaving || m_state == State::Stopped)
        return;
    if (!m_routing && m_pendingBroadcasts.size() >= kMaxPendingBroadcasts / 2) {
        // Too many to keep: every node forgets everything instead.
        m_pendingForgetAll = true;
        return;
    }
    broadcastOrQueue(encode(MembershipMessage{m_options.node, event}));
}

void RedisPushRouter::setMembershipListener(MembershipListener listener)
{
    m_membership = std::move(listener);
}

// ------------------------------------------------------------ this node

void RedisPushRouter::onLocalUser(quint64 userId, bool online)
{
    if (online)
        m_localUsers.insert(userId);
    else
        m_localUsers.remove(userId);
    if (m_leaving)
        return;
    if (m_state == State::Ready && eval(online ? scripts::AttachUser : scripts::DetachUser,
                                        {m_nodeName, QByteArray::number(userId)},
                                        [this, userId, online](const redisReply *reply) {
                                            if (reply->type == REDIS_REPLY_INTEGER &&
                                                reply->integer == 1)
                                                announce(userId, online);
                                        }))
        return;
    // Redis cannot decide now: this node's best guess from what it knows of
    // the others, and the change is told again once Redis is back.
    m_changedWhileAway.insert(userId);
    if (!m_directory.userOnline(userId))
        announce(userId, online);
}

void RedisPushRouter::localDeviceChanged(quint64 deviceId, bool online)
{
    if (online)
        m_localDevices.insert(deviceId);
    else
        m_localDevices.remove(deviceId);
    if (m_leaving || m_state != State::Ready)
        return;
    eval(scripts::Device,
         {m_nodeName, QByteArray::number(deviceId), online ? QByteArray("1") : QByteArray("0")});
}

void RedisPushRouter::announce(quint64 userId, bool online)
{
    if (m_presence)
        m_presence(userId, online);
}

void RedisPushRouter::onMessage(const QByteArray &channel, const QByteArray &payload)
{
    Q_UNUSED(channel)
    const std::optional<BusMessage> message = decode(payload);
    if (!message) {
        if (m_stats.malformed++ == 0)
            qCWarning(lcBus) << "a message on the bus that this node cannot read (another "
                                "version of kithd?); ignored";
        return;
    }
    const quint32 from = sourceOf(*message);
    if (from == m_options.node)
        return; // our own, on the channel for all
    if (const auto *delta = std::get_if<DirectoryDelta>(&*message)) {
        ++m_stats.directoryUpdates;
        m_directory.apply(*delta);
        return;
    }
    ++m_stats.received;
    m_stats.receivedBytes += quint64(payload.size());
    ++m_receivedFrom[from];
    if (const auto *push = std::get_if<PushMessage>(&*message)) {
        v1::Envelope envelope;
        if (!envelope.ParseFromArray(push->envelope.constData(), int(push->envelope.size()))) {
            ++m_stats.malformed;
            return;
        }
        m_local.pushToUsers(push->users, envelope, push->except);
    } else if (const auto *close = std::get_if<CloseMessage>(&*message)) {
        if (close->device)
            m_local.closeDevice(close->id, close->code, close->text, close->except);
        else
            m_local.closeUser(close->id, close->code, close->text);
    } else if (const auto *membership = std::get_if<MembershipMessage>(&*message)) {
        if (m_membership)
            m_membership(membership->change);
    }
}

RedisPushRouter::Stats RedisPushRouter::stats() const
{
    Stats stats = m_stats;
    stats.state = m_state;
    for (auto it = m_publishedTo.cbegin(); it != m_publishedTo.cend(); ++it)
        stats.publishedTo.append({it.key(), it.value()});
    for (auto it = m_receivedFrom.cbegin(); it != m_receivedFrom.cend(); ++it)
        stats.receivedFrom.append({it.key(), it.value()});
    std::sort(stats.publishedTo.begin(), stats.publishedTo.end());
    std::sort(stats.receivedFrom.begin(), stats.receivedFrom.end());
    stats.nodes = m_aliveNodes.values();
    std::sort(stats.nodes.begin(), stats.nodes.end());
    stats.remoteUsers = m_directory.userCount();
    stats.remoteDevices = m_directory.deviceCount();
    return stats;
}

} // namespace kith::server::cluster
