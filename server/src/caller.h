#pragma once
// Who is asking: what a Session hands to the services with every request.

#include "store/store.h"

#include <QPointer>

namespace kith::server {

class TokenBucket;

struct Caller
{
    quint64 userId = 0;
    quint64 deviceId = 0;
    quint64 connectionId = 0;          // 0 for none: pushes then skip no connection
    TokenBucket *sendBucket = nullptr; // the connection's send limit; null = unlimited
};

// Wraps a completion so that it runs only while `context` (usually the asking
// Session) is alive. Services give the store themselves as the context, so
// their own follow-up work (fan-out) happens even when the asker went away.
template<class T> [[nodiscard]] Completion<T> whileAlive(QObject *context, Completion<T> done)
{
    return [guard = QPointer<QObject>(context), done = std::move(done)](Result<T> result) mutable {
        if (guard)
            done(std::move(result));
    };
}

} // namespace kith::server
