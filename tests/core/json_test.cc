#include "core/json.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <random>
#include <string>

namespace ringcast::json {
namespace {

std::string asJsonString(std::string_view s) {
  std::string out;
  appendString(out, s);
  return out;
}

// The string simdjson reads back from `jsonString`, or "<invalid>".
std::string readBack(const std::string& jsonString) {
  simdjson::dom::parser parser;
  std::string_view s;
  if (parser.parse(simdjson::padded_string(jsonString)).get_string().get(s)) return "<invalid>";
  return std::string(s);
}

TEST(JsonAppendString, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(asJsonString(""), R"("")");
  EXPECT_EQ(asJsonString("plain text"), R"("plain text")");
  EXPECT_EQ(asJsonString(R"(say "hi")"), R"("say \"hi\"")");
  EXPECT_EQ(asJsonString(R"(C:\dir)"), R"("C:\\dir")");
  EXPECT_EQ(asJsonString("a\nb\tc\r"), R"("a\u000ab\u0009c\u000d")");
  EXPECT_EQ(asJsonString(std::string("\0\x1f", 2)), R"("\u0000\u001f")");
  EXPECT_EQ(asJsonString("\x7f/"), "\"\x7f/\"");  // DEL and '/' need no escape
  EXPECT_EQ(asJsonString("h\xc3\xa9llo \xf0\x9f\x98\x80"), "\"h\xc3\xa9llo \xf0\x9f\x98\x80\"");
}

TEST(JsonAppendString, AppendsWithoutClearing) {
  std::string out = "[";
  appendString(out, "a");
  out += ",";
  appendString(out, "\"");
  EXPECT_EQ(out, R"(["a","\"")");
}

TEST(JsonAppendString, RoundTripsEveryByteOfRandomUtf8) {
  std::mt19937 rng(7);
  const std::array<std::string_view, 6> pieces = {"\"", "\\", "\x01", "\xc3\xa9", "x", "\n"};
  for (int round = 0; round < 500; ++round) {
    std::string s;
    const int n = rng() % 20;
    for (int i = 0; i < n; ++i) {
      if (rng() % 3 == 0) {
        s += static_cast<char>(rng() % 0x80);
      } else {
        s += pieces[rng() % pieces.size()];
      }
    }
    const std::string json = asJsonString(s);
    ASSERT_TRUE(isValidJson(json)) << json;
    ASSERT_EQ(readBack(json), s);
  }
}

TEST(JsonFields, WriteOneMemberEach) {
  std::string out = "{";
  appendStringField(out, "channel", "room\"1");
  out += ',';
  appendUintField(out, "offset", 18446744073709551615u);
  out += ',';
  appendIntField(out, "ts", -5);
  out += ',';
  appendBoolField(out, "ok", true);
  out += ',';
  appendBoolField(out, "online", false);
  out += ',';
  appendKey(out, "data");
  out += "null}";
  EXPECT_EQ(out, R"({"channel":"room\"1","offset":18446744073709551615,"ts":-5,"ok":true,)"
                 R"("online":false,"data":null})");
  EXPECT_TRUE(isValidJson(out));
}

// Keys of every length, around the size that is built on the stack, and the widest numbers.
TEST(JsonFields, KeysOfAnyLengthAndTheWidestNumbers) {
  for (size_t n : {0u, 1u, 31u, 32u, 33u, 200u}) {
    const std::string name(n, 'k');
    std::string out = "{";
    appendUintField(out, name, 18446744073709551615u);
    out += ',';
    appendIntField(out, name + "i", INT64_MIN);
    out += ',';
    appendKey(out, name + "d");
    out += "0}";
    EXPECT_EQ(out, "{\"" + name + "\":18446744073709551615,\"" + name +
                       "i\":-9223372036854775808,\"" + name + "d\":0}");
    EXPECT_TRUE(isValidJson(out)) << out;
  }
}

TEST(JsonUtf8, AcceptsValidAndRefusesInvalid) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("ascii"));
  EXPECT_TRUE(isValidUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  EXPECT_FALSE(isValidUtf8("\xc0\x80"));          // overlong NUL
  EXPECT_FALSE(isValidUtf8("\xed\xa0\x80"));      // UTF-16 surrogate
  EXPECT_FALSE(isValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(isValidUtf8("\xe2\x82"));          // cut short
  EXPECT_FALSE(isValidUtf8("\xff"));
}

TEST(JsonValid, AcceptsOneValueOfAnyType) {
  for (std::string_view ok :
       {"{}", "[]", "0", "-0", "1.5e-3", "\"s\"", "true", "false", "null",
        " \t\r\n{\"a\" : [1, {\"b\": null}]} \n", R"("\u00e9\ud83d\ude00")", "[\"\x7f\"]"}) {
    EXPECT_TRUE(isValidJson(ok)) << ok;
  }
}

TEST(JsonValid, RefusesEverythingElse) {
  for (std::string_view bad : {"",
                               "   ",
                               "{",
                               "[1,]",
                               "[1 2]",
                               "{\"a\" 1}",
                               "{\"a\":1,}",
                               "1 2",
                               "{} x",
                               "{}}",
                               "nul",
                               "tru",
                               "01",
                               "1.",
                               "-",
                               ".5",
                               "+1",
                               "0x10",
                               "NaN",
                               "Infinity",
                               "'s'",
                               "{a:1}",
                               "[\"a\x01\"]",
                               "\"\\x\"",
                               "\"\\ud800\"",
                               "\xef\xbb\xbf{}",
                               "[\"\xff\"]"}) {
    EXPECT_FALSE(isValidJson(bad)) << bad;
  }
}

TEST(JsonValid, NumbersFollowTheGrammarWhateverTheirSize) {
  EXPECT_TRUE(isValidJson("12345678901234567890123"));
  EXPECT_TRUE(isValidJson("-12345678901234567890123"));
  EXPECT_TRUE(isValidJson("[1e400, -1E+400, 18446744073709551616, 1.0e-400]"));
  EXPECT_TRUE(isValidJson("{\"a\":{\"b\":[99999999999999999999999999999999]}}"));
  // The out-of-range check looks at tokens, not inside strings.
  EXPECT_TRUE(isValidJson(R"(["\"12345678901234567890123", 1e400])"));
  EXPECT_FALSE(isValidJson("[1e400x]"));
  EXPECT_FALSE(isValidJson("[012345678901234567890123]"));
  EXPECT_FALSE(isValidJson("[12345678901234567890123.]"));
  EXPECT_FALSE(isValidJson("[1e400 1]"));
  EXPECT_FALSE(isValidJson("{1e400:1}"));  // a number is no member name
  EXPECT_FALSE(isValidJson("[1e400,]"));
}

TEST(JsonValid, NestingLimitIsSimdjsons) {
  EXPECT_TRUE(isValidJson(std::string(1000, '[') + std::string(1000, ']')));
  EXPECT_FALSE(isValidJson(std::string(2000, '[') + std::string(2000, ']')));
}

// simdjson reads past the end of its input; the parser must copy first. The input ends
// right before an inaccessible page, so any read past it faults.
TEST(JsonValid, ReadsNothingPastTheInput) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* map = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  char* base = static_cast<char*>(map);
  ASSERT_EQ(mprotect(base + page, page, PROT_NONE), 0);
  const std::string_view doc = R"({"op":"publish","data":[1,2,3]})";
  char* start = base + page - doc.size();
  std::copy(doc.begin(), doc.end(), start);
  const std::string_view view(start, doc.size());
  EXPECT_TRUE(isValidJson(view));
  EXPECT_FALSE(isValidJson(view.substr(0, view.size() - 1)));
  std::string out;
  EXPECT_TRUE(dataFromBytes(view, &out));
  EXPECT_EQ(out, doc);
  munmap(map, 2 * page);
}

