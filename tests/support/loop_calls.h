// Calls into an EventLoop that runs on another thread, for tests: run a function on the loop
// thread and wait for it, or poll a condition there (loop-owned state is read on its thread).
#pragma once

#include <chrono>
#include <future>
#include <thread>

#include "net/event_loop.h"

namespace ringcast::testing {

// Runs fn() on loop's thread and returns when it has.
template <class Fn>
void runOnLoop(net::EventLoop& loop, Fn fn) {
  std::promise<void> done;
  loop.queueInLoop([&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

// Evaluates pred() on loop's thread every 2 ms until it holds (true) or timeoutMs passed.
template <class Pred>
bool waitOnLoop(net::EventLoop& loop, Pred pred, int timeoutMs = 5000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (true) {
    bool ok = false;
    runOnLoop(loop, [&] { ok = pred(); });
    if (ok) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace ringcast::testing
