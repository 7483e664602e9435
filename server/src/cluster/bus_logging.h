#pragma once
// The logging category of the bus between nodes (kith.bus).

#include <QLoggingCategory>

namespace kith::server::cluster {

Q_DECLARE_LOGGING_CATEGORY(lcBus)

} // namespace kith::server::cluster