TEST(JsonValid, IgnoresBytesAfterTheView) {
  const std::string buffer = "[1]]]]";
  EXPECT_TRUE(isValidJson(std::string_view(buffer).substr(0, 3)));
  EXPECT_FALSE(isValidJson(std::string_view(buffer).substr(0, 4)));
}

TEST(JsonDataFromBytes, CarriesJsonByteForByte) {
  std::string out = "previous";
  ASSERT_TRUE(dataFromBytes(R"({ "text" : "hi",  "n": 1.50 })", &out));
  EXPECT_EQ(out, R"({ "text" : "hi",  "n": 1.50 })");
  ASSERT_TRUE(dataFromBytes("\r\n [1, 2]\n\n", &out));
  EXPECT_EQ(out, "[1, 2]");
  ASSERT_TRUE(dataFromBytes("12345678901234567890123", &out));
  EXPECT_EQ(out, "12345678901234567890123");
  ASSERT_TRUE(dataFromBytes(R"("\u0041")", &out));
  EXPECT_EQ(out, R"("\u0041")");
  ASSERT_TRUE(dataFromBytes("true", &out));
  EXPECT_EQ(out, "true");
}

TEST(JsonDataFromBytes, CarriesOtherTextAsAString) {
  std::string out;
  ASSERT_TRUE(dataFromBytes("hello", &out));
  EXPECT_EQ(out, R"("hello")");
  ASSERT_TRUE(dataFromBytes("", &out));
  EXPECT_EQ(out, R"("")");
  ASSERT_TRUE(dataFromBytes("  ", &out));
  EXPECT_EQ(out, R"("  ")");
  ASSERT_TRUE(dataFromBytes("{\"a\":1} trailing", &out));
  EXPECT_EQ(out, R"("{\"a\":1} trailing")");
  ASSERT_TRUE(dataFromBytes("line1\r\nline2 \xc3\xa9", &out));
  EXPECT_EQ(out, "\"line1\\u000d\\u000aline2 \xc3\xa9\"");
  EXPECT_TRUE(isValidJson(out));
}

TEST(JsonDataFromBytes, RefusesBytesThatAreNotUtf8) {
  std::string out = "unchanged";
  EXPECT_FALSE(dataFromBytes("\xff\xfe", &out));
  EXPECT_FALSE(dataFromBytes("\"\xc0\x80\"", &out));
  EXPECT_EQ(out, "unchanged");
}

TEST(JsonParser, RawMembersAreTheExactValueBytes) {
  Parser parser;
  simdjson::dom::element root;
  const std::string text =
      "{ \"op\" : \"publish\" ,\n \"data\" :\t{ \"x\" : [1, 2,3] ,\"y\":\"\\u00e9\" }  , "
      "\"id\":12345678901234567890123 , \"z\": [ ] }";
  ASSERT_TRUE(parser.parse(text, &root));
  const std::array<std::string_view, 4> keys = {"data", "id", "z", "missing"};
  std::array<std::string_view, 4> raw;
  ASSERT_TRUE(parser.rawMembers(keys, raw));
  EXPECT_EQ(raw[0], R"({ "x" : [1, 2,3] ,"y":"\u00e9" })");
  EXPECT_EQ(raw[1], "12345678901234567890123");
  EXPECT_EQ(raw[2], "[ ]");
  EXPECT_TRUE(raw[3].empty());
  // The views point into the caller's text, not into a copy.
  EXPECT_GE(raw[0].data(), text.data());
  EXPECT_LE(raw[0].data() + raw[0].size(), text.data() + text.size());
}

TEST(JsonParser, RawMembersMatchUnescapedNamesAtTopLevelOnly) {
  Parser parser;
  simdjson::dom::element root;
  const std::string text = R"({"inner":{"data":1},"d\u0061ta":"x","data":"second"})";
  ASSERT_TRUE(parser.parse(text, &root));
  const std::array<std::string_view, 1> keys = {"data"};
  std::array<std::string_view, 1> raw;
  ASSERT_TRUE(parser.rawMembers(keys, raw));
  EXPECT_EQ(raw[0], R"("x")");
}

TEST(JsonParser, UnrepresentableNumbersReadAsEmptyObjects) {
  Parser parser;
  simdjson::dom::element root;
  ASSERT_TRUE(parser.parse("[1, 12345678901234567890123, 1e400, 7]", &root));
  simdjson::dom::array list;
  ASSERT_EQ(root.get_array().get(list), simdjson::SUCCESS);
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(int64_t(list.at(0)), 1);
  EXPECT_TRUE(list.at(1).is_object());
  EXPECT_TRUE(list.at(2).is_object());
  EXPECT_EQ(int64_t(list.at(3)), 7);
}

// The scan decides from a number's text whether simdjson reads it; simdjson itself, parsing
// each token alone, is the oracle here (the scan no longer asks it, number by number).
TEST(JsonParser, NumbersAtTheEdgesOfTheRangeReadAsSimdjsonReadsThem) {
  const char* tokens[] = {"18446744073709551615",
                          "18446744073709551616",
                          "-9223372036854775808",
                          "-9223372036854775809",
                          "1234567890123456789",
                          "-1234567890123456789",
                          "1e308",
                          "1.7976931348623157e308",
                          "1.7976931348623159e308",
                          "1e309",
                          "-1e309",
                          "1e-400",
                          "-1e-400",
                          "0e99999999999999999999",
                          "1E+308",
                          "1E+309",
                          "0.000000000000000000000000001e-300",
                          "123456789012345678901e-30",
                          "100000000000000000000000.5",
                          "2.5e-324",
                          "4.9e-324",
                          "1e99999999999999999999999",
                          "1e-99999999999999999999999"};
  for (const char* token : tokens) {
    simdjson::dom::parser oracle;
    simdjson::dom::element alone;
    const bool simdjsonReads =
        oracle.parse(simdjson::padded_string(std::string_view(token))).get(alone) ==
        simdjson::SUCCESS;
    Parser parser;
    simdjson::dom::element root;
    ASSERT_TRUE(parser.parse(std::string("[") + token + "]", &root)) << token;
    simdjson::dom::array list;
    ASSERT_EQ(root.get_array().get(list), simdjson::SUCCESS);
    EXPECT_EQ(list.at(0).is_object(), !simdjsonReads) << token;
  }
  // A long mantissa without an exponent, far beyond a double: refused by simdjson.
  Parser parser;
  simdjson::dom::element root;
  ASSERT_TRUE(
      parser.parse("[1" + std::string(400, '0') + ", 0." + std::string(400, '0') + "1]", &root));
  simdjson::dom::array list;
  ASSERT_EQ(root.get_array().get(list), simdjson::SUCCESS);
  EXPECT_TRUE(list.at(0).is_object());
  EXPECT_FALSE(list.at(1).is_object());
}

TEST(JsonParser, InvalidJsonFullOfNumbersIsRefused) {
  // Many numbers that need the scan, then a syntax error: one scan, no parse per number.
  std::string text = "[";
  for (int i = 0; i < 100'000; ++i) text += "1.5e300,12345678901234567890123,";
  text += "]";  // a trailing comma: invalid
  Parser parser;
  simdjson::dom::element root;
  EXPECT_FALSE(parser.parse(text, &root));
  text.pop_back();
  text.back() = ']';
  EXPECT_TRUE(parser.parse(text, &root)) << "the same numbers in valid JSON";
}

TEST(JsonParser, RawMembersNeedASuccessfulParseOfAnObject) {
  Parser parser;
  simdjson::dom::element root;
  const std::array<std::string_view, 1> keys = {"a"};
  std::array<std::string_view, 1> raw = {"stale"};
  EXPECT_FALSE(parser.rawMembers(keys, raw));
  ASSERT_TRUE(parser.parse("[1]", &root));
  EXPECT_FALSE(parser.rawMembers(keys, raw));
  EXPECT_TRUE(raw[0].empty());
  EXPECT_FALSE(parser.parse("{\"a\":", &root));
  EXPECT_FALSE(parser.rawMembers(keys, raw));
}

TEST(JsonParser, ReleasesLargeBuffersAndKeepsWorking) {
  Parser parser;
  simdjson::dom::element root;
  std::string big = "{\"data\":\"" + std::string(Parser::kRetainBytes * 2, 'x') + "\"}";
  ASSERT_TRUE(parser.parse(big, &root));
  const std::array<std::string_view, 1> keys = {"data"};
  std::array<std::string_view, 1> raw;
  ASSERT_TRUE(parser.rawMembers(keys, raw));
  EXPECT_EQ(raw[0].size(), Parser::kRetainBytes * 2 + 2);
  ASSERT_TRUE(parser.parse("{\"data\":[true]}", &root));
  ASSERT_TRUE(parser.rawMembers(keys, raw));
  EXPECT_EQ(raw[0], "[true]");
}

TEST(JsonTrim, RemovesJsonWhitespaceOnly) {
  EXPECT_EQ(trimWhitespace(" \t\r\n x y \n"), "x y");
  EXPECT_EQ(trimWhitespace("\v x\f"), "\v x\f");
  EXPECT_EQ(trimWhitespace("   "), "");
}

}  // namespace
}  // namespace ringcast::json
