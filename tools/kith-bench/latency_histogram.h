#pragma once
// LatencyHistogram counts latencies in logarithmic buckets (about 1 % wide),
// small enough to ship from every worker to the parent as one text field and
// merge there, so percentiles cover all workers' samples.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kith::bench {

class LatencyHistogram
{
public:
    void add(int64_t nanoseconds);
    void merge(const LatencyHistogram &other);
    [[nodiscard]] uint64_t count() const { return m_count; }
    // The latency below which `fraction` of the samples lie, in milliseconds.
    [[nodiscard]] double percentileMs(double fraction) const;
    [[nodiscard]] double maxMs() const;

    // "bucket:count,bucket:count"
    [[nodiscard]] std::string serialize() const;
    [[nodiscard]] static LatencyHistogram parse(const std::string &text);

private:
    std::map<int, uint64_t> m_buckets;
    uint64_t m_count = 0;
};

// How far the ratio of two pooled percentiles (all of `numerator`'s runs
// together over all of `denominator`'s) can be trusted, when each run carries
// its own drift (a slow disk spell, a neighbour's load): the ratio over
// `draws` resamplings of each side's runs with replacement, and the
// `(1 - coverage) / 2` and `(1 + coverage) / 2` quantiles of those ratios.
// The same seed gives the same interval. {0, 0} when a side has no samples.
struct RatioInterval
{
    double low = 0;
    double high = 0;
};
[[nodiscard]] RatioInterval
bootstrapPercentileRatio(const std::vector<LatencyHistogram> &numerator,
                         const std::vector<LatencyHistogram> &denominator, double fraction,
                         double coverage = 0.9, int draws = 2000, uint64_t seed = 1);

// The same kind of interval for the mean of `values` (say, each round's log
// ratio against the quiet runs on either side of it, which cancels the drift
// the rounds share): the quantiles of the mean over `draws` resamplings.
[[nodiscard]] RatioInterval bootstrapMean(const std::vector<double> &values, double coverage = 0.9,
                                          int draws = 2000, uint64_t seed = 1);

} // namespace kith::bench
