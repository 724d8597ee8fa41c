// UTF-8 validation in three gears:
//  1. a shift-based DFA (one table load and one shift per byte), which carries the state
//     across chunks and handles edges and sequences split between chunks;
//  2. an ASCII skip, 16 bytes per step, whenever the DFA sits on a character boundary;
//  3. on x86-64 CPUs with AVX-512 (BW + VBMI) or AVX2, the Keiser-Lemire lookup algorithm
//     (as in simdjson) over 64-byte blocks, chosen at run time, so multi-byte text runs
//     near memory speed.
// All three reject exactly the same byte sequences; the SIMD gear only ever starts on a
// character boundary and hands a sequence cut by its last block back to the DFA.
#include "ws/utf8.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ringcast::ws {
namespace {

// DFA states, as bit offsets into a 64-bit row of next states (6 bits per state).
constexpr uint8_t kAccept = Utf8Validator::kAccept;
constexpr uint8_t kReject = Utf8Validator::kReject;
constexpr uint8_t kNeed1 = 12;    // one continuation byte (80..BF) left
constexpr uint8_t kNeed2 = 18;    // two continuation bytes left
constexpr uint8_t kAfterE0 = 24;  // A0..BF, then one more: rejects 3-byte overlongs
constexpr uint8_t kAfterED = 30;  // 80..9F, then one more: rejects surrogates D800..DFFF
constexpr uint8_t kAfterF0 = 36;  // 90..BF, then two more: rejects 4-byte overlongs
constexpr uint8_t kNeed3 = 42;    // three continuation bytes left (after F1..F3)
constexpr uint8_t kAfterF4 = 48;  // 80..8F, then two more: rejects code points > U+10FFFF
constexpr uint8_t kStateMask = 63;

constexpr bool in(unsigned b, unsigned lo, unsigned hi) {
  return b >= lo && b <= hi;
}

constexpr uint8_t nextState(uint8_t state, unsigned b) {
  switch (state) {
    case kAccept:
      if (b < 0x80) return kAccept;
      if (in(b, 0xC2, 0xDF)) return kNeed1;
      if (b == 0xE0) return kAfterE0;
      if (b == 0xED) return kAfterED;
      if (in(b, 0xE1, 0xEF)) return kNeed2;
      if (b == 0xF0) return kAfterF0;
      if (in(b, 0xF1, 0xF3)) return kNeed3;
      if (b == 0xF4) return kAfterF4;
      return kReject;  // stray continuation, C0/C1 (always overlong), F5..FF
    case kNeed1:
      return in(b, 0x80, 0xBF) ? kAccept : kReject;
    case kNeed2:
      return in(b, 0x80, 0xBF) ? kNeed1 : kReject;
    case kAfterE0:
      return in(b, 0xA0, 0xBF) ? kNeed1 : kReject;
    case kAfterED:
      return in(b, 0x80, 0x9F) ? kNeed1 : kReject;
    case kAfterF0:
      return in(b, 0x90, 0xBF) ? kNeed2 : kReject;
    case kNeed3:
      return in(b, 0x80, 0xBF) ? kNeed2 : kReject;
    case kAfterF4:
      return in(b, 0x80, 0x8F) ? kNeed2 : kReject;
    default:
      return kReject;
  }
}

struct DfaRows {
  uint64_t row[256];  // row[b] >> state & 63 == the state after byte b
};

constexpr DfaRows buildRows() {
  DfaRows t{};
  constexpr uint8_t kStates[] = {kAccept,  kReject,  kNeed1, kNeed2,  kAfterE0,
                                 kAfterED, kAfterF0, kNeed3, kAfterF4};
  for (unsigned b = 0; b < 256; ++b) {
    for (uint8_t s : kStates) t.row[b] |= uint64_t{nextState(s, b)} << s;
  }
  return t;
}

constexpr DfaRows kRows = buildRows();

// The DFA runs at most this many bytes before trying the fast gears again.
constexpr size_t kDfaRunBytes = 16;
constexpr uint64_t kHighBits = 0x8080808080808080ull;

// A vector kernel validates whole blocks of this many bytes; kInvalid is its "invalid".
constexpr size_t kSimdBlockBytes = 64;
constexpr size_t kInvalid = ~size_t{0};

#if defined(__x86_64__)
// The vector kernels use the Keiser-Lemire lookup algorithm ("Validating UTF-8 In Less
// Than One Instruction Per Byte", 2021): each byte is checked against the byte before it
// by three 16-entry table lookups, and against the bytes two and three before it for 3-
// and 4-byte sequences.

// Error classes of one (previous byte, byte) pair; each table entry holds the classes its
// nibble is compatible with, and a pair is bad if all three lookups agree on one class.
constexpr uint8_t kTooShort = 1 << 0;      // lead byte followed by a lead byte or ASCII
constexpr uint8_t kTooLong = 1 << 1;       // ASCII followed by a continuation
constexpr uint8_t kOverlong3 = 1 << 2;     // E0 80..9F
constexpr uint8_t kTooLarge = 1 << 3;      // F4 90..BF, F5..FF 90..BF
constexpr uint8_t kSurrogate = 1 << 4;     // ED A0..BF
constexpr uint8_t kOverlong2 = 1 << 5;     // C0..C1 any continuation
constexpr uint8_t kTooLarge1000 = 1 << 6;  // F5..FF 80..8F
constexpr uint8_t kOverlong4 = 1 << 6;     // F0 80..8F (shares the bit: disjoint leads)
constexpr uint8_t kTwoConts = 1 << 7;      // continuation after continuation, see below
constexpr uint8_t kCarry = kTooShort | kTooLong | kTwoConts;

// Indexed by the high nibble of the previous byte.
constexpr uint8_t kByte1High[16] = {kTooLong,
                                    kTooLong,
                                    kTooLong,
                                    kTooLong,
                                    kTooLong,
                                    kTooLong,
                                    kTooLong,
                                    kTooLong,
                                    kTwoConts,
                                    kTwoConts,
                                    kTwoConts,
                                    kTwoConts,
                                    kTooShort | kOverlong2,
                                    kTooShort,
                                    kTooShort | kOverlong3 | kSurrogate,
                                    kTooShort | kTooLarge | kTooLarge1000 | kOverlong4};
// Indexed by the low nibble of the previous byte.
constexpr uint8_t kByte1Low[16] = {kCarry | kOverlong3 | kOverlong2 | kOverlong4,
                                   kCarry | kOverlong2,
                                   kCarry,
                                   kCarry,
                                   kCarry | kTooLarge,
                                   kCarry | kTooLarge | kTooLarge1000,
                                   kCarry | kTooLarge | kTooLarge1000,
                                   kCarry | kTooLarge | kTooLarge1000,
                                   kCarry | kTooLarge | kTooLarge1000,
                                   kCarry | kTooLarge | kTooLarge1000,
                                   kCarry | kTooLarge | kTooLarge1000,
                                   kCarry | kTooLarge | kTooLarge1000,
                                   kCarry | kTooLarge | kTooLarge1000,
                                   kCarry | kTooLarge | kTooLarge1000 | kSurrogate,
                                   kCarry | kTooLarge | kTooLarge1000,
                                   kCarry | kTooLarge | kTooLarge1000};
// Indexed by the high nibble of the byte itself.
constexpr uint8_t kByte2High[16] = {
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooLong | kOverlong2 | kTwoConts | kOverlong3 | kTooLarge1000 | kOverlong4,
    kTooLong | kOverlong2 | kTwoConts | kOverlong3 | kTooLarge,
    kTooLong | kOverlong2 | kTwoConts | kSurrogate | kTooLarge,
    kTooLong | kOverlong2 | kTwoConts | kSurrogate | kTooLarge,
    kTooShort,
    kTooShort,
    kTooShort,
    kTooShort};

// A table repeated to fill a vector register (the lookups index each 16-byte lane).
struct alignas(64) Table64 {
  uint8_t v[64];
};
constexpr Table64 repeat(const uint8_t (&t)[16]) {
  Table64 r{};
  for (size_t i = 0; i < 64; ++i) r.v[i] = t[i % 16];
  return r;
}
constexpr Table64 kByte1High64 = repeat(kByte1High);
constexpr Table64 kByte1Low64 = repeat(kByte1Low);
constexpr Table64 kByte2High64 = repeat(kByte2High);

// The first valid bytes of a run of whole blocks that ends at `end`: a sequence that the
// last block leaves open is handed back to the DFA from its lead byte.
size_t backUpToBoundary(const uint8_t* p, size_t end) {
  if (p[end - 1] >= 0xC0) return end - 1;
  if (p[end - 2] >= 0xE0) return end - 2;
  if (p[end - 3] >= 0xF0) return end - 3;
  return end;
}

// True if the bytes before `q` leave a sequence open, so ASCII at `q` is an error.
inline bool openBefore(const uint8_t* q) {
  return q[-1] >= 0xC0 || q[-2] >= 0xE0 || q[-3] >= 0xF0;
}

// Both kernels validate whole 64-byte blocks of p[0, n). REQUIRES: n >= 64 and p starts on
// a character boundary. They return kInvalid, or how many bytes are valid and end on a
// character boundary. Blocks of pure ASCII are skipped after checking that no sequence
// is left open before them.

#define RINGCAST_AVX512 __attribute__((target("avx512f,avx512bw,avx512vbmi")))

RINGCAST_AVX512 inline __m512i load64(const uint8_t* p) {
  return _mm512_loadu_si512(p);
}

// vpermb through the zero-masking form: GCC 12's plain form warns about its own header.
RINGCAST_AVX512 inline __m512i lookup(__m512i index, const Table64& table) {
  return _mm512_maskz_permutexvar_epi8(~__mmask64{0}, index, load64(table.v));
}

// Byte j of the result is byte j - N of the 128 bytes (prev, input): vpermt2b indexes.
constexpr Table64 shiftIndex(int n) {
  Table64 r{};
  for (int j = 0; j < 64; ++j) r.v[j] = static_cast<uint8_t>((j - n) & 127);
  return r;
}
constexpr Table64 kShift1 = shiftIndex(1);
constexpr Table64 kShift2 = shiftIndex(2);
constexpr Table64 kShift3 = shiftIndex(3);

RINGCAST_AVX512 inline __m512i shiftIn(__m512i input, const Table64& index, __m512i prev) {
  return _mm512_permutex2var_epi8(input, load64(index.v), prev);
}

// Set bits where the 64 bytes of `input`, after the 64 bytes of `prev`, break UTF-8
// (counting only sequences that end in `input`). vpermb looks up the low 6 index bits, so
// each table is repeated four times and nibbles need no masking.
RINGCAST_AVX512 inline __mmask64 blockErrors512(__m512i input, __m512i prev) {
  const __m512i prev1 = shiftIn(input, kShift1, prev);
  const __m512i b1h = lookup(_mm512_srli_epi16(prev1, 4), kByte1High64);
  const __m512i b1l = lookup(prev1, kByte1Low64);
  const __m512i b2h = lookup(_mm512_srli_epi16(input, 4), kByte2High64);
  const __m512i pairs = _mm512_ternarylogic_epi32(b1h, b1l, b2h, 0x80);  // a & b & c
  // A byte two after an E0..FF lead or three after an F0..FF lead must be a continuation
  // that follows a continuation (bit 7 set in `pairs`), and only those bytes may be.
  const __m512i third =
      _mm512_subs_epu8(shiftIn(input, kShift2, prev), _mm512_set1_epi8(0xE0 - 0x80));
  const __m512i fourth =
      _mm512_subs_epu8(shiftIn(input, kShift3, prev), _mm512_set1_epi8(0xF0 - 0x80));
  const __m512i must = _mm512_ternarylogic_epi32(third, fourth, _mm512_set1_epi8(char(0x80)),
                                                 0xA8);  // (a | b) & c
  return _mm512_cmpneq_epi8_mask(must, pairs);
}

// Four blocks per step: one test skips 256 bytes of ASCII, and mixed text pays one branch.
RINGCAST_AVX512 size_t validateBlocksAvx512(const uint8_t* p, size_t n) {
  const size_t end = n & ~(kSimdBlockBytes - 1);
  __m512i prev = _mm512_setzero_si512();  // bytes before p count as ASCII
  size_t i = 0;
  for (; i + 4 * kSimdBlockBytes <= end; i += 4 * kSimdBlockBytes) {
    const __m512i a = load64(p + i);
    const __m512i b = load64(p + i + 64);
    const __m512i c = load64(p + i + 128);
    const __m512i d = load64(p + i + 192);
    if (_mm512_movepi8_mask(_mm512_ternarylogic_epi32(_mm512_or_si512(a, b), c, d, 0xFE)) == 0) {
      // ASCII only: fails only if the bytes before leave a sequence open.
      if (i != 0 && openBefore(p + i)) return kInvalid;
    } else if ((blockErrors512(a, prev) | blockErrors512(b, a) | blockErrors512(c, b) |
                blockErrors512(d, c)) != 0) {
      return kInvalid;
    }
    prev = d;
  }
  for (; i < end; i += kSimdBlockBytes) {
    const __m512i a = load64(p + i);
    if (blockErrors512(a, prev) != 0) return kInvalid;
    prev = a;
  }
  return backUpToBoundary(p, end);
}

#define RINGCAST_AVX2 __attribute__((target("avx2")))

RINGCAST_AVX2 inline __m256i load32(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

RINGCAST_AVX2 inline __m256i highNibbles(__m256i v) {
  return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F));
}

