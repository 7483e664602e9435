#include "presence_service.h"

#include "event_router.h"
#include "kith/protocol.h"
#include "logging.h"
#include "membership_cache.h"
#include "push_router.h"
#include "rate_limit.h"

#include <QTimer>

namespace kith::server {

PresenceService::PresenceService(MembershipCache &members, PushRouter &router, EventRouter &events,
                                 QObject *parent)
    : QObject(parent)
    , m_members(members)
    , m_router(router)
    , m_events(events)
{
    m_router.setPresenceListener([this](quint64 userId, bool online) {
        if (!online)
            m_lastSeen.insert(userId, nowMs());
        changed(userId, online);
    });
}

PresenceService::~PresenceService()
{
    m_router.setPresenceListener({});
}

bool PresenceService::isOnline(quint64 userId) const
{
    return m_router.isOnline(userId);
}

v1::User PresenceService::toUser(const UserRecord &record) const
{
    v1::User user;
    user.set_id(record.id);
    user.set_username(toStd(record.username));
    user.set_display_name(toStd(record.displayName));
    user.set_online(isOnline(record.id));
    user.set_last_seen_ms(user.online() ? nowMs() : lastSeenMs(record.id));
    return user;
}

void PresenceService::changed(quint64 userId, bool online)
{
    const qint64 now = monotonicMs();
    const auto it = m_told.find(userId);
    if (it != m_told.end() && now - it->atMs < kMinIntervalMs) {
        // Told a moment ago: the state as it is at the end of the interval goes out then.
        if (!it->deferred) {
            it->deferred = true;
            QTimer::singleShot(int(kMinIntervalMs - (now - it->atMs)), this,
                               [this, userId] { announceLater(userId); });
        }
        return;
    }
    m_told.insert(userId, Told{online, now, false});
    // Forgotten once the interval is over, unless something happens meanwhile.
    QTimer::singleShot(int(kMinIntervalMs), this, [this, userId] {
        const auto told = m_told.constFind(userId);
        if (told != m_told.cend() && !told->deferred &&
            monotonicMs() - told->atMs >= kMinIntervalMs)
            m_told.erase(told);
    });
    announce(userId, online);
}

void PresenceService::announceLater(quint64 userId)
{
    const auto it = m_told.find(userId);
    if (it == m_told.end())
        return;
    const bool online = m_router.isOnline(userId);
    const bool wasOnline = it->online;
    m_told.erase(it);
    if (online != wasOnline)
        changed(userId, online);
}

void PresenceService::announce(quint64 userId, bool online)
{
    if (m_stopped)
        return;
    const Result<QList<quint64>> contacts = m_members.contactsOf(userId);
    if (!contacts) {
        qCWarning(lcPresence) << "cannot list contacts of" << userId << contacts.error().message;
        return;
    }
    const int deliveries =
        m_events.presenceChanged(PresenceChanged{userId, online, nowMs(), *contacts});
    qCDebug(lcPresence) << "user" << userId << (online ? "online" : "offline") << "told"
                        << deliveries << "connections";
}

} // namespace kith::server
