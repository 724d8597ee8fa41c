// The key is widened to a 64-bit word, then to a whole vector register, so the bulk runs a
// vector at a time through memcpy loads and stores (no aliasing or alignment UB). The bulk
// loop is compiled for AVX-512, AVX2 and baseline x86-64, and the loader picks the one the
// CPU runs (GCC/Clang target_clones). Bytes are handled one at a time only in the tail.
#include "ws/mask.h"

#include <bit>
#include <cstring>

namespace ringcast::ws {
namespace {

// 64 bytes: one AVX-512 register, two AVX2 registers or four SSE2 registers.
typedef uint64_t Block __attribute__((vector_size(64)));

#if defined(__x86_64__) && defined(__ELF__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
size_t
maskBlocks(uint8_t* data, size_t len, uint64_t k64) {
  const Block key = {k64, k64, k64, k64, k64, k64, k64, k64};
  size_t i = 0;
  for (; i + 2 * sizeof(Block) <= len; i += 2 * sizeof(Block)) {
    Block a, b;
    std::memcpy(&a, data + i, sizeof a);
    std::memcpy(&b, data + i + sizeof a, sizeof b);
    a ^= key;
    b ^= key;
    std::memcpy(data + i, &a, sizeof a);
    std::memcpy(data + i + sizeof a, &b, sizeof b);
  }
  if (i + sizeof(Block) <= len) {
    Block a;
    std::memcpy(&a, data + i, sizeof a);
    a ^= key;
    std::memcpy(data + i, &a, sizeof a);
    i += sizeof(Block);
  }
  return i;
}

}  // namespace

void applyMask(uint8_t* data, size_t len, const uint8_t key[4], size_t phase) {
  // The key as seen from data[0] (byte i of the chunk is XORed with key[(phase + i) % 4]),
  // repeated to 8 bytes: rotate the 4 key bytes left by phase % 4 places, in memory order.
  uint32_t k32;
  std::memcpy(&k32, key, 4);
  const int shift = 8 * static_cast<int>(phase & 3);
  k32 = std::endian::native == std::endian::little ? std::rotr(k32, shift) : std::rotl(k32, shift);
  const uint64_t k64 = uint64_t{k32} << 32 | k32;

  size_t i = len >= sizeof(Block) ? maskBlocks(data, len, k64) : 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    w ^= k64;
    std::memcpy(data + i, &w, 8);
  }
  if (i < len) {
    // Fewer than 8 bytes left, and i is a multiple of 8: the key bytes start over.
    uint8_t k[8];
    std::memcpy(k, &k64, 8);
    for (size_t j = 0; i < len; ++i, ++j) data[i] ^= k[j];
  }
}

}  // namespace ringcast::ws
