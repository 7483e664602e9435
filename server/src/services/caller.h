#pragma once
// Who is asking: what a Session hands to the services with every request.

#include "events.h"
#include "store.h"

namespace kith::server {

class TokenBucket;

struct Caller
{
    quint64 userId = 0;
    quint64 deviceId = 0;
    ConnectionRef connection;          // none: pushes then skip no connection
    TokenBucket *sendBucket = nullptr; // the connection's send limit; null = unlimited
};

} // namespace kith::server
