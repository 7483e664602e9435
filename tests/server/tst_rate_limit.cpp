// The rate limits on a driven clock: the token bucket, the keyed buckets
// (per address, per user: the request budgets), and the failed-login throttle
// (free failures, doubling lockout, cap, forgetting, attempts counted before
// they are checked, bounded tables that never forget a lockout).

#include "rate_limit.h"
#include "request_budgets.h"

#include <QTest>

#include <set>

using namespace kith;
using namespace kith::server;

class TestRateLimit : public QObject
{
    Q_OBJECT

private slots:
    void bucketAllowsBurstThenRate()
    {
        TokenBucket bucket(10, 3); // 10/s, burst 3
        qint64 now = 1000;
        for (int i = 0; i < 3; ++i)
            QCOMPARE(bucket.take(now), 0u);
        const quint32 wait = bucket.take(now);
        QVERIFY(wait > 0 && wait <= 100);
        now += 100; // one token back
        QCOMPARE(bucket.take(now), 0u);
        QVERIFY(bucket.take(now) > 0);
        now += 10'000; // refills to the burst, not beyond
        for (int i = 0; i < 3; ++i)
            QCOMPARE(bucket.take(now), 0u);
        QVERIFY(bucket.take(now) > 0);
    }

    void slowRatesAreKept()
    {
        TokenBucket hourly(1.0 / 3600, 1); // one an hour
        QCOMPARE(hourly.take(0), 0u);
        QCOMPARE(hourly.take(0), 3'600'000u);
        QCOMPARE(hourly.take(1'800'000), 1'800'000u);
        QCOMPARE(hourly.take(3'600'000), 0u);
    }

    // waitMs() answers as take() would, and takes nothing.
    void waitingDoesNotTake()
    {
        TokenBucket bucket(5, 2);
        QCOMPARE(bucket.waitMs(0), 0u);
        QCOMPARE(bucket.take(0), 0u);
        QCOMPARE(bucket.waitMs(0), 0u);
        QCOMPARE(bucket.waitMs(0), 0u); // still the second token
        QCOMPARE(bucket.take(0), 0u);
        QCOMPARE(bucket.waitMs(0), 200u);
        QCOMPARE(bucket.waitMs(150), 50u);
        QCOMPARE(bucket.waitMs(200), 0u);
        QCOMPARE(bucket.take(150), 50u);
        QCOMPARE(bucket.take(200), 0u);
    }

    void keyedBucketsAreIndependentAndForgetRefilledKeys()
    {
        KeyedBuckets buckets(1, 2); // 1/s, burst 2, per key
        const QString a = QStringLiteral("addr:a");
        const QString b = QStringLiteral("addr:b");
        qint64 now = 5000;
        QCOMPARE(buckets.take(a, now), 0u);
        QCOMPARE(buckets.take(a, now), 0u);
        QCOMPARE(buckets.take(a, now), 1000u);
        QCOMPARE(buckets.take(b, now), 0u); // b has its own bucket
        QCOMPARE(buckets.size(), 2);

        now += 1000; // b is full again, a has one token
        buckets.forgetRefilled(now);
        QCOMPARE(buckets.size(), 1);
        QCOMPARE(buckets.take(a, now), 0u);
        QVERIFY(buckets.take(a, now) > 0); // a was not forgotten: still empty
        now += 2000;
        buckets.forgetRefilled(now);
        QCOMPARE(buckets.size(), 0);
        QCOMPARE(buckets.take(a, now), 0u); // as good as new
        QCOMPARE(buckets.take(a, now), 0u);
    }

