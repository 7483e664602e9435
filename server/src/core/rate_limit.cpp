#include "rate_limit.h"

#include <QElapsedTimer>

#include <algorithm>
#include <cmath>

namespace kith::server {

namespace {
// Failures older than this are forgotten: a user who mistyped last week
// starts clean.
constexpr qint64 kFailureMemoryMs = 15 * 60 * 1000;
// Bounds the table an attacker can grow by trying many names or addresses.
constexpr qsizetype kMaxThrottleEntries = 100000;
} // namespace

qint64 monotonicMs()
{
    static const QElapsedTimer clock = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return clock.elapsed();
}

TokenBucket::TokenBucket(double ratePerSecond, double burst)
    : m_rate(std::max(ratePerSecond, 1e-6)) // a floor against zero: one in 11 days
    , m_burst(std::max(burst, 1.0))
    , m_tokens(m_burst)
{}

quint32 TokenBucket::take(qint64 nowMs)
{
    if (m_lastMs >= 0 && nowMs > m_lastMs)
        m_tokens = std::min(m_burst, m_tokens + double(nowMs - m_lastMs) * m_rate / 1000.0);
    m_lastMs = std::max(m_lastMs, nowMs);
    if (m_tokens >= 1.0) {
        m_tokens -= 1.0;
        return 0;
    }
    const double waitMs = std::ceil((1.0 - m_tokens) * 1000.0 / m_rate);
    return quint32(std::max(1.0, waitMs));
}

bool TokenBucket::fullAt(qint64 nowMs) const
{
    if (m_lastMs < 0)
        return true;
    const double refilled = double(std::max<qint64>(0, nowMs - m_lastMs)) * m_rate / 1000.0;
    return m_tokens + refilled >= m_burst;
}

KeyedBuckets::KeyedBuckets(double ratePerSecond, double burst)
    : m_rate(ratePerSecond)
    , m_burst(burst)
{}

quint32 KeyedBuckets::take(const QString &key, qint64 nowMs)
{
    auto it = m_buckets.find(key);
    if (it == m_buckets.end()) {
        if (m_buckets.size() >= kMaxThrottleEntries) {
            forgetRefilled(nowMs);
            // Still over half full (very many keys at once): start over, so
            // that the next scan is at least that many new keys away.
            if (m_buckets.size() > kMaxThrottleEntries / 2)
                m_buckets.clear();
        }
        it = m_buckets.insert(key, TokenBucket(m_rate, m_burst));
    }
    return it->take(nowMs);
}

void KeyedBuckets::forgetRefilled(qint64 nowMs)
{
    m_buckets.removeIf(
        [nowMs](const QHash<QString, TokenBucket>::iterator &it) { return it->fullAt(nowMs); });
}

LoginThrottle::LoginThrottle(int threshold, qint64 baseLockoutMs, qint64 maxLockoutMs)
    : m_threshold(threshold)
    , m_baseLockoutMs(baseLockoutMs)
    , m_maxLockoutMs(maxLockoutMs)
{}

quint32 LoginThrottle::retryAfterMs(const QString &key, qint64 nowMs) const
{
    const auto it = m_entries.constFind(key);
    if (it == m_entries.cend() || it->lockedUntilMs <= nowMs)
        return 0;
    return quint32(it->lockedUntilMs - nowMs);
}

void LoginThrottle::recordFailure(const QString &key, qint64 nowMs)
{
    if (m_entries.size() >= kMaxThrottleEntries)
        forgetStale(nowMs);
    Entry &entry = m_entries[key];
    if (entry.failures > 0 && nowMs - entry.lastFailureMs > kFailureMemoryMs)
        entry = Entry{};
    ++entry.failures;
    entry.lastFailureMs = nowMs;
    const int over = entry.failures - m_threshold;
    if (over >= 0) {
        const int doublings = std::min(over, 30);
        const qint64 lockout = std::min(m_maxLockoutMs, m_baseLockoutMs << doublings);
        entry.lockedUntilMs = nowMs + lockout;
    }
}

void LoginThrottle::recordSuccess(const QString &key)
{
    m_entries.remove(key);
}

void LoginThrottle::forgetStale(qint64 nowMs)
{
    m_entries.removeIf([nowMs](const QHash<QString, Entry>::iterator &it) {
        return nowMs - it->lastFailureMs > kFailureMemoryMs && it->lockedUntilMs <= nowMs;
    });
    // Still full (an attack from very many keys): start over rather than grow.
    if (m_entries.size() >= kMaxThrottleEntries)
        m_entries.clear();
}

} // namespace kith::server
