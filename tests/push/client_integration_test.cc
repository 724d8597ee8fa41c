// Black-box tests of the client side of GET /ws (docs/PROTOCOL.md) in dev mode: the welcome
// frame, every command and its reply, every frame the server pushes (message, direct,
// notice, join/leave, presence, pong), and the error replies to malformed commands. The
// real binary runs as a child process; every check goes over loopback sockets.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/push_client.h"

namespace ringcast::test {
namespace {

// How long a test waits for the server to notice a closed connection (it must, promptly).
constexpr Millis kCloseNoticed{5000};
// Polling step while waiting for such a state change.
constexpr Millis kPollStep{10};

struct PresenceRow {
  std::string user;
  std::string name;
  uint64_t conns = 0;
  bool operator==(const PresenceRow&) const = default;
};

std::ostream& operator<<(std::ostream& os, const PresenceRow& r) {
  return os << "{" << r.user << "," << r.name << "," << r.conns << "}";
}

// The "users" array of a presence frame or of GET /api/presence/{channel}.
std::vector<PresenceRow> presenceRows(const Json& j) {
  std::vector<PresenceRow> rows;
  simdjson::dom::array users;
  if (j.root()["users"].get(users) != simdjson::SUCCESS) {
    ADD_FAILURE() << "no users array in " << j.text();
    return rows;
  }
  for (simdjson::dom::element u : users) {
    PresenceRow row;
    std::string_view s;
    if (u["user"].get(s) == simdjson::SUCCESS) row.user = std::string(s);
    if (u["name"].get(s) == simdjson::SUCCESS) row.name = std::string(s);
    if (u["conns"].get(row.conns) != simdjson::SUCCESS) ADD_FAILURE() << "no conns in " << j.text();
    rows.push_back(row);
  }
  return rows;
}

// Frames of `type` about `user` among `frames`.
int countEvents(const std::vector<Json>& frames, std::string_view type, std::string_view user) {
  int n = 0;
  for (const Json& j : frames) {
    if (j.type() == type && j.str("user") == std::string(user)) ++n;
  }
  return n;
}

bool isMessageAt(const Json& j, uint64_t offset) {
  return j.type() == "message" && j.u64("offset") == offset;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

class ClientIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(startGateway({}, &gw_));
    api_ = std::make_unique<ApiClient>(gw_.apiPort);
  }

  // A dev-mode client named `user`; nullptr after a test failure.
  std::unique_ptr<PushClient> client(std::string_view user) {
    return connectedClient(gw_.wsPort, "/ws?user=" + std::string(user));
  }

  // Polls the presence of `channel` (as a third client sees it) until it equals `want`.
  ::testing::AssertionResult presenceBecomes(PushClient& asker, std::string_view channel,
                                             const std::vector<PresenceRow>& want) {
    const auto deadline = std::chrono::steady_clock::now() + kCloseNoticed;
    std::vector<PresenceRow> got;
    do {
      auto r = asker.request(R"({"op":"presence","channel":)" + quoted(channel) + "}");
      if (!r) return ::testing::AssertionFailure() << "no presence reply";
      got = presenceRows(*r);
      if (got == want) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(kPollStep);
    } while (std::chrono::steady_clock::now() < deadline);
    return ::testing::AssertionFailure()
           << "presence of " << channel << " stayed " << ::testing::PrintToString(got) << ", want "
           << ::testing::PrintToString(want);
  }

