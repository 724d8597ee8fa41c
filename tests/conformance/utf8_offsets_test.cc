// Autobahn section 6 carried to every byte offset: one UTF-8 sample (valid or not) placed at
// each offset 0..kLastOffset of an otherwise valid text message, in one frame and split into
// two fragments in the middle of the sample. Validators that work in 16/32/64-byte blocks,
// with an ASCII fast path, or that carry state across fragments go wrong exactly at block
// and fragment edges; Autobahn puts its samples at offset 0 only. Large messages with the
// invalid bytes at the start, the middle or the very end follow.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/conformance_fixture.h"

namespace ringcast::test {
namespace {

// Offsets 0..140 cross the 16-, 32-, 64- and 128-byte block edges.
constexpr size_t kLastOffset = 140;
constexpr size_t kMessageBytes = 160;

struct OffsetCase {
  std::string id;
  std::string sample;
  bool valid;
};

void PrintTo(const OffsetCase& c, std::ostream* os) {
  *os << c.id;
}

std::vector<OffsetCase> offsetCases() {
  return {
      {"valid 2 byte U+00A9", "\xc2\xa9", true},
      {"valid 3 byte U+20AC", "\xe2\x82\xac", true},
      {"valid 4 byte U+1F600", "\xf0\x9f\x98\x80", true},
      {"valid U+10FFFF", "\xf4\x8f\xbf\xbf", true},
      {"invalid continuation byte", "\x80", false},
      {"invalid truncated 3 byte", "\xe2\x82", false},
      {"invalid overlong slash", "\xc0\xaf", false},
      {"invalid surrogate U+D800", "\xed\xa0\x80", false},
      {"invalid above U+10FFFF", "\xf4\x90\x80\x80", false},
      {"invalid byte FF", "\xff", false},
      {"invalid 5 byte form", "\xf8\x88\x80\x80\x80", false},
  };
}

// kMessageBytes of filler with sample at offset; filler is ASCII or U+00E9 (2 bytes), in
// which case offset must be even.
std::string messageWith(std::string_view sample, size_t offset, bool twoByteFiller) {
  std::string s;
  while (s.size() < offset) s += twoByteFiller ? "\xc3\xa9" : "a";
  s += sample;
  while (s.size() + (twoByteFiller ? 2 : 1) <= kMessageBytes) s += twoByteFiller ? "\xc3\xa9" : "a";
  while (s.size() < kMessageBytes) s += 'a';
  return s;
}

class ConformanceUtf8Offsets : public ConformanceParamTest<OffsetCase> {
 protected:
  // Sends the sample at every offset; splitInside puts a fragment boundary after the sample's
  // first byte.
  void run(bool twoByteFiller, bool splitInside) {
    const OffsetCase& c = GetParam();
    std::unique_ptr<WsClient> client;  // valid samples share one connection
    for (size_t offset = 0; offset <= kLastOffset; offset += twoByteFiller ? 2 : 1) {
      const std::string text = messageWith(c.sample, offset, twoByteFiller);
      ASSERT_EQ(isValidUtf8(text), c.valid) << "offset " << offset;
      if (!client) {
        client = openEcho();
        ASSERT_TRUE(client);
      }
      std::string bytes;
      if (splitInside) {
        const size_t cut = offset + 1;
        bytes = encodeFrame(op::kText, std::string_view(text).substr(0, cut), false, 0, true,
                            client->nextMaskKey());
        bytes += encodeFrame(op::kContinuation, std::string_view(text).substr(cut), true, 0, true,
                             client->nextMaskKey());
      } else {
        bytes = encodeFrame(op::kText, text, true, 0, true, client->nextMaskKey());
      }
      bool sent = client->sendRaw(bytes);
      if (c.valid) {
        ASSERT_TRUE(sent) << client->error();
        ASSERT_TRUE(isFrame(client->readFrame(), op::kText, text)) << "offset " << offset;
      } else {
        ASSERT_TRUE(failsWith(*client, close_code::kInvalidPayload)) << "offset " << offset;
        client.reset();
      }
    }
    if (client) {
      EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
    }
  }
};

TEST_P(ConformanceUtf8Offsets, AsciiFillerOneFrame) {
  run(false, false);
}
TEST_P(ConformanceUtf8Offsets, AsciiFillerSplitInsideSample) {
  run(false, true);
}
TEST_P(ConformanceUtf8Offsets, TwoByteFillerOneFrame) {
  run(true, false);
}
TEST_P(ConformanceUtf8Offsets, TwoByteFillerSplitInsideSample) {
  run(true, true);
}

INSTANTIATE_TEST_SUITE_P(Autobahn6, ConformanceUtf8Offsets, ::testing::ValuesIn(offsetCases()),
                         [](const auto& info) { return caseName(info.param.id); });

// A large text message that is valid except for a few bytes at the start, the middle or the
// last bytes, in one frame and in 4 KiB fragments.
struct LargeCase {
  std::string id;
  size_t length;
  size_t badAt;  // offset of the invalid bytes; length - 1 is the last byte
  std::string bad;
  size_t fragmentBytes;  // 0: one frame
};

void PrintTo(const LargeCase& c, std::ostream* os) {
  *os << c.id;
}

std::vector<LargeCase> largeCases() {
  constexpr size_t kLen = 1 << 20;
  std::vector<LargeCase> cases;
  for (size_t fragment : {size_t{0}, size_t{4096}}) {
    const std::string how = fragment == 0 ? " one frame" : " 4KiB fragments";
    cases.push_back({"1MiB overlong at start" + how, kLen, 0, "\xc0\xaf", fragment});
    cases.push_back(
        {"1MiB surrogate in middle" + how, kLen, kLen / 2 + 3, "\xed\xb0\x80", fragment});
    cases.push_back({"1MiB lone lead byte last" + how, kLen, kLen - 1, "\xc3", fragment});
    cases.push_back(
        {"1MiB truncated 4 byte at end" + how, kLen, kLen - 3, "\xf0\x9f\x98", fragment});
    cases.push_back({"1MiB FF before end" + how, kLen, kLen - 2, "\xff", fragment});
  }
  return cases;
}

class ConformanceUtf8Large : public ConformanceParamTest<LargeCase> {};

TEST_P(ConformanceUtf8Large, InvalidBytesAreFound) {
  const LargeCase& c = GetParam();
  std::string text(c.length, 'x');
  text.replace(c.badAt, c.bad.size(), c.bad);
  ASSERT_FALSE(isValidUtf8(text));
  auto client = openEcho();
  ASSERT_TRUE(client);
  const std::string bytes = c.fragmentBytes == 0
                                ? encodeFrame(op::kText, text, true, 0, true, client->nextMaskKey())
                                : encodeFragmented(*client, op::kText, text, c.fragmentBytes);
  sendUntilAnswered(*client, bytes);
  EXPECT_TRUE(failsWith(*client, close_code::kInvalidPayload));
}

INSTANTIATE_TEST_SUITE_P(Autobahn6, ConformanceUtf8Large, ::testing::ValuesIn(largeCases()),
                         [](const auto& info) { return caseName(info.param.id); });

}  // namespace
}  // namespace ringcast::test
