// Ticker: a periodic timerfd registered with one loop, for what the loop's timing wheel
// (50 ms ticks, connection deadlines only) cannot do: periodic work with millisecond
// granularity (the bench client's pacing, the Redis engine's presence refresh).
//
// Thread safety: loop-owned; the callback runs on the loop thread.
#pragma once

#include <cstdint>
#include <functional>

#include "net/event_loop.h"

namespace ringcast::net {

class Ticker final : public Pollable {
 public:
  // `onTick` runs at most once per loop iteration, once per period or later.
  Ticker(EventLoop* loop, std::function<void()> onTick);
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

}  // namespace ringcast::net
