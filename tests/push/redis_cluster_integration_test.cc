// Several ringcast nodes joined through a real redis-server (--redis): a message published on
// any node, by any way in, reaches every one of 3,000 subscribers on every node exactly once,
// in offset order; direct messages and notices cross nodes; presence lists and join/leave
// events are the cluster's, and a crashed node's users leave them within the bound; a restart of
// Redis never crashes a node, publishes are refused (503) while it is down, and subscribers that
// may have missed messages are told; with two Redis instances the channels are spread over both.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "push/redis_codec.h"
#include "tests/support/cluster.h"
#include "tests/support/eventually.h"
#include "tests/support/line_client.h"
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
  constexpr int kPerNode = 1000;  // 3,000 subscribers
  std::vector<std::unique_ptr<PushClient>> subs;
  std::string wantPresence;
  std::vector<std::string> users;
  for (int n = 0; n < 3; ++n) {
    for (int i = 0; i < kPerNode; ++i)
      users.push_back("u" + std::to_string(n) + "_" + std::to_string(i));
  }
  for (size_t k = 0; k < users.size(); ++k) {
    subs.push_back(client(static_cast<int>(k / kPerNode), users[k]));
    ASSERT_TRUE(subs.back());
    ASSERT_TRUE(subscribeOk(*subs.back(), "news"));
  }
  std::sort(users.begin(), users.end());
  for (const std::string& u : users) wantPresence += u + ":1\n";

  // Through every node, by each way in: the HTTP API, the TCP protocol, a client's publish.
  // Offsets are the cluster's: message m gets offset m whichever node took it.
  uint64_t m = 0;
  auto body = [&m] { return R"({"m":)" + std::to_string(m) + "}"; };
  for (int round = 0; round < 2; ++round) {
    for (int n = 0; n < 3; ++n) {
      ++m;
      auto r = publishOk(*api_[static_cast<size_t>(n)], "news", body());
      ASSERT_TRUE(r);
      EXPECT_EQ(r->u64("offset"), m) << r->text();
      ++m;
      LineClient feeder;
      ASSERT_TRUE(feeder.connect(nodes_[static_cast<size_t>(n)]->publishPort));
      ASSERT_TRUE(feeder.send(tcpCommand("PUB news", body()) + "PING\r\n"));
      ASSERT_EQ(feeder.line(), "PONG") << "node " << n;
      ++m;
      auto reply = subs[static_cast<size_t>(n * kPerNode + round)]->request(
          R"({"op":"publish","channel":"news","data":)" + body() + R"(,"id":7})");
      ASSERT_TRUE(reply);
      EXPECT_EQ(reply->u64("offset"), m) << reply->text();
    }
  }
  for (size_t k = 0; k < subs.size(); ++k) {
    ASSERT_TRUE(gotAllInOrder(*subs[k], "news", m)) << users[k];
  }
  // Nothing more: every message came exactly once.
  for (int n = 0; n < 3; ++n) {
    auto extra = subs[static_cast<size_t>(n * kPerNode)]->drainFor(100ms);
    for (const Json& j : extra) EXPECT_NE(j.type(), "message") << j.text();
  }

  // Every node lists the same 3,000 users in the channel's presence.
  for (int n = 0; n < 3; ++n) {
    EXPECT_TRUE(eventually([&] {
      return presenceOf(*api_[static_cast<size_t>(n)], "news") == wantPresence;
    })) << "node "
        << n;
  }

  // A direct message sent through node 0 reaches the user on node 2, and says online.
  auto sent = api_[0]->postOk("/api/send", R"({"to":"u2_0","data":{"d":1}})");
  ASSERT_TRUE(sent);
  EXPECT_NE(sent->text().find(R"("online":true)"), std::string::npos) << sent->text();
  auto direct = subs[2 * kPerNode]->nextOfType("direct");
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