  Gateway gw_;
  std::unique_ptr<ApiClient> api_;
};

// ---- welcome ----

TEST_F(ClientIntegration, WelcomeNamesTheUserTheConnectionAndTheEpoch) {
  auto a = client("alice");
  auto b = client("alice");
  ASSERT_TRUE(a && b);
  const std::regex connName("c-[0-9]+-[0-9]+");
  EXPECT_EQ(a->user(), "alice");
  EXPECT_EQ(b->user(), "alice");
  EXPECT_TRUE(std::regex_match(a->conn(), connName)) << a->conn();
  EXPECT_TRUE(std::regex_match(b->conn(), connName)) << b->conn();
  EXPECT_NE(a->conn(), b->conn());
  EXPECT_FALSE(a->epoch().empty());
  EXPECT_EQ(a->epoch(), b->epoch()) << "one process, one history, one epoch";
}

TEST_F(ClientIntegration, DevModeWithoutUserNamesTheConnectionAnon) {
  PushClient a, b;
  ASSERT_TRUE(a.connect(gw_.wsPort, "/ws"));
  ASSERT_TRUE(b.connect(gw_.wsPort, "/ws"));
  const std::regex anon("anon-[0-9]+");
  EXPECT_TRUE(std::regex_match(a.user(), anon)) << a.user();
  EXPECT_TRUE(std::regex_match(b.user(), anon)) << b.user();
  EXPECT_NE(a.user(), b.user());
  // An anonymous connection is a full client.
  auto reply = subscribeOk(a, "news");
  ASSERT_TRUE(reply);
  ASSERT_TRUE(publishOk(*api_, "news", "1"));
  auto m = a.nextOfType("message");
  ASSERT_TRUE(m) << a.lastRead().describe();
  EXPECT_EQ(m->u64("offset"), 1u);
}

// ---- subscribe, message, unsubscribe ----

TEST_F(ClientIntegration, SubscribeRepliesWithItsIdTheLastOffsetAndTheEpoch) {
  auto a = client("alice");
  ASSERT_TRUE(a);
  auto r = a->request(R"({"op":"subscribe","channel":"news","id":1})");
  ASSERT_TRUE(r) << a->lastRead().describe();
  EXPECT_EQ(r->type(), "reply");
  EXPECT_EQ(r->boolean("ok"), true);
  EXPECT_EQ(r->i64("id"), 1);
  EXPECT_EQ(r->str("channel"), "news");
  EXPECT_EQ(r->u64("offset"), 0u) << "a new channel starts at 0";
  EXPECT_EQ(r->str("epoch"), a->epoch());
  EXPECT_FALSE(r->has("recovered")) << "no since, no recovered: " << r->text();

  ASSERT_TRUE(publishOk(*api_, "news", "1"));
  ASSERT_TRUE(publishOk(*api_, "news", "2"));
  for (uint64_t offset : {1u, 2u}) {
    auto m = a->next();
    ASSERT_TRUE(m) << a->lastRead().describe();
    EXPECT_TRUE(isMessageAt(*m, offset)) << m->text();
  }

  auto b = client("bob");
  ASSERT_TRUE(b);
  r = b->request(R"({"op":"subscribe","channel":"news","id":"sub-b"})");
  ASSERT_TRUE(r) << b->lastRead().describe();
  EXPECT_EQ(r->boolean("ok"), true);
  EXPECT_EQ(r->str("id"), "sub-b") << r->text();
  EXPECT_EQ(r->u64("offset"), 2u) << "the channel's last assigned offset";

  auto c = client("carol");
  ASSERT_TRUE(c);
  r = c->request(R"({"op":"subscribe","channel":"news"})");
  ASSERT_TRUE(r) << c->lastRead().describe();
  EXPECT_EQ(r->boolean("ok"), true);
  EXPECT_FALSE(r->has("id")) << r->text();
  EXPECT_EQ(r->u64("offset"), 2u);
  EXPECT_EQ(r->str("epoch"), a->epoch());
}

TEST_F(ClientIntegration, MessagesCarryThePublishedDataByteForByte) {
  auto a = client("alice");
  auto b = client("bob");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(subscribeOk(*a, "news"));
  ASSERT_TRUE(subscribeOk(*b, "news"));

  const std::string data = R"({"x": 1, "y":[1.0e+2,"\u00e9", true ], "z" : null})";
  auto receipt = publishOk(*api_, "news", data);
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->u64("offset"), 1u);
  EXPECT_EQ(receipt->u64("matched"), 2u) << receipt->text();
  EXPECT_EQ(receipt->u64("queued"), 2u) << receipt->text();
  EXPECT_EQ(receipt->u64("dropped"), 0u) << receipt->text();

