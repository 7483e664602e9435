#include "local_push_router.h"

#include "kith/protocol.h"
#include "metrics.h"

#include <QSet>

namespace kith::server {

LocalPushRouter::LocalPushRouter(Metrics *metrics, quint32 node)
    : m_metrics(metrics)
    , m_node(node)
{}

void LocalPushRouter::attach(Connection *connection, quint64 userId, quint64 deviceId)
{
    if (m_entries.contains(connection))
        detach(connection);
    m_entries.insert(connection, Entry{userId, deviceId});
    auto &ofUser = m_byUser[userId];
    const bool first = ofUser.isEmpty();
    ofUser.append(connection);
    auto &ofDevice = m_byDevice[deviceId];
    ofDevice.append(connection);
    if (ofDevice.size() == 1 && m_device)
        m_device(deviceId, true);
    if (first && m_presence)
        m_presence(userId, true);
}

void LocalPushRouter::detach(Connection *connection)
{
    const auto it = m_entries.constFind(connection);
    if (it == m_entries.cend())
        return;
    const Entry entry = *it;
    m_entries.erase(it);

    auto device = m_byDevice.find(entry.deviceId);
    if (device != m_byDevice.end()) {
        device->removeAll(connection);
        if (device->isEmpty()) {
            m_byDevice.erase(device);
            if (m_device)
                m_device(entry.deviceId, false);
        }
    }
    auto user = m_byUser.find(entry.userId);
    if (user != m_byUser.end()) {
        user->removeAll(connection);
        if (user->isEmpty()) {
            m_byUser.erase(user);
            if (m_presence)
                m_presence(entry.userId, false);
        }
    }
}

int LocalPushRouter::pushToUsers(const QList<quint64> &userIds, const v1::Envelope &push,
                                 ConnectionRef except)
{
    QList<Connection *> targets;
    QSet<quint64> seen;
    for (quint64 userId : userIds) {
        if (seen.contains(userId))
            continue;
        seen.insert(userId);
        const auto it = m_byUser.constFind(userId);
        if (it != m_byUser.cend())
            targets += *it;
    }
    return deliver(targets, push, except);
}

int LocalPushRouter::deliver(const QList<Connection *> &connections, const v1::Envelope &push,
                             ConnectionRef except)
{
    QByteArray frame;
    int deliveries = 0;
    for (Connection *connection : connections) {
        if (isExcepted(connection, except))
            continue;
        if (frame.isEmpty())
            frame = encodeEnvelope(push);
        connection->deliver(frame);
        ++deliveries;
    }
    countDeliveries(push, deliveries);
    return deliveries;
}

int LocalPushRouter::closeDevice(quint64 deviceId, v1::ErrorCode code, const QString &message,
                                 ConnectionRef except)
{
    return closeAll(m_byDevice.value(deviceId), code, message, except);
}

int LocalPushRouter::closeUser(quint64 userId, v1::ErrorCode code, const QString &message)
{
    return closeAll(m_byUser.value(userId), code, message, {});
}

// A copy of the list: a connection may detach while it is being closed.
int LocalPushRouter::closeAll(const QList<Connection *> &connections, v1::ErrorCode code,
                              const QString &message, ConnectionRef except)
{
    int closed = 0;
    for (Connection *connection : connections) {
        if (isExcepted(connection, except))
            continue;
        connection->terminate(code, message);
        ++closed;
    }
    return closed;
}

void LocalPushRouter::countDeliveries(const v1::Envelope &push, int deliveries)
{
    if (!m_metrics || deliveries == 0)
        return;
    m_metrics->pushesDelivered(quint64(deliveries));
    if (push.has_message())
        m_metrics->messagesPushed(quint64(deliveries));
}

} // namespace kith::server