// Joins and leaves are the cluster's: a user's first connection anywhere joins, its last one
// anywhere leaves, every presence subscriber on every node hears each once, and every node
// answers the same presence and user lists.
TEST_F(RedisCluster, PresenceIsTheClustersOnEveryNode) {
  startRedis(1);
  startNodes(3);
  std::vector<std::unique_ptr<PushClient>> watchers;
  for (int n = 0; n < 3; ++n) {
    watchers.push_back(client(n, "w" + std::to_string(n)));
    ASSERT_TRUE(watchers.back());
    ASSERT_TRUE(subscribeOk(*watchers.back(), "room", R"(,"presence":true)"));
  }
  auto alice0 = client(0, "alice");
  auto bob1 = client(1, "bob");
  auto alice2 = client(2, "alice");
  ASSERT_TRUE(alice0 && bob1 && alice2);
  ASSERT_TRUE(subscribeOk(*alice0, "room"));
  ASSERT_TRUE(subscribeOk(*bob1, "room"));
  ASSERT_TRUE(subscribeOk(*alice2, "room"));

  const std::string want = "alice:2\nbob:1\nw0:1\nw1:1\nw2:1\n";
  for (int n = 0; n < 3; ++n) {
    EXPECT_TRUE(eventually([&] {
      return presenceOf(*api_[static_cast<size_t>(n)], "room") == want;
    })) << "node "
        << n << ": " << presenceOf(*api_[static_cast<size_t>(n)], "room");
  }
  auto usersList = api_[1]->getOk("/api/users");
  ASSERT_TRUE(usersList);
  for (const char* u :
       {R"("user":"alice","conns":2)", R"("user":"bob","conns":1)", R"("user":"w2","conns":1)"}) {
    EXPECT_NE(usersList->text().find(u), std::string::npos) << usersList->text();
  }

  // Every watcher hears each user join once: alice's second connection makes no join.
  auto joinsOf = [](PushClient& w, bool* found) {
    auto frames = w.collectUntil(
        [](const Json& j) { return j.type() == "join" && j.str("user") == "bob"; }, found);
    std::vector<std::string> joins;
    for (const Json& j : frames) {
      if (j.type() == "join") joins.push_back(j.str("user").value_or(""));
    }
    return joins;
  };
  for (int n = 0; n < 3; ++n) {
    bool found = false;
    auto joins = joinsOf(*watchers[static_cast<size_t>(n)], &found);
    ASSERT_TRUE(found) << "node " << n;
    EXPECT_EQ(std::count(joins.begin(), joins.end(), "alice"), 1) << "node " << n;
  }

  // alice's connection on node 0 goes: no leave, she is still on node 2; then the last goes.
  alice0.reset();
  EXPECT_TRUE(eventually(
      [&] { return presenceOf(*api_[1], "room") == "alice:1\nbob:1\nw0:1\nw1:1\nw2:1\n"; }));
  alice2.reset();
  for (int n = 0; n < 3; ++n) {
    bool found = false;
    auto frames = watchers[static_cast<size_t>(n)]->collectUntil(
        [](const Json& j) { return j.type() == "leave" && j.str("user") == "alice"; }, &found);
    ASSERT_TRUE(found) << "node " << n << ": " << describe(frames);
    for (size_t i = 0; i + 1 < frames.size(); ++i) {
      EXPECT_NE(frames[i].type(), "leave") << "an early leave: " << frames[i].text();
    }
  }
  for (int n = 0; n < 3; ++n) {
    EXPECT_TRUE(eventually([&] {
      return presenceOf(*api_[static_cast<size_t>(n)], "room") == "bob:1\nw0:1\nw1:1\nw2:1\n";
    })) << "node "
        << n;
  }
}

// A node that dies without a word (SIGKILL) stops refreshing its presence entries: its users
// leave every other node's lists, with leave events, within --presence-ttl plus a third.
TEST_F(RedisCluster, ACrashedNodesUsersLeaveEveryListWithinTheBound) {
  startRedis(1);
  constexpr auto kTtl = 900ms;
  for (int i = 0; i < 3; ++i) {
    auto gw = std::make_unique<Gateway>();
    ASSERT_TRUE(startGateway({"--redis", redisFlag(), "--node-id", "n" + std::to_string(i),
                              "--presence-ttl", std::to_string(kTtl.count()) + "ms"},
                             gw.get()));
    api_.push_back(std::make_unique<ApiClient>(gw->apiPort));
    nodes_.push_back(std::move(gw));
  }
  for (auto& api : api_) ASSERT_TRUE(waitHealthy(*api));
  auto w0 = client(0, "w0");
  auto w1 = client(1, "w1");
  ASSERT_TRUE(w0 && w1);
  ASSERT_TRUE(subscribeOk(*w0, "room", R"(,"presence":true)"));
  ASSERT_TRUE(subscribeOk(*w1, "room", R"(,"presence":true)"));
  auto carol = client(2, "carol");
  auto dave = client(2, "dave");
  ASSERT_TRUE(carol && dave);
  ASSERT_TRUE(subscribeOk(*carol, "room"));
  ASSERT_TRUE(subscribeOk(*dave, "room"));
  const std::string all = "carol:1\ndave:1\nw0:1\nw1:1\n";
  ASSERT_TRUE(eventually([&] { return presenceOf(*api_[0], "room") == all; }))
      << presenceOf(*api_[0], "room");
  // Several refresh rounds pass: live entries are kept alive, nobody leaves.
  std::this_thread::sleep_for(2 * kTtl);  // not synchronisation: time for expiry to go wrong
  EXPECT_EQ(presenceOf(*api_[1], "room"), all);

  const auto killedAt = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(nodes_[2]->server->pid(), SIGKILL), 0);
  EXPECT_EQ(nodes_[2]->server->waitExit(5000ms).kind, ExitStatus::Kind::kSignaled);
  for (PushClient* w : {w0.get(), w1.get()}) {
    std::vector<std::string> left;
    bool found = false;
    auto frames = w->collectUntil(
        [&left](const Json& j) {
          if (j.type() == "leave") left.push_back(j.str("user").value_or(""));
          return left.size() == 2;
        },
        &found, 5000ms);
    EXPECT_TRUE(found);
    std::sort(left.begin(), left.end());
    EXPECT_EQ(left, (std::vector<std::string>{"carol", "dave"})) << describe(frames);
  }
  const auto took = std::chrono::steady_clock::now() - killedAt;
  // The bound: the entries expire kTtl after the dead node's last refresh, and a live node's
  // sweep runs every kTtl/3; 500 ms of slack for the scheduling of a busy machine.
  EXPECT_LT(took, kTtl + kTtl / 3 + 500ms)
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_EQ(presenceOf(*api_[0], "room"), "w0:1\nw1:1\n");
  EXPECT_EQ(presenceOf(*api_[1], "room"), "w0:1\nw1:1\n");
  auto usersList = api_[0]->getOk("/api/users");
  ASSERT_TRUE(usersList);
  EXPECT_EQ(usersList->text().find("carol"), std::string::npos) << usersList->text();
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

