// BroadcastRing throughput: one producer and N reader threads, each pinned to its own CPU
// where the machine has enough (the producer shares CPU 0 otherwise).
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/broadcast_ring.h"

namespace ringcast {
namespace {

void pinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % static_cast<int>(std::thread::hardware_concurrency()), &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

void BM_BroadcastRing(benchmark::State& state) {
  const int readers = static_cast<int>(state.range(0));
  constexpr uint64_t kBatch = 1 << 16;
  int item = 0;
  uint64_t total = 0;
  for (auto _ : state) {
    BroadcastRing<int> ring(4096, readers);
    std::vector<std::thread> threads;
    for (int r = 0; r < readers; ++r) {
      threads.emplace_back([&ring, r] {
        pinTo(r + 1);
        int* out[64];
        uint64_t seen = 0;
        while (seen < kBatch) {
          size_t n = ring.peek(r, out, 64);
          ring.release(r, n);
          seen += n;
        }
      });
    }
    pinTo(0);
    for (uint64_t i = 0; i < kBatch; ++i) {
      while (!ring.tryPublish(&item)) {
      }
    }
    for (auto& t : threads) t.join();
    total += kBatch;
  }
  state.SetItemsProcessed(static_cast<int64_t>(total));
}
BENCHMARK(BM_BroadcastRing)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ringcast
