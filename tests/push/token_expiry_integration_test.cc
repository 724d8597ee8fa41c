// Black-box tests of token expiry on open connections (--jwt-secret): a connection whose
// token's exp passes is closed with 4401 "token expired", unless a `refresh` command brought
// a valid token for the same user first; a refused refresh changes nothing; a refreshed
// token's permissions replace the old ones (docs/PROTOCOL.md, "Token expiry and refresh").
// Tokens live one to two seconds (exp is in whole seconds), so each test runs in seconds.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "push/auth.h"
#include "push/client_protocol.h"
#include "tests/support/push_client.h"

namespace ringcast::test {
namespace {

constexpr std::string_view kSecret = "expiry-integration-secret";
// How late after exp the close may come: one timer tick (50 ms) plus room for a loaded
// machine and sanitizer builds.
constexpr int64_t kCloseSlackMs = 1500;

int64_t nowSec() {
  return wallMs() / 1000;
}

// An exp that the upgrade still accepts and that passes one to two seconds from now.
int64_t shortExp() {
  return nowSec() + 2;
}

std::string token(std::string_view user, int64_t exp, std::string_view extraMembers = "",
                  std::string_view secret = kSecret) {
  std::string claims = R"({"sub":)" + quoted(user);
  if (exp != 0) claims += R"(,"exp":)" + std::to_string(exp);
  claims += std::string(extraMembers) + "}";
  return push::signToken(claims, secret);
}

std::string refreshCommand(std::string_view jwt, int id = 1) {
  return R"({"op":"refresh","id":)" + std::to_string(id) + R"(,"token":)" + quoted(jwt) + "}";
}

// Milliseconds from now until `exp` (Unix seconds) passes.
std::chrono::milliseconds untilExp(int64_t exp) {
  return std::chrono::milliseconds(std::max<int64_t>(exp * 1000 - wallMs(), 0));
}

// Reads until the connection ends or the deadline passes; passes when what ended it is a
// close frame 4401 "token expired" arriving after exp and at most kCloseSlackMs later.
::testing::AssertionResult closedForExpiry(PushClient& c, int64_t exp) {
  const auto window = untilExp(exp) + std::chrono::milliseconds(kCloseSlackMs);
  std::vector<Json> frames = c.drainFor(window);
  const int64_t atMs = wallMs();
  const ReadResult& r = c.lastRead();
  if (!r.ok() || !r.frame.isClose()) {
    return ::testing::AssertionFailure()
           << "no close frame within " << window.count() << " ms: " << r.describe() << "; frames "
           << describe(frames);
  }
  if (r.frame.closeCode() != push::kTokenExpiredCloseCode ||
      r.frame.closeReason() != push::kTokenExpiredReason) {
    return ::testing::AssertionFailure() << "closed with " << r.describe();
  }
  if (atMs < exp * 1000) {
    return ::testing::AssertionFailure() << "closed " << exp * 1000 - atMs << " ms before exp";
  }
  return ::testing::AssertionSuccess() << "closed " << atMs - exp * 1000 << " ms after exp";
}

class TokenExpiry : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(startGateway({"--jwt-secret", std::string(kSecret)}, &gw_));
    api_ = std::make_unique<ApiClient>(gw_.apiPort);
  }

  std::unique_ptr<PushClient> client(const std::string& jwt) {
    return connectedClient(gw_.wsPort, "/ws?token=" + jwt);
  }

  Gateway gw_;
  std::unique_ptr<ApiClient> api_;
};

TEST_F(TokenExpiry, ConnectionIsClosedWith4401WhenItsTokenExpires) {
  const int64_t exp = shortExp();
  auto alice = client(token("alice", exp));
  // A token without exp does not expire.
  auto bob = client(token("bob", 0));
  ASSERT_TRUE(alice && bob);
  ASSERT_TRUE(subscribeOk(*alice, "news"));
  ASSERT_TRUE(subscribeOk(*bob, "news"));

  EXPECT_TRUE(closedForExpiry(*alice, exp));
  // The close handshake completes: our answer ends the TCP connection.
  ASSERT_TRUE(alice->ws().sendClose(push::kTokenExpiredCloseCode));
  EXPECT_TRUE(alice->ws().waitEof());

  auto receipt = publishOk(*api_, "news", R"({"after":"exp"})");
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->u64("matched"), 1u) << "only bob is left: " << receipt->text();
  auto m = bob->nextOfType("message");
  ASSERT_TRUE(m) << bob->lastRead().describe();
  EXPECT_EQ(m->str("channel"), "news");
}

TEST_F(TokenExpiry, RefreshInTimeKeepsTheConnectionOpenUntilTheNewExp) {
  const int64_t exp = shortExp();
  auto alice = client(token("alice", exp));
  ASSERT_TRUE(alice);
  ASSERT_TRUE(subscribeOk(*alice, "news"));

  const int64_t laterExp = exp + 2;
  auto r = alice->request(refreshCommand(token("alice", laterExp), 5));
  ASSERT_TRUE(r) << alice->lastRead().describe();
  EXPECT_EQ(r->text(), R"({"type":"reply","id":5,"ok":true})");

  // Past the first exp: still open, still subscribed.
  std::vector<Json> frames = alice->drainFor(untilExp(exp) + std::chrono::milliseconds(300));
  ASSERT_EQ(alice->lastRead().status, ReadStatus::kTimeout)
      << alice->lastRead().describe() << "; frames " << describe(frames);
  auto receipt = publishOk(*api_, "news", R"({"n":1})");
  ASSERT_TRUE(receipt);
  auto m = alice->nextOfType("message");
  ASSERT_TRUE(m) << alice->lastRead().describe();
  EXPECT_EQ(m->text().find(R"("data":{"n":1})") != std::string::npos, true) << m->text();

  // The refreshed token expires in its turn.
  EXPECT_TRUE(closedForExpiry(*alice, laterExp));
}