  const int64_t nowMs = static_cast<int64_t>(std::time(nullptr)) * 1000;
  for (PushClient* c : {a.get(), b.get()}) {
    auto m = c->next();
    ASSERT_TRUE(m) << c->lastRead().describe();
    EXPECT_EQ(m->type(), "message");
    EXPECT_EQ(m->str("channel"), "news");
    EXPECT_EQ(m->u64("offset"), 1u);
    EXPECT_EQ(m->str("from"), "api");
    auto ts = m->i64("ts");
    ASSERT_TRUE(ts) << m->text();
    EXPECT_LT(std::abs(*ts - nowMs), 60'000) << "ts is Unix milliseconds: " << m->text();
    EXPECT_TRUE(contains(m->text(), "\"data\":" + data)) << m->text();
  }

  receipt = publishOk(*api_, "news", R"("second")");
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->u64("offset"), 2u);
  auto m = a->next();
  ASSERT_TRUE(m) << a->lastRead().describe();
  EXPECT_TRUE(isMessageAt(*m, 2)) << m->text();
  EXPECT_EQ(m->str("data"), "second");
}

TEST_F(ClientIntegration, UnsubscribeStopsDeliveryAndASecondOneIsNotFound) {
  auto a = client("alice");
  ASSERT_TRUE(a);
  ASSERT_TRUE(subscribeOk(*a, "news"));
  auto r = a->request(R"({"op":"unsubscribe","channel":"news","id":2})");
  ASSERT_TRUE(r) << a->lastRead().describe();
  EXPECT_EQ(r->type(), "reply");
  EXPECT_EQ(r->boolean("ok"), true) << r->text();
  EXPECT_EQ(r->i64("id"), 2);

  // The receipt comes back once every loop has delivered, so a message for alice would be
  // queued before the pong below.
  auto receipt = publishOk(*api_, "news", "1");
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->u64("matched"), 0u) << receipt->text();
  ASSERT_TRUE(a->send(R"({"op":"ping","id":"barrier"})"));
  auto pong = a->next();
  ASSERT_TRUE(pong) << a->lastRead().describe();
  EXPECT_EQ(pong->type(), "pong") << "nothing may arrive after unsubscribe: " << pong->text();

  r = a->request(R"({"op":"unsubscribe","channel":"news","id":3})");
  ASSERT_TRUE(r) << a->lastRead().describe();
  EXPECT_EQ(r->boolean("ok"), false);
  EXPECT_EQ(r->errorCode(), "not_found") << r->text();
  EXPECT_EQ(r->i64("id"), 3);

  r = a->request(R"({"op":"unsubscribe","channel":"never-joined","id":4})");
  ASSERT_TRUE(r) << a->lastRead().describe();
  EXPECT_EQ(r->errorCode(), "not_found") << r->text();
  EXPECT_EQ(r->i64("id"), 4);

  // Subscribing again picks up from the current offset.
  r = subscribeOk(*a, "news");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->u64("offset"), 1u);
  ASSERT_TRUE(publishOk(*api_, "news", "2"));
  auto m = a->next();
  ASSERT_TRUE(m) << a->lastRead().describe();
  EXPECT_TRUE(isMessageAt(*m, 2)) << m->text();
}

