// Several ringcast nodes joined through a real redis-server (--redis): a message published on
// any node reaches every subscriber on every node exactly once, in offset order; direct
// messages and notices cross nodes; a restart of Redis never crashes a node, publishes are
// refused (503) while it is down, and subscribers that may have missed messages are told;
// with two Redis instances the channels are spread over both.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/push_client.h"
#include "tests/support/redis_server.h"

namespace ringcast::test {
namespace {

using namespace std::chrono_literals;

class RedisCluster : public ::testing::Test {
 protected:
  void startRedis(int instances) {
    for (int i = 0; i < instances; ++i) {
      std::string error;
      auto r = RedisServer::start(&error);
      ASSERT_NE(r, nullptr) << error;
      redis_.push_back(std::move(r));
    }
  }
  std::string redisFlag() const {
    std::string s;
    for (const auto& r : redis_) s += (s.empty() ? "" : ",") + r->address();
    return s;
  }
  void startNodes(int count) {
    for (int i = 0; i < count; ++i) {
      auto gw = std::make_unique<Gateway>();
      ASSERT_TRUE(
          startGateway({"--redis", redisFlag(), "--node-id", "n" + std::to_string(i)}, gw.get()));
      api_.push_back(std::make_unique<ApiClient>(gw->apiPort));
      nodes_.push_back(std::move(gw));
    }
    for (auto& api : api_) ASSERT_TRUE(waitHealthy(*api));
  }
  static bool waitHealthy(ApiClient& api, std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (api.get("/healthz").status == 200) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  std::unique_ptr<PushClient> client(int node, const std::string& user) {
    auto c = std::make_unique<PushClient>();
    auto ok = c->connect(nodes_[static_cast<size_t>(node)]->wsPort, "/ws?user=" + user);
    if (!ok) {
      ADD_FAILURE() << ok.message();
      return nullptr;
    }
    return c;
  }

  std::vector<std::unique_ptr<RedisServer>> redis_;
  std::vector<std::unique_ptr<Gateway>> nodes_;
  std::vector<std::unique_ptr<ApiClient>> api_;
};

// Every frame of `c` up to message `last` of `channel`: offsets 1..last, once each, in order.
::testing::AssertionResult gotAllInOrder(PushClient& c, const std::string& channel, uint64_t last) {
  for (uint64_t want = 1; want <= last; ++want) {
    auto j = c.nextOfType("message");
    if (!j)
      return ::testing::AssertionFailure()
             << "waiting for " << want << ": " << c.lastRead().describe();
    if (j->str("channel") != channel || j->u64("offset") != want ||
        j->text().find(R"("data":{"m":)" + std::to_string(want) + "}") == std::string::npos) {
      return ::testing::AssertionFailure() << "want offset " << want << ", got " << j->text();
    }
  }
  return ::testing::AssertionSuccess();
}

TEST_F(RedisCluster, EveryMessageReachesEverySubscriberOnEveryNodeOnceInOrder) {
  startRedis(1);
  startNodes(3);
  constexpr int kPerNode = 10;
  constexpr uint64_t kMessages = 30;
  std::vector<std::unique_ptr<PushClient>> subs;
  for (int n = 0; n < 3; ++n) {
    for (int i = 0; i < kPerNode; ++i) {
      subs.push_back(client(n, "u" + std::to_string(n) + "_" + std::to_string(i)));
      ASSERT_TRUE(subs.back());
      ASSERT_TRUE(subscribeOk(*subs.back(), "news"));
    }
  }
  // Publishes go through every node's API in turn; offsets are the cluster's.
  for (uint64_t m = 1; m <= kMessages; ++m) {
    auto r = publishOk(*api_[m % 3], "news", R"({"m":)" + std::to_string(m) + "}");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->u64("offset"), m) << r->text();
  }
  for (auto& s : subs) ASSERT_TRUE(gotAllInOrder(*s, "news", kMessages));

  // A client's own publish on node 2 reaches node 0.
  ASSERT_TRUE(subs.back()->request(R"({"op":"publish","channel":"news","data":{"m":31},"id":1})"));
  auto j = subs.front()->nextOfType("message");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->u64("offset"), 31u) << j->text();

  // A direct message sent through node 0 reaches the user on node 2, and says online.
  auto sent = api_[0]->postOk("/api/send", R"({"to":"u2_0","data":{"d":1}})");
  ASSERT_TRUE(sent);
  EXPECT_NE(sent->text().find(R"("online":true)"), std::string::npos) << sent->text();
  auto direct = subs[20]->nextOfType("direct");
  ASSERT_TRUE(direct);
  EXPECT_NE(direct->text().find(R"("d":1)"), std::string::npos);
  auto nobody = api_[1]->postOk("/api/send", R"({"to":"nobody","data":1})");
  ASSERT_TRUE(nobody);
  EXPECT_NE(nobody->text().find(R"("online":false)"), std::string::npos) << nobody->text();

