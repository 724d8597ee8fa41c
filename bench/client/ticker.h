// Ticker: a periodic timerfd registered with one loop, for what the loop's timing wheel
// (50 ms ticks, connection deadlines only) cannot do: pacing connects and publishes at a rate
// with millisecond granularity, and expiring connects in progress.
//
// Thread safety: loop-owned; the callback runs on the loop thread.
#pragma once

#include <cstdint>
#include <functional>

#include "net/event_loop.h"

namespace ringcast::bench {

class Ticker final : public net::Pollable {
 public:
  // `onTick` runs at most once per loop iteration, once per period or later.
  Ticker(net::EventLoop* loop, std::function<void()> onTick);
  ~Ticker();  // closes the timerfd (which also unregisters it)
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

  // Starts (or re-times) the ticks; 0 stops them.
  void setPeriodUs(int64_t periodUs);
  int64_t periodUs() const { return periodUs_; }

 private:
  void handleEvents(uint32_t events) override;

  int fd_;
  int64_t periodUs_ = 0;
  std::function<void()> onTick_;
};

// Turns a rate into whole events: allowance(now) says how many of the events due since
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
