// ZipfSampler: which channel the next publish goes to. Channel i (0-based) is drawn with
// probability (i+1)^-s / H(n, s), where H(n, s) = sum over k = 1..n of k^-s: the Zipf law
// over n ranks, channel 0 the hottest. s = 0 is the uniform distribution (every channel
// 1/n). Exact for any n and s >= 0: the cumulative distribution is tabulated once (n doubles)
// and each draw is one uniform number in [0, 1) looked up by binary search.
//
// Deterministic: the same (n, s, seed) gives the same sequence on every machine (xorshift64*
// and IEEE doubles), so a run's publish pattern can be repeated with --seed.
//
// Pure; one owner (not thread-safe).
#pragma once

#include <cstdint>
#include <vector>

#include "bench/client/client_frames.h"

namespace ringcast::bench {

class ZipfSampler {
 public:
  // REQUIRES: n >= 1, s >= 0.
  ZipfSampler(uint32_t n, double s, uint64_t seed);

  uint32_t next();
  // The probability of channel i.
  double probability(uint32_t i) const;
  uint32_t size() const { return n_; }

 private:
  double uniform01();

  uint32_t n_;
  double s_;
  FastRandom random_;
  std::vector<double> cdf_;  // cdf_[i] = P(channel <= i); empty when uniform
};

}  // namespace ringcast::bench