// Redis dies (SIGKILL) and comes back while publishes flow through two nodes: no node
// crashes or stalls, each publish is accepted or refused with 503, and every accepted one
// reaches every subscriber on both nodes exactly once in offset order (the nodes read what
// they missed from the persisted streams). (When the streams are lost with Redis, the
// subscribers are told instead: RedisRestartRefusesWhileDownAndTellsSubscribers.)
TEST_F(RedisCluster, RedisRestartWhileMessagesFlowLosesNothingAccepted) {
  RedisServer::Options o;
  o.appendOnly = true;
  o.extraArgs = {"--appendfsync", "always"};
  std::string error;
  auto r = RedisServer::start(o, &error);
  ASSERT_NE(r, nullptr) << error;
  redis_.push_back(std::move(r));
  startNodes(2);
  std::vector<std::unique_ptr<PushClient>> subs;
  for (int i = 0; i < 8; ++i) {
    subs.push_back(client(i % 2, "s" + std::to_string(i)));
    ASSERT_TRUE(subs.back());
    ASSERT_TRUE(subscribeOk(*subs.back(), "flow"));
  }
  constexpr int kPublishes = 400;
  std::vector<int> accepted;
  int refused = 0;
  bool restarted = false;
  auto lastAccepted = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration longestStall{};
  for (int k = 1; k <= kPublishes; ++k) {
    if (k == kPublishes / 4) redis_[0]->kill();
    if (k > kPublishes / 4 && !restarted && refused > 0) {
      ASSERT_TRUE(redis_[0]->restart(&error)) << error;
      restarted = true;
    }
    auto resp = api_[static_cast<size_t>(k % 2)]->post(
        "/api/publish", R"({"channel":"flow","data":{"m":)" + std::to_string(k) + "}}");
    const auto now = std::chrono::steady_clock::now();
    if (resp.status == 200) {
      accepted.push_back(k);
      longestStall = std::max(longestStall, now - lastAccepted);
      lastAccepted = now;
    } else {
      ASSERT_EQ(resp.status, 503) << resp.body;
      EXPECT_NE(resp.body.find("overloaded"), std::string::npos) << resp.body;
      ++refused;
    }
    std::this_thread::sleep_for(2ms);  // a steady rate, not synchronisation
  }
  ASSERT_TRUE(restarted);
  EXPECT_GT(refused, 0);
  ASSERT_GT(accepted.size(), kPublishes / 2u);
  // Not stalled: publishing went on soon after Redis was back (its restart plus back-off).
  EXPECT_LT(longestStall, 4s);
  for (auto& n : nodes_) EXPECT_TRUE(n->server->running());

  const int last = accepted.back();
  for (size_t i = 0; i < subs.size(); ++i) {
    bool found = false;
    auto frames = subs[i]->collectUntil(
        [last](const Json& j) {
          return j.type() == "message" &&
                 j.text().find(R"("m":)" + std::to_string(last) + "}") != std::string::npos;
        },
        &found, 10000ms);
    ASSERT_TRUE(found) << "subscriber " << i << ": " << describe(frames);
    std::vector<int> got;
    bool told = false;
    uint64_t lastOffset = 0;
    for (const Json& j : frames) {
      if (j.type() == "recovery") told = true;
      if (j.type() != "message") continue;
      const uint64_t offset = j.u64("offset").value_or(0);
      EXPECT_GT(offset, lastOffset) << "out of order: " << j.text();
      lastOffset = offset;
      const size_t at = j.text().find(R"("m":)");
      ASSERT_NE(at, std::string::npos) << j.text();
      got.push_back(std::atoi(j.text().c_str() + at + 4));
    }
    std::vector<int> sorted = got;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end())
        << "a duplicate for subscriber " << i;
    size_t missing = 0;
    for (int k : accepted) {
      if (!std::binary_search(sorted.begin(), sorted.end(), k)) ++missing;
    }
    // The streams survived (fsync always): every gap is filled, nobody needs to be told.
    EXPECT_EQ(missing, 0u) << "subscriber " << i;
    EXPECT_FALSE(told) << "subscriber " << i;
  }
}

