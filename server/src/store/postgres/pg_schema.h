#pragma once
// The PostgreSQL store's schema, as numbered migration steps recorded in the
// table kith_schema_version. Several nodes may start at once: each step runs
// in its own transaction under an advisory lock, and a node that finds a
// step done skips it.

#include "pg_connection.h"

namespace kith::server::pg {

// The newest schema version this code knows (the number of steps).
[[nodiscard]] int latestSchemaVersion();

// The version recorded in the database (0 for an empty one).
[[nodiscard]] Result<int> schemaVersionOf(PgConnection &c);

// Applies the steps after the database's version, up to `upTo` (0: the
// latest). INTERNAL when the database is newer than this code.
[[nodiscard]] Result<int> migrate(PgConnection &c, int upTo);

} // namespace kith::server::pg