// Unsubscribing from a connection's last subscription once rewrote another subscriber's
// bookkeeping in the same channel; later unsubscribes then removed the wrong connection's
// entry. On one loop, so that every connection shares the channel's subscriber list.
TEST(ClientSubscriptions, UnsubscribingTheLastSubscriptionLeavesOtherSubscribersIntact) {
  Gateway gw;
  ASSERT_TRUE(startGateway({"--threads", "1"}, &gw));
  ApiClient api(gw.apiPort);
  PushClient alice, bob, carol, eve;
  for (auto [c, user] :
       {std::pair{&alice, "alice"}, {&bob, "bob"}, {&carol, "carol"}, {&eve, "eve"}}) {
    ASSERT_TRUE(c->connect(gw.wsPort, std::string("/ws?user=") + user));
  }
  ASSERT_TRUE(subscribeOk(bob, "room:1"));
  ASSERT_TRUE(subscribeOk(carol, "news"));
  ASSERT_TRUE(subscribeOk(bob, "news"));
  ASSERT_TRUE(subscribeOk(alice, "news"));
  ASSERT_TRUE(subscribeOk(eve, "x"));
  auto unsubscribeOk = [](PushClient& c, std::string_view channel) {
    auto r = c.request(R"({"op":"unsubscribe","channel":)" + quoted(channel) + "}");
    return r && r->boolean("ok") == true;
  };
  ASSERT_TRUE(unsubscribeOk(bob, "news"));  // bob's last subscription
  ASSERT_TRUE(subscribeOk(alice, "x"));
  ASSERT_TRUE(unsubscribeOk(carol, "news"));
  ASSERT_TRUE(unsubscribeOk(alice, "x"));

  auto receipt = publishOk(api, "x", "1");
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->u64("matched"), 1u) << receipt->text();
  auto m = eve.nextOfType("message");
  ASSERT_TRUE(m) << "eve is still subscribed: " << eve.lastRead().describe();
  EXPECT_TRUE(isMessageAt(*m, 1)) << m->text();
  ASSERT_TRUE(alice.send(R"({"op":"ping","id":"barrier"})"));
  auto pong = alice.next();
  ASSERT_TRUE(pong) << alice.lastRead().describe();
  EXPECT_EQ(pong->type(), "pong") << "alice unsubscribed from x: " << pong->text();
  // Every connection closes with its bookkeeping intact (the gateway stays up).
  for (PushClient* c : {&alice, &bob, &carol, &eve}) c->ws().sendClose(1000);
  for (PushClient* c : {&alice, &bob, &carol, &eve}) EXPECT_TRUE(c->ws().expectClose(1000));
  EXPECT_TRUE(api.getOk("/api/users"));
}

// ---- publish and send from a client ----

TEST_F(ClientIntegration, DevModeClientPublishRepliesWithTheOffset) {
  auto a = client("alice");
  auto b = client("bob");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(subscribeOk(*a, "room:1"));

  auto r = b->request(R"({"op":"publish","channel":"room:1","data":{"text":"hi"},"id":7})");
  ASSERT_TRUE(r) << b->lastRead().describe();
  EXPECT_EQ(r->type(), "reply");
  EXPECT_EQ(r->boolean("ok"), true) << r->text();
  EXPECT_EQ(r->i64("id"), 7);
  EXPECT_EQ(r->u64("offset"), 1u) << r->text();

  auto m = a->next();
  ASSERT_TRUE(m) << a->lastRead().describe();
  EXPECT_TRUE(isMessageAt(*m, 1)) << m->text();
  EXPECT_EQ(m->str("channel"), "room:1");
  EXPECT_EQ(m->str("from"), "bob");
  EXPECT_TRUE(contains(m->text(), R"("data":{"text":"hi"})")) << m->text();

  r = b->request(R"({"op":"publish","channel":"room:1","data":[1,2]})");
  ASSERT_TRUE(r) << b->lastRead().describe();
  EXPECT_EQ(r->u64("offset"), 2u) << r->text();
  m = a->next();
  ASSERT_TRUE(m) << a->lastRead().describe();
  EXPECT_TRUE(isMessageAt(*m, 2)) << m->text();
  EXPECT_TRUE(contains(m->text(), R"("data":[1,2])")) << m->text();

  // The publisher is not subscribed, so it got nothing but its replies.
  ASSERT_TRUE(b->send(R"({"op":"ping"})"));
  auto pong = b->next();
  ASSERT_TRUE(pong) << b->lastRead().describe();
  EXPECT_EQ(pong->type(), "pong") << pong->text();
}

