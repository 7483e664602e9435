#pragma once
// Which Store a kithd runs on: SQLite in the data folder (the default), or
// PostgreSQL when --store names a postgresql:// URL (several nodes sharing
// one database). Used by main() for the server and by `kithd user ...`.

#include "kith/result.h"
#include "store.h"

#include <QString>

#include <memory>

namespace kith::server {

// `value` checked as a --store setting: a postgresql:// (or postgres://) URL
// as libpq takes it; INVALID_ARGUMENT otherwise.
[[nodiscard]] Result<QString> parseStoreUrl(const QString &value);

// A PostgresStore for a URL (with at most `readConnections` for reads), else
// a SqliteStore on that file.
[[nodiscard]] std::unique_ptr<Store> makeStore(const QString &location, int readConnections);

// The location for messages and logs: a URL without its password.
[[nodiscard]] QString describeStoreLocation(const QString &location);

} // namespace kith::server
