#pragma once
// The logging category of the PostgreSQL store (kith.store.postgres).

#include <QLoggingCategory>

namespace kith::server {

Q_DECLARE_LOGGING_CATEGORY(lcPostgres)

} // namespace kith::server
