#include "presence_service.h"

#include "kith/protocol.h"
#include "logging.h"
#include "session_registry.h"

namespace kith::server {

PresenceService::PresenceService(Store &store, SessionRegistry &registry, QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_registry(registry)
{
    connect(&m_registry, &SessionRegistry::userOnline, this,
            [this](quint64 userId) { announce(userId, true); });
    connect(&m_registry, &SessionRegistry::userOffline, this, [this](quint64 userId) {
        m_lastSeen.insert(userId, nowMs());
        announce(userId, false);
    });
}

bool PresenceService::isOnline(quint64 userId) const
{
    return m_registry.isOnline(userId);
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

void PresenceService::announce(quint64 userId, bool online)
{
    if (m_stopped)
        return;
    const Result<QList<quint64>> contacts = m_store.contactsOf(userId);
    if (!contacts) {
        qCWarning(lcPresence) << "cannot list contacts of" << userId << contacts.error().message;
        return;
    }
    v1::Envelope push;
    auto *presence = push.mutable_presence();
    presence->set_user_id(userId);
    presence->set_online(online);
    presence->set_last_seen_ms(nowMs());
    const int deliveries = m_registry.push(*contacts, push);
    qCDebug(lcPresence) << "user" << userId << (online ? "online" : "offline") << "told"
                        << deliveries << "connections";
}

} // namespace kith::server
