#include "bench/client/histogram.h"

#include <cmath>
#include <cstring>

namespace ringcast::bench {
namespace {

void putU64(std::string& out, uint64_t v) {
  out.append(reinterpret_cast<const char*>(&v), 8);
}

bool getU64(std::string_view* in, uint64_t* v) {
  if (in->size() < 8) return false;
  std::memcpy(v, in->data(), 8);
  in->remove_prefix(8);
  return true;
}

}  // namespace

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  sum_ += other.sum_;
  if (other.total_ > 0) {
    if (other.max_ > max_) max_ = other.max_;
    if (other.min_ < min_) min_ = other.min_;
  }
}

uint64_t Histogram::percentile(double fraction) const {
  if (total_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(total_)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return upperBoundOf(i) < max_ ? upperBoundOf(i) : max_;
  }
  return max_;
}

void Histogram::appendTo(std::string& out) const {
  uint64_t nonZero = 0;
  for (uint64_t c : counts_) nonZero += c != 0;
  putU64(out, nonZero);
  putU64(out, total_);
  putU64(out, sum_);
  putU64(out, max_);
  putU64(out, min_);
  for (size_t i = 0; i < kBuckets; ++i) {
    if (counts_[i] == 0) continue;
    putU64(out, i);
    putU64(out, counts_[i]);
  }
}

bool Histogram::readFrom(std::string_view* in) {
  Histogram h;
  uint64_t nonZero;
  if (!getU64(in, &nonZero) || !getU64(in, &h.total_) || !getU64(in, &h.sum_) ||
      !getU64(in, &h.max_) || !getU64(in, &h.min_)) {
    return false;
  }
  for (uint64_t k = 0; k < nonZero; ++k) {
    uint64_t index, count;
    if (!getU64(in, &index) || !getU64(in, &count) || index >= kBuckets) return false;
    h.counts_[index] = count;
  }
  *this = h;
  return true;
}

}  // namespace ringcast::bench
