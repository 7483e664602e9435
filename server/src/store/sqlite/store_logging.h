#pragma once
// Logging categories of the kithd storage backends (target kithd_store).

#include <QLoggingCategory>

namespace kith::server {

Q_DECLARE_LOGGING_CATEGORY(lcStore)

} // namespace kith::server
