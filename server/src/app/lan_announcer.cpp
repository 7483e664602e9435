#include "lan_announcer.h"

#include <QLoggingCategory>

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-common/thread-watch.h>

namespace kith::server {

namespace {
// Its own category: announcing is optional, and its lines can be turned off
// alone (kith.announce.info=false).
Q_LOGGING_CATEGORY(lcAnnounce, "kith.announce", QtInfoMsg)

AvahiStringList *txtRecords(const QList<std::pair<QByteArray, QByteArray>> &txt)
{
    AvahiStringList *list = nullptr;
    for (auto it = txt.crbegin(); it != txt.crend(); ++it)
        list = avahi_string_list_add_pair(list, it->first.constData(), it->second.constData());
    return list;
}
} // namespace

LanAnnouncer::LanAnnouncer(Service service)
    : m_service(std::move(service))
    , m_name(m_service.name.toUtf8())
{}

LanAnnouncer::~LanAnnouncer()
{
    // Stopping the poll thread first: no callback runs while the client goes.
    if (m_poll)
        avahi_threaded_poll_stop(m_poll);
    if (m_client)
        avahi_client_free(m_client); // frees the entry group too: the service is withdrawn
    if (m_poll)
        avahi_threaded_poll_free(m_poll);
}

bool LanAnnouncer::start()
{
    m_poll = avahi_threaded_poll_new();
    if (!m_poll) {
        qCWarning(lcAnnounce) << "not announcing on the LAN: cannot start Avahi's thread";
        return false;
    }
    int error = 0;
    m_client = avahi_client_new(
        avahi_threaded_poll_get(m_poll), AvahiClientFlags(0),
        [](AvahiClient *client, AvahiClientState state, void *self) {
            onClientState(client, int(state), self);
        },
        this, &error);
    if (!m_client) {
        qCInfo(lcAnnounce).noquote()
            << QStringLiteral("not announcing on the LAN: no avahi-daemon to announce through "
                              "(%1); clients need the address. --no-announce silences this.")
                   .arg(QString::fromUtf8(avahi_strerror(error)));
        avahi_threaded_poll_free(m_poll);
        m_poll = nullptr;
        return false;
    }
    if (avahi_threaded_poll_start(m_poll) < 0) {
        qCWarning(lcAnnounce) << "not announcing on the LAN: cannot start Avahi's thread";
        avahi_client_free(m_client);
        m_client = nullptr;
        avahi_threaded_poll_free(m_poll);
        m_poll = nullptr;
        return false;
    }
    return true;
}

// On Avahi's thread from here on.
void LanAnnouncer::onClientState(AvahiClient *client, int state, void *self)
{
    auto *announcer = static_cast<LanAnnouncer *>(self);
    switch (AvahiClientState(state)) {
    case AVAHI_CLIENT_S_RUNNING:
        announcer->registerService(client);
        break;
    case AVAHI_CLIENT_S_COLLISION:
    case AVAHI_CLIENT_S_REGISTERING:
        // The host name is being (re)negotiated: withdraw, register again when running.
        if (announcer->m_group)
            avahi_entry_group_reset(announcer->m_group);
        break;
    case AVAHI_CLIENT_FAILURE:
        qCWarning(lcAnnounce).noquote()
            << QStringLiteral("stopped announcing on the LAN: %1")
                   .arg(QString::fromUtf8(avahi_strerror(avahi_client_errno(client))));
        break;
    case AVAHI_CLIENT_CONNECTING:
        break;
    }
}

void LanAnnouncer::onGroupState(AvahiEntryGroup *group, int state, void *self)
{
    auto *announcer = static_cast<LanAnnouncer *>(self);
    switch (AvahiEntryGroupState(state)) {
    case AVAHI_ENTRY_GROUP_ESTABLISHED:
        qCInfo(lcAnnounce).noquote()
            << QStringLiteral("announced on the LAN as \"%1\" (%2)")
                   .arg(QString::fromUtf8(announcer->m_name), QLatin1String(kServiceType));
        break;
    case AVAHI_ENTRY_GROUP_COLLISION: {
        // Another service has the name: take the next one ("name #2").
        char *next = avahi_alternative_service_name(announcer->m_name.constData());
        qCInfo(lcAnnounce).noquote()
            << QStringLiteral("the name \"%1\" is taken on the LAN; trying \"%2\"")
                   .arg(QString::fromUtf8(announcer->m_name), QString::fromUtf8(next));
        announcer->m_name = next;
        avahi_free(next);
        announcer->registerService(avahi_entry_group_get_client(group));
        break;
    }
    case AVAHI_ENTRY_GROUP_FAILURE:
        qCWarning(lcAnnounce).noquote()
            << QStringLiteral("announcing on the LAN failed: %1")
                   .arg(QString::fromUtf8(
                       avahi_strerror(avahi_client_errno(avahi_entry_group_get_client(group)))));
        break;
    case AVAHI_ENTRY_GROUP_UNCOMMITED:
    case AVAHI_ENTRY_GROUP_REGISTERING:
        break;
    }
}

void LanAnnouncer::registerService(AvahiClient *client)
{
    if (!m_group) {
        m_group = avahi_entry_group_new(
            client,
            [](AvahiEntryGroup *group, AvahiEntryGroupState state, void *self) {
                onGroupState(group, int(state), self);
            },
            this);
        if (!m_group) {
            qCWarning(lcAnnounce).noquote()
                << QStringLiteral("cannot announce on the LAN: %1")
                       .arg(QString::fromUtf8(avahi_strerror(avahi_client_errno(client))));
            return;
        }
    }
    avahi_entry_group_reset(m_group);
    AvahiStringList *txt = txtRecords(m_service.txt);
    const int added = avahi_entry_group_add_service_strlst(
        m_group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, AvahiPublishFlags(0), m_name.constData(),
        kServiceType, nullptr, nullptr, m_service.port, txt);
    avahi_string_list_free(txt);
    if (added == AVAHI_ERR_COLLISION) {
        onGroupState(m_group, AVAHI_ENTRY_GROUP_COLLISION, this);
        return;
    }
    if (added < 0 || avahi_entry_group_commit(m_group) < 0)
        qCWarning(lcAnnounce).noquote()
            << QStringLiteral("cannot announce on the LAN: %1")
                   .arg(QString::fromUtf8(avahi_strerror(avahi_client_errno(client))));
}

} // namespace kith::server
