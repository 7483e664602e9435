// The rate limits on a driven clock: the per-connection send bucket, the
// per-address buckets, and the failed-login throttle (free failures, doubling lockout, cap,
// forgetting).

#include "rate_limit.h"

#include <QTest>

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
};

QTEST_GUILESS_MAIN(TestRateLimit)
#include "tst_rate_limit.moc"