TEST_F(TokenExpiry, RefusedRefreshAnswersAnErrorAndTheOldExpiryStays) {
  const int64_t exp = shortExp();
  const int64_t laterExp = nowSec() + 3600;
  std::string tampered = token("alice", laterExp);
  char& c0 = tampered[tampered.rfind('.') + 1];
  c0 = c0 == 'A' ? 'B' : 'A';
  struct Case {
    const char* what;
    std::string jwt;
    const char* message;
  };
  const Case cases[] = {
      {"another sub", token("mallory", laterExp), "token is for another user"},
      {"signed with another secret", token("alice", laterExp, "", "other-secret"), "bad signature"},
      {"signature altered", tampered, "bad signature"},
      {"already expired", token("alice", nowSec() - 1), "token expired"},
      {"not yet valid", token("alice", laterExp, R"(,"nbf":)" + std::to_string(laterExp - 60)),
       "token not yet valid"},
      {"not a JWT", "abc", "malformed token"},
  };
  std::vector<std::unique_ptr<PushClient>> clients;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    clients.push_back(client(token("alice", exp)));
    ASSERT_TRUE(clients.back());
    auto r = clients.back()->request(refreshCommand(c.jwt, 9));
    ASSERT_TRUE(r) << clients.back()->lastRead().describe();
    EXPECT_EQ(r->boolean("ok"), false) << r->text();
    EXPECT_EQ(r->i64("id"), 9) << r->text();
    EXPECT_EQ(r->errorCode(), "unauthorized") << r->text();
    EXPECT_EQ(r->str("/error/message"), c.message) << r->text();
  }
  for (size_t i = 0; i < clients.size(); ++i) {
    SCOPED_TRACE(cases[i].what);
    EXPECT_TRUE(closedForExpiry(*clients[i], exp));
  }
}

TEST_F(TokenExpiry, RefreshedPermissionsReplaceTheOldOnes) {
  const int64_t exp = shortExp();
  auto alice = client(token("alice", exp, R"(,"subs":["room:*"],"pubs":["room:*"],"send":false)"));
  auto bob = client(token("bob", 0));
  ASSERT_TRUE(alice && bob);
  ASSERT_TRUE(subscribeOk(*bob, "room:1"));
  ASSERT_TRUE(subscribeOk(*bob, "news"));

  // The new token has no exp: the connection no longer expires.
  auto r = alice->request(
      refreshCommand(token("alice", 0, R"(,"subs":["news"],"pubs":["news"],"send":true)")));
  ASSERT_TRUE(r) << alice->lastRead().describe();
  ASSERT_EQ(r->boolean("ok"), true) << r->text();
  std::vector<Json> frames = alice->drainFor(untilExp(exp) + std::chrono::milliseconds(300));
  ASSERT_EQ(alice->lastRead().status, ReadStatus::kTimeout)
      << alice->lastRead().describe() << "; frames " << describe(frames);

  r = alice->request(R"({"op":"subscribe","channel":"room:2","id":2})");
  ASSERT_TRUE(r) << alice->lastRead().describe();
  EXPECT_EQ(r->errorCode(), "forbidden") << r->text();
  EXPECT_TRUE(subscribeOk(*alice, "news"));
  r = alice->request(R"({"op":"publish","channel":"room:1","data":1,"id":3})");
  ASSERT_TRUE(r) << alice->lastRead().describe();
  EXPECT_EQ(r->errorCode(), "forbidden") << r->text();
  r = alice->request(R"({"op":"publish","channel":"news","data":2,"id":4})");
  ASSERT_TRUE(r) << alice->lastRead().describe();
  EXPECT_EQ(r->boolean("ok"), true) << r->text();
  r = alice->request(R"({"op":"send","to":"bob","data":3,"id":5})");
  ASSERT_TRUE(r) << alice->lastRead().describe();
  EXPECT_EQ(r->boolean("ok"), true) << r->text();

  auto m = bob->nextOfType("message");
  ASSERT_TRUE(m) << bob->lastRead().describe();
  EXPECT_EQ(m->str("channel"), "news") << "room:1 was refused: " << m->text();
  EXPECT_EQ(m->str("from"), "alice");
  auto d = bob->nextOfType("direct");
  ASSERT_TRUE(d) << bob->lastRead().describe();
  EXPECT_EQ(d->str("from"), "alice");
}

TEST(TokenExpiryDevMode, RefreshIsRefusedWithoutTokens) {
  Gateway gw;
  ASSERT_TRUE(startGateway({"--dev"}, &gw));
  PushClient alice;
  ASSERT_TRUE(alice.connect(gw.wsPort, "/ws?user=alice"));
  auto r = alice.request(refreshCommand(token("alice", nowSec() + 60), 1));
  ASSERT_TRUE(r) << alice.lastRead().describe();
  EXPECT_EQ(r->errorCode(), "bad_request") << r->text();
  EXPECT_EQ(r->str("/error/message"), "dev mode has no tokens to refresh") << r->text();
  auto pong = alice.request(R"({"op":"ping","id":2})");
  ASSERT_TRUE(pong) << alice.lastRead().describe();
  EXPECT_EQ(pong->type(), "pong");
}

}  // namespace
}  // namespace ringcast::test
