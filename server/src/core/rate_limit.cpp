#include "rate_limit.h"

#include <QElapsedTimer>

#include <algorithm>
#include <cmath>

namespace kith::server {

namespace {
// Failures older than this are forgotten: a user who mistyped last week
// starts clean.
constexpr qint64 kFailureMemoryMs = 15 * 60 * 1000;
// How long to wait when an attempt cannot be counted (the table is full of
// lockouts) or must wait for the ones in flight.
constexpr quint32 kBusyRetryMs = 1000;
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

quint32 TokenBucket::waitMs(qint64 nowMs) const
{
    double tokens = m_tokens;
    if (m_lastMs >= 0 && nowMs > m_lastMs)
        tokens = std::min(m_burst, tokens + double(nowMs - m_lastMs) * m_rate / 1000.0);
    if (tokens >= 1.0)
        return 0;
    return quint32(std::max(1.0, std::ceil((1.0 - tokens) * 1000.0 / m_rate)));
}

bool TokenBucket::fullAt(qint64 nowMs) const
{
    if (m_lastMs < 0)
        return true;
    const double refilled = double(std::max<qint64>(0, nowMs - m_lastMs)) * m_rate / 1000.0;
    return m_tokens + refilled >= m_burst;
}

LoginThrottle::LoginThrottle(int threshold, qint64 baseLockoutMs, qint64 maxLockoutMs,
                             int maxInFlight, qsizetype capacity)
    : m_threshold(threshold)
    , m_baseLockoutMs(baseLockoutMs)
    , m_maxLockoutMs(maxLockoutMs)
    , m_maxInFlight(maxInFlight)
    , m_capacity(capacity)
{}

quint32 LoginThrottle::retryAfterMs(const QString &key, qint64 nowMs) const
{
    const auto it = m_entries.constFind(key);
    if (it == m_entries.cend() || it->lockedUntilMs <= nowMs)
        return 0;
    return quint32(it->lockedUntilMs - nowMs);
}

quint32 LoginThrottle::begin(const QString &key, qint64 nowMs)
{
    if (const quint32 locked = retryAfterMs(key, nowMs))
        return locked;
    Entry *entry = entryFor(key, nowMs);
    if (!entry)
        return kBusyRetryMs;
    if (entry->failures > 0 && nowMs - entry->lastFailureMs > kFailureMemoryMs) {
        entry->failures = 0;
        entry->lockedUntilMs = 0;
    }
    if ((m_maxInFlight > 0 && entry->inFlight >= m_maxInFlight) ||
        entry->failures + entry->inFlight >= m_threshold)
        return kBusyRetryMs;
    ++entry->inFlight;
    entry->lastUsedMs = nowMs;
    return 0;
}

void LoginThrottle::finish(const QString &key, qint64 nowMs, Outcome outcome)
{
    const auto it = m_entries.find(key);
    if (it == m_entries.end())
        return;
    it->inFlight = qMax(0, it->inFlight - 1);
    it->lastUsedMs = nowMs;
    if (outcome == Outcome::Failed)
        fail(*it, nowMs);
    else if (outcome == Outcome::Succeeded && it->inFlight == 0)
        m_entries.erase(it);
    else if (outcome == Outcome::Succeeded)
        *it = Entry{0, it->inFlight, 0, nowMs, 0};
}

void LoginThrottle::recordFailure(const QString &key, qint64 nowMs)
{
    if (Entry *entry = entryFor(key, nowMs))
        fail(*entry, nowMs);
}

void LoginThrottle::recordSuccess(const QString &key)
{
    m_entries.remove(key);
}

LoginThrottle::Entry *LoginThrottle::entryFor(const QString &key, qint64 nowMs)
{
    auto it = m_entries.find(key);
    if (it != m_entries.end())
        return &*it;
    if (m_entries.size() >= m_capacity) {
        makeRoom(nowMs);
        if (m_entries.size() >= m_capacity)
            return nullptr;
    }
    it = m_entries.insert(key, Entry{});
    it->lastUsedMs = nowMs;
    return &*it;
}

void LoginThrottle::fail(Entry &entry, qint64 nowMs)
{
    if (entry.failures > 0 && nowMs - entry.lastFailureMs > kFailureMemoryMs)
        entry.failures = 0;
    ++entry.failures;
    entry.lastFailureMs = nowMs;
    entry.lastUsedMs = nowMs;
    const int over = entry.failures - m_threshold;
    if (over >= 0) {
        const int doublings = std::min(over, 30);
        const qint64 lockout = std::min(m_maxLockoutMs, m_baseLockoutMs << doublings);
        entry.lockedUntilMs = nowMs + lockout;
    }
}

void LoginThrottle::makeRoom(qint64 nowMs)
{
    // What must stay: a lockout still running, attempts still being checked.
    const auto active = [nowMs](const Entry &entry) {
        return entry.lockedUntilMs > nowMs || entry.inFlight > 0;
    };
    m_entries.removeIf([&](const QHash<QString, Entry>::iterator &it) {
        return !active(*it) && nowMs - it->lastFailureMs > kFailureMemoryMs;
    });
    if (m_entries.size() < m_capacity)
        return;
    // Then the least recently used eighth of the rest.
    QList<qint64> used;
    for (const Entry &entry : std::as_const(m_entries)) {
        if (!active(entry))
            used.append(entry.lastUsedMs);
    }
    if (used.isEmpty())
        return;
    const auto eighth = used.begin() + qMax<qsizetype>(1, used.size() / 8) - 1;
    std::nth_element(used.begin(), eighth, used.end());
    const qint64 cutoff = *eighth;
    m_entries.removeIf([&](const QHash<QString, Entry>::iterator &it) {
        return !active(*it) && it->lastUsedMs <= cutoff;
    });
}

} // namespace kith::server
