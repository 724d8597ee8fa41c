// RateBudget: turns a rate into whole events. Pure.
#pragma once

#include <cstdint>

namespace ringcast::bench {

// allowance(now) says how many of the events due since
// start() have not been taken yet. Pure.
class RateBudget {
 public:
  void start(double perSec, int64_t nowNs) {
    perSec_ = perSec;
    startNs_ = nowNs;
    taken_ = 0;
  }
  bool limited() const { return perSec_ > 0; }
  uint64_t allowance(int64_t nowNs) const {
    if (perSec_ <= 0) return UINT64_MAX;
    const double due = perSec_ * static_cast<double>(nowNs - startNs_) / 1e9 + 1;
    const uint64_t dueCount = due > 0 ? static_cast<uint64_t>(due) : 0;
    return dueCount > taken_ ? dueCount - taken_ : 0;
  }
  void take(uint64_t n = 1) { taken_ += n; }

 private:
  double perSec_ = 0;
  int64_t startNs_ = 0;
  uint64_t taken_ = 0;
};

}  // namespace ringcast::bench