    void throttleLocksOutAndDoubles()
    {
        LoginThrottle throttle(3, 1000, 8000);
        const QString key = QStringLiteral("user:alice");
        qint64 now = 50'000;
        throttle.recordFailure(key, now);
        throttle.recordFailure(key, now);
        QCOMPARE(throttle.retryAfterMs(key, now), 0u);
        throttle.recordFailure(key, now); // the third: locked for 1 s
        QCOMPARE(throttle.retryAfterMs(key, now), 1000u);
        QCOMPARE(throttle.retryAfterMs(QStringLiteral("user:bob"), now), 0u);
        now += 1000;
        QCOMPARE(throttle.retryAfterMs(key, now), 0u);
        throttle.recordFailure(key, now); // then 2 s, 4 s, 8 s, 8 s
        QCOMPARE(throttle.retryAfterMs(key, now), 2000u);
        throttle.recordFailure(key, now);
        QCOMPARE(throttle.retryAfterMs(key, now), 4000u);
        throttle.recordFailure(key, now);
        QCOMPARE(throttle.retryAfterMs(key, now), 8000u);
        throttle.recordFailure(key, now);
        QCOMPARE(throttle.retryAfterMs(key, now), 8000u);

        throttle.recordSuccess(key);
        QCOMPARE(throttle.retryAfterMs(key, now), 0u);
        throttle.recordFailure(key, now);
        QCOMPARE(throttle.retryAfterMs(key, now), 0u);
    }

    void oldFailuresAreForgotten()
    {
        LoginThrottle throttle(2, 1000, 8000);
        const QString key = QStringLiteral("addr:192.0.2.1");
        qint64 now = 0;
        throttle.recordFailure(key, now);
        now += 60 * 60 * 1000; // an hour later the count starts over
        throttle.recordFailure(key, now);
        QCOMPARE(throttle.retryAfterMs(key, now), 0u);
        throttle.recordFailure(key, now);
        QCOMPARE(throttle.retryAfterMs(key, now), 1000u);
    }

    // Parallel guesses: an attempt counts from the moment it is begun, so
    // with the free failures all in flight the next one waits, and the
    // lockout comes as soon as they have failed.
    void attemptsCountBeforeTheyAreChecked()
    {
        LoginThrottle throttle(3, 1000, 8000);
        const QString key = QStringLiteral("user:alice");
        const qint64 now = 100;
        int begun = 0;
        for (int i = 0; i < 40; ++i)
            begun += throttle.begin(key, now) == 0 ? 1 : 0;
        QCOMPARE(begun, 3);
        for (int i = 0; i < begun; ++i)
            throttle.finish(key, now, LoginThrottle::Outcome::Failed);
        QCOMPARE(throttle.retryAfterMs(key, now), 1000u);
        QVERIFY(throttle.begin(key, now) > 0);
    }

    void attemptsInFlightAreBoundedPerKey()
    {
        LoginThrottle throttle(20, 1000, 8000, 2);
        const QString key = QStringLiteral("addr:192.0.2.1");
        QCOMPARE(throttle.begin(key, 0), 0u);
        QCOMPARE(throttle.begin(key, 0), 0u);
        QVERIFY(throttle.begin(key, 0) > 0);
        throttle.finish(key, 0, LoginThrottle::Outcome::Neutral);
        QCOMPARE(throttle.begin(key, 0), 0u);
    }

    // A right password forgets the account's failures, even those of
    // attempts still in flight (which then finish as they will).
    void successClearsTheAccount()
    {
        LoginThrottle throttle(3, 1000, 8000);
        const QString key = QStringLiteral("user:alice");
        throttle.recordFailure(key, 0);
        throttle.recordFailure(key, 0);
        QCOMPARE(throttle.begin(key, 0), 0u);
        throttle.finish(key, 0, LoginThrottle::Outcome::Succeeded);
        QCOMPARE(throttle.size(), 0);
        for (int i = 0; i < 3; ++i)
            QCOMPARE(throttle.begin(key, 0), 0u);
    }

