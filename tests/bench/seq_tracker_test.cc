#include "bench/client/seq_tracker.h"

#include <gtest/gtest.h>

namespace ringcast::bench {
namespace {

using V = SeqTracker::Verdict;

TEST(SeqTrackerTest, InOrderStreamHasNoLoss) {
  SeqTracker t;
  for (uint64_t s = 1; s <= 5000; ++s) EXPECT_EQ(t.record(s), V::kInOrder);
  EXPECT_EQ(t.unique(), 5000u);
  EXPECT_EQ(t.lostOf(5000), 0u);
  EXPECT_EQ(t.lostOf(5003), 3u);  // published but never delivered
}

TEST(SeqTrackerTest, GapsDuplicatesAndLateArrivalsAreToldApart) {
  SeqTracker t;
  EXPECT_EQ(t.record(1), V::kInOrder);
  EXPECT_EQ(t.record(3), V::kInOrder);  // 2 is missing for now
  EXPECT_EQ(t.record(3), V::kDuplicate);
  EXPECT_EQ(t.record(2), V::kLate);
  EXPECT_EQ(t.record(2), V::kDuplicate);
  EXPECT_EQ(t.record(1), V::kDuplicate);
  EXPECT_EQ(t.record(10), V::kInOrder);  // 4..9 lost
  EXPECT_EQ(t.unique(), 4u);
  EXPECT_EQ(t.lostOf(10), 6u);
}

TEST(SeqTrackerTest, WindowMovesAndForgetsOldNumbers) {
  SeqTracker t;
  const uint64_t w = SeqTracker::kWindow;
  EXPECT_EQ(t.record(1), V::kInOrder);
  EXPECT_EQ(t.record(w + 5), V::kInOrder);
  // 2..w+4 missing; those within the window are still checkable.
  EXPECT_EQ(t.record(w + 4), V::kLate);
  EXPECT_EQ(t.record(w + 4), V::kDuplicate);
  EXPECT_EQ(t.record(6), V::kLate);
  EXPECT_EQ(t.record(5), V::kBeyondWindow);  // w behind the highest
  // A jump past the whole window clears it: nothing stale is seen as a duplicate.
  EXPECT_EQ(t.record(5 * w), V::kInOrder);
  EXPECT_EQ(t.record(5 * w - 1), V::kLate);
  EXPECT_EQ(t.record(4 * w + 1), V::kLate);
}

TEST(SeqTrackerTest, NumbersAboveTheExpectedCountAreNotCountedAgainstLoss) {
  SeqTracker t;
  for (uint64_t s = 1; s <= 12; ++s) t.record(s);
  // Only 10 publishes were confirmed; 11 and 12 arrived anyway.
  EXPECT_EQ(t.lostOf(10), 0u);
  SeqTracker u;
  for (uint64_t s : {1, 2, 4, 11, 12}) u.record(s);
  EXPECT_EQ(u.lostOf(10), 7u);  // 3, 5..10
}

}  // namespace
}  // namespace ringcast::bench
