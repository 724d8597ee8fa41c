#include "net/timer_wheel.h"

#include <gtest/gtest.h>

#include <vector>

namespace ringcast::net {
namespace {

struct Fired {
  static inline std::vector<std::pair<TimerNode*, int64_t>> log;
  static void record(TimerNode* node, int64_t nowMs) { log.emplace_back(node, nowMs); }
};

class TimerWheelTest : public ::testing::Test {
 protected:
  void SetUp() override { Fired::log.clear(); }
};

TEST_F(TimerWheelTest, FiresAtTheDeadlineAndNotBefore) {
  TimerWheel wheel(1000, &Fired::record);
  TimerNode a, b;
  wheel.arm(&a, 1200);
  wheel.arm(&b, 1500);
  EXPECT_EQ(wheel.size(), 2u);
  wheel.advance(1199);
  EXPECT_TRUE(Fired::log.empty());
  wheel.advance(1200);
  ASSERT_EQ(Fired::log.size(), 1u);
  EXPECT_EQ(Fired::log[0].first, &a);
  EXPECT_FALSE(a.armed());
  wheel.advance(1499);
  EXPECT_EQ(Fired::log.size(), 1u);
  wheel.advance(1600);
  ASSERT_EQ(Fired::log.size(), 2u);
  EXPECT_EQ(Fired::log[1].first, &b);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(TimerWheelTest, RearmMovesAndCancelRemoves) {
  TimerWheel wheel(0, &Fired::record);
  TimerNode a, b;
  wheel.arm(&a, 100);
  wheel.arm(&a, 5000);  // moved later
  wheel.arm(&b, 200);
  wheel.cancel(&b);
  wheel.cancel(&b);  // idempotent
  EXPECT_EQ(wheel.size(), 1u);
  wheel.advance(4999);
  EXPECT_TRUE(Fired::log.empty());
  wheel.advance(5000);
  ASSERT_EQ(Fired::log.size(), 1u);
  EXPECT_EQ(Fired::log[0].first, &a);
}

TEST_F(TimerWheelTest, DeadlinesBeyondOneTurnWaitForTheirTurn) {
  TimerWheel wheel(0, &Fired::record);
  const int64_t turnMs = TimerWheel::kTickMs * static_cast<int64_t>(TimerWheel::kSlots);
  TimerNode far;
  wheel.arm(&far, 3 * turnMs + 75);
  for (int64_t t = 0; t < 3 * turnMs + 75; t += 40) wheel.advance(t);
  EXPECT_TRUE(Fired::log.empty());
  wheel.advance(3 * turnMs + 100);
  ASSERT_EQ(Fired::log.size(), 1u);
}

TEST_F(TimerWheelTest, ALongSleepFiresEverythingDueOnce) {
  TimerWheel wheel(0, &Fired::record);
  std::vector<TimerNode> nodes(500);
  for (size_t i = 0; i < nodes.size(); ++i) wheel.arm(&nodes[i], 10 + static_cast<int64_t>(i) * 97);
  wheel.advance(10'000'000);
  EXPECT_EQ(Fired::log.size(), nodes.size());
  EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(TimerWheelTest, AFiredNodeMayRearmItself) {
  static TimerWheel* wheelPtr;
  TimerWheel wheel(0, [](TimerNode* n, int64_t now) {
    Fired::record(n, now);
    if (Fired::log.size() < 3) wheelPtr->arm(n, now + 100);
  });
  wheelPtr = &wheel;
  TimerNode a;
  wheel.arm(&a, 100);
  for (int64_t t = 0; t <= 1000; t += 10) wheel.advance(t);
  ASSERT_EQ(Fired::log.size(), 3u);
  EXPECT_GE(Fired::log[1].second - Fired::log[0].second, 100);
  EXPECT_GE(Fired::log[2].second - Fired::log[1].second, 100);
}

TEST_F(TimerWheelTest, NextTickIsReportedOnlyWhenSomethingIsArmed) {
  TimerWheel wheel(1000, &Fired::record);
  EXPECT_EQ(wheel.msUntilNextTick(1000), -1);
  TimerNode a;
  wheel.arm(&a, 5000);
  int64_t wait = wheel.msUntilNextTick(1000);
  EXPECT_GE(wait, 0);
  EXPECT_LE(wait, TimerWheel::kTickMs);
}

}  // namespace
}  // namespace ringcast::net
