#include "kith/client/lan_browser.h"

#include "kith/client/logging.h"

#include <algorithm>
#include <functional>

#ifdef KITH_HAVE_AVAHI
#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-common/address.h>
#include <avahi-common/error.h>
#include <avahi-common/strlst.h>
#include <avahi-common/thread-watch.h>

#include <QHash>
#include <QList>
#endif

namespace kith::client {

QUrl LanServer::url() const
{
    QUrl url;
    url.setScheme(tls ? QStringLiteral("wss") : QStringLiteral("ws"));
    // A link-local IPv6 address means nothing without its interface; the
    // mDNS host name does (where the system resolves .local names).
    url.setHost(linkLocal && !host.isEmpty() ? host : address);
    url.setPort(port);
    url.setPath(QStringLiteral("/"));
    return url;
}

#ifdef KITH_HAVE_AVAHI

namespace {
// What a TXT record may say, checked: it comes from anyone on the LAN.
constexpr qsizetype kMaxNameChars = 80;
constexpr qsizetype kFingerprintHexDigits = 64;

QString avahiError(int error)
{
    return QString::fromUtf8(avahi_strerror(error));
}

void readTxt(AvahiStringList *txt, LanServer &server)
{
    for (AvahiStringList *item = txt; item; item = avahi_string_list_get_next(item)) {
        const QByteArray record(reinterpret_cast<const char *>(avahi_string_list_get_text(item)),
                                qsizetype(avahi_string_list_get_size(item)));
        const qsizetype equals = record.indexOf('=');
        if (equals <= 0)
            continue;
        const QByteArray key = record.left(equals);
        const QByteArray value = record.mid(equals + 1);
        if (key == "name") {
            const QString name = QString::fromUtf8(value).simplified();
            if (!name.isEmpty())
                server.name = name.left(kMaxNameChars);
        } else if (key == "proto") {
            if (value.size() <= 16)
                server.protocolVersion = QString::fromLatin1(value);
        } else if (key == "tls") {
            server.tls = value != "0";
        } else if (key == "fp") {
            const QByteArray hex = value.toLower();
            const bool wellFormed = hex.size() == kFingerprintHexDigits &&
                                    std::all_of(hex.cbegin(), hex.cend(), [](char c) {
                                        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                                    });
            server.fingerprint = wellFormed ? hex : QByteArray();
        } else if (key == "reg") {
            server.registrationOpen = value == "open";
        }
    }
}
} // namespace

// Everything in here but the constructor and destructor runs on Avahi's
// thread; the owner hears of it through queued calls.
struct LanBrowser::Avahi
{
    struct Instance
    {
        AvahiIfIndex interfaceIndex;
        AvahiProtocol protocol;
        QByteArray name;
        QByteArray domain;

        [[nodiscard]] QByteArray key() const
        {
            return QByteArray::number(interfaceIndex) + '/' + QByteArray::number(protocol) + '/' +
                   name + '/' + domain;
        }
        [[nodiscard]] LanServer identity() const
        {
            LanServer server;
            server.interfaceIndex = interfaceIndex;
            server.ipProtocol = protocol;
            server.instanceName = QString::fromUtf8(name);
            server.domain = QString::fromUtf8(domain);
            return server;
        }
    };

    explicit Avahi(LanBrowser *owner)
        : owner(owner)
    {}
    ~Avahi()
    {
        // The thread stops first: no callback runs while the client goes
        // (which frees the browser and the resolvers with it).
        if (poll)
            avahi_threaded_poll_stop(poll);
        if (client)
            avahi_client_free(client);
        if (poll)
            avahi_threaded_poll_free(poll);
    }

    void post(std::function<void(LanBrowser *)> call)
    {
        // Queued to the owner's thread; dropped if the owner is gone by then.
        QMetaObject::invokeMethod(
            owner, [owner = owner, call = std::move(call)] { call(owner); }, Qt::QueuedConnection);
    }
    void postUnavailable(const QString &reason)
    {
        post([reason](LanBrowser *browser) { browser->setUnavailable(reason); });
    }

