#pragma once
// Who is online: authenticated connections by user and by device, and fan-out
// of pushes to them. Owned by the Server; services push through it, so they
// never touch a socket.

#include "kith/v1/envelope.pb.h"

#include <QHash>
#include <QList>
#include <QObject>

namespace kith::server {

class Metrics;

// One authenticated connection as the services see it (a Session in kithd).
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

class SessionRegistry : public QObject
{
    Q_OBJECT
public:
    explicit SessionRegistry(Metrics *metrics = nullptr, QObject *parent = nullptr);

    void attach(Connection *connection, quint64 userId, quint64 deviceId);
    void detach(Connection *connection);

    [[nodiscard]] bool isOnline(quint64 userId) const { return m_byUser.contains(userId); }
    [[nodiscard]] bool isDeviceOnline(quint64 deviceId) const
    {
        return m_byDevice.contains(deviceId);
    }
    [[nodiscard]] QList<Connection *> connectionsOfUser(quint64 userId) const;
    [[nodiscard]] QList<Connection *> connectionsOfDevice(quint64 deviceId) const;
    [[nodiscard]] quint64 authenticatedCount() const { return quint64(m_entries.size()); }
    [[nodiscard]] quint64 onlineUserCount() const { return quint64(m_byUser.size()); }

    // Serialises `push` once and delivers the bytes to every connection of
    // every user in `userIds`, except the connection `exceptConnectionId`
    // (0 = none). Returns the number of deliveries.
    int push(const QList<quint64> &userIds, const v1::Envelope &push,
             quint64 exceptConnectionId = 0);
    // Same, to the given connections.
    int push(const QList<Connection *> &connections, const v1::Envelope &push,
             quint64 exceptConnectionId = 0);

signals:
    // A user's first connection authenticated / last one went away.
    void userOnline(quint64 userId);
    void userOffline(quint64 userId);

private:
    void countDeliveries(const v1::Envelope &push, int deliveries);

    struct Entry
    {
        quint64 userId = 0;
        quint64 deviceId = 0;
    };
    Metrics *m_metrics;
    QHash<Connection *, Entry> m_entries;
    QHash<quint64, QList<Connection *>> m_byUser;
    QHash<quint64, QList<Connection *>> m_byDevice;
};

} // namespace kith::server
