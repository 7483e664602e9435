#pragma once
// LanAnnouncer: announces this kithd on the LAN as a DNS-SD service
// `_kith._tcp` over mDNS, through avahi-daemon (Avahi's client library over
// D-Bus), so the app lists it without anyone typing an address. The TXT
// records carry what the app shows before connecting: the server's name,
// the protocol version, the certificate's fingerprint and whether
// registration is open. Where avahi-daemon does not run, one log line says
// so and kithd serves as usual. Owned by Server; Avahi's own thread runs the
// callbacks.

#include <QByteArray>
#include <QList>
#include <QString>

#include <utility>

struct AvahiClient;
struct AvahiEntryGroup;
struct AvahiThreadedPoll;

namespace kith::server {

class LanAnnouncer
{
public:
    static constexpr auto kServiceType = "_kith._tcp";

    struct Service
    {
        QString name; // the instance name people see ("Kith on office-box")
        quint16 port = 0;
        QList<std::pair<QByteArray, QByteArray>> txt; // key, value
    };

    explicit LanAnnouncer(Service service);
    ~LanAnnouncer();
    LanAnnouncer(const LanAnnouncer &) = delete;
    LanAnnouncer &operator=(const LanAnnouncer &) = delete;

    // Connects to avahi-daemon and registers the service; false (after one
    // log line) when there is no daemon to announce through.
    bool start();

private:
    static void onClientState(AvahiClient *client, int state, void *self);
    static void onGroupState(AvahiEntryGroup *group, int state, void *self);
    void registerService(AvahiClient *client);

    Service m_service;
    QByteArray m_name; // may change after a name collision
    AvahiThreadedPoll *m_poll = nullptr;
    AvahiClient *m_client = nullptr;
    AvahiEntryGroup *m_group = nullptr;
};

} // namespace kith::server
