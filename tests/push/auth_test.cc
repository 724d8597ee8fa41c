#include "push/auth.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ringcast::push {
namespace {

constexpr std::string_view kSecret = "ringcast-test-secret";
constexpr int64_t kNow = 1'700'000'000;

// Computed independently with Python's hmac and base64 modules:
// header {"alg":"HS256","typ":"JWT"}, payload kPayload, secret kSecret.
constexpr std::string_view kPayload =
    R"({"sub":"alice","name":"Alice","exp":2000000000,"subs":["news","room:*"],"pubs":["room:*"],"send":false})";
constexpr std::string_view kToken =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJhbGljZSIsIm5hbWUiOiJBbGljZSIsImV4cCI6MjAwMDAwMDAwMCwic3VicyI6WyJuZXdzIiwicm9vbToq"
    "Il0sInB1YnMiOlsicm9vbToqIl0sInNlbmQiOmZhbHNlfQ."
    "xcKCP2CtQFZML7RluuyUsttRJD2TrTA5Dbv8-FuiDkg";

std::string reason(std::string_view token, int64_t now = kNow) {
  AuthResult r = verifyToken(token, kSecret, now);
  return r.ok ? "ok" : r.reason;
}

std::string signedWith(std::string_view payload) {
  return signToken(payload, kSecret);
}

TEST(Auth, KnownVector) {
  EXPECT_EQ(signToken(kPayload, kSecret), kToken);
  AuthResult r = verifyToken(kToken, kSecret, kNow);
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.identity.user, "alice");
  EXPECT_EQ(r.identity.name, "Alice");
  EXPECT_EQ(r.identity.expSec, 2'000'000'000);
  EXPECT_TRUE(r.identity.hasSubs);
  EXPECT_EQ(r.identity.subs, (std::vector<std::string>{"news", "room:*"}));
  EXPECT_TRUE(r.identity.hasPubs);
  EXPECT_EQ(r.identity.pubs, std::vector<std::string>{"room:*"});
  EXPECT_FALSE(r.identity.canSend);
}

// The example token published on jwt.io, an implementation this code shares nothing with.
TEST(Auth, JwtIoVector) {
  constexpr std::string_view token =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
      "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
      "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  AuthResult r = verifyToken(token, "your-256-bit-secret", kNow);
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.identity.user, "1234567890");
  EXPECT_EQ(r.identity.name, "John Doe");
  EXPECT_FALSE(r.identity.hasSubs);
  EXPECT_FALSE(r.identity.hasPubs);
  EXPECT_TRUE(r.identity.canSend);
  EXPECT_EQ(r.identity.expSec, 0);
}

TEST(Auth, ChangingAnyByteOfPayloadOrSignatureFails) {
  const std::string token(kToken);
  const size_t dot1 = token.find('.');
  for (size_t i = dot1 + 1; i < token.size(); ++i) {
    if (token[i] == '.') continue;
    std::string forged = token;
    forged[i] = token[i] == 'A' ? 'B' : 'A';
    const std::string why = reason(forged);
    // A changed last character may leave non-zero unused bits: not canonical, so malformed.
    const bool lastOfPart = i + 1 == token.size() || token[i + 1] == '.';
    if (lastOfPart) {
      EXPECT_TRUE(why == "bad signature" || why == "malformed token") << i << ": " << why;
    } else {
      EXPECT_EQ(why, "bad signature") << i;
    }
  }
}

TEST(Auth, WrongSecret) {
  EXPECT_EQ(verifyToken(kToken, "other-secret", kNow).reason, "bad signature");
  EXPECT_EQ(verifyToken(kToken, "", kNow).reason, "no secret");
  EXPECT_FALSE(verifyToken(kToken, "", kNow).ok);
}

