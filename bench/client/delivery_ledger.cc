#include "bench/client/delivery_ledger.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <new>

#include <fmt/core.h>

namespace ringcast::bench {

std::unique_ptr<DeliveryLedger> DeliveryLedger::create(size_t loops) {
  const size_t bytes = loops * sizeof(Counter);
  void* at = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (at == MAP_FAILED) {
    fmt::print(stderr, "ringcast-bench: mmap for --delivery-window: {}\n", std::strerror(errno));
    return nullptr;
  }
  Counter* counters = static_cast<Counter*>(at);
  for (size_t i = 0; i < loops; ++i) new (&counters[i]) Counter{0};
  return std::unique_ptr<DeliveryLedger>(new DeliveryLedger(counters, loops));
}

DeliveryLedger::~DeliveryLedger() {
  ::munmap(counters_, loops_ * sizeof(Counter));
}

uint64_t DeliveryLedger::total() const {
  uint64_t sum = 0;
  for (size_t i = 0; i < loops_; ++i) sum += counters_[i].value.load(std::memory_order_relaxed);
  return sum;
}

}  // namespace ringcast::bench
