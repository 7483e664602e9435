#pragma once
// Presence: a user is online while any of their connections is authenticated.
// On a user's first-online / last-offline it pushes `presence` to everyone who
// shares a conversation with them; a user whose connections come and go
// quickly is told at most every kMinIntervalMs, with the state as it is then.
// Owned by Services; never stored.

#include "store.h"

#include <QHash>
#include <QObject>

namespace kith::server {

class EventRouter;
class MembershipCache;
class PushRouter;

class PresenceService : public QObject
{
    Q_OBJECT
public:
    static constexpr qint64 kMinIntervalMs = 2000;

    PresenceService(MembershipCache &members, PushRouter &router, EventRouter &events,
                    QObject *parent = nullptr);
    ~PresenceService() override;

    [[nodiscard]] bool isOnline(quint64 userId) const;
    // When the user was last seen going offline since kithd started (0 = unknown).
    [[nodiscard]] qint64 lastSeenMs(quint64 userId) const { return m_lastSeen.value(userId); }

    // Stops pushing presence (the server is shutting down; the store is closing).
    void stop() { m_stopped = true; }

    // A protocol User from a record, with presence filled in.
    [[nodiscard]] v1::User toUser(const UserRecord &record) const;

private:
    // The router says the user came online or went offline.
    void changed(quint64 userId, bool online);
    // The deferred announcement of a user's state as it is now.
    void announceLater(quint64 userId);
    void announce(quint64 userId, bool online);

    struct Told
    {
        bool online = false;
        qint64 atMs = 0;       // monotonic
        bool deferred = false; // an announcement is scheduled
    };

    MembershipCache &m_members;
    PushRouter &m_router;
    EventRouter &m_events;
    QHash<quint64, qint64> m_lastSeen;
    QHash<quint64, Told> m_told; // users announced within kMinIntervalMs
    bool m_stopped = false;
};

} // namespace kith::server
