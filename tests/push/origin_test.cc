#include "push/origin.h"

#include <gtest/gtest.h>

namespace ringcast::push {
namespace {

TEST(ParseOrigin, SchemeAndHostLowerCasedPortDefaulted) {
  auto o = parseOrigin("HTTPS://App.Example.COM");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->scheme, "https");
  EXPECT_EQ(o->host, "app.example.com");
  EXPECT_EQ(o->port, 443);
  EXPECT_EQ(parseOrigin("http://a.example")->port, 80);
  EXPECT_EQ(parseOrigin("http://a.example:8080")->port, 8080);
  EXPECT_EQ(parseOrigin("http://[::1]:8080")->host, "::1");
  EXPECT_EQ(parseOrigin("https://a.example/"), parseOrigin("https://a.example:443"));
  for (const char* bad :
       {"null", "", "a.example", "://a.example", "ftp://a.example", "http://a.example:0",
        "http://a.example:99999", "http://a.example:x", "http://a.example/path",
        "http://user@a.example", "http://", "http://[::1"}) {
    EXPECT_FALSE(parseOrigin(bad).has_value()) << bad;
  }
}

TEST(SameServer, HostCaseInsensitiveSchemeAndPortCount) {
  auto o = [](const char* text) { return *parseOrigin(text); };
  EXPECT_TRUE(sameServer(o("http://chat.example"), "chat.example", false));
  EXPECT_TRUE(sameServer(o("http://Chat.Example"), "CHAT.example", false));
  EXPECT_TRUE(sameServer(o("https://chat.example"), "chat.example", false))
      << "behind a TLS-terminating proxy the Host has no port";
  EXPECT_TRUE(sameServer(o("http://chat.example:8080"), "chat.example:8080", false));
  EXPECT_FALSE(sameServer(o("http://chat.example:8081"), "chat.example:8080", false));
  EXPECT_FALSE(sameServer(o("http://chat.example"), "chat.example:8080", false));
  EXPECT_FALSE(sameServer(o("http://chat.example:8080"), "chat.example", false));
  EXPECT_FALSE(sameServer(o("http://evil.example"), "chat.example", false));
  EXPECT_FALSE(sameServer(o("http://chat.example.evil"), "chat.example", false));
  EXPECT_FALSE(sameServer(o("http://chat.example"), "chat.example", true)) << "TLS: https only";
  EXPECT_TRUE(sameServer(o("https://chat.example:8443"), "chat.example:8443", true));
  EXPECT_TRUE(sameServer(o("http://[::1]:8080"), "[::1]:8080", false));
}

TEST(IsLoopbackHost, OnlyTheThreeNames) {
  EXPECT_TRUE(isLoopbackHost("localhost"));
  EXPECT_TRUE(isLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(isLoopbackHost("::1"));
  EXPECT_FALSE(isLoopbackHost("localhost.evil.example"));
}

}  // namespace
}  // namespace ringcast::push