// What arrives from Redis in a burst finds a ring of 2 full again and again: it waits on
// loop 0 in arrival order (never dropped, never reordered) while both loops keep draining.
TEST_F(RedisCluster, ABurstFromRedisIntoAFullRingKeepsItsOrder) {
  startRedis(1);
  for (int i = 0; i < 2; ++i) {
    auto gw = std::make_unique<Gateway>();
    ASSERT_TRUE(startGateway({"--redis", redisFlag(), "--ring-size", "2"}, gw.get()));
    api_.push_back(std::make_unique<ApiClient>(gw->apiPort));
    nodes_.push_back(std::move(gw));
  }
  for (auto& api : api_) ASSERT_TRUE(waitHealthy(*api));
  auto readers = connectOnEveryLoop(nodes_[1]->wsPort, "/ws?user=reader");
  ASSERT_EQ(readers.size(), 2u) << "need a reader on each loop of node 1";
  for (auto& r : readers) ASSERT_TRUE(subscribeOk(*r, "burst"));
  constexpr uint64_t kMessages = 2000;
  std::string batch;
  for (uint64_t m = 1; m <= kMessages; ++m) {
    batch += tcpCommand("PUB burst", R"({"m":)" + std::to_string(m) + "}");
  }
  LineClient feeder;
  ASSERT_TRUE(feeder.connect(nodes_[0]->publishPort));
  ASSERT_TRUE(feeder.send(batch + "PING\r\n"));
  ASSERT_EQ(feeder.line(std::chrono::milliseconds(20000)), "PONG");  // all accepted
  for (auto& r : readers) ASSERT_TRUE(gotAllInOrder(*r, "burst", kMessages));
  // The burst did wait for room on node 1 (else this test shows nothing).
  const std::string metrics = api_[1]->get("/metrics").body;
  const size_t at = metrics.find("\nringcast_parked_total ");
  ASSERT_NE(at, std::string::npos) << metrics;
  EXPECT_GT(std::atol(metrics.c_str() + at + 23), 0) << metrics.substr(at, 40);
}

// A publish script a server does not know is answered NOSCRIPT and sent again, after
// publishes sent meanwhile: the scripts must be on the server before the first publish, on
// a fresh server and on one that restarted (and forgot them). This is what kept the burst
// above in order.
TEST_F(RedisCluster, TheScriptsAreLoadedBeforeAnyPublishAndAgainAfterARestart) {
  startRedis(1);
  startNodes(1);
  const std::vector<std::string> exists = {"SCRIPT", "EXISTS",
                                           push::redis::scriptSha1(push::redis::kPublishScript),
                                           push::redis::scriptSha1(push::redis::kRecoverScript),
                                           push::redis::scriptSha1(push::redis::kPresenceScript)};
  auto allLoaded = [&] { return redis_[0]->command(exists) == "1\n1\n1"; };
  EXPECT_TRUE(eventually(allLoaded)) << redis_[0]->command(exists);
  EXPECT_EQ(redis_[0]->infoNumber("stats", "total_error_replies"), 0)
      << "nothing was answered with an error (NOSCRIPT)";

  std::string error;
  redis_[0]->kill();
  ASSERT_TRUE(redis_[0]->restart(&error)) << error;
  EXPECT_TRUE(eventually(allLoaded))
      << "not loaded again after the reconnect: " << redis_[0]->command(exists);
  ASSERT_TRUE(waitHealthy(*api_[0]));
  auto r = publishOk(*api_[0], "after", R"({"m":1})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->u64("offset"), 1u) << r->text();
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
