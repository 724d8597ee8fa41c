// SeqTracker: what one subscriber has received from one publisher, for loss, duplicate and
// order accounting. It remembers the highest sequence number seen and, in a ring of
// kWindow bits, which of the kWindow numbers up to it arrived, so a late message is told
// apart from a duplicate as long as it is less than kWindow behind. A message further behind
// is counted as beyondWindow (and as unique: it cannot be checked any more).
//
// Sequence numbers start at 1. Pure; owned by one subscriber on one loop thread.
#pragma once

#include <cstdint>

namespace ringcast::bench {

class SeqTracker {
 public:
  // How far behind the newest message a late one can still be checked (bits per tracker).
  static constexpr uint64_t kWindow = 1024;

  enum class Verdict : uint8_t {
    kInOrder,       // the next number, or a jump forward (the numbers skipped may come later)
    kLate,          // a number below the highest seen that had not arrived yet
    kDuplicate,     // arrived before
    kBeyondWindow,  // below the window: counted as unique and late, not checkable
  };

  Verdict record(uint64_t seq);

  uint64_t unique() const { return unique_; }
  uint64_t highest() const { return highest_; }
  // Numbers in [1, expected] never received: expected minus the unique ones at or below it
  // (numbers above `expected`, e.g. from a publish whose answer was lost, are told apart
  // while they are within the window of the highest).
  uint64_t lostOf(uint64_t expected) const {
    return expected > uniqueUpTo(expected) ? expected - uniqueUpTo(expected) : 0;
  }

 private:
  static constexpr uint64_t kWords = kWindow / 64;
  bool test(uint64_t seq) const { return bits_[(seq / 64) % kWords] >> (seq % 64) & 1; }
  void set(uint64_t seq) { bits_[(seq / 64) % kWords] |= uint64_t{1} << (seq % 64); }
  void clear(uint64_t seq) { bits_[(seq / 64) % kWords] &= ~(uint64_t{1} << (seq % 64)); }
  uint64_t uniqueUpTo(uint64_t expected) const;

  uint64_t highest_ = 0;
  uint64_t unique_ = 0;
  uint64_t bits_[kWords] = {};
};

}  // namespace ringcast::bench