    // Failures for many other names (an attacker filling the table) must not
    // unlock a victim: a full table forgets expired and least recently used
    // entries, never a lockout that still runs.
    void aFullTableKeepsItsLockouts()
    {
        LoginThrottle throttle(2, 60'000, 60'000, 0, 64);
        const QString victim = QStringLiteral("user:victim");
        throttle.recordFailure(victim, 0);
        throttle.recordFailure(victim, 0);
        QCOMPARE(throttle.retryAfterMs(victim, 0), 60'000u);
        for (int i = 0; i < 10'000; ++i)
            throttle.recordFailure(QStringLiteral("user:x%1").arg(i), 10 + i);
        QVERIFY(throttle.size() <= 64);
        QVERIFY(throttle.retryAfterMs(victim, 20'000) > 0);
        // A table holding nothing but lockouts refuses a new name rather than forget one.
        LoginThrottle locked(1, 60'000, 60'000, 0, 4);
        for (int i = 0; i < 4; ++i)
            locked.recordFailure(QStringLiteral("user:l%1").arg(i), 0);
        QVERIFY(locked.begin(QStringLiteral("user:new"), 1) > 0);
        for (int i = 0; i < 4; ++i)
            QVERIFY(locked.retryAfterMs(QStringLiteral("user:l%1").arg(i), 1) > 0);
    }

    // A full bucket table forgets refilled buckets, then the least recently
    // used; it never starts over.
    void fullBucketTableForgetsLeastRecentlyUsed()
    {
        KeyedBucketTable<quint64> buckets(0.0001, 1, 16); // one token, refilled in hours
        QCOMPARE(buckets.take(1, 0), 0u);
        for (quint64 key = 2; key <= 200; ++key) {
            QCOMPARE(buckets.take(key, qint64(key)), 0u);
            // The most recently used key is still limited.
            QVERIFY(buckets.take(key, qint64(key)) > 0);
            QVERIFY(buckets.size() <= 16);
        }
    }

    // Each kind of request has its own budget, per user.
    void requestBudgetsArePerUserAndKind()
    {
        RequestBudgetOptions options;
        options.groupChange = {0.001, 2};
        options.typing = {0, 1}; // rate 0: no limit
        RequestBudgets budgets(options);
        QCOMPARE(budgets.take(1, RequestKind::GroupChange, 0), 0u);
        QCOMPARE(budgets.take(1, RequestKind::GroupChange, 0), 0u);
        const quint32 wait = budgets.take(1, RequestKind::GroupChange, 0);
        QVERIFY(wait > 0);
        QCOMPARE(budgets.take(2, RequestKind::GroupChange, 0), 0u); // another user
        QCOMPARE(budgets.take(1, RequestKind::Send, 0), 0u);        // another kind
        for (int i = 0; i < 100; ++i)
            QCOMPARE(budgets.take(1, RequestKind::Typing, 0), 0u);
    }

    // Every body of the Envelope is one a server sends, one that needs no
    // budget of its own (ping: a budget per connection; pong; hello and the
    // authentication requests: limits per address and account), or a request
    // with a kind. A body added later (a file transfer, say) that is none of
    // these fails here until it is given a kind, rather than go unbudgeted.
    void everyRequestBodyHasAKind()
    {
        const std::set<std::string> notBudgeted = {
            // sent by the server only
            "error", "ok", "compressed", "hello_ok", "auth_ok", "device_list", "user_list",
            "user_profile", "presence", "profile", "send_ack", "message", "pull_response",
            "sync_response", "read", "typing_push", "conversation", "conversation_removed",
            "member_list", "upload_ticket", "chat_state", "chat_state_push",
            "chat_state_sync_response",
            // keep-alive, and before authentication
            "ping", "pong", "hello", "register", "login", "resume"};
        const auto *body = v1::Envelope::descriptor()->FindOneofByName("body");
        QVERIFY(body);
        int requests = 0;
        for (int i = 0; i < body->field_count(); ++i) {
            const std::string name = body->field(i)->name();
            if (notBudgeted.contains(name))
                continue;
            ++requests;
            const auto number = v1::Envelope::BodyCase(body->field(i)->number());
            QVERIFY2(RequestBudgets::kindOf(number).has_value(), name.c_str());
        }
        QVERIFY(requests >= 17); // those of docs/security.md's per-user table, at least
    }
};

QTEST_GUILESS_MAIN(TestRateLimit)
#include "tst_rate_limit.moc"
