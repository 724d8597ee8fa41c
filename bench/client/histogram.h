// Histogram: a log-linear latency histogram in the manner of HdrHistogram. Values below 128
// get a bucket each; above that every power of two is split into 64 buckets, so a reported
// percentile is within 1/64 (1.6%) of the true value. The buckets are one fixed array
// (about 17 KiB): recording is an index computation and an increment, never an allocation.
//
// Thread safety: a Histogram is a plain value owned by one thread (one per loop); merge
// copies are made after the loops stopped or in the parent process.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::bench {

class Histogram {
 public:
  // Values at or above this are recorded as kMaxValue - 1 (about 18 minutes in ns).
  static constexpr uint64_t kMaxValue = uint64_t{1} << 40;
  static constexpr int kLinearBits = 7;
  static constexpr size_t kLinearBuckets = size_t{1} << kLinearBits;  // 0..127 exact
  static constexpr size_t kHalfBuckets = kLinearBuckets / 2;          // per power of two
  static constexpr size_t kBuckets = kLinearBuckets + (40 - kLinearBits) * kHalfBuckets;

  void record(uint64_t value) {
    if (value >= kMaxValue) value = kMaxValue - 1;
    ++counts_[indexOf(value)];
    ++total_;
    if (value > max_) max_ = value;
    if (value < min_) min_ = value;
    sum_ += value;
  }
  void merge(const Histogram& other);
  void clear() { *this = Histogram(); }

  uint64_t count() const { return total_; }
  uint64_t max() const { return total_ == 0 ? 0 : max_; }
  uint64_t min() const { return total_ == 0 ? 0 : min_; }
  double mean() const { return total_ == 0 ? 0.0 : static_cast<double>(sum_) / total_; }
  // The smallest bucket upper bound below which `fraction` (0..1] of the values lie, capped
  // at the exact maximum; 0 for an empty histogram.
  uint64_t percentile(double fraction) const;

  // Sparse binary form (non-zero buckets only) for the pipe between processes.
  void appendTo(std::string& out) const;
  // Reads what appendTo wrote from the front of *in and advances it. False when malformed.
  bool readFrom(std::string_view* in);

  static constexpr size_t indexOf(uint64_t value) {
    if (value < kLinearBuckets) return static_cast<size_t>(value);
    const int power = 63 - __builtin_clzll(value);  // >= kLinearBits
    const int shift = power - (kLinearBits - 1);
    return kLinearBuckets + static_cast<size_t>(power - kLinearBits) * kHalfBuckets +
           static_cast<size_t>((value >> shift) - kHalfBuckets);
  }
  // The largest value that falls into bucket `index`.
  static constexpr uint64_t upperBoundOf(size_t index) {
    if (index < kLinearBuckets) return index;
    const size_t i = index - kLinearBuckets;
    const int power = static_cast<int>(i / kHalfBuckets) + kLinearBits;
    const int shift = power - (kLinearBits - 1);
    const uint64_t sub = i % kHalfBuckets + kHalfBuckets;
    return ((sub + 1) << shift) - 1;
  }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
  uint64_t min_ = UINT64_MAX;
};

static_assert(Histogram::indexOf(Histogram::kMaxValue - 1) + 1 == Histogram::kBuckets);

}  // namespace ringcast::bench