// As blockErrors512, for the 32 bytes at `q`; vpshufb needs indexes masked to 4 bits. The
// bytes before come from unaligned loads of q[-3, 32) (AVX2 has no cheap cross-lane byte
// shift), so the caller copies the first block behind three ASCII bytes.
RINGCAST_AVX2 inline __m256i blockErrors256(const uint8_t* q) {
  const __m256i input = load32(q);
  const __m256i prev1 = load32(q - 1);
  const __m256i low = _mm256_and_si256(prev1, _mm256_set1_epi8(0x0F));
  const __m256i pairs = _mm256_and_si256(
      _mm256_and_si256(_mm256_shuffle_epi8(load32(kByte1High64.v), highNibbles(prev1)),
                       _mm256_shuffle_epi8(load32(kByte1Low64.v), low)),
      _mm256_shuffle_epi8(load32(kByte2High64.v), highNibbles(input)));
  const __m256i third = _mm256_subs_epu8(load32(q - 2), _mm256_set1_epi8(0xE0 - 0x80));
  const __m256i fourth = _mm256_subs_epu8(load32(q - 3), _mm256_set1_epi8(0xF0 - 0x80));
  const __m256i must = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8(0x80));
  return _mm256_xor_si256(must, pairs);
}

// Nonzero if the 64 bytes at `q` break UTF-8 (reading q[-3, 64)).
RINGCAST_AVX2 inline bool blockFails256(const uint8_t* q) {
  const __m256i error = _mm256_or_si256(blockErrors256(q), blockErrors256(q + 32));
  return !_mm256_testz_si256(error, error);
}

