// Autobahn section 6 (UTF-8 handling), RFC 6455 sections 5.6 and 8.1: a text message must
// be valid UTF-8 (RFC 3629) as a whole, validated across fragment boundaries; invalid text
// fails the connection with 1007. The samples are Markus Kuhn's UTF-8 decoder stress test as
// Autobahn numbers them (6.6-6.22). Each sample is sent in one frame and again as one frame
// per byte, so every multi-byte sequence is split across fragments. 6.4.x checks fail-fast:
// the close must arrive right after the offending bytes, before the message is finished.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/conformance_fixture.h"

namespace ringcast::test {
namespace {

constexpr std::string_view kKosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";  // κόσμε

struct Utf8Case {
  std::string id;
  std::string bytes;
  bool valid;
};

void PrintTo(const Utf8Case& c, std::ostream* os) {
  *os << c.id;
}

std::string hex(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

// UTF-8 encoding of any code point up to 0x10FFFF, including surrogates and noncharacters
// (the samples need exactly those).
std::string encode(uint32_t cp) {
  if (cp < 0x80) return hex({static_cast<int>(cp)});
  if (cp < 0x800)
    return hex({static_cast<int>(0xC0 | (cp >> 6)), static_cast<int>(0x80 | (cp & 0x3F))});
  if (cp < 0x10000) {
    return hex({static_cast<int>(0xE0 | (cp >> 12)), static_cast<int>(0x80 | ((cp >> 6) & 0x3F)),
                static_cast<int>(0x80 | (cp & 0x3F))});
  }
  return hex({static_cast<int>(0xF0 | (cp >> 18)), static_cast<int>(0x80 | ((cp >> 12) & 0x3F)),
              static_cast<int>(0x80 | ((cp >> 6) & 0x3F)), static_cast<int>(0x80 | (cp & 0x3F))});
}

std::vector<Utf8Case> utf8Cases() {
  std::vector<Utf8Case> c;
  auto add = [&](std::string id, std::string bytes, bool valid) {
    c.push_back({"Autobahn " + id, std::move(bytes), valid});
  };
  add("6.2.1", "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!", true);
  add("6.3.1", std::string(kKosme) + "\xed\xa0\x80" + "edited", false);
  add("6.5.1", std::string(kKosme), true);
  // 6.6.1-6.6.11: every prefix of κόσμε; valid exactly at character boundaries.
  for (size_t n = 1; n <= kKosme.size(); ++n) {
    add("6.6." + std::to_string(n), std::string(kKosme.substr(0, n)),
        n == 2 || n == 5 || n == 7 || n == 9 || n == 11);
  }
  // 6.7: first code point of each length; 6.8: first 5- and 6-byte forms (not UTF-8).
  add("6.7.1", std::string(1, '\0'), true);
  add("6.7.2", hex({0xc2, 0x80}), true);
  add("6.7.3", hex({0xe0, 0xa0, 0x80}), true);
  add("6.7.4", hex({0xf0, 0x90, 0x80, 0x80}), true);
  add("6.8.1", hex({0xf8, 0x88, 0x80, 0x80, 0x80}), false);
  add("6.8.2", hex({0xfc, 0x84, 0x80, 0x80, 0x80, 0x80}), false);
  // 6.9: last code point of each length; 6.10: beyond U+10FFFF and 5/6-byte forms.
  add("6.9.1", hex({0x7f}), true);
  add("6.9.2", hex({0xdf, 0xbf}), true);
  add("6.9.3", hex({0xef, 0xbf, 0xbf}), true);
  add("6.9.4", hex({0xf4, 0x8f, 0xbf, 0xbf}), true);
  add("6.10.1", hex({0xf7, 0xbf, 0xbf, 0xbf}), false);
  add("6.10.2", hex({0xfb, 0xbf, 0xbf, 0xbf, 0xbf}), false);
  add("6.10.3", hex({0xfd, 0xbf, 0xbf, 0xbf, 0xbf, 0xbf}), false);
  // 6.11: other boundaries (U+D7FF, U+E000, U+FFFD, U+10FFFF, U+110000).
  add("6.11.1", hex({0xed, 0x9f, 0xbf}), true);
  add("6.11.2", hex({0xee, 0x80, 0x80}), true);
  add("6.11.3", hex({0xef, 0xbf, 0xbd}), true);
  add("6.11.4", hex({0xf4, 0x8f, 0xbf, 0xbf}), true);
  add("6.11.5", hex({0xf4, 0x90, 0x80, 0x80}), false);
  // 6.12: unexpected continuation bytes.
  const std::string cont = hex({0x80, 0xbf, 0x80, 0xbf, 0x80, 0xbf});
  add("6.12.1", hex({0x80}), false);
  add("6.12.2", hex({0xbf}), false);
  for (size_t n = 2; n <= 6; ++n) add("6.12." + std::to_string(n + 1), cont.substr(0, n), false);
  std::string allCont;
  for (int b = 0x80; b <= 0xbf; ++b) allCont.push_back(static_cast<char>(b));
  add("6.12.8", allCont, false);
  // 6.13: lonely start bytes, each followed by a space.
  auto lonely = [](int from, int to) {
    std::string s;
    for (int b = from; b <= to; ++b) s += hex({b, 0x20});
    return s;
  };
  add("6.13.1", lonely(0xc0, 0xdf), false);
  add("6.13.2", lonely(0xe0, 0xef), false);
  add("6.13.3", lonely(0xf0, 0xf7), false);
  add("6.13.4", lonely(0xf8, 0xfb), false);
  add("6.13.5", lonely(0xfc, 0xfd), false);
  // 6.14: sequences with the last continuation byte missing; 6.15: all of them concatenated.
  const std::vector<std::string> truncated = {hex({0xc0}),
                                              hex({0xe0, 0x80}),
                                              hex({0xf0, 0x80, 0x80}),
                                              hex({0xf8, 0x80, 0x80, 0x80}),
                                              hex({0xfc, 0x80, 0x80, 0x80, 0x80}),
                                              hex({0xdf}),
                                              hex({0xef, 0xbf}),
                                              hex({0xf7, 0xbf, 0xbf}),
                                              hex({0xfb, 0xbf, 0xbf, 0xbf}),
                                              hex({0xfd, 0xbf, 0xbf, 0xbf, 0xbf})};
  std::string concatenated;
  for (size_t i = 0; i < truncated.size(); ++i) {
    add("6.14." + std::to_string(i + 1), truncated[i], false);
    concatenated += truncated[i];
  }
  add("6.15.1", concatenated, false);
  // 6.16: bytes that never appear in UTF-8.
  add("6.16.1", hex({0xfe}), false);
  add("6.16.2", hex({0xff}), false);
  add("6.16.3", hex({0xfe, 0xfe, 0xff, 0xff}), false);
  // 6.17-6.19: overlong forms of '/', the largest overlongs, overlong NUL.
  add("6.17.1", hex({0xc0, 0xaf}), false);
  add("6.17.2", hex({0xe0, 0x80, 0xaf}), false);
  add("6.17.3", hex({0xf0, 0x80, 0x80, 0xaf}), false);
  add("6.17.4", hex({0xf8, 0x80, 0x80, 0x80, 0xaf}), false);
  add("6.17.5", hex({0xfc, 0x80, 0x80, 0x80, 0x80, 0xaf}), false);
  add("6.18.1", hex({0xc1, 0xbf}), false);
  add("6.18.2", hex({0xe0, 0x9f, 0xbf}), false);
  add("6.18.3", hex({0xf0, 0x8f, 0xbf, 0xbf}), false);
  add("6.18.4", hex({0xf8, 0x87, 0xbf, 0xbf, 0xbf}), false);
  add("6.18.5", hex({0xfc, 0x83, 0xbf, 0xbf, 0xbf, 0xbf}), false);
  add("6.19.1", hex({0xc0, 0x80}), false);
  add("6.19.2", hex({0xe0, 0x80, 0x80}), false);
  add("6.19.3", hex({0xf0, 0x80, 0x80, 0x80}), false);
  add("6.19.4", hex({0xf8, 0x80, 0x80, 0x80, 0x80}), false);
  add("6.19.5", hex({0xfc, 0x80, 0x80, 0x80, 0x80, 0x80}), false);
  // 6.20: single UTF-16 surrogates; 6.21: surrogate pairs encoded as two 3-byte sequences.
  const uint32_t singles[] = {0xD800, 0xDB7F, 0xDB80, 0xDBFF, 0xDC00, 0xDF80, 0xDFFF};
  for (size_t i = 0; i < std::size(singles); ++i) {
    add("6.20." + std::to_string(i + 1), encode(singles[i]), false);
  }
  const uint32_t highs[] = {0xD800, 0xDB7F, 0xDB80, 0xDBFF};
  const uint32_t lows[] = {0xDC00, 0xDFFF};
  int pair = 0;
  for (uint32_t hi : highs) {
    for (uint32_t lo : lows) add("6.21." + std::to_string(++pair), encode(hi) + encode(lo), false);
  }
  // 6.22: noncharacters U+nFFFE and U+nFFFF of every plane are valid UTF-8.
  int nonchar = 0;
  for (uint32_t plane = 0; plane <= 0x10; ++plane) {
    for (uint32_t low : {0xFFFEu, 0xFFFFu}) {
      add("6.22." + std::to_string(++nonchar), encode((plane << 16) | low), true);
    }
  }
  // 6.23: special characters (interlinear annotation, object replacement, BOM).
  for (uint32_t cp : {0xFFF9u, 0xFFFAu, 0xFFFBu, 0xFFFCu, 0xFFFDu, 0xFEFFu}) {
    char name[16];
    std::snprintf(name, sizeof name, "6.23 U+%04X", static_cast<unsigned>(cp));
    add(name, encode(cp), true);
  }
  return c;
}

class ConformanceUtf8 : public ConformanceParamTest<Utf8Case> {
 protected:
  // Sends the sample as frames of fragmentBytes each (0 = one frame) and checks the outcome.
  void check(size_t fragmentBytes) {
    const Utf8Case& c = GetParam();
    ASSERT_EQ(isValidUtf8(c.bytes), c.valid) << "the sample table disagrees with RFC 3629";
    auto client = openEcho();
    ASSERT_TRUE(client);
    const std::string bytes =
        fragmentBytes == 0 ? encodeFrame(op::kText, c.bytes, true, 0, true, client->nextMaskKey())
                           : encodeFragmented(*client, op::kText, c.bytes, fragmentBytes);
    bool sent = client->sendRaw(bytes);
    if (c.valid) {
      ASSERT_TRUE(sent) << client->error();
      EXPECT_TRUE(isFrame(client->readFrame(), op::kText, c.bytes));
      EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
    } else {
      EXPECT_TRUE(failsWith(*client, close_code::kInvalidPayload));
    }
  }
};

TEST_P(ConformanceUtf8, OneFrame) {
  check(0);
}
TEST_P(ConformanceUtf8, OneFramePerByte) {
  check(1);
}

INSTANTIATE_TEST_SUITE_P(Rfc6455, ConformanceUtf8, ::testing::ValuesIn(utf8Cases()),
                         [](const auto& info) { return caseName(info.param.id); });

// 6.1.x, 6.2.2-6.2.4 and 6.3.2 as Autobahn sends them (empty fragments, a split on a character
// boundary, one frame per byte).
std::vector<ScriptCase> utf8ScriptCases() {
  auto perByte = [](std::string_view text) {
    std::vector<FrameSpec> v;
    for (size_t i = 0; i < text.size(); ++i) {
      v.push_back(
          {i == 0 ? op::kText : op::kContinuation, std::string(1, text[i]), i + 1 == text.size()});
    }
    return v;
  };
  const std::string hello =
      "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!";
  const std::string invalid = std::string(kKosme) + "\xed\xa0\x80" + "edited";
  return {
      {"Autobahn 6.1.1", {{op::kText, ""}}, Delivery::kOneWrite, {{op::kText, ""}}},
      {"Autobahn 6.1.2",
       {{op::kText, "", false}, {op::kContinuation, "", false}, {op::kContinuation, "", true}},
       Delivery::kOneWrite,
       {{op::kText, ""}}},
      {"Autobahn 6.1.3",
       {{op::kText, "", false},
        {op::kContinuation, "middle frame payload", false},
        {op::kContinuation, "", true}},
       Delivery::kOneWrite,
       {{op::kText, "middle frame payload"}}},
      {"Autobahn 6.2.2",
       {{op::kText, hello.substr(0, 14), false}, {op::kContinuation, hello.substr(14), true}},
       Delivery::kPerFrame,
       {{op::kText, hello}}},
      {"Autobahn 6.2.3", perByte(hello), Delivery::kOneWrite, {{op::kText, hello}}},
      {"Autobahn 6.2.4", perByte(kKosme), Delivery::kPerFrame, {{op::kText, std::string(kKosme)}}},
      {"Autobahn 6.3.2",
       perByte(invalid),
       Delivery::kPerFrame,
       {},
       Outcome::kFails,
       close_code::kInvalidPayload},
  };
}

class ConformanceUtf8Fragments : public ConformanceParamTest<ScriptCase> {};

TEST_P(ConformanceUtf8Fragments, Script) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  EXPECT_TRUE(runScript(*client, GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Rfc6455, ConformanceUtf8Fragments, ::testing::ValuesIn(utf8ScriptCases()),
                         scriptCaseName);

// 6.4.1-6.4.4 (fail fast): a text message in three parts, where part 1 is a valid prefix,
// part 2 makes it invalid and part 3 would finish it. As separate frames (6.4.1/6.4.2) or
// as chops of one frame (6.4.3/6.4.4). The close must arrive before part 3 is sent.
struct FailFastCase {
  std::string id;
  std::string part1, part2, part3;
  bool oneFrame;
};

void PrintTo(const FailFastCase& c, std::ostream* os) {
  *os << c.id;
}

// How long a valid prefix must go unanswered before the invalid part is sent.
constexpr Millis kQuietAfterValidPrefix{100};

class ConformanceUtf8FailFast : public ConformanceParamTest<FailFastCase> {};

TEST_P(ConformanceUtf8FailFast, CloseArrivesBeforeMessageEnds) {
  const FailFastCase& c = GetParam();
  auto client = openEcho();
  ASSERT_TRUE(client);
  std::vector<std::string> parts;
  if (c.oneFrame) {
    const std::string whole = c.part1 + c.part2 + c.part3;
    std::string frame = encodeFrame(op::kText, whole, true, 0, true, client->nextMaskKey());
    const size_t header = frame.size() - whole.size();
    parts = {frame.substr(0, header + c.part1.size()),
             frame.substr(header + c.part1.size(), c.part2.size()),
             frame.substr(header + c.part1.size() + c.part2.size())};
  } else {
    const uint32_t k = client->nextMaskKey();
    parts = {encodeFrame(op::kText, c.part1, false, 0, true, k),
             encodeFrame(op::kContinuation, c.part2, false, 0, true, k),
             encodeFrame(op::kContinuation, c.part3, true, 0, true, k)};
  }
  ASSERT_TRUE(client->sendRaw(parts[0])) << client->error();
  if (c.oneFrame) {
    // Mid-frame nothing else can be asked; the valid prefix must simply not fail.
    EXPECT_TRUE(client->expectSilence(kQuietAfterValidPrefix));
  } else {
    // Between fragments a ping proves the connection is still up after the valid prefix.
    ASSERT_TRUE(client->sendFrame(op::kPing, "still valid"));
    EXPECT_TRUE(isFrame(client->readFrame(), op::kPong, "still valid"));
  }
  ASSERT_TRUE(client->sendRaw(parts[1])) << client->error();
  EXPECT_TRUE(client->expectClose(close_code::kInvalidPayload))
      << "the server must fail the connection as soon as the invalid bytes arrive";
  client->sendRaw(parts[2]);
  client->sendClose(close_code::kNormal);
  EXPECT_TRUE(client->waitEof(kCloseTcpWithin));
}

INSTANTIATE_TEST_SUITE_P(
    Rfc6455, ConformanceUtf8FailFast,
    ::testing::Values(
        // Part 2 is U+110000 in 4-byte form: invalid at its second byte.
        FailFastCase{"Autobahn 6.4.1", std::string(kKosme), hex({0xf4, 0x90, 0x80, 0x80}), "edited",
                     false},
        // Part 1 ends in a lead byte that is still a valid prefix; part 2 is one bad byte.
        FailFastCase{"Autobahn 6.4.2", std::string(kKosme) + hex({0xf4}), hex({0x90}),
                     hex({0x80, 0x80}) + "edited", false},
        FailFastCase{"Autobahn 6.4.3", std::string(kKosme), hex({0xf4, 0x90, 0x80, 0x80}), "edited",
                     true},
        FailFastCase{"Autobahn 6.4.4", std::string(kKosme) + hex({0xf4}), hex({0x90}),
                     hex({0x80, 0x80}) + "edited", true},
        // A surrogate (U+D800) inside one frame: invalid at its second byte.
        FailFastCase{"Autobahn 6.4 surrogate", "abc", hex({0xed, 0xa0}), hex({0x80}) + "def",
                     true}),
    [](const auto& info) { return caseName(info.param.id); });

}  // namespace
}  // namespace ringcast::test
