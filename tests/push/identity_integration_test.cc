// Black-box tests of who a client can be, with the real binary: the gateway refuses to start
// without --dev or a token secret; dev-mode names (?user=, ?name=) are validated like token
// subjects and "api" cannot be claimed; the secret may come from a file or the environment;
// --jwt-audience / --jwt-issuer are enforced (docs/PROTOCOL.md, docs/SECURITY.md).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <ctime>
#include <memory>
#include <string>

#include "push/auth.h"
#include "push/client_protocol.h"
#include "tests/support/push_client.h"

namespace ringcast::test {
namespace {

constexpr std::string_view kSecret = "identity-test-secret-0123456789abcdef";

const std::vector<std::string> kPrivatePorts = {"--api-listen", "127.0.0.1:0", "--publish-listen",
                                                "127.0.0.1:0",  "--threads",   "1"};

std::vector<std::string> withPrivatePorts(std::vector<std::string> args) {
  args.insert(args.end(), kPrivatePorts.begin(), kPrivatePorts.end());
  return args;
}

std::string expiresInAnHour() {
  return std::to_string(static_cast<int64_t>(std::time(nullptr)) + 3600);
}

// The status of an upgrade to `path`, and its body.
HttpResponse upgrade(uint16_t port, const std::string& path) {
  PushClient client;
  return client.open(port, path);
}

TEST(StartupIdentity, PublicListenerWithoutDevOrSecretExitsNonZeroNamingBothFlags) {
  for (const char* listen : {"0.0.0.0:0", "127.0.0.1:0"}) {
    SCOPED_TRACE(listen);
    std::string error;
    auto server = TestServer::start(RINGCAST_BIN, withPrivatePorts({"--listen", listen}), &error,
                                    std::chrono::milliseconds(5000));
    ASSERT_EQ(server, nullptr) << "the gateway started without client authentication";
    EXPECT_NE(error.find("exited with status 2"), std::string::npos) << error;
    EXPECT_NE(error.find("--jwt-secret"), std::string::npos) << error;
    EXPECT_NE(error.find("--dev"), std::string::npos) << error;
  }
}

TEST(StartupIdentity, DevModeIsExplicitAndNamesAreValidated) {
  Gateway gw;
  ASSERT_TRUE(startGateway({"--dev"}, &gw));
  EXPECT_NE(gw.server->startupOutput().find("DEV MODE"), std::string::npos);
  struct Case {
    const char* query;
    int status;
  };
  const Case cases[] = {
      {"?user=alice", 101},
      {"?user=api", 400},                   // the API's sender name
      {"?user=al%20ice", 400},              // outside the user-id character set
      {"?user=", 101},                      // anon-N
      {"?user=alice&name=Ali%C3%A9", 101},  // UTF-8 display name
      {"?user=alice&name=%FF%FE", 400},     // not UTF-8
      {"?user=alice&name=a%0Ab", 400},      // control character
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.query);
    HttpResponse r = upgrade(gw.wsPort, std::string("/ws") + c.query);
    ASSERT_TRUE(r.complete) << r.error;
    EXPECT_EQ(r.status, c.status) << r.body;
  }
  std::string longName = "?user=alice&name=" + std::string(push::kMaxNameBytes + 1, 'n');
  EXPECT_EQ(upgrade(gw.wsPort, "/ws" + longName).status, 400);

  PushClient named;
  ASSERT_TRUE(named.connect(gw.wsPort, "/ws?user=carol&name=Carol%20C"));
  EXPECT_EQ(named.user(), "carol");
}

TEST(StartupIdentity, ATokenCannotClaimTheApiSender) {
  Gateway gw;
  ASSERT_TRUE(startGateway({"--jwt-secret", std::string(kSecret)}, &gw));
  HttpResponse r = upgrade(gw.wsPort, "/ws?token=" + push::signToken(R"({"sub":"api"})", kSecret));
  ASSERT_TRUE(r.complete) << r.error;
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("invalid sub"), std::string::npos) << r.body;
}

TEST(StartupIdentity, SecretFromAFileOrTheEnvironmentAndAWarningForAShortOne) {
  char path[] = "/tmp/ringcast-identity-test-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string content = std::string(kSecret) + "\n";
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fd);
  Gateway fromFile;
  ASSERT_TRUE(startGateway({"--jwt-secret-file", path}, &fromFile));
  ::unlink(path);
  PushClient alice;
  ASSERT_TRUE(alice.connect(fromFile.wsPort,
                            "/ws?token=" + push::signToken(R"({"sub":"alice"})", kSecret)));
  EXPECT_EQ(alice.user(), "alice");
  EXPECT_EQ(fromFile.server->startupOutput().find("warning: the JWT secret"), std::string::npos);
  EXPECT_EQ(fromFile.server->startupOutput().find(kSecret), std::string::npos);

  ::setenv("RINGCAST_JWT_SECRET", "short", 1);
  std::string error;
  auto fromEnv =
      TestServer::start(RINGCAST_BIN, withPrivatePorts({"--listen", "127.0.0.1:0"}), &error);
  ::unsetenv("RINGCAST_JWT_SECRET");
  ASSERT_NE(fromEnv, nullptr) << error;
  EXPECT_NE(fromEnv->startupOutput().find("warning: the JWT secret is 5 bytes"), std::string::npos)
      << fromEnv->startupOutput();
  PushClient bob;
  ASSERT_TRUE(
      bob.connect(fromEnv->port(), "/ws?token=" + push::signToken(R"({"sub":"bob"})", "short")));
  EXPECT_EQ(bob.user(), "bob");
}