RINGCAST_AVX2 size_t validateBlocksAvx2(const uint8_t* p, size_t n) {
  const size_t end = n & ~(kSimdBlockBytes - 1);
  uint8_t first[3 + kSimdBlockBytes] = {};  // p[-3, 0) is not ours to read
  std::memcpy(first + 3, p, kSimdBlockBytes);
  if (blockFails256(first + 3)) return kInvalid;
  for (size_t i = kSimdBlockBytes; i < end; i += kSimdBlockBytes) {
    if (_mm256_movemask_epi8(_mm256_or_si256(load32(p + i), load32(p + i + 32))) == 0) {
      if (openBefore(p + i)) return kInvalid;
    } else if (blockFails256(p + i)) {
      return kInvalid;
    }
  }
  return backUpToBoundary(p, end);
}

const bool kHasAvx2 = [] {
  __builtin_cpu_init();  // may run before libgcc's own constructor
  return __builtin_cpu_supports("avx2") != 0;
}();
const bool kHasAvx512 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi");
}();
#endif  // __x86_64__

using BlockValidator = size_t (*)(const uint8_t* p, size_t n);

BlockValidator kernelFunction(Utf8Kernel kernel) {
#if defined(__x86_64__)
  if (kernel == Utf8Kernel::kAvx512) return validateBlocksAvx512;
  if (kernel == Utf8Kernel::kAvx2) return validateBlocksAvx2;
#endif
  (void)kernel;
  return nullptr;
}