TEST(Auth, UnsupportedAlgorithms) {
  // alg none with a correct HMAC anyway (computed with Python): refused on the header alone.
  EXPECT_EQ(reason("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSJ9."
                   "ZPMd6c2RQnD1mDQ9a4trvED7wtODca3oMnXFDnycAfg"),
            "unsupported alg");
  // Minimal header {"alg":"HS256"} (Python): accepted.
  EXPECT_EQ(reason("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9."
                   "d8_EL8MZCXhvbpVQqvC4K_FPlfblc1NdXNBRZvtamag"),
            "ok");
  const std::string payload = "." + base64UrlEncode(R"({"sub":"alice"})") + ".";
  for (std::string_view header : {R"({"alg":"none"})", R"({"alg":"HS512"})", R"({"alg":"hs256"})",
                                  R"({"typ":"JWT"})", R"({"alg":256})", R"({"alg":null})"}) {
    EXPECT_EQ(reason(base64UrlEncode(header) + payload), "unsupported alg") << header;
  }
}

TEST(Auth, Expiry) {
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","exp":1700000001})")), "ok");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","exp":1700000000})")), "token expired");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","exp":1699999999})")), "token expired");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","exp":1700000000.9})")), "token expired");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","exp":1700000001.5})")), "ok");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","exp":18446744073709551615})")), "ok");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","exp":"1800000000"})")), "invalid exp");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","exp":1e400})")), "invalid exp");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","exp":null})")), "invalid exp");
  AuthResult r = verifyToken(signedWith(R"({"sub":"a","exp":1700000001.5})"), kSecret, kNow);
  EXPECT_EQ(r.identity.expSec, 1'700'000'001);
}

TEST(Auth, NotBefore) {
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","nbf":1700000000})")), "ok");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","nbf":1700000001})")), "token not yet valid");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","nbf":1700000001})"), kNow + 1), "ok");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","nbf":99999999999999999999999})")), "invalid nbf");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","nbf":true})")), "invalid nbf");
}

TEST(Auth, MalformedTokens) {
  const std::string good(kToken);
  const size_t dot1 = good.find('.');
  const size_t dot2 = good.find('.', dot1 + 1);
  const std::vector<std::string> bad = {
      "",
      "abc",
      "a.b",
      good + ".",
      good + ".x",
      "..",
      good.substr(0, dot1) + "=" + good.substr(dot1),          // padding
      good.substr(0, dot1 + 1) + "+" + good.substr(dot1 + 2),  // standard alphabet
      good.substr(0, dot1 + 1) + "/" + good.substr(dot1 + 2),
      good.substr(0, dot1 + 1) + " " + good.substr(dot1 + 2),
      "eyJhb" + good.substr(dot1),  // length % 4 == 1
      base64UrlEncode("not json") + good.substr(dot1),
      base64UrlEncode("[\"alg\",\"HS256\"]") + good.substr(dot1),
      base64UrlEncode(R"({"alg":"HS256","alg":"none"})") + good.substr(dot1),
      signedWith("not json"),
      signedWith(R"(["sub","alice"])"),
      signedWith(R"({"sub":"alice","sub":"mallory"})"),
      signedWith(R"({"sub":"alice"} x)"),
  };
  for (const std::string& token : bad) {
    EXPECT_EQ(reason(token), "malformed token") << token;
  }
  // Well-formed but empty parts: nothing signs to an empty signature.
  EXPECT_EQ(reason(good.substr(0, dot2) + "."), "bad signature");
  EXPECT_EQ(reason(good.substr(0, dot1) + ".." + good.substr(dot2 + 1)), "bad signature");
}

