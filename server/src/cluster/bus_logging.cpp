#include "bus_logging.h"

namespace kith::server::cluster {

Q_LOGGING_CATEGORY(lcBus, "kith.bus", QtInfoMsg)

} // namespace kith::server::cluster
