#include "core/broadcast_ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace ringcast {
namespace {

struct Item {
  int producer;
  uint64_t seq;
};

TEST(BroadcastRing, EveryReaderSeesEveryItemInOrder) {
  BroadcastRing<Item> ring(8, 2);
  std::vector<Item> items(5);
  for (uint64_t i = 0; i < items.size(); ++i) {
    items[i] = {0, i};
    ASSERT_TRUE(ring.tryPublish(&items[i]));
  }
  for (int r = 0; r < 2; ++r) {
    Item* out[16];
    size_t n = ring.peek(r, out, 16);
    ASSERT_EQ(n, items.size());
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(out[i], &items[i]);
    ring.release(r, n);
    EXPECT_FALSE(ring.hasReady(r));
  }
}

TEST(BroadcastRing, TheSlowestReaderGatesWriters) {
  BroadcastRing<Item> ring(4, 2);
  Item item{0, 0};
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(ring.tryPublish(&item));
  EXPECT_FALSE(ring.tryPublish(&item)) << "full: no reader has released anything";
  Item* out[4];
  ASSERT_EQ(ring.peek(0, out, 4), 4u);
  ring.release(0, 4);
  EXPECT_FALSE(ring.tryPublish(&item)) << "reader 1 still holds every slot";
  ASSERT_EQ(ring.peek(1, out, 1), 1u);
  ring.release(1, 1);
  EXPECT_TRUE(ring.tryPublish(&item));
  EXPECT_FALSE(ring.tryPublish(&item));
  EXPECT_EQ(ring.occupancy(), 4u);
}

TEST(BroadcastRing, PeekDoesNotMoveTheCursor) {
  BroadcastRing<Item> ring(4, 1);
  Item a{0, 1};
  ASSERT_TRUE(ring.tryPublish(&a));
  Item* out[2];
  EXPECT_EQ(ring.peek(0, out, 2), 1u);
  EXPECT_EQ(ring.peek(0, out, 2), 1u);
  ring.release(0, 1);
  EXPECT_EQ(ring.peek(0, out, 2), 0u);
}

// Many producers, many readers, a small ring (lots of wrap-around and full-ring retries):
// every reader must see every producer's items exactly once and in that producer's order.
TEST(BroadcastRing, StressManyProducersManyReaders) {
  constexpr int kProducers = 4, kReaders = 3;
  constexpr uint64_t kPerProducer = 50'000;
  BroadcastRing<Item> ring(64, kReaders);
  std::vector<std::vector<Item>> items(kProducers, std::vector<Item>(kPerProducer));
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      std::vector<uint64_t> next(kProducers, 0);
      uint64_t total = 0;
      Item* batch[16];
      while (total < kProducers * kPerProducer) {
        size_t n = ring.peek(r, batch, 1 + (total % 16));  // varying batch sizes
        for (size_t i = 0; i < n; ++i) {
          Item* it = batch[i];
          if (it->seq != next[it->producer]) failed = true;
          next[it->producer] = it->seq + 1;
        }
        ring.release(r, n);
        total += n;
        if (n == 0) std::this_thread::yield();
      }
      for (int p = 0; p < kProducers; ++p) {
        if (next[p] != kPerProducer) failed = true;
      }
    });
  }
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (uint64_t i = 0; i < kPerProducer; ++i) {
        items[p][i] = {p, i};
        while (!ring.tryPublish(&items[p][i])) std::this_thread::yield();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(failed.load());
  EXPECT_EQ(ring.occupancy(), 0u);
}

}  // namespace
}  // namespace ringcast
