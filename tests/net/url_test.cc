#include "net/url.h"

#include <gtest/gtest.h>

#include <string>

namespace ringcast::net {
namespace {

TEST(Url, PathSegmentsDecodeStrictly) {
  std::string out;
  EXPECT_TRUE(percentDecode("room%3A7", UrlPart::kPath, &out));
  EXPECT_EQ(out, "room:7");
  EXPECT_TRUE(percentDecode("a%2fb%2Bc+d", UrlPart::kPath, &out));
  EXPECT_EQ(out, "a/b+c+d");
  EXPECT_TRUE(percentDecode("plain", UrlPart::kPath, &out));
  EXPECT_EQ(out, "plain");
  EXPECT_TRUE(percentDecode("", UrlPart::kPath, &out));
  EXPECT_EQ(out, "");
  EXPECT_FALSE(percentDecode("bad%", UrlPart::kPath, &out));
  EXPECT_FALSE(percentDecode("bad%4", UrlPart::kPath, &out));
  EXPECT_FALSE(percentDecode("bad%zz", UrlPart::kPath, &out));
  EXPECT_FALSE(percentDecode("%4g", UrlPart::kPath, &out));
}

TEST(Url, QueryValuesDecodeAsBrowsersWriteThem) {
  std::string out;
  EXPECT_TRUE(percentDecode("Ann+Lee%21", UrlPart::kQueryValue, &out));
  EXPECT_EQ(out, "Ann Lee!");
  EXPECT_TRUE(percentDecode("100%25", UrlPart::kQueryValue, &out));
  EXPECT_EQ(out, "100%");
  // A '%' without two hex digits after it is kept as sent.
  EXPECT_TRUE(percentDecode("a%zz%4%", UrlPart::kQueryValue, &out));
  EXPECT_EQ(out, "a%zz%4%");
  EXPECT_TRUE(percentDecode("%C3%A9", UrlPart::kQueryValue, &out));
  EXPECT_EQ(out, "\xC3\xA9");
}

TEST(Url, QueryParamFindsTheFirstPairWithTheKey) {
  EXPECT_EQ(queryParam("token=abc&user=bob", "token"), "abc");
  EXPECT_EQ(queryParam("token=abc&user=b%20o+b", "user"), "b o b");
  EXPECT_EQ(queryParam("user=1&user=2", "user"), "1");
  EXPECT_EQ(queryParam("username=x&user", "user"), "");
  EXPECT_EQ(queryParam("", "user"), "");
  EXPECT_EQ(queryParam("a=1&&user=z", "user"), "z");
}

TEST(Url, HexDigits) {
  EXPECT_EQ(hexDigitValue('0'), 0);
  EXPECT_EQ(hexDigitValue('9'), 9);
  EXPECT_EQ(hexDigitValue('a'), 10);
  EXPECT_EQ(hexDigitValue('F'), 15);
  EXPECT_EQ(hexDigitValue('g'), -1);
  EXPECT_EQ(hexDigitValue('/'), -1);
}

}  // namespace
}  // namespace ringcast::net
