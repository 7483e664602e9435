#pragma once
// Rate limits: a token bucket (per-connection sends), token buckets keyed by
// remote address (registrations), and a failed-login throttle keyed by
// account or remote address. Times are monotonic
// milliseconds passed in by the caller, so tests can drive the clock.

#include <QHash>
#include <QString>

namespace kith::server {

// Milliseconds from a monotonic clock (never jumps with the wall clock).
[[nodiscard]] qint64 monotonicMs();

class TokenBucket
{
public:
    TokenBucket(double ratePerSecond, double burst);

    // Takes one token: 0 when allowed, else how many ms until one is available.
    [[nodiscard]] quint32 take(qint64 nowMs);
    // Whether the bucket will have refilled by nowMs (it is then as good as new).
    [[nodiscard]] bool fullAt(qint64 nowMs) const;

private:
    double m_rate;
    double m_burst;
    double m_tokens;
    qint64 m_lastMs = -1;
};

// One token bucket per key (e.g. a remote address). When the table grows
// large, the keys whose buckets have refilled (as good as new) are dropped.
class KeyedBuckets
{
public:
    KeyedBuckets(double ratePerSecond, double burst);

    // As TokenBucket::take, for `key`'s own bucket.
    [[nodiscard]] quint32 take(const QString &key, qint64 nowMs);
    [[nodiscard]] qsizetype size() const { return m_buckets.size(); }
    // Drops the keys whose buckets have refilled by nowMs.
    void forgetRefilled(qint64 nowMs);

private:
    double m_rate;
    double m_burst;
    QHash<QString, TokenBucket> m_buckets;
};

class LoginThrottle
{
public:
    // `threshold` failures are free; each further one doubles the lockout,
    // starting at baseLockoutMs and capped at maxLockoutMs.
    LoginThrottle(int threshold, qint64 baseLockoutMs, qint64 maxLockoutMs);

    // 0 when an attempt for `key` may proceed, else ms until it may.
    [[nodiscard]] quint32 retryAfterMs(const QString &key, qint64 nowMs) const;
    void recordFailure(const QString &key, qint64 nowMs);
    void recordSuccess(const QString &key);

private:
    struct Entry
    {
        int failures = 0;
        qint64 lastFailureMs = 0;
        qint64 lockedUntilMs = 0;
    };
    void forgetStale(qint64 nowMs);

    int m_threshold;
    qint64 m_baseLockoutMs;
    qint64 m_maxLockoutMs;
    QHash<QString, Entry> m_entries;
};

} // namespace kith::server
