// FixedPool: distinct, aligned blocks that stay usable, released blocks reused first (the
// pool's point: no header, no hole), across more than one slab; under AddressSanitizer it
// is the heap, and only the first two hold.
#include "core/fixed_pool.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <set>
#include <vector>

namespace ringcast {
namespace {

using Pool = FixedPool<120>;

TEST(FixedPool, BlocksAreDistinctAlignedAndHoldTheirBytes) {
  // More blocks than one slab holds, so a second slab is mapped.
  const size_t n = Pool::kSlabBytes / Pool::kBlockBytes * 2 + 3;
  std::vector<void*> blocks;
  for (size_t i = 0; i < n; ++i) {
    void* p = Pool::allocate();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(void*), 0u);
    std::memset(p, static_cast<int>(i & 0xFF), 120);
    blocks.push_back(p);
  }
  EXPECT_EQ(std::set<void*>(blocks.begin(), blocks.end()).size(), n);
  for (size_t i = 0; i < n; ++i) {
    const auto* bytes = static_cast<const uint8_t*>(blocks[i]);
    ASSERT_EQ(bytes[0], i & 0xFF) << i;
    ASSERT_EQ(bytes[119], i & 0xFF) << i;  // no neighbour wrote over it
  }
  for (void* p : blocks) Pool::release(p);
}

TEST(FixedPool, AReleasedBlockIsTheNextOneHandedOut) {
#ifdef RINGCAST_POOL_USES_HEAP
  GTEST_SKIP() << "under AddressSanitizer the pool is the heap";
#else
  void* a = Pool::allocate();
  void* b = Pool::allocate();
  Pool::release(a);
  EXPECT_EQ(Pool::allocate(), a);
  Pool::release(b);
  Pool::release(a);
  EXPECT_EQ(Pool::allocate(), a);  // most recent first: its memory is the warmest
  EXPECT_EQ(Pool::allocate(), b);
  Pool::release(a);
  Pool::release(b);
#endif
}

TEST(FixedPool, BlocksAreTheObjectSizeRoundedToEightBytes) {
  EXPECT_EQ(FixedPool<120>::kBlockBytes, 120u);
  EXPECT_EQ(FixedPool<121>::kBlockBytes, 128u);
  EXPECT_EQ(FixedPool<248>::kBlockBytes, 248u);
}

}  // namespace
}  // namespace ringcast