TEST(Auth, Claims) {
  EXPECT_EQ(reason(signedWith(R"({})")), "missing sub");
  EXPECT_EQ(reason(signedWith(R"({"name":"x"})")), "missing sub");
  EXPECT_EQ(reason(signedWith(R"({"sub":5})")), "invalid sub");
  EXPECT_EQ(reason(signedWith(R"({"sub":""})")), "invalid sub");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a b"})")), "invalid sub");
  EXPECT_EQ(reason(signedWith(R"({"sub":")" + std::string(129, 'u') + "\"}")), "invalid sub");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","name":7})")), "invalid name");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","name":")" + std::string(129, 'n') + "\"}")),
            "invalid name");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","name":")" + std::string(128, 'n') + "\"}")), "ok");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","subs":"news"})")), "invalid subs");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","subs":["a*b"]})")), "invalid subs");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","subs":["**"]})")), "invalid subs");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","subs":[""]})")), "invalid subs");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","pubs":[1]})")), "invalid pubs");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","send":"no"})")), "invalid send");
  EXPECT_EQ(reason(signedWith(R"({"sub":"a","iat":1,"jti":"x","aud":["y"]})")), "ok");

  AuthResult r = verifyToken(
      signedWith(R"({"sub":"bob","name":"B\u00f6b","subs":[],"pubs":["*"],"send":true})"), kSecret,
      kNow);
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.identity.name,
            "B\xc3\xb6"
            "b");
  EXPECT_TRUE(r.identity.hasSubs);
  EXPECT_TRUE(r.identity.subs.empty());
  EXPECT_EQ(r.identity.pubs, std::vector<std::string>{"*"});
  EXPECT_TRUE(r.identity.canSend);
}

TEST(Auth, ChannelPatterns) {
  const std::vector<std::string> patterns = {"news", "room:*"};
  EXPECT_TRUE(channelAllowed("news", patterns));
  EXPECT_TRUE(channelAllowed("room:7", patterns));
  EXPECT_TRUE(channelAllowed("room:", patterns));
  EXPECT_FALSE(channelAllowed("room", patterns));
  EXPECT_FALSE(channelAllowed("news2", patterns));
  EXPECT_FALSE(channelAllowed("new", patterns));
  EXPECT_FALSE(channelAllowed("news", {}));
  EXPECT_TRUE(channelAllowed("anything", {"*"}));

  EXPECT_TRUE(isValidChannelPattern("*"));
  EXPECT_TRUE(isValidChannelPattern("room:*"));
  EXPECT_TRUE(isValidChannelPattern("news"));
  EXPECT_FALSE(isValidChannelPattern(""));
  EXPECT_FALSE(isValidChannelPattern("**"));
  EXPECT_FALSE(isValidChannelPattern("*room"));
  EXPECT_FALSE(isValidChannelPattern("ro*om"));
  EXPECT_FALSE(isValidChannelPattern("a b*"));
}

TEST(Auth, Base64Url) {
  EXPECT_EQ(base64UrlEncode(""), "");
  EXPECT_EQ(base64UrlEncode("f"), "Zg");
  EXPECT_EQ(base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(base64UrlEncode("\xfb\xff"), "-_8");
  std::string out;
  EXPECT_TRUE(base64UrlDecode("-_8", &out));
  EXPECT_EQ(out, "\xfb\xff");
  EXPECT_TRUE(base64UrlDecode("Zg", &out));
  EXPECT_EQ(out, "f");
  EXPECT_FALSE(base64UrlDecode("Zh", &out));  // unused bits set: not canonical
  EXPECT_FALSE(base64UrlDecode("Zm9", &out));
  EXPECT_FALSE(base64UrlDecode("Z", &out));
  EXPECT_FALSE(base64UrlDecode("Zg==", &out));
  EXPECT_FALSE(base64UrlDecode("+/8", &out));

  std::mt19937 rng(3);
  for (size_t n = 0; n < 100; ++n) {
    std::string bytes(n, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    const std::string text = base64UrlEncode(bytes);
    EXPECT_EQ(text.size(), (n * 4 + 2) / 3);
    ASSERT_TRUE(base64UrlDecode(text, &out));
    EXPECT_EQ(out, bytes);
  }
}

}  // namespace
}  // namespace ringcast::push