TEST(StartupIdentity, AudienceAndIssuerAreRequiredWhenConfigured) {
  Gateway gw;
  ASSERT_TRUE(startGateway({"--jwt-secret", std::string(kSecret), "--jwt-audience", "ringcast",
                            "--jwt-issuer", "https://auth.example"},
                           &gw));
  const std::string exp = R"(,"exp":)" + expiresInAnHour();
  struct Case {
    std::string claims;
    int status;
    const char* reason;
  };
  const Case cases[] = {
      {R"({"sub":"a","aud":"ringcast","iss":"https://auth.example")" + exp + "}", 101, ""},
      {R"({"sub":"a","aud":["other","ringcast"],"iss":"https://auth.example"})", 101, ""},
      {R"({"sub":"a","iss":"https://auth.example"})", 401, "wrong aud"},
      {R"({"sub":"a","aud":"other","iss":"https://auth.example"})", 401, "wrong aud"},
      {R"({"sub":"a","aud":["other"],"iss":"https://auth.example"})", 401, "wrong aud"},
      {R"({"sub":"a","aud":"ringcast"})", 401, "wrong iss"},
      {R"({"sub":"a","aud":"ringcast","iss":"https://evil.example"})", 401, "wrong iss"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.claims);
    HttpResponse r = upgrade(gw.wsPort, "/ws?token=" + push::signToken(c.claims, kSecret));
    ASSERT_TRUE(r.complete) << r.error;
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_NE(r.body.find(c.reason), std::string::npos) << r.body;
  }
}

// The status of an upgrade to /ws?user=u carrying `origin` with Host `host`.
int upgradeWithOrigin(uint16_t port, const std::string& origin, const std::string& host) {
  WsClient ws;
  if (!ws.connect(port)) return -1;
  HttpResponse r = ws.handshake("/ws?user=u", {{"Origin", origin}, {"Host", host}});
  return r.complete ? r.status : -1;
}

TEST(OriginCheck, SameServerByDefaultLocalhostOnlyInDevMode) {
  Gateway dev;
  ASSERT_TRUE(startGateway({"--dev"}, &dev));
  EXPECT_EQ(upgradeWithOrigin(dev.wsPort, "http://localhost:3000", "chat.example"), 101);
  EXPECT_EQ(upgradeWithOrigin(dev.wsPort, "http://Chat.Example", "chat.example"), 101);
  EXPECT_EQ(upgradeWithOrigin(dev.wsPort, "http://chat.example:81", "chat.example"), 403);
  EXPECT_EQ(upgradeWithOrigin(dev.wsPort, "http://evil.example", "chat.example"), 403);
  EXPECT_EQ(upgradeWithOrigin(dev.wsPort, "null", "chat.example"), 403);

  Gateway tokens;
  ASSERT_TRUE(startGateway({"--jwt-secret", std::string(kSecret)}, &tokens));
  const std::string token = push::signToken(R"({"sub":"u"})", kSecret);
  auto withToken = [&](const std::string& origin) {
    WsClient ws;
    if (!ws.connect(tokens.wsPort)) return -1;
    HttpResponse r =
        ws.handshake("/ws?token=" + token, {{"Origin", origin}, {"Host", "chat.example"}});
    return r.complete ? r.status : -1;
  };
  EXPECT_EQ(withToken("http://localhost:3000"), 403) << "localhost is not special without --dev";
  EXPECT_EQ(withToken("http://CHAT.example"), 101);
  EXPECT_EQ(withToken("http://chat.example:8080"), 403);

  Gateway listed;
  ASSERT_TRUE(startGateway({"--dev", "--allowed-origins", "https://App.example:8443"}, &listed));
  EXPECT_EQ(upgradeWithOrigin(listed.wsPort, "https://app.EXAMPLE:8443", "gw.example"), 101);
  EXPECT_EQ(upgradeWithOrigin(listed.wsPort, "http://app.example:8443", "gw.example"), 403);
  EXPECT_EQ(upgradeWithOrigin(listed.wsPort, "https://app.example", "gw.example"), 403);
  EXPECT_EQ(upgradeWithOrigin(listed.wsPort, "http://localhost", "gw.example"), 403);
}

}  // namespace
}  // namespace ringcast::test
