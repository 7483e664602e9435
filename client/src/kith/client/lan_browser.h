#pragma once
// LanBrowser: finds Kith servers on the LAN, the `_kith._tcp` services kithd
// announces over mDNS (DNS-SD), through avahi-daemon (Avahi's client library
// over D-Bus). Each service instance is resolved to an address, a port and
// its TXT records (name, protocol version, tls, fingerprint, registration).
// Avahi's callbacks run on its own thread; what they find is handed to the
// owner's thread with queued calls, so found() and lost() arrive on the
// thread this object lives in.
//
// Where avahi-daemon does not run, or the library was built without Avahi,
// start() returns false and unavailableReason() says why: the app works as
// before, with the address typed in.
//
// Everything in a TXT record is unauthenticated (anyone on the LAN can
// announce anything): the fingerprint is for showing, never for trusting.

#include <QObject>
#include <QString>
#include <QUrl>

#include <memory>

namespace kith::client {

struct LanServer
{
    // Which announcement this is: Avahi reports one per network interface
    // and IP protocol, under the service's instance name.
    int interfaceIndex = -1;
    int ipProtocol = -1; // AVAHI_PROTO_INET or AVAHI_PROTO_INET6
    QString instanceName;
    QString domain;

    QString name;    // the TXT `name` (the instance name when absent)
    QString host;    // the announcing host's mDNS name ("office-box.local")
    QString address; // the resolved IP address
    bool ipv6 = false;
    bool linkLocal = false; // an IPv6 fe80:: address, usable only with its interface
    quint16 port = 0;
    bool tls = true;
    bool registrationOpen = false;
    QString protocolVersion; // "1.0"
    QByteArray fingerprint;  // 64 hex digits, or empty: unauthenticated

    // What to connect to: wss://address:port/ (ws:// when tls=0); the host
    // name stands in for an address that cannot be written in a URL alone
    // (IPv6 link-local).
    [[nodiscard]] QUrl url() const;
};

class LanBrowser : public QObject
{
    Q_OBJECT
public:
    static constexpr auto kServiceType = "_kith._tcp";
    // A LAN may hold many announcements, or a hostile host making them up:
    // at most this many are resolved at once; the rest wait for their turn
    // and are dropped past kMaxWaiting.
    static constexpr int kMaxResolving = 16;
    static constexpr int kMaxWaiting = 256;

    // Whether this build can browse at all (built with libavahi-client).
    static bool isBuiltIn();

    explicit LanBrowser(QObject *parent = nullptr);
    ~LanBrowser() override;
    LanBrowser(const LanBrowser &) = delete;
    LanBrowser &operator=(const LanBrowser &) = delete;

    // Starts browsing; false (with unavailableReason()) when there is no
    // avahi-daemon to ask or no Avahi in this build. Stopping is deleting.
    bool start();
    [[nodiscard]] bool isBrowsing() const { return m_browsing; }
    [[nodiscard]] QString unavailableReason() const { return m_unavailableReason; }

signals:
    // A server was found, or an instance found before changed.
    void found(const kith::client::LanServer &server);
    // The announcement went (only the identity fields are set).
    void lost(const kith::client::LanServer &server);
    // Browsing stopped on its own (avahi-daemon went away): all is lost.
    void unavailable(const QString &reason);

private:
    void setUnavailable(const QString &reason);

    struct Avahi;
    std::unique_ptr<Avahi> d;
    bool m_browsing = false;
    QString m_unavailableReason;
};

} // namespace kith::client
