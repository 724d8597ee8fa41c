#include "ws/utf8.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ringcast::ws {
namespace {

enum class Ref { kInvalid, kOpen, kComplete };

// Reference check written from the code point definition rather than a byte table: decode
// each sequence and reject code points outside the range of its length or in the
// surrogate block. A cut final sequence is a valid prefix if some completion of it is
// valid, i.e. the interval of code points it can still become holds a valid one.
Ref reference(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t b = s[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07;
    } else {
      return Ref::kInvalid;
    }
    const size_t have = std::min(len, s.size() - i);
    for (size_t j = 1; j < have; ++j) {
      if ((uint8_t(s[i + j]) & 0xC0) != 0x80) return Ref::kInvalid;
      cp = cp << 6 | (uint8_t(s[i + j]) & 0x3F);
    }
    const int missingBits = 6 * static_cast<int>(len - have);
    uint32_t lo = cp << missingBits;
    uint32_t hi = lo | ((1u << missingBits) - 1);
    const uint32_t minCp[] = {0, 0, 0x80, 0x800, 0x10000};
    const uint32_t maxCp[] = {0, 0, 0x7FF, 0xFFFF, 0x10FFFF};
    if (hi < minCp[len] || lo > maxCp[len]) return Ref::kInvalid;
    lo = std::max(lo, minCp[len]);
    hi = std::min(hi, maxCp[len]);
    if (lo >= 0xD800 && hi <= 0xDFFF) return Ref::kInvalid;
    if (have < len) return Ref::kOpen;
    i += len;
  }
  return Ref::kComplete;
}

// The kernels this CPU can run; the scalar DFA always.
std::vector<Utf8Kernel> kernels() {
  std::vector<Utf8Kernel> v;
  for (Utf8Kernel k : {Utf8Kernel::kScalar, Utf8Kernel::kAvx2, Utf8Kernel::kAvx512}) {
    if (utf8KernelSupported(k)) v.push_back(k);
  }
  return v;
}

const uint8_t* bytes(std::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

// The index of the first byte at which feeding `s` one byte at a time fails, or npos.
size_t failPosition(std::string_view s) {
  Utf8Validator v;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!v.feed(bytes(s) + i, 1)) return i;
  }
  return std::string::npos;
}

// The index of the first byte whose prefix the reference rejects, or npos.
size_t referenceFailPosition(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (reference(s.substr(0, i + 1)) == Ref::kInvalid) return i;
  }
  return std::string::npos;
}

// Autobahn test suite case 6 (UTF-8 handling), as byte strings.
const std::vector<std::string> kValid = {
    "",
    "Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!",  // 6.2
    "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5",                             // 6.5 kosme
    std::string("\x00", 1),
    "\xC2\x80",
    "\xE0\xA0\x80",
    "\xF0\x90\x80\x80",  // 6.7 first
    "\x7F",
    "\xDF\xBF",
    "\xEF\xBF\xBF",
    "\xF4\x8F\xBF\xBF",  // 6.9 last
    "\xED\x9F\xBF",
    "\xEE\x80\x80",
    "\xEF\xBF\xBD",  // 6.11 bounds
    "\xEF\xBF\xBE",
    "\xF0\x9F\xBF\xBE",
    "\xF4\x8F\xBF\xBE",  // 6.22 nonchars
    "\xF0\x9F\x98\x80 smile \xE2\x82\xAC euro",
};

const std::vector<std::string> kInvalid = {
    "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80\x65\x64\x69\x74\x65\x64",  // 6.3
    "\xF8\x88\x80\x80\x80",
    "\xFC\x84\x80\x80\x80\x80",  // 6.8 5/6-byte
    "\xF7\xBF\xBF\xBF",
    "\xFB\xBF\xBF\xBF\xBF",
    "\xFD\xBF\xBF\xBF\xBF\xBF",  // 6.10
    "\xF4\x90\x80\x80",          // 6.11 > U+10FFFF
    "\x80",
    "\xBF",
    "\x80\xBF",
    "\x80\xBF\x80",
    "\x80\xBF\x80\xBF",  // 6.12
    "\xC0\x20",
    "\xDF\x20",
    "\xE0\x20",
    "\xEF\x20",
    "\xF0\x20",
    "\xF7\x20",  // 6.13
    "\xC0",
    "\xE0\x80",
    "\xF0\x80\x80",
    "\xDF",
    "\xEF\xBF",
    "\xF7\xBF\xBF",  // 6.14
    "\xFE",
    "\xFF",
    "\xFE\xFE\xFF\xFF",  // 6.16
    "\xC0\xAF",
    "\xE0\x80\xAF",
    "\xF0\x80\x80\xAF",  // 6.17 overlong /
    "\xC1\xBF",
    "\xE0\x9F\xBF",
    "\xF0\x8F\xBF\xBF",  // 6.18 max overlong
    "\xC0\x80",
    "\xE0\x80\x80",
    "\xF0\x80\x80\x80",  // 6.19 overlong NUL
    "\xED\xA0\x80",
    "\xED\xAD\xBF",
    "\xED\xAE\x80",
    "\xED\xAF\xBF",  // 6.20 surrogates
    "\xED\xB0\x80",
    "\xED\xBE\x80",
    "\xED\xBF\xBF",
    "\xED\xA0\x80\xED\xB0\x80",
    "\xED\xAF\xBF\xED\xBF\xBF",  // 6.21 pairs
};

