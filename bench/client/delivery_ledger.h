// DeliveryLedger: how many deliveries this run's subscribers have received, shared between
// the fanout publishers (in the parent process) and the subscriber loops (in the forked
// workers), so --delivery-window can hold the publishers to what the subscribers absorb.
// One counter per subscriber loop, each on a cache line of its own, in a shared anonymous
// mapping made before the fork.
//
// Thread safety: each counter has one writer (its loop); total() may run on any thread and
// sees every counter at some recent value (relaxed loads; a bound, not a barrier).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace ringcast::bench {

class DeliveryLedger {
 public:
  // A ledger with `loops` counters at 0; null (and a message on stderr) if the mapping fails.
  static std::unique_ptr<DeliveryLedger> create(size_t loops);
  ~DeliveryLedger();
  DeliveryLedger(const DeliveryLedger&) = delete;
  DeliveryLedger& operator=(const DeliveryLedger&) = delete;

  // Loop `loop` received `n` more deliveries (called by that loop only).
  void add(size_t loop, uint64_t n) {
    std::atomic<uint64_t>& c = counters_[loop].value;
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t total() const;

 private:
  struct alignas(64) Counter {
    std::atomic<uint64_t> value;
  };
  DeliveryLedger(Counter* counters, size_t loops) : counters_(counters), loops_(loops) {}

  Counter* const counters_;
  const size_t loops_;
};

}  // namespace ringcast::bench
