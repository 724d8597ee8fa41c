// Clocks: monotonic milliseconds for deadlines, wall-clock milliseconds for timestamps that
// leave the process. Each EventLoop caches "now" once per iteration (EventLoop::nowMs()), so
// per-connection code never calls the clock itself. Pure; any thread.
#pragma once

#include <time.h>

#include <cstdint>

namespace ringcast {

inline int64_t monotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

inline int64_t monotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

inline int64_t wallMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace ringcast
