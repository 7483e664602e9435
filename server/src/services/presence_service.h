#pragma once
// Presence: a user is online while any of their connections is authenticated.
// On a user's first-online / last-offline it pushes `presence` to everyone who
// shares a conversation with them. A user whose connections come and go
// quickly is told of after kBurst changes at most once per kIntervalMs, with
// the state as it is then (a connect/disconnect loop would otherwise push to
// every contact each time). A user who goes offline and is back within the
// grace (a phone's reconnect, a move to another node) is not told of at
// all: their contacts hear "offline" only once the grace has passed with
// the user still away, with the time they left as their last seen. Owned
// by Services; never stored.

#include "rate_limit.h"
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
    static constexpr int kBurst = 4;
    static constexpr qint64 kIntervalMs = 2000;
    // How long a user may be away before their contacts are told (kithd's
    // --presence-grace-ms); 0 tells them at once.
    static constexpr qint64 kDefaultGraceMs = 3000;

    PresenceService(MembershipCache &members, PushRouter &router, EventRouter &events,
                    qint64 graceMs = kDefaultGraceMs, QObject *parent = nullptr);
    ~PresenceService() override;

    // Online, or away for less than the grace (what the contacts were told).
    [[nodiscard]] bool isOnline(quint64 userId) const;
    // When the user was last seen going offline since kithd started (0 = unknown).
    [[nodiscard]] qint64 lastSeenMs(quint64 userId) const { return m_lastSeen.value(userId); }

    // Stops pushing presence (the server is shutting down; the store is closing).
    void stop() { m_stopped = true; }

    // A protocol User from a record, with presence filled in.
    [[nodiscard]] v1::User toUser(const UserRecord &record) const;
    // The same as `askerId` may see it: a user the asker blocks shows no
    // presence (offline, last seen unknown) and no picture, as the asker gets
    // no presence or profile pushes of theirs either. Who blocks whom is read through the members'
    // cache, only for a user with presence to hide.
    [[nodiscard]] Result<v1::User> toUserFor(const UserRecord &record, quint64 askerId) const;

private:
    // The router says the user came online or went offline.
    void routerSays(quint64 userId, bool online);
    // The user's last connection went: told once the grace has passed.
    void leaving(quint64 userId);
    // A change to tell the contacts (within the budget of changes).
    void changed(quint64 userId, bool online);
    // The deferred announcement: the state as it is now, if contacts were told otherwise.
    void announceLater(quint64 userId);
    void announce(quint64 userId, bool online);

    MembershipCache &m_members;
    PushRouter &m_router;
    EventRouter &m_events;
    QHash<quint64, qint64> m_lastSeen;
    KeyedBucketTable<quint64> m_changes{1000.0 / kIntervalMs, kBurst};
    QHash<quint64, bool> m_deferred; // user -> what their contacts were last told
    const qint64 m_graceMs;
    QHash<quint64, quint64> m_leaving; // user away within the grace -> its timer's number
    quint64 m_leaveTimers = 0;
    bool m_stopped = false;
};

} // namespace kith::server
