#include "bench/client/seq_tracker.h"

namespace ringcast::bench {

SeqTracker::Verdict SeqTracker::record(uint64_t seq) {
  if (seq > highest_) {
    // Forget the numbers that leave the window: those the new window reuses.
    if (seq - highest_ >= kWindow) {
      for (uint64_t& w : bits_) w = 0;
    } else {
      for (uint64_t s = highest_ + 1; s < seq; ++s) clear(s);
    }
    highest_ = seq;
    set(seq);
    ++unique_;
    return Verdict::kInOrder;
  }
  if (highest_ - seq >= kWindow) {
    ++unique_;
    return Verdict::kBeyondWindow;
  }
  if (test(seq)) return Verdict::kDuplicate;
  set(seq);
  ++unique_;
  return Verdict::kLate;
}

uint64_t SeqTracker::uniqueUpTo(uint64_t expected) const {
  if (highest_ <= expected) return unique_;
  uint64_t above = 0;
  const uint64_t floor = highest_ >= kWindow ? highest_ - kWindow + 1 : 1;
  for (uint64_t s = expected + 1 > floor ? expected + 1 : floor; s <= highest_; ++s) {
    above += test(s);
  }
  return unique_ > above ? unique_ - above : 0;
}

}  // namespace ringcast::bench
