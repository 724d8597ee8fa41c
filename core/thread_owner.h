// ThreadOwner records the thread that owns an object and backs assertOwned() in debug
// builds (compiled out with NDEBUG). Loop-owned objects call assertOwned() first thing in
// every mutating method, so a call from the wrong thread fails loudly in tests.
//
// Other threads ask too (EventLoop::isInLoopThread from queueInLoop), possibly while a loop
// thread adopts its loop: the id is atomic, so they see the owner from before or after the
// adoption, never a torn value.
#pragma once

#include <atomic>
#include <cassert>
#include <thread>

namespace ringcast {

class ThreadOwner {
 public:
  ThreadOwner() : owner_(std::this_thread::get_id()) {}
  // Hands the object to the calling thread (a loop adopts what main built for it).
  void adoptByCurrentThread() {
    owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  }
  bool isOwnedByCurrentThread() const {
    return owner_.load(std::memory_order_relaxed) == std::this_thread::get_id();
  }
  void assertOwned() const {
    assert(isOwnedByCurrentThread() && "called from a thread that does not own this object");
  }

 private:
  std::atomic<std::thread::id> owner_;
};

}  // namespace ringcast
