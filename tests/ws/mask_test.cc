#include "ws/mask.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace ringcast::ws {
namespace {

void naiveMask(uint8_t* data, size_t len, const uint8_t key[4], size_t phase) {
  for (size_t i = 0; i < len; ++i) data[i] ^= key[(phase + i) % 4];
}

std::vector<uint8_t> randomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST(MaskTest, MatchesNaiveForAllLengthsPhasesAndAlignments) {
  const uint8_t key[4] = {0xA1, 0x0B, 0x7C, 0xE4};
  const std::vector<uint8_t> input = randomBytes(128, 1);
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t len = 0; len <= 100; ++len) {
      for (size_t phase = 0; phase < 8; ++phase) {
        // Guard bytes around the range catch writes outside it.
        std::vector<uint8_t> fast(input), slow(input);
        applyMask(fast.data() + offset, len, key, phase);
        naiveMask(slow.data() + offset, len, key, phase);
        ASSERT_EQ(fast, slow) << "offset " << offset << " len " << len << " phase " << phase;
      }
    }
  }
}

TEST(MaskTest, LargeBufferMatchesNaive) {
  const uint8_t key[4] = {1, 2, 3, 4};
  std::vector<uint8_t> fast = randomBytes(70001, 2), slow(fast);
  applyMask(fast.data() + 3, fast.size() - 3, key, 5);
  naiveMask(slow.data() + 3, slow.size() - 3, key, 5);
  EXPECT_EQ(fast, slow);
}

TEST(MaskTest, ChunksContinueTheKeyRotation) {
  const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
  const std::vector<uint8_t> input = randomBytes(257, 3);
  std::vector<uint8_t> whole(input);
  applyMask(whole.data(), whole.size(), key, 0);
  for (size_t a = 0; a <= input.size(); a += 7) {
    for (size_t b = a; b <= input.size(); b += 13) {
      std::vector<uint8_t> chunked(input);
      applyMask(chunked.data(), a, key, 0);
      applyMask(chunked.data() + a, b - a, key, a);
      applyMask(chunked.data() + b, chunked.size() - b, key, b);
      ASSERT_EQ(chunked, whole) << a << "," << b;
    }
  }
}

TEST(MaskTest, MaskingTwiceRestoresTheBytes) {
  const uint8_t key[4] = {0xDE, 0xAD, 0xBE, 0xEF};
  const std::vector<uint8_t> input = randomBytes(1000, 4);
  std::vector<uint8_t> v(input);
  applyMask(v.data(), v.size(), key, 2);
  EXPECT_NE(v, input);
  applyMask(v.data(), v.size(), key, 2);
  EXPECT_EQ(v, input);
}

TEST(MaskTest, KnownVector) {
  // RFC 6455 5.7: "Hello" masked with 37 fa 21 3d.
  uint8_t data[] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
  const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  applyMask(data, sizeof data, key, 0);
  EXPECT_EQ(std::memcmp(data, "Hello", 5), 0);
}

}  // namespace
}  // namespace ringcast::ws