    void onClientState(AvahiClient *c, AvahiClientState state)
    {
        if (state == AVAHI_CLIENT_S_RUNNING && !browser) {
            browser = avahi_service_browser_new(
                c, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, kServiceType, nullptr, AvahiLookupFlags(0),
                [](AvahiServiceBrowser *, AvahiIfIndex interface, AvahiProtocol protocol,
                   AvahiBrowserEvent event, const char *name, const char *, const char *domain,
                   AvahiLookupResultFlags, void *self) {
                    static_cast<Avahi *>(self)->onBrowse(interface, protocol, event, name, domain);
                },
                this);
            if (!browser)
                browseError = avahiError(avahi_client_errno(c));
        } else if (state == AVAHI_CLIENT_FAILURE) {
            postUnavailable(QStringLiteral("avahi-daemon went away: %1")
                                .arg(avahiError(avahi_client_errno(c))));
        }
    }

    void onBrowse(AvahiIfIndex interface, AvahiProtocol protocol, AvahiBrowserEvent event,
                  const char *name, const char *domain)
    {
        switch (event) {
        case AVAHI_BROWSER_NEW: {
            Instance instance{interface, protocol, QByteArray(name), QByteArray(domain)};
            const QByteArray key = instance.key();
            if (resolving.contains(key) ||
                std::any_of(waiting.cbegin(), waiting.cend(),
                            [&](const Instance &w) { return w.key() == key; }))
                return;
            if (waiting.size() >= kMaxWaiting) {
                qCWarning(lcLan) << "too many Kith servers announced on the LAN; ignoring"
                                 << instance.name;
                return;
            }
            waiting.append(std::move(instance));
            resolveNext();
            break;
        }
        case AVAHI_BROWSER_REMOVE: {
            const Instance instance{interface, protocol, QByteArray(name), QByteArray(domain)};
            const QByteArray key = instance.key();
            if (AvahiServiceResolver *resolver = resolving.take(key))
                avahi_service_resolver_free(resolver);
            waiting.removeIf([&](const Instance &w) { return w.key() == key; });
            const LanServer gone = instance.identity();
            post([gone](LanBrowser *browser) { emit browser->lost(gone); });
            resolveNext();
            break;
        }
        case AVAHI_BROWSER_FAILURE:
            postUnavailable(QStringLiteral("browsing the LAN failed: %1")
                                .arg(avahiError(avahi_client_errno(client))));
            break;
        case AVAHI_BROWSER_ALL_FOR_NOW:
        case AVAHI_BROWSER_CACHE_EXHAUSTED:
            break;
        }
    }

    void resolveNext()
    {
        while (resolving.size() < kMaxResolving && !waiting.isEmpty()) {
            const Instance instance = waiting.takeFirst();
            AvahiServiceResolver *resolver = avahi_service_resolver_new(
                client, instance.interfaceIndex, instance.protocol, instance.name.constData(),
                // The address of the family it was announced over: an IPv4
                // announcement gives an IPv4 address (not one of each at random).
                kServiceType, instance.domain.constData(), instance.protocol, AvahiLookupFlags(0),
                [](AvahiServiceResolver *r, AvahiIfIndex interface, AvahiProtocol protocol,
                   AvahiResolverEvent event, const char *name, const char *, const char *domain,
                   const char *hostName, const AvahiAddress *address, uint16_t port,
                   AvahiStringList *txt, AvahiLookupResultFlags, void *self) {
                    static_cast<Avahi *>(self)->onResolved(r, {interface, protocol, name, domain},
                                                           event, hostName, address, port, txt);
                },
                this);
            if (!resolver) {
                qCDebug(lcLan) << "cannot resolve" << instance.name
                               << avahiError(avahi_client_errno(client));
                continue;
            }
            resolving.insert(instance.key(), resolver);
        }
    }