Utf8Kernel bestKernel() {
  if (utf8KernelSupported(Utf8Kernel::kAvx512)) return Utf8Kernel::kAvx512;
  if (utf8KernelSupported(Utf8Kernel::kAvx2)) return Utf8Kernel::kAvx2;
  return Utf8Kernel::kScalar;
}

// The kernel feed() uses: the best one this CPU runs, chosen once at startup.
const BlockValidator kBlockValidator = kernelFunction(bestKernel());

// From a character boundary, skips the bytes the fast gears can prove valid. Returns where
// the DFA must continue (still on a character boundary), or nullptr if the bytes are invalid.
const uint8_t* skipValid(const uint8_t* p, const uint8_t* end, BlockValidator kernel) {
  if (kernel != nullptr && static_cast<size_t>(end - p) >= kSimdBlockBytes) {
    const size_t n = kernel(p, static_cast<size_t>(end - p));
    if (n == kInvalid) return nullptr;
    p += n;
  }
  while (end - p >= 16) {
    uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    if ((a | b) & kHighBits) break;
    p += 16;
  }
  return p;
}

// Advances the DFA `state` over p[0, n), letting `kernel` skip whole blocks.
uint8_t run(uint8_t state, const uint8_t* p, size_t n, BlockValidator kernel) {
  const uint8_t* const end = p + n;
  uint32_t s = state;
  while (p != end && s != kReject) {
    if (s == kAccept) {
      p = skipValid(p, end, kernel);
      if (p == nullptr) return kReject;
      if (p == end) break;
    }
    const uint8_t* stop = end - p > static_cast<ptrdiff_t>(kDfaRunBytes) ? p + kDfaRunBytes : end;
    do {
      s = (kRows.row[*p++] >> s) & kStateMask;
    } while (p != stop);
  }
  return static_cast<uint8_t>(s);
}

}  // namespace

bool Utf8Validator::feed(const uint8_t* p, size_t n) {
  state_ = run(state_, p, n, kBlockValidator);
  return state_ != kReject;
}

bool utf8KernelSupported(Utf8Kernel kernel) {
  switch (kernel) {
    case Utf8Kernel::kScalar:
      return true;
#if defined(__x86_64__)
    case Utf8Kernel::kAvx2:
      return kHasAvx2;
    case Utf8Kernel::kAvx512:
      return kHasAvx512;
#endif
    default:
      return false;
  }
}

bool isValidUtf8With(Utf8Kernel kernel, std::string_view s) {
  return run(kAccept, reinterpret_cast<const uint8_t*>(s.data()), s.size(),
             kernelFunction(kernel)) == kAccept;
}

bool isValidUtf8(std::string_view s) {
  Utf8Validator v;
  return v.feed(reinterpret_cast<const uint8_t*>(s.data()), s.size()) && v.complete();
}

}  // namespace ringcast::ws
