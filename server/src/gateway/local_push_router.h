#pragma once
// LocalPushRouter: the PushRouter of one node. Knows the authenticated
// connections of this process by user and by device, and fans pushes out to
// them. Owned by the Server; sessions attach and detach themselves.

#include "push_router.h"

#include <QHash>
#include <QList>

namespace kith::server {

class Metrics;

// One authenticated connection as the router sees it (a Session in kithd).
class Connection
{
public:
    virtual ~Connection() = default;
    [[nodiscard]] virtual quint64 connectionId() const = 0;
    // Sends an already serialised frame (the same bytes go to every recipient).
    virtual void deliver(const QByteArray &frame) = 0;
    // Sends an error frame and closes the connection (e.g. its token was revoked).
    virtual void terminate(v1::ErrorCode code, const QString &message) = 0;
};

class LocalPushRouter final : public PushRouter
{
public:
    // `node` names this process in ConnectionRefs (0 while kithd is one node).
    explicit LocalPushRouter(Metrics *metrics = nullptr, quint32 node = 0);

    [[nodiscard]] quint32 node() const { return m_node; }
    [[nodiscard]] ConnectionRef refOf(const Connection &connection) const
    {
        return {m_node, connection.connectionId()};
    }

    void attach(Connection *connection, quint64 userId, quint64 deviceId);
    void detach(Connection *connection);

    int pushToUsers(const QList<quint64> &userIds, const v1::Envelope &push,
                    ConnectionRef except = {}) override;
    int closeDevice(quint64 deviceId, v1::ErrorCode code, const QString &message,
                    ConnectionRef except = {}) override;
    int closeUser(quint64 userId, v1::ErrorCode code, const QString &message) override;

    [[nodiscard]] bool isOnline(quint64 userId) const override { return m_byUser.contains(userId); }
    [[nodiscard]] bool isDeviceOnline(quint64 deviceId) const override
    {
        return m_byDevice.contains(deviceId);
    }
    [[nodiscard]] quint64 onlineUserCount() const override { return quint64(m_byUser.size()); }
    [[nodiscard]] int connectionCount(quint64 userId) const override
    {
        const auto it = m_byUser.constFind(userId);
        return it == m_byUser.cend() ? 0 : int(it->size());
    }
    void setPresenceListener(PresenceListener listener) override
    {
        m_presence = std::move(listener);
    }
    // Told when a device's first connection attaches (true) and its last one
    // detaches (false), before the user's presence. One listener: the router
    // across nodes, which tells the others where the device is.
    using DeviceListener = std::function<void(quint64 deviceId, bool online)>;
    void setDeviceListener(DeviceListener listener) { m_device = std::move(listener); }

    [[nodiscard]] quint64 authenticatedCount() const { return quint64(m_entries.size()); }

private:
    [[nodiscard]] bool isExcepted(const Connection *connection, ConnectionRef except) const
    {
        return !except.isNone() && except.node == m_node &&
               connection->connectionId() == except.connection;
    }
    int deliver(const QList<Connection *> &connections, const v1::Envelope &push,
                ConnectionRef except);
    void countDeliveries(const v1::Envelope &push, int deliveries);
    int closeAll(const QList<Connection *> &connections, v1::ErrorCode code, const QString &message,
                 ConnectionRef except);

    struct Entry
    {
        quint64 userId = 0;
        quint64 deviceId = 0;
    };
    Metrics *m_metrics;
    quint32 m_node;
    PresenceListener m_presence;
    DeviceListener m_device;
    QHash<Connection *, Entry> m_entries;
    QHash<quint64, QList<Connection *>> m_byUser;
    QHash<quint64, QList<Connection *>> m_byDevice;
};

} // namespace kith::server
