#include "session_registry.h"

#include "kith/protocol.h"
#include "metrics.h"

#include <QSet>

namespace kith::server {

SessionRegistry::SessionRegistry(Metrics *metrics, QObject *parent)
    : QObject(parent)
    , m_metrics(metrics)
{}

void SessionRegistry::attach(Connection *connection, quint64 userId, quint64 deviceId)
{
    if (m_entries.contains(connection))
        detach(connection);
    m_entries.insert(connection, Entry{userId, deviceId});
    auto &ofUser = m_byUser[userId];
    const bool first = ofUser.isEmpty();
    ofUser.append(connection);
    m_byDevice[deviceId].append(connection);
    if (first)
        emit userOnline(userId);
}

void SessionRegistry::detach(Connection *connection)
{
    const auto it = m_entries.constFind(connection);
    if (it == m_entries.cend())
        return;
    const Entry entry = *it;
    m_entries.erase(it);

    auto device = m_byDevice.find(entry.deviceId);
    if (device != m_byDevice.end()) {
        device->removeAll(connection);
        if (device->isEmpty())
            m_byDevice.erase(device);
    }
    auto user = m_byUser.find(entry.userId);
    if (user != m_byUser.end()) {
        user->removeAll(connection);
        if (user->isEmpty()) {
            m_byUser.erase(user);
            emit userOffline(entry.userId);
        }
    }
}

QList<Connection *> SessionRegistry::connectionsOfUser(quint64 userId) const
{
    return m_byUser.value(userId);
}

QList<Connection *> SessionRegistry::connectionsOfDevice(quint64 deviceId) const
{
    return m_byDevice.value(deviceId);
}

int SessionRegistry::push(const QList<quint64> &userIds, const v1::Envelope &push,
                          quint64 exceptConnectionId)
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
    return this->push(targets, push, exceptConnectionId);
}

int SessionRegistry::push(const QList<Connection *> &connections, const v1::Envelope &push,
                          quint64 exceptConnectionId)
{
    QByteArray frame;
    int deliveries = 0;
    for (Connection *connection : connections) {
        if (exceptConnectionId != 0 && connection->connectionId() == exceptConnectionId)
            continue;
        if (frame.isEmpty())
            frame = encodeEnvelope(push);
        connection->deliver(frame);
        ++deliveries;
    }
    countDeliveries(push, deliveries);
    return deliveries;
}

void SessionRegistry::countDeliveries(const v1::Envelope &push, int deliveries)
{
    if (!m_metrics || deliveries == 0)
        return;
    m_metrics->pushesDelivered(quint64(deliveries));
    if (push.has_message())
        m_metrics->messagesPushed(quint64(deliveries));
}

} // namespace kith::server