TEST_F(ClientIntegration, SendReachesOneUserOrEveryUserOfAList) {
  auto a = client("alice");
  auto b = client("bob");
  auto c = client("carol");
  ASSERT_TRUE(a && b && c);

  auto r = a->request(R"({"op":"send","to":"bob","data":{"text":"psst"},"id":3})");
  ASSERT_TRUE(r) << a->lastRead().describe();
  EXPECT_EQ(r->type(), "reply");
  EXPECT_EQ(r->boolean("ok"), true) << r->text();
  EXPECT_EQ(r->i64("id"), 3);
  auto d = b->next();
  ASSERT_TRUE(d) << b->lastRead().describe();
  EXPECT_EQ(d->type(), "direct") << d->text();
  EXPECT_EQ(d->str("from"), "alice");
  EXPECT_EQ(d->str("to"), "bob");
  EXPECT_TRUE(d->i64("ts")) << d->text();
  EXPECT_TRUE(contains(d->text(), R"("data":{"text":"psst"})")) << d->text();

  // A list shares one frame, which names no recipient; a user named twice gets it once.
  r = a->request(R"({"op":"send","to":["bob","carol","bob","bob"],"data":"both","id":4})");
  ASSERT_TRUE(r) << a->lastRead().describe();
  EXPECT_EQ(r->boolean("ok"), true) << r->text();
  for (auto [client, name] : {std::pair{b.get(), "bob"}, std::pair{c.get(), "carol"}}) {
    d = client->next();
    ASSERT_TRUE(d) << name << ": " << client->lastRead().describe();
    EXPECT_EQ(d->type(), "direct") << d->text();
    EXPECT_FALSE(contains(d->text(), R"("to")")) << d->text();
    EXPECT_EQ(d->str("from"), "alice");
    EXPECT_EQ(d->str("data"), "both") << d->text();
  }

  // A send to a user with no connection is accepted; nobody else gets it.
  r = a->request(R"({"op":"send","to":"nobody","data":1,"id":5})");
  ASSERT_TRUE(r) << a->lastRead().describe();
  EXPECT_EQ(r->boolean("ok"), true) << r->text();

  // Exactly once each, and nothing for the sender: the next direct everyone sees is the
  // marker sent through the API now.
  for (auto [client, name] :
       {std::pair{a.get(), "alice"}, std::pair{b.get(), "bob"}, std::pair{c.get(), "carol"}}) {
    ASSERT_TRUE(
        api_->postOk("/api/send", std::string(R"({"to":")") + name + R"(","data":"marker"})"));
    d = client->next();
    ASSERT_TRUE(d) << name << ": " << client->lastRead().describe();
    EXPECT_EQ(d->str("data"), "marker") << name << " got " << d->text();
    EXPECT_EQ(d->str("from"), "api") << d->text();
  }
}

// ---- presence, ping, notice ----

TEST_F(ClientIntegration, PresenceListsEveryUserWithTheirSubscribedConnections) {
  auto a1 = client("alice");
  auto a2 = client("alice");
  auto b = client("bob");
  auto asker = client("zed");
  ASSERT_TRUE(a1 && a2 && b && asker);
  for (PushClient* c : {a1.get(), a2.get(), b.get()}) ASSERT_TRUE(subscribeOk(*c, "room:7"));

  auto r = asker->request(R"({"op":"presence","channel":"room:7","id":4})");
  ASSERT_TRUE(r) << asker->lastRead().describe();
  EXPECT_EQ(r->type(), "presence");
  EXPECT_EQ(r->i64("id"), 4);
  EXPECT_EQ(r->str("channel"), "room:7");
  EXPECT_EQ(presenceRows(*r), (std::vector<PresenceRow>{{"alice", "alice", 2}, {"bob", "bob", 1}}))
      << r->text();

  ASSERT_TRUE(a2->request(R"({"op":"unsubscribe","channel":"room:7"})"));
  EXPECT_TRUE(presenceBecomes(*asker, "room:7", {{"alice", "alice", 1}, {"bob", "bob", 1}}));
  b.reset();  // bob disconnects
  EXPECT_TRUE(presenceBecomes(*asker, "room:7", {{"alice", "alice", 1}}));

  r = asker->request(R"({"op":"presence","channel":"empty-room"})");
  ASSERT_TRUE(r) << asker->lastRead().describe();
  EXPECT_EQ(r->type(), "presence");
  EXPECT_FALSE(r->has("id"));
  EXPECT_EQ(r->arraySize("users"), 0u) << r->text();
}

TEST_F(ClientIntegration, PingAnswersPongWithTheIdWhenGiven) {
  auto a = client("alice");
  ASSERT_TRUE(a);
  auto r = a->request(R"({"op":"ping"})");
  ASSERT_TRUE(r) << a->lastRead().describe();
  EXPECT_EQ(r->text(), R"({"type":"pong"})");
  r = a->request(R"({"op":"ping","id":5})");
  ASSERT_TRUE(r) << a->lastRead().describe();
  EXPECT_EQ(r->type(), "pong");
  EXPECT_EQ(r->i64("id"), 5);
  r = a->request(R"({"op":"ping","id":"p"})");
  ASSERT_TRUE(r) << a->lastRead().describe();
  EXPECT_EQ(r->str("id"), "p");
}

TEST_F(ClientIntegration, NoticeReachesEveryConnection) {
  auto a = client("alice");
  auto b = client("bob");
  PushClient anon;
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(anon.connect(gw_.wsPort, "/ws"));
  ASSERT_TRUE(subscribeOk(*a, "news"));

  auto receipt = api_->postOk("/api/broadcast", R"({"data":{"msg":"all"}})");
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->u64("matched"), 3u) << receipt->text();
  EXPECT_EQ(receipt->u64("queued"), 3u) << receipt->text();
  for (PushClient* c : {a.get(), b.get(), &anon}) {
    auto n = c->next();
    ASSERT_TRUE(n) << c->user() << ": " << c->lastRead().describe();
    EXPECT_EQ(n->type(), "notice") << n->text();
    EXPECT_TRUE(n->i64("ts")) << n->text();
    EXPECT_TRUE(contains(n->text(), R"("data":{"msg":"all"})")) << n->text();
  }
}

