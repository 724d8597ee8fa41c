// Black-box tests of token identity on GET /ws (--jwt-secret): who a token makes the client,
// which handshakes fail with 401 and a reason, and how the claims subs, pubs and send limit
// the commands (docs/PROTOCOL.md, "JWT claims").
#include <gtest/gtest.h>

#include <ctime>
#include <memory>
#include <string>

#include "push/auth.h"
#include "tests/support/push_client.h"

namespace ringcast::test {
namespace {

constexpr std::string_view kSecret = "integration-secret";

int64_t nowSec() {
  return static_cast<int64_t>(std::time(nullptr));
}

std::string tokenPath(std::string_view payloadJson, std::string_view secret = kSecret) {
  return "/ws?token=" + push::signToken(payloadJson, secret);
}

// {"sub":user,"exp":in an hour<extra>}
std::string claims(std::string_view user, std::string_view extraMembers = "") {
  return R"({"sub":)" + quoted(user) + R"(,"exp":)" + std::to_string(nowSec() + 3600) +
         std::string(extraMembers) + "}";
}

class AuthIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(startGateway({"--jwt-secret", std::string(kSecret)}, &gw_));
    api_ = std::make_unique<ApiClient>(gw_.apiPort);
  }

  // A client with a token for `payloadJson`; nullptr after a test failure.
  std::unique_ptr<PushClient> client(std::string_view payloadJson) {
    return connectedClient(gw_.wsPort, tokenPath(payloadJson));
  }

  Gateway gw_;
  std::unique_ptr<ApiClient> api_;
};

TEST_F(AuthIntegration, ValidTokenNamesTheUserAndItsDisplayNameShowsInPresence) {
  // ?user= means nothing once tokens are required.
  PushClient alice;
  ASSERT_TRUE(
      alice.connect(gw_.wsPort, tokenPath(claims("alice", R"(,"name":"Alice A")")) + "&user=eve"));
  EXPECT_EQ(alice.user(), "alice");
  ASSERT_TRUE(subscribeOk(alice, "room:1"));
  auto r = alice.request(R"({"op":"presence","channel":"room:1","id":1})");
  ASSERT_TRUE(r) << alice.lastRead().describe();
  EXPECT_EQ(r->arraySize("users"), 1u) << r->text();
  EXPECT_EQ(r->str("/users/0/user"), "alice") << r->text();
  EXPECT_EQ(r->str("/users/0/name"), "Alice A") << r->text();
  EXPECT_EQ(r->u64("/users/0/conns"), 1u) << r->text();

  // A token without exp is valid too.
  PushClient bob;
  ASSERT_TRUE(bob.connect(gw_.wsPort, tokenPath(R"({"sub":"bob"})")));
  EXPECT_EQ(bob.user(), "bob");
}

struct RefusedToken {
  const char* what;
  std::string path;
  const char* reasonPart;  // the 401 body must mention this
};

TEST_F(AuthIntegration, BadTokensFailTheHandshakeWith401AndAReason) {
  const std::string valid = push::signToken(claims("alice"), kSecret);
  // Flip the first character of the signature (all six of its bits carry data).
  std::string tampered = valid;
  char& c0 = tampered[tampered.rfind('.') + 1];
  c0 = c0 == 'A' ? 'B' : 'A';
  const RefusedToken cases[] = {
      {"expired", tokenPath(R"({"sub":"alice","exp":)" + std::to_string(nowSec() - 60) + "}"),
       "expired"},
      {"signed with another secret", tokenPath(claims("alice"), "other-secret"), "signature"},
      {"signature altered", "/ws?token=" + tampered, "signature"},
      {"no token", "/ws", "token"},
      {"dev-mode user instead of a token", "/ws?user=alice", "token"},
      {"not a JWT", "/ws?token=abc", "token"},
  };
  for (const RefusedToken& c : cases) {
    SCOPED_TRACE(c.what);
    PushClient client;
    HttpResponse r = client.open(gw_.wsPort, c.path);
    ASSERT_TRUE(r.complete) << r.error;
    EXPECT_EQ(r.status, 401);
    EXPECT_NE(r.body.find(c.reasonPart), std::string::npos)
        << "reason \"" << r.body << "\" should mention " << c.reasonPart;
    EXPECT_TRUE(client.ws().waitEof()) << "a refused upgrade ends the connection";
  }
}