    void onResolved(AvahiServiceResolver *resolver, const Instance &instance,
                    AvahiResolverEvent event, const char *hostName, const AvahiAddress *address,
                    uint16_t port, AvahiStringList *txt)
    {
        if (event == AVAHI_RESOLVER_FOUND && address) {
            LanServer server = instance.identity();
            server.name = server.instanceName.left(kMaxNameChars);
            server.host = QString::fromUtf8(hostName);
            char text[AVAHI_ADDRESS_STR_MAX] = {};
            avahi_address_snprint(text, sizeof text, address);
            server.address = QString::fromLatin1(text);
            server.ipv6 = address->proto == AVAHI_PROTO_INET6;
            server.linkLocal = server.ipv6 && server.address.startsWith(QLatin1String("fe80:"),
                                                                        Qt::CaseInsensitive);
            server.port = port;
            readTxt(txt, server);
            post([server](LanBrowser *browser) { emit browser->found(server); });
        } else {
            qCDebug(lcLan) << "could not resolve" << instance.name
                           << avahiError(avahi_client_errno(client));
        }
        resolving.remove(instance.key());
        avahi_service_resolver_free(resolver);
        resolveNext();
    }

    LanBrowser *owner;
    AvahiThreadedPoll *poll = nullptr;
    AvahiClient *client = nullptr;
    AvahiServiceBrowser *browser = nullptr;
    QString browseError;
    QHash<QByteArray, AvahiServiceResolver *> resolving;
    QList<Instance> waiting;
};

bool LanBrowser::isBuiltIn()
{
    return true;
}

LanBrowser::LanBrowser(QObject *parent)
    : QObject(parent)
{}

LanBrowser::~LanBrowser() = default;

bool LanBrowser::start()
{
    if (m_browsing)
        return true;
    d = std::make_unique<Avahi>(this);
    d->poll = avahi_threaded_poll_new();
    if (!d->poll) {
        d.reset();
        m_unavailableReason = QStringLiteral("cannot start Avahi's thread");
        return false;
    }
    int error = 0;
    // Called at once, on this thread, with the daemon's state (running: the
    // browser is made then); later on Avahi's thread.
    d->client = avahi_client_new(
        avahi_threaded_poll_get(d->poll), AvahiClientFlags(0),
        [](AvahiClient *client, AvahiClientState state, void *self) {
            static_cast<Avahi *>(self)->onClientState(client, state);
        },
        d.get(), &error);
    if (!d->client || !d->browser || avahi_threaded_poll_start(d->poll) < 0) {
        m_unavailableReason =
            !d->client    ? QStringLiteral("no avahi-daemon to ask (%1)").arg(avahiError(error))
            : !d->browser ? QStringLiteral("avahi-daemon would not browse: %1").arg(d->browseError)
                          : QStringLiteral("cannot start Avahi's thread");
        qCInfo(lcLan).noquote() << "not looking for servers on the LAN:" << m_unavailableReason;
        d.reset();
        return false;
    }
    m_browsing = true;
    m_unavailableReason.clear();
    return true;
}

#else // without Avahi

struct LanBrowser::Avahi
{};

bool LanBrowser::isBuiltIn()
{
    return false;
}

LanBrowser::LanBrowser(QObject *parent)
    : QObject(parent)
{}

LanBrowser::~LanBrowser() = default;

bool LanBrowser::start()
{
    m_unavailableReason = QStringLiteral("built without Avahi (libavahi-client)");
    return false;
}

#endif

void LanBrowser::setUnavailable(const QString &reason)
{
    if (!m_browsing)
        return;
    qCInfo(lcLan).noquote() << "stopped looking for servers on the LAN:" << reason;
    m_browsing = false;
    m_unavailableReason = reason;
    emit unavailable(reason);
}

} // namespace kith::client
