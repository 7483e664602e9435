#pragma once
// Who is asking: what a Session hands to the services with every request.

#include "store.h"

namespace kith::server {

class TokenBucket;

struct Caller
{
    quint64 userId = 0;
    quint64 deviceId = 0;
    quint64 connectionId = 0;          // 0 for none: pushes then skip no connection
    TokenBucket *sendBucket = nullptr; // the connection's send limit; null = unlimited
};

} // namespace kith::server
