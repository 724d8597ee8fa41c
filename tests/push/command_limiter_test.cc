// CommandLimiter without sockets or clocks: the burst, the refill rate, the refusal window
// that closes a flooding connection, and a rate of 0 (no limit).
#include "push/command_limiter.h"

#include <gtest/gtest.h>

namespace ringcast::push {
namespace {

using Verdict = CommandLimiter::Verdict;

TEST(CommandLimiter, ANewConnectionMaySendItsBurstAtOnceAndThenIsRefused) {
  const CommandRate rate{10, 5};
  CommandLimiter limiter(rate, 1000);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter.admit(rate, 1000), Verdict::kAccept) << i;
  EXPECT_EQ(limiter.admit(rate, 1000), Verdict::kRefuse);
}

TEST(CommandLimiter, TokensComeBackAtTheRateUpToTheBurst) {
  const CommandRate rate{10, 5};  // one token per 100 ms
  CommandLimiter limiter(rate, 0);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(limiter.admit(rate, 0), Verdict::kAccept);
  EXPECT_EQ(limiter.admit(rate, 99), Verdict::kRefuse) << "99 ms is not yet a token";
  EXPECT_EQ(limiter.admit(rate, 100), Verdict::kAccept);
  EXPECT_EQ(limiter.admit(rate, 100), Verdict::kRefuse);
  // Fractions add up: 50 ms + 50 ms is one token.
  EXPECT_EQ(limiter.admit(rate, 150), Verdict::kRefuse);
  EXPECT_EQ(limiter.admit(rate, 200), Verdict::kAccept);
  // A long quiet spell refills the bucket to the burst, not beyond.
  int accepted = 0;
  while (limiter.admit(rate, 100'000) == Verdict::kAccept) ++accepted;
  EXPECT_EQ(accepted, 5);
}

TEST(CommandLimiter, AClientThatKeepsSteadyUnderTheRateIsNeverRefused) {
  const CommandRate rate{100, 200};
  CommandLimiter limiter(rate, 0);
  for (int64_t ms = 0; ms < 60'000; ms += 10) {
    ASSERT_EQ(limiter.admit(rate, ms), Verdict::kAccept) << ms;  // exactly 100/s
  }
}

TEST(CommandLimiter, SustainedRefusalsWithinTheWindowClose) {
  const CommandRate rate{1, 1};
  CommandLimiter limiter(rate, 0);
  ASSERT_EQ(limiter.admit(rate, 0), Verdict::kAccept);
  for (uint32_t i = 1; i < CommandLimiter::kMaxRefused; ++i) {
    ASSERT_EQ(limiter.admit(rate, 0), Verdict::kRefuse) << i;
  }
  EXPECT_EQ(limiter.admit(rate, 0), Verdict::kClose);
}

TEST(CommandLimiter, RefusalsSpreadOverLongerThanTheWindowDoNotClose) {
  const CommandRate rate{1, 1};
  CommandLimiter limiter(rate, 0);
  // Each second: the one token, then refusals; fewer than kMaxRefused per window.
  const uint32_t perSecond =
      CommandLimiter::kMaxRefused * 1000 / CommandLimiter::kRefusedWindowMs / 2;
  ASSERT_GT(perSecond, 0u);
  for (int64_t s = 0; s < 60; ++s) {
    ASSERT_EQ(limiter.admit(rate, s * 1000), Verdict::kAccept) << s;
    for (uint32_t i = 0; i < perSecond; ++i) {
      ASSERT_EQ(limiter.admit(rate, s * 1000), Verdict::kRefuse) << s;
    }
  }
}

// The window is counted from its first refusal, to the millisecond, also when the clock
// moved in steps between commands (the limiter keeps the window's age, not its start).
TEST(CommandLimiter, TheWindowEndsExactlyItsLengthAfterItsFirstRefusal) {
  const CommandRate rate{1, 1};  // one token per second, so a busy client is refused
  CommandLimiter limiter(rate, 0);
  ASSERT_EQ(limiter.admit(rate, 0), Verdict::kAccept);
  ASSERT_EQ(limiter.admit(rate, 500), Verdict::kRefuse);  // opens the window at 500 ms
  int64_t now = 500;
  uint32_t refused = 1;
  // Refused until a second has passed, then one accept per second: refusals at 1/ms in
  // between, up to just under the window's end.
  while (refused < CommandLimiter::kMaxRefused - 1) {
    now += 1;
    if (limiter.admit(rate, now) == Verdict::kRefuse) ++refused;
  }
  ASSERT_LT(now, 500 + CommandLimiter::kRefusedWindowMs);
  // Far past the window's end: the next refusal starts a new window and does not close.
  now = 500 + 3 * CommandLimiter::kRefusedWindowMs;
  while (limiter.admit(rate, now) == Verdict::kAccept) {
  }
  EXPECT_EQ(limiter.admit(rate, now), Verdict::kRefuse);
}

// A quiet spell of days refills the bucket to its burst, no more (the refill is bounded
// before it is multiplied, so the arithmetic stays in range).
TEST(CommandLimiter, ALongQuietSpellRefillsToTheBurstOnly) {
  const CommandRate rate{1'000'000, 3};
  CommandLimiter limiter(rate, 0);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(limiter.admit(rate, 0), Verdict::kAccept);
  ASSERT_EQ(limiter.admit(rate, 0), Verdict::kRefuse);
  const int64_t days = int64_t{5} * 24 * 3600 * 1000;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.admit(rate, days), Verdict::kAccept) << i;
  EXPECT_EQ(limiter.admit(rate, days), Verdict::kRefuse);
}

// The packed limiter is one of every session's fields.
static_assert(sizeof(CommandLimiter) == 16);

TEST(CommandLimiter, ARateOfZeroIsNoLimit) {
  const CommandRate rate{0, 1};
  CommandLimiter limiter(rate, 0);
  for (int i = 0; i < 100'000; ++i) ASSERT_EQ(limiter.admit(rate, 0), Verdict::kAccept);
}

}  // namespace
}  // namespace ringcast::push
