// ConnectionCap: how many connections one listener may hold open at once, over all loops
// (e.g. --api-max-connections). A connection takes a Slot when it is accepted and gives it
// back when the Slot is destroyed with it; a listener that gets no Slot refuses the new
// socket. One relaxed atomic counter: it is touched once per accept and once per close,
// never on the data path.
//
// Thread safety: tryTake() and open() are safe from any thread; a Slot is owned by one
// connection and destroyed on its loop. The cap outlives every Slot it gave out.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace ringcast::net {

class ConnectionCap {
 public:
  // One open connection's share of the cap; empty when taking one failed.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept : cap_(std::exchange(other.cap_, nullptr)) {}
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        release();
        cap_ = std::exchange(other.cap_, nullptr);
      }
      return *this;
    }
    ~Slot() { release(); }
    explicit operator bool() const { return cap_ != nullptr; }

   private:
    friend class ConnectionCap;
    explicit Slot(ConnectionCap* cap) : cap_(cap) {}
    void release() {
      if (cap_ != nullptr) cap_->open_.fetch_sub(1, std::memory_order_relaxed);
      cap_ = nullptr;
    }
    ConnectionCap* cap_ = nullptr;
  };

  // `max` connections at once; 0 means no cap.
  explicit ConnectionCap(uint64_t max = 0) : max_(max) {}
  ConnectionCap(const ConnectionCap&) = delete;
  ConnectionCap& operator=(const ConnectionCap&) = delete;

  // REQUIRES: no Slot is out (set before the listeners start).
  void setMax(uint64_t max) { max_ = max; }

  // A Slot, or an empty one when `max` connections are open.
  Slot tryTake() {
    // Relaxed is enough: the count orders nothing else. Adding first keeps the bound exact
    // when loops race; at worst a racing refusal makes another accept see the cap full for
    // an instant, and that client is refused as if it came a moment earlier.
    if (open_.fetch_add(1, std::memory_order_relaxed) >= max_ && max_ != 0) {
      open_.fetch_sub(1, std::memory_order_relaxed);
      return Slot();
    }
    return Slot(this);
  }

  uint64_t open() const { return open_.load(std::memory_order_relaxed); }
  uint64_t max() const { return max_; }

 private:
  uint64_t max_;
  std::atomic<uint64_t> open_{0};
};

}  // namespace ringcast::net
