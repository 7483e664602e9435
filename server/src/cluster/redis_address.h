#pragma once
// Where the bus is: a redis:// URL as kithd's --bus takes it,
// redis://[[USER]:PASSWORD@]HOST[:PORT][/DB].

#include "kith/result.h"

#include <QByteArray>
#include <QString>

namespace kith::server::cluster {

struct RedisAddress
{
    QString host;
    quint16 port = 6379;
    int database = 0; // SELECTed after connecting when not 0
    QByteArray user;  // AUTH USER PASSWORD (Redis 6 ACLs); empty: AUTH PASSWORD
    QByteArray password;

    // The URL without its password, for logs and /healthz.
    [[nodiscard]] QString describe() const;
};

// INVALID_ARGUMENT with a one-line message for anything that is not such a URL.
[[nodiscard]] Result<RedisAddress> parseRedisUrl(const QString &text);

} // namespace kith::server::cluster
