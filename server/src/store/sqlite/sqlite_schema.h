#pragma once
// The SQLite backend's schema: its versioned migrations (PRAGMA user_version)
// and the derived columns they fill. Internal to kithd_store_sqlite.

#include "sqlite_connection.h"

namespace kith::server::sqlite {

// SQLite's LIKE folds ASCII only; display names are matched through a
// Unicode case-folded copy kept next to them.
[[nodiscard]] QString displayKey(const QString &displayName);

// The newest schema version this code knows (the number of migration steps).
[[nodiscard]] int latestSchemaVersion();

// Applies the steps after the file's version, up to `upTo` (0 = the latest),
// each in its own transaction; the version reached goes to *versionOut.
[[nodiscard]] Status runMigrations(Connection &c, int upTo, int *versionOut);

} // namespace kith::server::sqlite