// ---- join and leave ----

// Join/leave go only to subscribers that asked for presence; a user's tabs make one join
// (first subscribe) and one leave (last unsubscribe). A publish on the same channel is a
// barrier: it takes the channel's order after every presence event of the commands before.
TEST_F(ClientIntegration, JoinAndLeaveOncePerUserOnlyToPresenceSubscribers) {
  auto watcher = client("watcher");
  auto quiet = client("quiet");
  auto tab1 = client("alice");
  auto tab2 = client("alice");
  ASSERT_TRUE(watcher && quiet && tab1 && tab2);
  ASSERT_TRUE(subscribeOk(*watcher, "room", R"(,"presence":true)"));
  ASSERT_TRUE(subscribeOk(*quiet, "room", R"(,"presence":false)"));

  ASSERT_TRUE(subscribeOk(*tab1, "room"));
  auto join =
      watcher->until([](const Json& j) { return j.type() == "join" && j.str("user") == "alice"; });
  ASSERT_TRUE(join) << watcher->lastRead().describe();
  EXPECT_EQ(join->text(), R"({"type":"join","channel":"room","user":"alice"})");
  ASSERT_TRUE(subscribeOk(*tab2, "room"));
  ASSERT_TRUE(tab1->request(R"({"op":"unsubscribe","channel":"room"})"));

  ASSERT_TRUE(publishOk(*api_, "room", R"("barrier-1")"));
  bool found = false;
  auto seen = watcher->collectUntil([](const Json& j) { return isMessageAt(j, 1); }, &found);
  ASSERT_TRUE(found) << describe(seen);
  EXPECT_EQ(countEvents(seen, "join", "alice"), 0)
      << "a second tab joined again: " << describe(seen);
  EXPECT_EQ(countEvents(seen, "leave", "alice"), 0)
      << "alice still has a tab subscribed: " << describe(seen);

  ASSERT_TRUE(tab2->request(R"({"op":"unsubscribe","channel":"room"})"));
  auto leave = watcher->until([](const Json& j) { return j.type() == "leave"; });
  ASSERT_TRUE(leave) << watcher->lastRead().describe();
  EXPECT_EQ(leave->text(), R"({"type":"leave","channel":"room","user":"alice"})");
  ASSERT_TRUE(publishOk(*api_, "room", R"("barrier-2")"));
  seen = watcher->collectUntil([](const Json& j) { return isMessageAt(j, 2); }, &found);
  ASSERT_TRUE(found) << describe(seen);
  EXPECT_EQ(countEvents(seen, "leave", "alice"), 0) << "one leave only: " << describe(seen);

  // The subscriber without presence saw the two messages and nothing else.
  seen = quiet->collectUntil([](const Json& j) { return isMessageAt(j, 2); }, &found);
  ASSERT_TRUE(found) << describe(seen);
  ASSERT_EQ(seen.size(), 2u) << describe(seen);
  EXPECT_TRUE(isMessageAt(seen[0], 1)) << describe(seen);
}

