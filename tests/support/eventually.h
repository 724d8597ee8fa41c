// eventually(): polls a condition until it holds or a deadline passes, for black-box tests
// that wait for the server to reach a state (no fixed sleep stands in for the condition).
//
// Thread safety: runs on the calling thread.
#pragma once

#include <chrono>
#include <thread>

namespace ringcast::test {

// Polls `pred` every 20 ms until it holds, at most `timeout`; the last answer of pred.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::milliseconds{5000}) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return pred();
}

}  // namespace ringcast::test