TEST(Utf8Test, AutobahnValid) {
  for (const std::string& s : kValid) {
    EXPECT_TRUE(isValidUtf8(s)) << testing::PrintToString(s);
    EXPECT_EQ(failPosition(s), std::string::npos);
  }
}

TEST(Utf8Test, AutobahnInvalid) {
  for (const std::string& s : kInvalid) {
    EXPECT_FALSE(isValidUtf8(s)) << testing::PrintToString(s);
    EXPECT_EQ(reference(s) == Ref::kComplete, false);
  }
}

TEST(Utf8Test, FailsAtTheFirstImpossibleByte) {
  for (const std::string& s : kInvalid) {
    EXPECT_EQ(failPosition(s), referenceFailPosition(s)) << testing::PrintToString(s);
  }
  // Concrete positions: the overlong and surrogate forms fail at their second byte, the
  // 6.3 string at the A0 after ED, and impossible bytes at once.
  EXPECT_EQ(failPosition("ab\xC0\xAF"), 2u);  // C0 can never start a valid sequence
  EXPECT_EQ(failPosition("ab\xE0\x80\xAF"), 3u);
  EXPECT_EQ(failPosition("ab\xED\xA0\x80"), 3u);
  EXPECT_EQ(failPosition("ab\xF4\x90\x80\x80"), 3u);
  EXPECT_EQ(failPosition("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80"), 12u);
  EXPECT_EQ(failPosition("\xFF"), 0u);
  EXPECT_EQ(failPosition("\xE2\x82"
                         "a"),
            2u);
}

TEST(Utf8Test, TruncatedSequencesAreOpenNotInvalid) {
  for (std::string_view s : {"\xE2\x82", "\xF0\x9F\x98", "\xC3", "a\xF4\x8F"}) {
    Utf8Validator v;
    EXPECT_TRUE(v.feed(bytes(s), s.size()));
    EXPECT_FALSE(v.complete());
    EXPECT_TRUE(v.ok());
  }
}

TEST(Utf8Test, StateCarriesAcrossChunksAndReset) {
  const std::string s = "\xF0\x9F\x98\x80";
  Utf8Validator v;
  for (const char& c : s) {
    EXPECT_TRUE(v.feed(reinterpret_cast<const uint8_t*>(&c), 1));
    EXPECT_EQ(v.complete(), &c == &s.back());
  }
  EXPECT_TRUE(v.complete());
  EXPECT_FALSE(v.feed(bytes("\xBF"), 1));
  EXPECT_FALSE(v.feed(bytes("a"), 1));  // stays failed
  v.reset();
  EXPECT_TRUE(v.feed(bytes("a"), 1));
  EXPECT_TRUE(v.complete());
  EXPECT_EQ(sizeof(Utf8Validator), 1u);
}

// Random text built from valid characters of every length with a few corrupt bytes, long
// enough to cross several 64-byte blocks of the vector path.
std::string randomText(std::mt19937& rng, size_t chars, int corruptions) {
  static const std::vector<std::string> pieces = {"a",
                                                  "Z",
                                                  " ",
                                                  "\xC2\xA9",
                                                  "\xDF\xBF",
                                                  "\xE2\x82\xAC",
                                                  "\xED\x9F\xBF",
                                                  "\xEF\xBF\xBD",
                                                  "\xF0\x9F\x98\x80",
                                                  "\xF4\x8F\xBF\xBF",
                                                  "\xE0\xA0\x80"};
  std::string s;
  for (size_t i = 0; i < chars; ++i) {
    // Long ASCII runs exercise the skip paths.
    if (rng() % 8 == 0) s += std::string(rng() % 80, 'x');
    s += pieces[rng() % pieces.size()];
  }
  static const uint8_t bad[] = {0x80, 0xBF, 0xC0, 0xC1, 0xED, 0xF4, 0xF5, 0xFF, 0xE0, 0x41};
  for (int i = 0; i < corruptions && !s.empty(); ++i) s[rng() % s.size()] = bad[rng() % 10];
  return s;
}