TEST_F(AuthIntegration, SubsRestrictWhatAUserMaySubscribeTo) {
  auto alice = client(claims("alice", R"(,"subs":["room:*","news"])"));
  ASSERT_TRUE(alice);
  EXPECT_TRUE(subscribeOk(*alice, "room:1"));
  EXPECT_TRUE(subscribeOk(*alice, "news"));
  auto r = alice->request(R"({"op":"subscribe","channel":"sports","id":3})");
  ASSERT_TRUE(r) << alice->lastRead().describe();
  EXPECT_EQ(r->boolean("ok"), false) << r->text();
  EXPECT_EQ(r->errorCode(), "forbidden") << r->text();
  EXPECT_EQ(r->i64("id"), 3);
  r = alice->request(R"({"op":"subscribe","channel":"newsroom","id":4})");
  ASSERT_TRUE(r) << alice->lastRead().describe();
  EXPECT_EQ(r->errorCode(), "forbidden") << "an exact name is not a prefix: " << r->text();

  // Refused means not subscribed.
  auto receipt = publishOk(*api_, "sports", "1");
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->u64("matched"), 0u) << receipt->text();

  // Without subs every channel is allowed.
  auto bob = client(claims("bob"));
  ASSERT_TRUE(bob);
  EXPECT_TRUE(subscribeOk(*bob, "sports"));
}

TEST_F(AuthIntegration, PubsGrantClientPublishing) {
  auto reader = client(claims("reader"));
  auto writer = client(claims("writer", R"(,"pubs":["room:*"])"));
  auto plain = client(claims("plain"));
  ASSERT_TRUE(reader && writer && plain);
  ASSERT_TRUE(subscribeOk(*reader, "room:1"));
  ASSERT_TRUE(subscribeOk(*reader, "news"));

  auto r = writer->request(R"({"op":"publish","channel":"room:1","data":{"t":1},"id":1})");
  ASSERT_TRUE(r) << writer->lastRead().describe();
  EXPECT_EQ(r->boolean("ok"), true) << r->text();
  EXPECT_EQ(r->u64("offset"), 1u) << r->text();
  auto m = reader->next();
  ASSERT_TRUE(m) << reader->lastRead().describe();
  EXPECT_EQ(m->type(), "message") << m->text();
  EXPECT_EQ(m->str("from"), "writer");
  EXPECT_EQ(m->str("channel"), "room:1");

  r = writer->request(R"({"op":"publish","channel":"news","data":1,"id":2})");
  ASSERT_TRUE(r) << writer->lastRead().describe();
  EXPECT_EQ(r->errorCode(), "forbidden") << r->text();
  EXPECT_EQ(r->i64("id"), 2);
  // Without pubs a token user may not publish at all.
  r = plain->request(R"({"op":"publish","channel":"room:1","data":1,"id":3})");
  ASSERT_TRUE(r) << plain->lastRead().describe();
  EXPECT_EQ(r->errorCode(), "forbidden") << r->text();

  // Nothing refused was published: the next offset on each channel is the first unused.
  auto receipt = publishOk(*api_, "room:1", "2");
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->u64("offset"), 2u);
  receipt = publishOk(*api_, "news", "1");
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->u64("offset"), 1u);
  for (std::string_view channel : {"room:1", "news"}) {
    m = reader->next();
    ASSERT_TRUE(m) << reader->lastRead().describe();
    EXPECT_EQ(m->str("channel"), std::string(channel)) << m->text();
    EXPECT_EQ(m->str("from"), "api") << m->text();
  }
}

TEST_F(AuthIntegration, SendFalseForbidsDirectMessages) {
  auto muted = client(claims("muted", R"(,"send":false)"));
  auto talker = client(claims("talker", R"(,"send":true)"));
  auto bob = client(claims("bob"));
  ASSERT_TRUE(muted && talker && bob);

  auto r = muted->request(R"({"op":"send","to":"bob","data":"hi","id":1})");
  ASSERT_TRUE(r) << muted->lastRead().describe();
  EXPECT_EQ(r->boolean("ok"), false) << r->text();
  EXPECT_EQ(r->errorCode(), "forbidden") << r->text();
  EXPECT_EQ(r->i64("id"), 1);

  r = talker->request(R"({"op":"send","to":"bob","data":"hello","id":2})");
  ASSERT_TRUE(r) << talker->lastRead().describe();
  EXPECT_EQ(r->boolean("ok"), true) << r->text();
  auto d = bob->next();
  ASSERT_TRUE(d) << bob->lastRead().describe();
  EXPECT_EQ(d->type(), "direct");
  EXPECT_EQ(d->str("from"), "talker") << "the refused send must not arrive: " << d->text();
  EXPECT_EQ(d->str("data"), "hello");
}

}  // namespace
}  // namespace ringcast::test
