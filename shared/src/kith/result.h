#pragma once
// Errors cross boundaries as values: a Result<T> holds either a T or an Error
// with a protocol error code, so a service's failure maps straight onto the wire.

#include <QString>

#include <utility>
#include <variant>

#include "kith/v1/envelope.pb.h"

namespace kith {

struct Error
{
    v1::ErrorCode code = v1::INTERNAL;
    QString message;
    quint32 retryAfterMs = 0;
};

template<class T> class [[nodiscard]] Result
{
public:
    Result(T value)
        : m_v(std::in_place_index<0>, std::move(value))
    {}
    Result(Error error)
        : m_v(std::in_place_index<1>, std::move(error))
    {}

    [[nodiscard]] bool ok() const { return m_v.index() == 0; }
    explicit operator bool() const { return ok(); }

    T &value() & { return std::get<0>(m_v); }
    const T &value() const & { return std::get<0>(m_v); }
    T &&value() && { return std::get<0>(std::move(m_v)); }
    T *operator->() { return &value(); }
    const T *operator->() const { return &value(); }
    T &operator*() & { return value(); }
    const T &operator*() const & { return value(); }

    [[nodiscard]] const Error &error() const { return std::get<1>(m_v); }

private:
    std::variant<T, Error> m_v;
};

// For operations that return nothing but may fail.
struct Done
{};
using Status = Result<Done>;

[[nodiscard]] inline Error makeError(v1::ErrorCode code, QString message, quint32 retryAfterMs = 0)
{
    return Error{code, std::move(message), retryAfterMs};
}

} // namespace kith
