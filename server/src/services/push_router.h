#pragma once
// PushRouter: how the services reach connections, wherever they are. The
// gateway's LocalPushRouter serves the connections of this node; a router
// across nodes implements the same interface, so the services never change
// with the deployment (and never include gateway headers).
//
// Called on the session loop. A push is a hint (storage is the truth): a
// router may lose one, and the client repairs the gap by pulling.

#include "events.h"

#include "kith/v1/envelope.pb.h"

#include <QList>
#include <QString>

#include <functional>

namespace kith::server {

class PushRouter
{
public:
    virtual ~PushRouter() = default;

    // Serialises `push` once and delivers it to every connection of every
    // user in `userIds` (each user once), except the connection `except`.
    // Returns the deliveries made on this node.
    virtual int pushToUsers(const QList<quint64> &userIds, const v1::Envelope &push,
                            ConnectionRef except = {}) = 0;
    // Sends `code` to every connection of the device (except `except`) or of
    // the user, and closes them. Returns how many were closed on this node.
    virtual int closeDevice(quint64 deviceId, v1::ErrorCode code, const QString &message,
                            ConnectionRef except = {}) = 0;
    virtual int closeUser(quint64 userId, v1::ErrorCode code, const QString &message) = 0;

    [[nodiscard]] virtual bool isOnline(quint64 userId) const = 0;
    [[nodiscard]] virtual bool isDeviceOnline(quint64 deviceId) const = 0;
    [[nodiscard]] virtual quint64 onlineUserCount() const = 0;
    // The user's authenticated connections on this node (for the per-user cap).
    [[nodiscard]] virtual int connectionCount(quint64 userId) const
    {
        Q_UNUSED(userId);
        return 0;
    }

    // Told when a user's first connection authenticates (true) and when the
    // last one goes (false). One listener: the presence service.
    using PresenceListener = std::function<void(quint64 userId, bool online)>;
    virtual void setPresenceListener(PresenceListener listener) = 0;

    // Caches of group members and presence contacts are kept on every node:
    // a change committed here is told to the other nodes, and what they
    // committed is told to the listener (the event router, which feeds the
    // membership cache). A router of one node has no one to tell.
    virtual void membershipChanged(const MembershipChanged &event) { Q_UNUSED(event); }
    using MembershipListener = std::function<void(const MembershipChanged &event)>;
    virtual void setMembershipListener(MembershipListener listener) { Q_UNUSED(listener); }
};

} // namespace kith::server
