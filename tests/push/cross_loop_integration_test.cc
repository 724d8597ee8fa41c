// Black-box tests of what crosses event loops: with --threads 2 the kernel spreads
// connections over both loops (SO_REUSEPORT), and the welcome's conn name "c-<loop>-<n>"
// tells where each one landed. These tests open connections until they have one on each
// loop, then check presence (join, leave, the presence list) and direct messages to a user
// whose connections sit on different loops.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/push_client.h"

namespace ringcast::test {
namespace {

constexpr Millis kPollStep{10};
constexpr Millis kStateChange{5000};  // a disconnect must be noticed by then

int countEvents(const std::vector<Json>& frames, std::string_view type, std::string_view user) {
  int n = 0;
  for (const Json& j : frames) {
    if (j.type() == type && j.str("user") == std::string(user)) ++n;
  }
  return n;
}

// The conns of `user` in a presence frame; 0 when the user is not listed.
uint64_t connsOf(const Json& presence, std::string_view user) {
  simdjson::dom::array users;
  if (presence.root()["users"].get(users) != simdjson::SUCCESS) return 0;
  for (simdjson::dom::element u : users) {
    std::string_view name;
    uint64_t conns = 0;
    if (u["user"].get(name) == simdjson::SUCCESS && name == user &&
        u["conns"].get(conns) == simdjson::SUCCESS) {
      return conns;
    }
  }
  return 0;
}

class CrossLoopIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(startGateway({"--threads", "2"}, &gw_));
    api_ = std::make_unique<ApiClient>(gw_.apiPort);
  }

  // One connection of `user` on each of the two loops.
  std::vector<std::unique_ptr<PushClient>> onBothLoops(std::string_view user) {
    auto clients = connectOnEveryLoop(gw_.wsPort, "/ws?user=" + std::string(user), 2);
    EXPECT_EQ(clients.size(), 2u) << "64 connections of " << user << " all landed on one loop";
    return clients;
  }

  // Polls the presence query (from `asker`) until `user` has `conns` subscribed connections.
  ::testing::AssertionResult connsBecome(PushClient& asker, std::string_view channel,
                                         std::string_view user, uint64_t conns) {
    const auto deadline = std::chrono::steady_clock::now() + kStateChange;
    std::string last;
    do {
      auto r = asker.request(R"({"op":"presence","channel":)" + quoted(channel) + "}");
      if (!r) return ::testing::AssertionFailure() << "no presence reply";
      if (connsOf(*r, user) == conns) return ::testing::AssertionSuccess();
      last = r->text();
      std::this_thread::sleep_for(kPollStep);
    } while (std::chrono::steady_clock::now() < deadline);
    return ::testing::AssertionFailure()
           << user << " never had " << conns << " connection(s) in " << channel << ": " << last;
  }

  Gateway gw_;
  std::unique_ptr<ApiClient> api_;
};

TEST_F(CrossLoopIntegration, ConnectionsSpreadOverBothLoops) {
  auto clients = onBothLoops("probe");
  ASSERT_EQ(clients.size(), 2u);
  EXPECT_NE(clients[0]->loopId(), clients[1]->loopId());
  EXPECT_EQ(clients[0]->epoch(), clients[1]->epoch()) << "loops share one history";
}

TEST_F(CrossLoopIntegration, JoinLeaveAndPresenceAcrossLoops) {
  auto watchers = onBothLoops("watcher");
  auto alices = onBothLoops("alice");
  ASSERT_EQ(watchers.size(), 2u);
  ASSERT_EQ(alices.size(), 2u);
  for (auto& w : watchers) ASSERT_TRUE(subscribeOk(*w, "room", R"(,"presence":true)"));

  // alice's first tab joins: both watchers, one on each loop, hear it.
  ASSERT_TRUE(subscribeOk(*alices[0], "room"));
  for (auto& w : watchers) {
    auto join =
        w->until([](const Json& j) { return j.type() == "join" && j.str("user") == "alice"; });
    ASSERT_TRUE(join) << w->conn() << ": " << w->lastRead().describe();
    EXPECT_EQ(join->str("channel"), "room");
  }
  // Her tab on the other loop makes no second join; presence counts both tabs.
  ASSERT_TRUE(subscribeOk(*alices[1], "room"));
  for (auto& w : watchers) {
    auto r = w->request(R"({"op":"presence","channel":"room","id":1})");
    ASSERT_TRUE(r) << w->lastRead().describe();
    EXPECT_EQ(connsOf(*r, "alice"), 2u) << w->conn() << ": " << r->text();
    EXPECT_EQ(connsOf(*r, "watcher"), 2u) << w->conn() << ": " << r->text();
  }
  auto viaApi = api_->getOk("/api/presence/room");
  ASSERT_TRUE(viaApi);
  EXPECT_EQ(connsOf(*viaApi, "alice"), 2u) << viaApi->text();

  // The tab on the first loop unsubscribes: alice is still there, so no leave.
  ASSERT_TRUE(alices[0]->request(R"({"op":"unsubscribe","channel":"room"})"));
  ASSERT_TRUE(connsBecome(*watchers[0], "room", "alice", 1));
  ASSERT_TRUE(publishOk(*api_, "room", R"("barrier-1")"));
  for (auto& w : watchers) {
    bool found = false;
    auto seen = w->collectUntil(
        [](const Json& j) { return j.type() == "message" && j.u64("offset") == 1u; }, &found);
    ASSERT_TRUE(found) << w->conn() << ": " << describe(seen);
    EXPECT_EQ(countEvents(seen, "join", "alice"), 0) << w->conn() << ": " << describe(seen);
    EXPECT_EQ(countEvents(seen, "leave", "alice"), 0) << w->conn() << ": " << describe(seen);
  }

  // The last tab, on the other loop, disconnects: one leave on both loops.
  alices[1].reset();
  for (auto& w : watchers) {
    auto leave =
        w->until([](const Json& j) { return j.type() == "leave" && j.str("user") == "alice"; });
    ASSERT_TRUE(leave) << w->conn() << ": " << w->lastRead().describe();
    EXPECT_EQ(leave->str("channel"), "room");
  }
  ASSERT_TRUE(publishOk(*api_, "room", R"("barrier-2")"));
  for (auto& w : watchers) {
    bool found = false;
    auto seen = w->collectUntil(
        [](const Json& j) { return j.type() == "message" && j.u64("offset") == 2u; }, &found);
    ASSERT_TRUE(found) << w->conn() << ": " << describe(seen);
    EXPECT_EQ(countEvents(seen, "leave", "alice"), 0) << "one leave only: " << describe(seen);
  }
  EXPECT_TRUE(connsBecome(*watchers[1], "room", "alice", 0));
}

