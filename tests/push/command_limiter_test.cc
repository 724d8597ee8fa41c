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

TEST(CommandLimiter, ARateOfZeroIsNoLimit) {
  const CommandRate rate{0, 1};
  CommandLimiter limiter(rate, 0);
  for (int i = 0; i < 100'000; ++i) ASSERT_EQ(limiter.admit(rate, 0), Verdict::kAccept);
}

}  // namespace
}  // namespace ringcast::push