TEST(Utf8Test, MatchesTheReferenceOnRandomTextWholeAndChunked) {
  std::mt19937 rng(42);
  for (int iter = 0; iter < 3000; ++iter) {
    const std::string s = randomText(rng, 1 + rng() % 120, iter % 3);
    const Ref ref = reference(s);
    ASSERT_EQ(isValidUtf8(s), ref == Ref::kComplete) << testing::PrintToString(s);
    for (Utf8Kernel k : kernels()) {
      ASSERT_EQ(isValidUtf8With(k, s), ref == Ref::kComplete) << int(k);
    }
    // Whole, in random chunks and byte by byte all agree on the first failing prefix.
    Utf8Validator whole;
    ASSERT_EQ(whole.feed(bytes(s), s.size()), ref != Ref::kInvalid);
    Utf8Validator chunked;
    size_t pos = 0;
    bool ok = true;
    while (pos < s.size() && ok) {
      const size_t n = std::min<size_t>(s.size() - pos, 1 + rng() % 100);
      ok = chunked.feed(bytes(s) + pos, n);
      const Ref prefix = reference(std::string_view(s).substr(0, pos + n));
      ASSERT_EQ(ok, prefix != Ref::kInvalid) << testing::PrintToString(s) << " at " << pos;
      pos += n;
    }
    if (iter % 10 == 0) {
      ASSERT_EQ(failPosition(s), referenceFailPosition(s));
    }
  }
}

TEST(Utf8Test, ErrorsAtEveryPositionOfALongBuffer) {
  // One bad pair placed at every offset of 200 bytes of mixed text, so it lands at every
  // position of a 64-byte block and on block edges.
  std::string base;
  while (base.size() < 200) base += "ab\xE2\x82\xAC\xC3\xA9xyz\xF0\x9F\x98\x80";
  base.resize(200);
  while (!isValidUtf8(base)) base.pop_back();
  for (size_t at = 0; at < base.size(); ++at) {
    for (std::string_view bad : {"\xC0\xAF", "\xED\xA0", "\x80", "\xF4\x90"}) {
      std::string s = base;
      s.replace(at, bad.size(), bad);
      const bool valid = reference(s) == Ref::kComplete;
      ASSERT_EQ(isValidUtf8(s), valid) << at;
      for (Utf8Kernel k : kernels()) ASSERT_EQ(isValidUtf8With(k, s), valid) << at << int(k);
    }
  }
}

TEST(Utf8Test, CutSequenceAtTheEndOfEachBlock) {
  // A 4-byte character straddling every offset, inside otherwise ASCII text.
  for (size_t at = 0; at < 200; ++at) {
    std::string s(256, 'q');
    s.replace(at, 4, "\xF0\x9F\x98\x80");
    EXPECT_TRUE(isValidUtf8(s)) << at;
    std::string cut = s.substr(0, at + 2);
    EXPECT_FALSE(isValidUtf8(cut)) << at;
    Utf8Validator v;
    EXPECT_TRUE(v.feed(bytes(cut), cut.size())) << at;
    EXPECT_TRUE(v.feed(bytes(s) + at + 2, s.size() - at - 2)) << at;
    EXPECT_TRUE(v.complete());
    // An ASCII byte where the character's last byte should be.
    std::string broken = s;
    broken[at + 3] = 'q';
    EXPECT_FALSE(isValidUtf8(broken)) << at;
    for (Utf8Kernel k : kernels()) {
      EXPECT_TRUE(isValidUtf8With(k, s)) << at << int(k);
      EXPECT_FALSE(isValidUtf8With(k, cut)) << at << int(k);
      EXPECT_FALSE(isValidUtf8With(k, broken)) << at << int(k);
    }
  }
}

TEST(Utf8Test, EveryKernelOnLongTextAndAsciiRuns) {
  // Long ASCII runs with one multi-byte character or one bad byte at every position, so the
  // kernels' ASCII skips meet sequences left open across blocks.
  for (size_t at = 0; at < 600; at += 7) {
    std::string s(700, 'a');
    s.replace(at, 3, "\xE2\x82\xAC");
    std::string open = s;
    open[at + 2] = 'a';  // a lead and one continuation, then ASCII
    std::string stray = s;
    stray[at] = '\x80';
    for (Utf8Kernel k : kernels()) {
      EXPECT_TRUE(isValidUtf8With(k, s)) << at << int(k);
      EXPECT_FALSE(isValidUtf8With(k, open)) << at << int(k);
      EXPECT_FALSE(isValidUtf8With(k, stray)) << at << int(k);
    }
  }
  EXPECT_TRUE(utf8KernelSupported(Utf8Kernel::kScalar));
}

}  // namespace
}  // namespace ringcast::ws