  // A notice through node 1 reaches every node.
  ASSERT_TRUE(api_[1]->postOk("/api/broadcast", R"({"data":"hello all"})"));
  for (int n = 0; n < 3; ++n) {
    auto notice = subs[static_cast<size_t>(n * kPerNode)]->nextOfType("notice");
    ASSERT_TRUE(notice) << "node " << n;
  }
}

// Without --node-id a node is named after its host and pid, and says so at start-up.
TEST_F(RedisCluster, NodeWithoutNodeIdIsNamedHostDashPid) {
  startRedis(1);
  Gateway gw;
  ASSERT_TRUE(startGateway({"--redis", redisFlag()}, &gw));
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  const std::string want =
      "  --node-id               " + std::string(host) + "-" + std::to_string(gw.server->pid());
  EXPECT_NE(gw.server->startupOutput().find(want + "\n"), std::string::npos)
      << "want '" << want << "' in:\n"
      << gw.server->startupOutput();
}

TEST_F(RedisCluster, RedisRestartRefusesWhileDownAndTellsSubscribers) {
  startRedis(1);
  startNodes(2);
  auto sub = client(1, "watcher");
  ASSERT_TRUE(sub);
  ASSERT_TRUE(subscribeOk(*sub, "feed"));
  for (uint64_t m = 1; m <= 3; ++m) {
    ASSERT_TRUE(publishOk(*api_[0], "feed", R"({"m":)" + std::to_string(m) + "}"));
  }
  ASSERT_TRUE(gotAllInOrder(*sub, "feed", 3));

  redis_[0]->kill();  // no persistence: the channel's history is lost with it
  // Refused quickly with 503 while down, never accepted and lost.
  bool refused = false;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    auto start = std::chrono::steady_clock::now();
    auto r = api_[0]->post("/api/publish", R"({"channel":"feed","data":{"m":0}})");
    if (r.status == 503) {
      refused = true;
      EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
      EXPECT_NE(r.body.find("overloaded"), std::string::npos) << r.body;
    } else {
      ASSERT_EQ(r.status, 200) << r.body;  // before the node noticed: accepted
    }
  }
  ASSERT_TRUE(refused);
  EXPECT_EQ(api_[0]->get("/healthz").status, 503);

  std::string error;
  ASSERT_TRUE(redis_[0]->restart(&error)) << error;
  for (auto& api : api_) ASSERT_TRUE(waitHealthy(*api));
  ASSERT_TRUE(publishOk(*api_[0], "feed", R"({"m":1})"));
  // The subscriber hears that the history went away, then the channel goes on.
  auto lost = sub->nextOfType("recovery");
  ASSERT_TRUE(lost) << sub->lastRead().describe();
  EXPECT_EQ(lost->boolean("recovered"), false) << lost->text();
  auto next = sub->nextOfType("message");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->u64("offset"), 1u) << next->text();
  for (auto& n : nodes_) EXPECT_TRUE(n->server->running());
  auto metrics = api_[1]->get("/metrics");
  EXPECT_NE(metrics.body.find("ringcast_redis_up 1"), std::string::npos);
  EXPECT_NE(metrics.body.find("ringcast_redis_link_losses_total"), std::string::npos);
}

TEST_F(RedisCluster, TwoInstancesEachCarryChannelsInOrder) {
  startRedis(2);
  startNodes(2);
  constexpr int kChannels = 16;
  constexpr uint64_t kMessages = 5;
  std::vector<std::unique_ptr<PushClient>> subs;
  for (int c = 0; c < kChannels; ++c) {
    subs.push_back(client(c % 2, "s" + std::to_string(c)));
    ASSERT_TRUE(subs.back());
    ASSERT_TRUE(subscribeOk(*subs.back(), "ch" + std::to_string(c)));
  }
  for (uint64_t m = 1; m <= kMessages; ++m) {
    for (int c = 0; c < kChannels; ++c) {
      ASSERT_TRUE(publishOk(*api_[(c + 1) % 2], "ch" + std::to_string(c),
                            R"({"m":)" + std::to_string(m) + "}"));
    }
  }
  for (int c = 0; c < kChannels; ++c) {
    ASSERT_TRUE(gotAllInOrder(*subs[static_cast<size_t>(c)], "ch" + std::to_string(c), kMessages));
  }
  // Both instances hold channel state and carry the publish scripts.
  for (auto& r : redis_) {
    std::string keys = r->command({"KEYS", "rc:{ch*}:meta"});
    EXPECT_FALSE(keys.empty()) << r->address();
    EXPECT_GT(r->infoNumber("stats", "total_commands_processed"), 20) << r->address();
  }
}

}  // namespace
}  // namespace ringcast::test
