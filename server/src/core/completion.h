#pragma once
// How asynchronous work reports back in kithd: a Completion gets the result
// once, and whileAlive() drops it when the asker is gone by then. Used by the
// store's writes, the services and the sessions.

#include "kith/result.h"

#include <QObject>
#include <QPointer>

#include <functional>

namespace kith::server {

template<class T> using Completion = std::function<void(Result<T>)>;

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
