#include "presence_service.h"

#include "event_router.h"
#include "kith/protocol.h"
#include "logging.h"
#include "membership_cache.h"
#include "push_router.h"
#include "rate_limit.h"

#include <QTimer>

#include <algorithm>

namespace kith::server {

PresenceService::PresenceService(MembershipCache &members, PushRouter &router, EventRouter &events,
                                 qint64 graceMs, QObject *parent)
    : QObject(parent)
    , m_members(members)
    , m_router(router)
    , m_events(events)
    , m_graceMs(std::max<qint64>(0, graceMs))
{
    m_router.setPresenceListener(
        [this](quint64 userId, bool online) { routerSays(userId, online); });
}

PresenceService::~PresenceService()
{
    m_router.setPresenceListener({});
}

bool PresenceService::isOnline(quint64 userId) const
{
    return m_router.isOnline(userId) || m_leaving.contains(userId);
}

void PresenceService::routerSays(quint64 userId, bool online)
{
    if (!online) {
        m_lastSeen.insert(userId, nowMs());
        if (m_graceMs > 0)
            return leaving(userId);
    } else if (m_leaving.remove(userId)) {
        return; // back within the grace: the contacts never heard otherwise
    }
    changed(userId, online);
}

void PresenceService::leaving(quint64 userId)
{
    const quint64 timer = ++m_leaveTimers;
    m_leaving.insert(userId, timer);
    QTimer::singleShot(int(m_graceMs), this, [this, userId, timer] {
        const auto it = m_leaving.constFind(userId);
        if (it == m_leaving.cend() || *it != timer)
            return; // back meanwhile (and maybe away again, on a timer of its own)
        m_leaving.erase(it);
        if (!m_router.isOnline(userId))
            changed(userId, false);
    });
}

v1::User PresenceService::toUser(const UserRecord &record) const
{
    v1::User user;
    user.set_id(record.id);
    user.set_username(toStd(record.username));
    user.set_display_name(toStd(record.displayName));
    user.set_online(isOnline(record.id));
    user.set_last_seen_ms(user.online() ? nowMs() : lastSeenMs(record.id));
    user.set_avatar_file_id(toStd(record.avatarFileId));
    user.set_avatar_color(record.avatarColor);
    return user;
}

Result<v1::User> PresenceService::toUserFor(const UserRecord &record, quint64 askerId) const
{
    v1::User user = toUser(record);
    if (record.id == askerId ||
        (!user.online() && user.last_seen_ms() == 0 && user.avatar_file_id().empty()))
        return user;
    const Result<QList<quint64>> blockers = m_members.blockersOf(record.id);
    if (!blockers)
        return blockers.error();
    if (blockers->contains(askerId)) {
        user.set_online(false);
        user.set_last_seen_ms(0);
        user.clear_avatar_file_id();
    }
    return user;
}

void PresenceService::changed(quint64 userId, bool online)
{
    // Already waiting: what goes out then is the state as it is then.
    if (m_deferred.contains(userId))
        return;
    const quint32 wait = m_changes.take(userId, monotonicMs());
    if (wait == 0)
        return announce(userId, online);
    // The router tells only of changes, so the contacts believe the other state.
    m_deferred.insert(userId, !online);
    QTimer::singleShot(int(wait), this, [this, userId] { announceLater(userId); });
}

void PresenceService::announceLater(quint64 userId)
{
    const auto it = m_deferred.find(userId);
    if (it == m_deferred.end())
        return;
    const bool believed = *it;
    m_deferred.erase(it);
    const bool online = isOnline(userId); // away within the grace still counts as online
    if (online != believed)
        changed(userId, online);
}

void PresenceService::announce(quint64 userId, bool online)
{
    if (m_stopped)
        return;
    Result<QList<quint64>> contacts = m_members.contactsOf(userId);
    if (!contacts) {
        qCWarning(lcPresence) << "cannot list contacts of" << userId << contacts.error().message;
        return;
    }
    // Who blocks the user is not told.
    const Result<QList<quint64>> blockers = m_members.blockersOf(userId);
    if (!blockers) {
        qCWarning(lcPresence) << "cannot list blockers of" << userId << blockers.error().message;
        return;
    }
    for (quint64 blocker : *blockers)
        contacts->removeAll(blocker);
    // Gone: last seen when the last connection went, the grace before this.
    const qint64 at = online || lastSeenMs(userId) == 0 ? nowMs() : lastSeenMs(userId);
    const int deliveries = m_events.presenceChanged(PresenceChanged{userId, online, at, *contacts});
    qCDebug(lcPresence) << "user" << userId << (online ? "online" : "offline") << "told"
                        << deliveries << "connections";
}

} // namespace kith::server
