#include "store_factory.h"

#include "postgres_store.h"
#include "sqlite_store.h"

#include <QUrl>

namespace kith::server {

Result<QString> parseStoreUrl(const QString &value)
{
    const QString trimmed = value.trimmed();
    const QUrl url(trimmed, QUrl::StrictMode);
    // No host is libpq's Unix socket (e.g. postgresql:///kith).
    if (!PostgresStore::isUrl(trimmed) || !url.isValid())
        return makeError(v1::INVALID_ARGUMENT,
                         QStringLiteral("--store must be a PostgreSQL URL such as "
                                        "postgresql://kith@db.example:5432/kith, not '%1' "
                                        "(leave it out for SQLite in the data folder)")
                             .arg(describeStoreLocation(trimmed)));
    return trimmed;
}

std::unique_ptr<Store> makeStore(const QString &location, int readConnections)
{
    if (PostgresStore::isUrl(location)) {
        PostgresStore::Options options;
        options.readConnections = readConnections;
        return std::make_unique<PostgresStore>(location, options);
    }
    return std::make_unique<SqliteStore>(location);
}

QString describeStoreLocation(const QString &location)
{
    if (!location.contains(QLatin1String("://")))
        return location; // a file
    return QUrl(location).toDisplayString(QUrl::RemovePassword);
}

} // namespace kith::server
