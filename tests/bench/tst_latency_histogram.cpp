// kith-bench's latency histogram: its percentiles, and the bootstrap interval
// the priority measurement prints for its pooled p99 ratio.
#include "latency_histogram.h"

#include <QTest>

using kith::bench::bootstrapMean;
using kith::bench::bootstrapPercentileRatio;
using kith::bench::LatencyHistogram;

namespace {

// A run of `count` samples spread evenly from `fromUs` to `toUs` microseconds.
LatencyHistogram run(int count, int64_t fromUs, int64_t toUs)
{
    LatencyHistogram h;
    for (int i = 0; i < count; ++i)
        h.add((fromUs + (toUs - fromUs) * i / (count - 1)) * 1000);
    return h;
}

} // namespace

class TestLatencyHistogram : public QObject
{
    Q_OBJECT
private slots:
    void percentilesAreWithinABucket()
    {
        const LatencyHistogram h = run(1001, 0, 10'000); // 0 .. 10 ms in 10 us steps
        QVERIFY(qAbs(h.percentileMs(0.50) - 5.0) <= 5.0 * 0.011);
        QVERIFY(qAbs(h.percentileMs(0.99) - 9.9) <= 9.9 * 0.011);
        const LatencyHistogram back = LatencyHistogram::parse(h.serialize());
        QCOMPARE(back.count(), h.count());
        QCOMPARE(back.percentileMs(0.99), h.percentileMs(0.99));
    }

    void identicalRunsGiveAnIntervalOfOne()
    {
        const std::vector<LatencyHistogram> runs(6, run(500, 200, 4000));
        const auto interval = bootstrapPercentileRatio(runs, runs, 0.99);
        QCOMPARE(interval.low, 1.0);
        QCOMPARE(interval.high, 1.0);
    }

    void aSteadyShiftIsMeasuredTightly()
    {
        std::vector<LatencyHistogram> quiet, loaded;
        for (int i = 0; i < 8; ++i) {
            quiet.push_back(run(500, 200 + i, 4000 + i));
            loaded.push_back(run(500, 400 + 2 * i, 8000 + 2 * i));
        }
        const auto interval = bootstrapPercentileRatio(loaded, quiet, 0.99);
        QVERIFY2(interval.low >= 1.96 && interval.high <= 2.04,
                 qPrintable(QStringLiteral("%1 .. %2").arg(interval.low).arg(interval.high)));
    }

    void oneSlowRunWidensTheInterval()
    {
        // Seven quiet runs with a 4 ms tail and one with a 12 ms tail: the
        // pooled p99 depends on whether that run is drawn, and the interval
        // must say so instead of claiming a precise ratio.
        std::vector<LatencyHistogram> quiet(7, run(500, 200, 4000));
        quiet.push_back(run(500, 200, 12'000));
        const std::vector<LatencyHistogram> loaded(8, run(500, 200, 4400));
        const auto interval = bootstrapPercentileRatio(loaded, quiet, 0.99);
        QVERIFY2(interval.low < 1.0 && interval.high > 1.05,
                 qPrintable(QStringLiteral("%1 .. %2").arg(interval.low).arg(interval.high)));
        const auto again = bootstrapPercentileRatio(loaded, quiet, 0.99);
        QCOMPARE(again.low, interval.low); // same seed, same draws
        QCOMPARE(again.high, interval.high);
    }

    void meanIntervalCoversTheMeanAndNarrowsWithMoreValues()
    {
        const std::vector<double> same(10, 0.05);
        const auto point = bootstrapMean(same);
        QCOMPARE(point.low, 0.05);
        QCOMPARE(point.high, 0.05);

        // Alternating -0.1 / +0.2: mean 0.05, and with 4 times the values
        // the interval is about half as wide.
        std::vector<double> few, many;
        for (int i = 0; i < 16; ++i)
            few.push_back(i % 2 ? 0.2 : -0.1);
        for (int i = 0; i < 64; ++i)
            many.push_back(i % 2 ? 0.2 : -0.1);
        const auto wide = bootstrapMean(few);
        const auto narrow = bootstrapMean(many);
        QVERIFY(wide.low < 0.05 && wide.high > 0.05);
        QVERIFY(narrow.low < 0.05 && narrow.high > 0.05);
        const double ratio = (wide.high - wide.low) / (narrow.high - narrow.low);
        QVERIFY2(ratio > 1.6 && ratio < 2.5, qPrintable(QString::number(ratio)));
        QCOMPARE(bootstrapMean({}).high, 0.0);
    }

    void noSamplesGiveNoInterval()
    {
        const auto interval =
            bootstrapPercentileRatio({}, std::vector<LatencyHistogram>(2, run(10, 1, 2)), 0.99);
        QCOMPARE(interval.low, 0.0);
        QCOMPARE(interval.high, 0.0);
    }
};

QTEST_GUILESS_MAIN(TestLatencyHistogram)
#include "tst_latency_histogram.moc"