TEST_F(CrossLoopIntegration, DirectMessagesReachEveryConnectionOfAUserExactlyOnce) {
  auto bobs = onBothLoops("bob");
  ASSERT_EQ(bobs.size(), 2u);
  bobs.push_back(std::make_unique<PushClient>());  // a third tab, wherever it lands
  ASSERT_TRUE(bobs.back()->connect(gw_.wsPort, "/ws?user=bob"));
  auto alice = std::make_unique<PushClient>();
  ASSERT_TRUE(alice->connect(gw_.wsPort, "/ws?user=alice"));

  auto receipt = api_->postOk("/api/send", R"({"to":"bob","data":{"n":1}})");
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->str("to"), "bob") << receipt->text();
  EXPECT_EQ(receipt->boolean("online"), true) << receipt->text();
  EXPECT_EQ(receipt->u64("matched"), 3u) << receipt->text();

  // From a client on one loop to every tab.
  auto r = alice->request(R"({"op":"send","to":"bob","data":{"n":2}})");
  ASSERT_TRUE(r) << alice->lastRead().describe();
  EXPECT_EQ(r->boolean("ok"), true) << r->text();

  // A list with an offline user: a receipt per recipient.
  receipt = api_->postOk("/api/send", R"({"to":["bob","nobody"],"data":{"n":3}})");
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->str("/results/0/to"), "bob") << receipt->text();
  EXPECT_EQ(receipt->boolean("/results/0/online"), true) << receipt->text();
  EXPECT_EQ(receipt->u64("/results/0/matched"), 3u) << receipt->text();
  EXPECT_EQ(receipt->str("/results/1/to"), "nobody") << receipt->text();
  EXPECT_EQ(receipt->boolean("/results/1/online"), false) << receipt->text();
  EXPECT_EQ(receipt->u64("/results/1/matched"), 0u) << receipt->text();

  // Every tab got each message exactly once: n = 1, 2, 3 in this order (the client's send
  // was accepted before the third one was published), and nothing more before a pong.
  for (auto& b : bobs) {
    for (int n = 1; n <= 3; ++n) {
      auto d = b->next();
      ASSERT_TRUE(d) << b->conn() << ": " << b->lastRead().describe();
      EXPECT_EQ(d->type(), "direct") << d->text();
      // A list (n = 3) shares one frame that names no recipient.
      if (n == 3) {
        EXPECT_FALSE(d->str("to")) << d->text();
      } else {
        EXPECT_EQ(d->str("to"), "bob") << d->text();
      }
      EXPECT_EQ(d->i64("/data/n"), n) << b->conn() << ": " << d->text();
      EXPECT_EQ(d->str("from"), n == 2 ? "alice" : "api") << d->text();
    }
    auto pong = b->request(R"({"op":"ping"})");
    ASSERT_TRUE(pong) << b->lastRead().describe();
    auto extra = b->drainFor(Millis{0});
    EXPECT_TRUE(extra.empty()) << b->conn() << " got more: " << describe(extra);
  }

  receipt = api_->postOk("/api/send", R"({"to":"nobody","data":1})");
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->str("to"), "nobody") << receipt->text();
  EXPECT_EQ(receipt->boolean("online"), false) << receipt->text();
  EXPECT_EQ(receipt->u64("matched"), 0u) << receipt->text();

  // Once every tab is gone the user is offline.
  bobs.clear();
  const auto deadline = std::chrono::steady_clock::now() + kStateChange;
  std::optional<Json> last;
  do {
    last = api_->postOk("/api/send", R"({"to":"bob","data":"anyone?"})");
    ASSERT_TRUE(last);
    if (last->boolean("online") == false) break;
    std::this_thread::sleep_for(kPollStep);
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(last->boolean("online"), false) << last->text();
  EXPECT_EQ(last->u64("matched"), 0u) << last->text();
}

}  // namespace
}  // namespace ringcast::test
