#pragma once
// Rate limits: a token bucket, token buckets keyed by a name (a remote
// address, a user), and a failed-login throttle keyed by account or remote
// address that also counts the attempts still being checked. Times are
// monotonic milliseconds passed in by the caller, so tests can drive the clock.
//
// The keyed tables are bounded: when one is full it forgets what no longer
// limits anyone (refilled buckets, expired failures), then the least recently
// used of the rest, but never a key that is locked out or has attempts in
// flight: an attacker who fills the table cannot unlock a victim.

#include <QHash>
#include <QList>
#include <QString>

#include <algorithm>

namespace kith::server {

// Milliseconds from a monotonic clock (never jumps with the wall clock).
[[nodiscard]] qint64 monotonicMs();

// Keys a limit table holds at most, by default.
inline constexpr qsizetype kDefaultLimitTableCapacity = 100000;

class TokenBucket
{
public:
    TokenBucket(double ratePerSecond, double burst);

    // Takes one token: 0 when allowed, else how many ms until one is available.
    [[nodiscard]] quint32 take(qint64 nowMs);
    // What take() would answer at nowMs, without taking anything.
    [[nodiscard]] quint32 waitMs(qint64 nowMs) const;
    // Whether the bucket will have refilled by nowMs (it is then as good as new).
    [[nodiscard]] bool fullAt(qint64 nowMs) const;
    // When a token was last asked for (-1: never).
    [[nodiscard]] qint64 lastUsedMs() const { return m_lastMs; }

private:
    double m_rate;
    double m_burst;
    double m_tokens;
    qint64 m_lastMs = -1;
};

// One token bucket per key (e.g. a remote address).
template<class Key> class KeyedBucketTable
{
public:
    KeyedBucketTable(double ratePerSecond, double burst,
                     qsizetype capacity = kDefaultLimitTableCapacity)
        : m_rate(ratePerSecond)
        , m_burst(burst)
        , m_capacity(capacity)
    {}

    // As TokenBucket::take, for `key`'s own bucket.
    [[nodiscard]] quint32 take(const Key &key, qint64 nowMs)
    {
        auto it = m_buckets.find(key);
        if (it == m_buckets.end()) {
            if (m_buckets.size() >= m_capacity)
                makeRoom(nowMs);
            it = m_buckets.insert(key, TokenBucket(m_rate, m_burst));
        }
        return it->take(nowMs);
    }
    [[nodiscard]] qsizetype size() const { return m_buckets.size(); }
    // Drops the keys whose buckets have refilled by nowMs.
    void forgetRefilled(qint64 nowMs)
    {
        m_buckets.removeIf([nowMs](const auto &it) { return it->fullAt(nowMs); });
    }

private:
    // Refilled buckets first; then, if still full, the least recently used
    // eighth (their users have been quiet longest).
    void makeRoom(qint64 nowMs);

    double m_rate;
    double m_burst;
    qsizetype m_capacity;
    QHash<Key, TokenBucket> m_buckets;
};

// Remote addresses (registrations per hour).
using KeyedBuckets = KeyedBucketTable<QString>;

class LoginThrottle
{
public:
    // `threshold` failures are free; each further one doubles the lockout,
    // starting at baseLockoutMs and capped at maxLockoutMs. At most
    // `maxInFlight` attempts of one key are checked at once (0: no bound).
    LoginThrottle(int threshold, qint64 baseLockoutMs, qint64 maxLockoutMs, int maxInFlight = 0,
                  qsizetype capacity = kDefaultLimitTableCapacity);

    // 0 when `key` is not locked out, else ms until it is not.
    [[nodiscard]] quint32 retryAfterMs(const QString &key, qint64 nowMs) const;

    // An attempt for `key` is about to be checked (a password hash): 0 when
    // it may go ahead, else ms to wait. An attempt that goes ahead counts
    // until finish(), so parallel attempts cannot overtake the lockout:
    // while the free failures left are all in flight, the next one waits.
    [[nodiscard]] quint32 begin(const QString &key, qint64 nowMs);
    enum class Outcome {
        Failed,    // counts toward the lockout
        Succeeded, // the key's failures are forgotten (an account's right password)
        Neutral,   // neither (an address's right password, a registration)
    };
    void finish(const QString &key, qint64 nowMs, Outcome outcome);

    // A failure that was not begun (checked without a hash).
    void recordFailure(const QString &key, qint64 nowMs);
    void recordSuccess(const QString &key);
    [[nodiscard]] qsizetype size() const { return m_entries.size(); }

private:
    struct Entry
    {
        int failures = 0;
        int inFlight = 0;
        qint64 lastFailureMs = 0;
        qint64 lastUsedMs = 0;
        qint64 lockedUntilMs = 0;
    };
    // Where `key`'s entry is (made when missing); null when the table is full
    // of keys that must not be forgotten.
    Entry *entryFor(const QString &key, qint64 nowMs);
    void fail(Entry &entry, qint64 nowMs);
    void makeRoom(qint64 nowMs);

    int m_threshold;
    qint64 m_baseLockoutMs;
    qint64 m_maxLockoutMs;
    int m_maxInFlight;
    qsizetype m_capacity;
    QHash<QString, Entry> m_entries;
};

template<class Key> void KeyedBucketTable<Key>::makeRoom(qint64 nowMs)
{
    forgetRefilled(nowMs);
    if (m_buckets.size() < m_capacity)
        return;
    QList<qint64> used;
    used.reserve(m_buckets.size());
    for (const TokenBucket &bucket : std::as_const(m_buckets))
        used.append(bucket.lastUsedMs());
    const auto eighth = used.begin() + qMax<qsizetype>(1, used.size() / 8) - 1;
    std::nth_element(used.begin(), eighth, used.end());
    const qint64 cutoff = *eighth;
    m_buckets.removeIf([cutoff](const auto &it) { return it->lastUsedMs() <= cutoff; });
}

} // namespace kith::server