TEST_F(ClientIntegration, LeaveGoesOutWhenTheLastTabDisconnects) {
  auto watcher = client("watcher");
  auto asker = client("asker");
  auto tab1 = client("alice");
  auto tab2 = client("alice");
  ASSERT_TRUE(watcher && asker && tab1 && tab2);
  ASSERT_TRUE(subscribeOk(*watcher, "room", R"(,"presence":true)"));
  ASSERT_TRUE(subscribeOk(*tab1, "room"));
  ASSERT_TRUE(subscribeOk(*tab2, "room"));

  tab1.reset();  // TCP gone without a close frame
  ASSERT_TRUE(presenceBecomes(*asker, "room", {{"alice", "alice", 1}, {"watcher", "watcher", 1}}));
  ASSERT_TRUE(publishOk(*api_, "room", R"("barrier")"));
  bool found = false;
  auto seen = watcher->collectUntil([](const Json& j) { return isMessageAt(j, 1); }, &found);
  ASSERT_TRUE(found) << describe(seen);
  EXPECT_EQ(countEvents(seen, "join", "alice"), 1) << describe(seen);
  EXPECT_EQ(countEvents(seen, "leave", "alice"), 0) << describe(seen);

  ASSERT_TRUE(tab2->ws().sendClose(close_code::kNormal));  // a clean close this time
  auto leave = watcher->until([](const Json& j) { return j.type() == "leave"; });
  ASSERT_TRUE(leave) << watcher->lastRead().describe();
  EXPECT_EQ(leave->str("user"), "alice");
  EXPECT_EQ(leave->str("channel"), "room");
  EXPECT_TRUE(presenceBecomes(*asker, "room", {{"watcher", "watcher", 1}}));
}

// ---- malformed commands ----

struct BadCommand {
  const char* what;
  std::string text;
  const char* code;
  // The id the error reply must carry, as minified JSON; "" for none; nullptr: not checked.
  const char* id;
};

std::vector<BadCommand> badCommands() {
  std::string manyRecipients = "[";
  for (int i = 0; i < 1001; ++i) manyRecipients += (i ? ",\"u" : "\"u") + std::to_string(i) + "\"";
  manyRecipients += "]";
  const std::string longName(129, 'c');
  return {
      {"not JSON", "not json", "bad_json", ""},
      {"truncated JSON", R"({"op":"ping")", "bad_json", ""},
      {"empty text", "", "bad_json", ""},
      {"an array", "[1,2,3]", "bad_request", ""},
      {"a string", R"("ping")", "bad_request", ""},
      {"a number", "42", "bad_request", ""},
      {"missing op", R"({"id":1})", "bad_request", "1"},
      {"unknown op", R"({"op":"dance","id":2})", "unknown_op", "2"},
      {"op not a string", R"({"op":7,"id":3})", "bad_request", "3"},
      {"subscribe without channel", R"({"op":"subscribe","id":4})", "bad_request", "4"},
      {"channel not a string", R"({"op":"subscribe","channel":42,"id":5})", "bad_request", "5"},
      {"channel with a space", R"({"op":"subscribe","channel":"a b","id":6})", "bad_request", "6"},
      {"empty channel", R"({"op":"subscribe","channel":"","id":7})", "bad_request", "7"},
      {"channel of 129 bytes", R"({"op":"subscribe","channel":")" + longName + R"(","id":8})",
       "bad_request", "8"},
      {"presence not a bool", R"({"op":"subscribe","channel":"ok","presence":"yes","id":9})",
       "bad_request", "9"},
      {"negative since offset",
       R"({"op":"subscribe","channel":"ok","since":{"offset":-1,"epoch":"e"},"id":10})",
       "bad_request", "10"},
      {"since not an object", R"({"op":"subscribe","channel":"ok","since":"then","id":11})",
       "bad_request", "11"},
      {"publish without data", R"({"op":"publish","channel":"ok","id":12})", "bad_request", "12"},
      {"empty recipient list", R"({"op":"send","to":[],"data":1,"id":13})", "bad_request", "13"},
      {"invalid recipient", R"({"op":"send","to":"not a user!","data":1,"id":14})", "bad_request",
       "14"},
      {"recipient not a string", R"({"op":"send","to":42,"data":1,"id":15})", "bad_request", "15"},
      {"send without to", R"({"op":"send","data":1,"id":16})", "bad_request", "16"},
      {"1001 recipients", R"({"op":"send","to":)" + manyRecipients + R"(,"data":1,"id":17})",
       "too_large", "17"},
      {"presence without channel", R"({"op":"presence","id":18})", "bad_request", "18"},
      {"unsubscribe not subscribed", R"({"op":"unsubscribe","channel":"never","id":19})",
       "not_found", "19"},
      {"string id of 129 bytes", R"({"op":"ping","id":")" + longName + R"("})", "bad_request", ""},
      {"id an object", R"({"op":"ping","id":{"x":1}})", "bad_request", ""},
      {"id a boolean", R"({"op":"ping","id":true})", "bad_request", ""},
      {"op given twice", R"({"op":"ping","op":"subscribe","channel":"x","id":20})", "bad_request",
       nullptr},
  };
}

