#pragma once
// LatencyHistogram counts latencies in logarithmic buckets (about 1 % wide),
// small enough to ship from every worker to the parent as one text field and
// merge there, so percentiles cover all workers' samples.

#include <cstdint>
#include <map>
#include <string>

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

} // namespace kith::bench
