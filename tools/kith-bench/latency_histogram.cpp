#include "latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

namespace kith::bench {

namespace {
// Bucket edges grow by 1 %: percentiles are exact to about that.
const double kLogBase = std::log(1.01);

int bucketOf(int64_t ns)
{
    const double us = std::max<double>(1.0, double(ns) / 1000.0);
    return int(std::log(us) / kLogBase);
}

double upperEdgeMs(int bucket)
{
    return std::exp(double(bucket + 1) * kLogBase) / 1000.0;
}

// The middle `coverage` of `draws`: its two end quantiles.
RatioInterval centralInterval(std::vector<double> &draws, double coverage)
{
    if (draws.empty())
        return {};
    std::sort(draws.begin(), draws.end());
    auto quantile = [&draws](double q) {
        const auto at = size_t(std::clamp(q, 0.0, 1.0) * double(draws.size() - 1) + 0.5);
        return draws[at];
    };
    return {quantile((1 - coverage) / 2), quantile((1 + coverage) / 2)};
}
} // namespace

void LatencyHistogram::add(int64_t nanoseconds)
{
    ++m_buckets[bucketOf(nanoseconds)];
    ++m_count;
}

void LatencyHistogram::merge(const LatencyHistogram &other)
{
    for (const auto &[bucket, n] : other.m_buckets)
        m_buckets[bucket] += n;
    m_count += other.m_count;
}

double LatencyHistogram::percentileMs(double fraction) const
{
    if (m_count == 0)
        return 0;
    const auto rank = uint64_t(std::ceil(fraction * double(m_count)));
    uint64_t seen = 0;
    for (const auto &[bucket, n] : m_buckets) {
        seen += n;
        if (seen >= rank)
            return upperEdgeMs(bucket);
    }
    return maxMs();
}

double LatencyHistogram::maxMs() const
{
    return m_buckets.empty() ? 0 : upperEdgeMs(m_buckets.rbegin()->first);
}

std::string LatencyHistogram::serialize() const
{
    std::string text;
    for (const auto &[bucket, n] : m_buckets) {
        if (!text.empty())
            text += ',';
        text += std::to_string(bucket) + ':' + std::to_string(n);
    }
    return text.empty() ? "-" : text;
}

LatencyHistogram LatencyHistogram::parse(const std::string &text)
{
    LatencyHistogram h;
    std::istringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        const size_t colon = item.find(':');
        if (colon == std::string::npos)
            continue;
        const uint64_t n = std::stoull(item.substr(colon + 1));
        h.m_buckets[std::stoi(item.substr(0, colon))] += n;
        h.m_count += n;
    }
    return h;
}

RatioInterval bootstrapPercentileRatio(const std::vector<LatencyHistogram> &numerator,
                                       const std::vector<LatencyHistogram> &denominator,
                                       double fraction, double coverage, int draws, uint64_t seed)
{
    if (numerator.empty() || denominator.empty() || draws < 1)
        return {};
    std::mt19937_64 random(seed);
    auto resampled = [&random](const std::vector<LatencyHistogram> &runs, double f) {
        std::uniform_int_distribution<size_t> pick(0, runs.size() - 1);
        LatencyHistogram pooled;
        for (size_t i = 0; i < runs.size(); ++i)
            pooled.merge(runs[pick(random)]);
        return pooled.percentileMs(f);
    };
    std::vector<double> ratios;
    ratios.reserve(size_t(draws));
    for (int i = 0; i < draws; ++i) {
        const double top = resampled(numerator, fraction);
        const double bottom = resampled(denominator, fraction);
        if (bottom > 0)
            ratios.push_back(top / bottom);
    }
    return centralInterval(ratios, coverage);
}

RatioInterval bootstrapMean(const std::vector<double> &values, double coverage, int draws,
                            uint64_t seed)
{
    if (values.empty() || draws < 1)
        return {};
    std::mt19937_64 random(seed);
    std::uniform_int_distribution<size_t> pick(0, values.size() - 1);
    std::vector<double> means;
    means.reserve(size_t(draws));
    for (int i = 0; i < draws; ++i) {
        double sum = 0;
        for (size_t k = 0; k < values.size(); ++k)
            sum += values[pick(random)];
        means.push_back(sum / double(values.size()));
    }
    return centralInterval(means, coverage);
}

} // namespace kith::bench
