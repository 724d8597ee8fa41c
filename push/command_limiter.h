// CommandLimiter: the per-connection command rate limit, a token bucket plus the rule for
// sustained abuse. A pure function of the times it is given (no clock, no socket), so it is
// tested without either.
//
// Every command a client sends (any data message, valid or not) takes one token. Tokens
// come back at `ratePerSec`, up to `burst`; a new connection starts with a full bucket. A
// command that finds no token is refused (the caller answers `rate_limited`). A client that
// goes on regardless, kMaxRefused refused commands within kRefusedWindowMs of the first of
// them, is closed (the caller closes with 1008). A rate of 0 turns the limit off.
//
// Thread safety: a value type, owned by one Session on its loop.
#pragma once

#include <algorithm>
#include <cstdint>

namespace ringcast::push {

struct CommandRate {
  uint64_t perSec = 100;  // tokens added per second; 0: no limit
  uint64_t burst = 200;   // bucket size: commands a quiet client may send at once
};

class CommandLimiter {
 public:
  enum class Verdict : uint8_t {
    kAccept,  // run the command
    kRefuse,  // answer it with rate_limited
    kClose,   // sustained abuse: close the connection
  };

  // Refused commands within one window that close the connection: far more than a client
  // that backs off on its first `rate_limited` ever sees.
  static constexpr uint32_t kMaxRefused = 100;
  // The window those refusals are counted in, from the first refusal of the window.
  static constexpr int64_t kRefusedWindowMs = 10'000;

  CommandLimiter(const CommandRate& rate, int64_t nowMs)
      : lastMs_(nowMs), milliTokens_(full(rate)) {}

  // One command at `nowMs` (monotonic, never decreasing).
  Verdict admit(const CommandRate& rate, int64_t nowMs) {
    if (rate.perSec == 0) return Verdict::kAccept;
    if (nowMs > lastMs_) {
      // perSec tokens per 1000 ms: perSec milli-tokens per ms, exactly.
      const uint64_t elapsedMs = std::min(static_cast<uint64_t>(nowMs - lastMs_), kMaxRefillMs);
      milliTokens_ = static_cast<uint32_t>(
          std::min<uint64_t>(full(rate), milliTokens_ + elapsedMs * rate.perSec));
      windowAgeMs_ =
          static_cast<uint16_t>(std::min<uint64_t>(windowAgeMs_ + elapsedMs, kRefusedWindowMs));
      lastMs_ = nowMs;
    }
    if (milliTokens_ >= kMilli) {
      milliTokens_ -= kMilli;
      return Verdict::kAccept;
    }
    if (refused_ == 0 || windowAgeMs_ >= kRefusedWindowMs) {
      windowAgeMs_ = 0;  // a new window starts with this refusal
      refused_ = 0;
    }
    return ++refused_ >= kMaxRefused ? Verdict::kClose : Verdict::kRefuse;
  }

  // The largest burst the bucket holds (milli-tokens in 32 bits; --command-burst stays far
  // below it, a larger one counts as this).
  static constexpr uint64_t kMaxBurst = UINT32_MAX / 1000;

 private:
  static constexpr uint64_t kMilli = 1000;
  static uint32_t full(const CommandRate& rate) {
    return static_cast<uint32_t>(std::min(rate.burst, kMaxBurst) * kMilli);
  }
  // Longer quiet spells refill the bucket anyway; the bound keeps the product in range.
  static constexpr uint64_t kMaxRefillMs = 3'600'000;
  static_assert(kMaxRefused <= UINT8_MAX && kRefusedWindowMs <= UINT16_MAX);

  // 16 bytes: one sits in every session.
  int64_t lastMs_;            // when tokens were last added
  uint32_t milliTokens_;      // tokens x 1000 (whole-number arithmetic, no drift)
  uint16_t windowAgeMs_ = 0;  // since the window's first refusal (as of lastMs_), saturated
  uint8_t refused_ = 0;       // refusals in the current window
};

}  // namespace ringcast::push