::testing::AssertionResult isErrorReply(const std::optional<Json>& r, const BadCommand& c) {
  if (!r) return ::testing::AssertionFailure() << "no reply";
  if (r->type() != "reply" || r->boolean("ok") != false) {
    return ::testing::AssertionFailure() << "not an error reply: " << r->text();
  }
  if (r->errorCode() != c.code) {
    return ::testing::AssertionFailure()
           << "code " << r->errorCode() << ", want " << c.code << ": " << r->text();
  }
  if (!r->str("/error/message")) {
    return ::testing::AssertionFailure() << "no error message: " << r->text();
  }
  if (c.id != nullptr) {
    std::string id;
    simdjson::dom::element e;
    if (r->root()["id"].get(e) == simdjson::SUCCESS) id = simdjson::minify(e);
    if (id != c.id) {
      return ::testing::AssertionFailure() << "id " << (id.empty() ? "(none)" : id) << ", want "
                                           << (*c.id ? c.id : "(none)") << ": " << r->text();
    }
  }
  return ::testing::AssertionSuccess();
}

TEST_F(ClientIntegration, MalformedCommandsGetTheDocumentedErrorAndTheConnectionStays) {
  auto bad = client("mallory");
  auto listener = client("listener");
  ASSERT_TRUE(bad && listener);
  ASSERT_TRUE(subscribeOk(*listener, "feed"));

  uint64_t published = 0;
  for (const BadCommand& c : badCommands()) {
    SCOPED_TRACE(c.what);
    ASSERT_TRUE(bad->send(c.text)) << bad->ws().error();
    auto r = bad->next();  // the bad client subscribes to nothing: the reply comes next
    EXPECT_TRUE(isErrorReply(r, c)) << bad->lastRead().describe();
    if (!r) break;
    // Another client keeps getting its messages meanwhile.
    ASSERT_TRUE(publishOk(*api_, "feed", std::to_string(++published)));
    auto m = listener->next();
    ASSERT_TRUE(m) << listener->lastRead().describe();
    EXPECT_TRUE(isMessageAt(*m, published)) << m->text();
  }

  {
    SCOPED_TRACE("binary frame");
    ASSERT_TRUE(bad->ws().sendBinary(R"({"op":"ping"})"));
    auto r = bad->next();
    ASSERT_TRUE(r) << bad->lastRead().describe();
    EXPECT_EQ(r->type(), "reply") << r->text();
    EXPECT_EQ(r->boolean("ok"), false) << r->text();
    EXPECT_EQ(r->errorCode(), "bad_request") << r->text();
  }

  // Still open and fully working.
  auto pong = bad->request(R"({"op":"ping","id":99})");
  ASSERT_TRUE(pong) << bad->lastRead().describe();
  EXPECT_EQ(pong->type(), "pong");
  ASSERT_TRUE(subscribeOk(*bad, "feed"));
  ASSERT_TRUE(publishOk(*api_, "feed", R"("last")"));
  for (PushClient* c : {bad.get(), listener.get()}) {
    auto m = c->next();
    ASSERT_TRUE(m) << c->lastRead().describe();
    EXPECT_TRUE(isMessageAt(*m, published + 1)) << m->text();
  }
}

}  // namespace
}  // namespace ringcast::test
