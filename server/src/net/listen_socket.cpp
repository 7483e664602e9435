#include "listen_socket.h"

#include "kith/protocol.h"

#include <QFile>
#include <QList>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace kith::server {

namespace {

constexpr int kFallbackBacklog = 4096;

QString systemError(const char *what)
{
    return QStringLiteral("%1: %2").arg(QLatin1String(what),
                                        QString::fromLocal8Bit(std::strerror(errno)));
}

// Fills `storage` for `address`; false for an address that is neither IPv4
// nor IPv6.
bool toSockaddr(const QHostAddress &address, quint16 port, sockaddr_storage &storage,
                socklen_t &length, bool &dualStack)
{
    std::memset(&storage, 0, sizeof storage);
    dualStack = false;
    if (address == QHostAddress(QHostAddress::AnyIPv4) ||
        address.protocol() == QAbstractSocket::IPv4Protocol) {
        auto *v4 = reinterpret_cast<sockaddr_in *>(&storage);
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        v4->sin_addr.s_addr = htonl(
            address == QHostAddress(QHostAddress::AnyIPv4) ? INADDR_ANY : address.toIPv4Address());
        length = sizeof(sockaddr_in);
        return true;
    }
    const bool any = address == QHostAddress(QHostAddress::Any);
    if (!any && address.protocol() != QAbstractSocket::IPv6Protocol)
        return false;
    auto *v6 = reinterpret_cast<sockaddr_in6 *>(&storage);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    if (any) {
        v6->sin6_addr = in6addr_any;
        dualStack = true;
    } else {
        const Q_IPV6ADDR bytes = address.toIPv6Address();
        std::memcpy(&v6->sin6_addr, bytes.c, sizeof bytes.c);
        const QString scope = address.scopeId();
        if (!scope.isEmpty()) {
            bool numeric = false;
            const uint index = scope.toUInt(&numeric);
            v6->sin6_scope_id = numeric ? index : ::if_nametoindex(scope.toLocal8Bit().constData());
        }
    }
    length = sizeof(sockaddr_in6);
    return true;
}

} // namespace

int systemListenBacklog()
{
    QFile file(QStringLiteral("/proc/sys/net/core/somaxconn"));
    if (!file.open(QIODevice::ReadOnly))
        return kFallbackBacklog;
    bool ok = false;
    const int value = file.readAll().trimmed().toInt(&ok);
    return ok && value > 0 ? value : kFallbackBacklog;
}

Result<int> openListeningSocket(const QHostAddress &address, quint16 port, int backlog)
{
    sockaddr_storage storage{};
    socklen_t length = 0;
    bool dualStack = false;
    if (!toSockaddr(address, port, storage, length, dualStack))
        return makeError(
            v1::INVALID_ARGUMENT,
            QStringLiteral("Cannot listen on %1: not an IP address").arg(address.toString()));
    const int fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return makeError(v1::INTERNAL, systemError("socket"));
    const auto fail = [fd](const char *what) {
        const QString message = systemError(what);
        ::close(fd);
        return makeError(v1::INTERNAL, message);
    };
    const int on = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0)
        return fail("SO_REUSEADDR");
    if (storage.ss_family == AF_INET6) {
        const int v6only = dualStack ? 0 : 1;
        if (::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0)
            return fail("IPV6_V6ONLY");
    }
    if (::bind(fd, reinterpret_cast<const sockaddr *>(&storage), length) != 0)
        return fail("bind");
    if (::listen(fd, backlog) != 0)
        return fail("listen");
    return fd;
}

ListenQueueCounters parseListenQueueCounters(const QByteArray &netstat)
{
    ListenQueueCounters counters;
    const QList<QByteArray> lines = netstat.split('\n');
    for (qsizetype i = 0; i + 1 < lines.size(); ++i) {
        if (!lines[i].startsWith("TcpExt:") || !lines[i + 1].startsWith("TcpExt:"))
            continue;
        const QList<QByteArray> names = lines[i].simplified().split(' ');
        const QList<QByteArray> values = lines[i + 1].simplified().split(' ');
        if (names.size() != values.size())
            return {};
        bool haveOverflows = false;
        bool haveDrops = false;
        for (qsizetype k = 1; k < names.size(); ++k) {
            bool ok = false;
            const quint64 value = values[k].toULongLong(&ok);
            if (!ok)
                continue;
            if (names[k] == "ListenOverflows") {
                counters.overflows = value;
                haveOverflows = true;
            } else if (names[k] == "ListenDrops") {
                counters.drops = value;
                haveDrops = true;
            }
        }
        counters.known = haveOverflows && haveDrops;
        return counters;
    }
    return counters;
}

ListenQueueCounters readListenQueueCounters()
{
    QFile file(QStringLiteral("/proc/net/netstat"));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return parseListenQueueCounters(file.readAll());
}

} // namespace kith::server
