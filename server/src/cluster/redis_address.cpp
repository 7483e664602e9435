#include "redis_address.h"

#include <QUrl>

namespace kith::server::cluster {

namespace {
// Redis's own default; a server configured with more databases may take more.
constexpr int kMaxDatabase = 1023;

Error invalid(const QString &text, const QString &why)
{
    // The value as given, but never its password.
    const QUrl url(text.trimmed());
    const QString shown =
        url.isValid() ? url.toString(QUrl::RemovePassword) : QStringLiteral("what was given");
    return makeError(v1::INVALID_ARGUMENT,
                     QStringLiteral("--bus must be redis://[:PASSWORD@]HOST[:PORT][/DB] (%1), "
                                    "not '%2'")
                         .arg(why, shown));
}
} // namespace

QString RedisAddress::describe() const
{
    QString host = this->host;
    if (host.contains(u':'))
        host = QLatin1Char('[') + host + QLatin1Char(']');
    QString text = QStringLiteral("redis://%1:%2").arg(host).arg(port);
    if (database != 0)
        text += QLatin1Char('/') + QString::number(database);
    return text;
}

Result<RedisAddress> parseRedisUrl(const QString &text)
{
    const QUrl url(text.trimmed(), QUrl::StrictMode);
    if (!url.isValid() || url.scheme() != QLatin1String("redis"))
        return invalid(text, QStringLiteral("a redis:// URL"));
    if (url.host().isEmpty())
        return invalid(text, QStringLiteral("no host"));
    if (url.hasQuery() || url.hasFragment())
        return invalid(text, QStringLiteral("no query or fragment"));
    RedisAddress address;
    address.host = url.host();
    const int port = url.port(6379);
    if (port <= 0 || port > 65535)
        return invalid(text, QStringLiteral("a port from 1 to 65535"));
    address.port = quint16(port);
    QString path = url.path();
    if (path.startsWith(u'/'))
        path.remove(0, 1);
    if (!path.isEmpty()) {
        bool ok = false;
        address.database = path.toInt(&ok);
        if (!ok || address.database < 0 || address.database > kMaxDatabase)
            return invalid(text,
                           QStringLiteral("a database number from 0 to %1").arg(kMaxDatabase));
    }
    address.user = url.userName(QUrl::FullyDecoded).toUtf8();
    address.password = url.password(QUrl::FullyDecoded).toUtf8();
    if (!address.user.isEmpty() && address.password.isEmpty())
        return invalid(text, QStringLiteral("a user needs a password"));
    return address;
}

} // namespace kith::server::cluster
