#include "push/api_access.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringcast::push {
namespace {

ApiAccessRules rules(std::string_view listen, std::vector<std::string> origins = {},
                     std::vector<std::string> names = {}) {
  ApiAccessRules r;
  std::string error;
  EXPECT_TRUE(buildApiAccessRules(listen, origins, names, &r, &error)) << error;
  return r;
}

TEST(ApiAccess, HostPortParses) {
  EXPECT_EQ(parseHostPort("Example.COM:8081"), (HostPort{"example.com", 8081}));
  EXPECT_EQ(parseHostPort("example.com"), (HostPort{"example.com", 0}));
  EXPECT_EQ(parseHostPort("[::1]:9"), (HostPort{"::1", 9}));
  EXPECT_EQ(parseHostPort("[::1]"), (HostPort{"::1", 0}));
  EXPECT_FALSE(parseHostPort(""));
  EXPECT_FALSE(parseHostPort(":80"));
  EXPECT_FALSE(parseHostPort("a:0"));
  EXPECT_FALSE(parseHostPort("a:65536"));
  EXPECT_FALSE(parseHostPort("a:8x"));
  EXPECT_FALSE(parseHostPort("[::1"));
  EXPECT_FALSE(parseHostPort("[::1]x"));
}

TEST(ApiAccess, OriginsMustBeListed) {
  ApiAccessRules none = rules("127.0.0.1:8081");
  EXPECT_FALSE(apiOriginAllowed("http://127.0.0.1:8081", none));
  EXPECT_FALSE(apiOriginAllowed("null", none));
  EXPECT_FALSE(apiOriginAllowed("", none));

  ApiAccessRules listed = rules("127.0.0.1:8081", {"https://admin.example", "http://a.test:3000"});
  EXPECT_TRUE(apiOriginAllowed("https://admin.example", listed));
  EXPECT_TRUE(apiOriginAllowed("https://ADMIN.example:443", listed));
  EXPECT_TRUE(apiOriginAllowed("http://a.test:3000", listed));
  EXPECT_FALSE(apiOriginAllowed("http://admin.example", listed));
  EXPECT_FALSE(apiOriginAllowed("https://admin.example:8443", listed));
  EXPECT_FALSE(apiOriginAllowed("https://admin.example.evil", listed));
  EXPECT_FALSE(apiOriginAllowed("http://a.test", listed));
  EXPECT_FALSE(apiOriginAllowed("null", listed));
}

TEST(ApiAccess, HostNamesTheLoopbackListener) {
  ApiAccessRules r = rules("127.0.0.1:8081");
  EXPECT_TRUE(r.loopback);
  EXPECT_FALSE(r.wildcard);
  EXPECT_TRUE(apiHostAllowed("127.0.0.1:8081", r));
  EXPECT_TRUE(apiHostAllowed("localhost:8081", r));
  EXPECT_TRUE(apiHostAllowed("LOCALHOST:8081", r));
  EXPECT_FALSE(apiHostAllowed("127.0.0.1", r));
  EXPECT_FALSE(apiHostAllowed("localhost", r));
  EXPECT_FALSE(apiHostAllowed("127.0.0.1:8082", r));
  EXPECT_FALSE(apiHostAllowed("127.0.0.2:8081", r));
  EXPECT_FALSE(apiHostAllowed("rebound.example:8081", r));
  EXPECT_FALSE(apiHostAllowed("", r));
  EXPECT_FALSE(apiHostAllowed("127.0.0.1:", r));

  ApiAccessRules v6 = rules("[::1]:8081");
  EXPECT_TRUE(v6.loopback);
  EXPECT_TRUE(apiHostAllowed("[::1]:8081", v6));
  EXPECT_TRUE(apiHostAllowed("localhost:8081", v6));
  EXPECT_FALSE(apiHostAllowed("127.0.0.1:8081", v6));
}

TEST(ApiAccess, PrivateAndWildcardListeners) {
  ApiAccessRules priv = rules("10.0.0.11:8081");
  EXPECT_FALSE(priv.loopback);
  EXPECT_TRUE(apiHostAllowed("10.0.0.11:8081", priv));
  EXPECT_FALSE(apiHostAllowed("localhost:8081", priv));
  EXPECT_FALSE(apiHostAllowed("10.0.0.12:8081", priv));

  // Bound to every address: any IP literal on our port (a literal is never a rebound name).
  ApiAccessRules any = rules("0.0.0.0:8081");
  EXPECT_TRUE(any.wildcard);
  EXPECT_TRUE(apiHostAllowed("10.0.0.11:8081", any));
  EXPECT_TRUE(apiHostAllowed("[fd00::1]:8081", any));
  EXPECT_FALSE(apiHostAllowed("10.0.0.11:8082", any));
  EXPECT_FALSE(apiHostAllowed("node1.internal:8081", any));
  EXPECT_FALSE(apiHostAllowed("localhost:8081", any));
}

TEST(ApiAccess, ConfiguredNames) {
  ApiAccessRules r = rules("10.0.0.11:8081", {}, {"api.internal", "Metrics.Internal:9100"});
  EXPECT_TRUE(apiHostAllowed("api.internal", r));
  EXPECT_TRUE(apiHostAllowed("API.internal:8081", r));
  EXPECT_TRUE(apiHostAllowed("api.internal:1", r));
  EXPECT_TRUE(apiHostAllowed("metrics.internal:9100", r));
  EXPECT_FALSE(apiHostAllowed("metrics.internal", r));
  EXPECT_FALSE(apiHostAllowed("metrics.internal:9101", r));
  EXPECT_FALSE(apiHostAllowed("api.internal.evil", r));
}

TEST(ApiAccess, BadEntriesAreNamed) {
  ApiAccessRules r;
  std::string error;
  EXPECT_FALSE(buildApiAccessRules("127.0.0.1:8081", {"admin.example"}, {}, &r, &error));
  EXPECT_NE(error.find("--api-allowed-origins: 'admin.example'"), std::string::npos) << error;
  EXPECT_FALSE(buildApiAccessRules("127.0.0.1:8081", {}, {"a:bad"}, &r, &error));
  EXPECT_NE(error.find("--api-host: 'a:bad'"), std::string::npos) << error;
  EXPECT_FALSE(buildApiAccessRules("127.0.0.1", {}, {}, &r, &error));
}

}  // namespace
}  // namespace ringcast::push
