#pragma once
// Who is asking: what a Session hands to the services with every request.

#include "events.h"
#include "store.h"

namespace kith::server {

// Request budgets are the gateway's (RequestBudgets): a service is asked
// only after the request was allowed.
struct Caller
{
    quint64 userId = 0;
    quint64 deviceId = 0;
    ConnectionRef connection; // none: pushes then skip no connection
};

} // namespace kith::server
