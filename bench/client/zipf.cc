#include "bench/client/zipf.h"

#include <algorithm>
#include <cmath>

namespace ringcast::bench {

ZipfSampler::ZipfSampler(uint32_t n, double s, uint64_t seed)
    : n_(n < 1 ? 1 : n), s_(s), random_(seed * 0x9E3779B97F4A7C15ULL + 1) {
  if (s_ <= 0 || n_ == 1) return;
  cdf_.resize(n_);
  double sum = 0;
  for (uint32_t k = 0; k < n_; ++k) {
    sum += std::pow(static_cast<double>(k) + 1, -s_);
    cdf_[k] = sum;
  }
  for (double& c : cdf_) c /= sum;
  cdf_.back() = 1.0;
}

double ZipfSampler::uniform01() {
  return static_cast<double>(random_.next() >> 11) * 0x1.0p-53;
}

uint32_t ZipfSampler::next() {
  if (cdf_.empty()) {
    // Uniform: Lemire's multiply-shift maps 32 random bits onto [0, n) without division.
    return static_cast<uint32_t>(((random_.next() >> 32) * uint64_t{n_}) >> 32);
  }
  const double u = uniform01();
  const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
  return static_cast<uint32_t>(std::min<size_t>(it - cdf_.begin(), n_ - 1));
}

double ZipfSampler::probability(uint32_t i) const {
  if (i >= n_) return 0;
  if (cdf_.empty()) return 1.0 / n_;
  return i == 0 ? cdf_[0] : cdf_[i] - cdf_[i - 1];
}

}  // namespace ringcast::bench
