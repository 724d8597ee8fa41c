// A node of three, joined through a real redis-server, dies by SIGKILL while messages flow
// at a steady rate: its subscribers reconnect to the other nodes, subscribe with `since`
// (their last offset and the channel's epoch) and end with every message exactly once, in
// offset order. Publishes go through the API of the nodes that stay up. Presence follows:
// within --presence-ttl and a third of it the dead node's entries are gone from every
// survivor's list, so its users that did not come back leave (with a leave event) and those
// that moved count only their new connection.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/cluster.h"
#include "tests/support/failover_traffic.h"

namespace ringcast::test {
namespace {

using namespace std::chrono_literals;

TEST(RedisFailover, KilledNodesSubscribersResumeOnTheOthersWithoutLossOrDuplicates) {
  constexpr int kNodes = 3;
  constexpr size_t kVictim = 2;
  constexpr int kPerNode = 10;
  constexpr uint64_t kMessages = 600;
  constexpr uint64_t kKillAt = 200;  // publishes accepted before the kill
  constexpr auto kInterval = 5ms;    // 200 messages/s
  Cluster cluster;
  ASSERT_TRUE(cluster.startRedis(1));
  // The history must hold what flows while a client is away (a reconnect takes milliseconds
  // here; the margin is for a loaded machine).
  constexpr auto kPresenceTtl = 1000ms;
  ASSERT_TRUE(cluster.startNodes(kNodes, {"--history-size", "10000", "--presence-ttl",
                                          std::to_string(kPresenceTtl.count()) + "ms"}));

  // Subscriber i starts on node i % 3 and, once lost, tries the nodes after it in turn.
  std::vector<std::unique_ptr<ResumingSubscriber>> subs;
  for (int i = 0; i < kNodes * kPerNode; ++i) {
    std::vector<uint16_t> ports;
    for (int k = 0; k < kNodes; ++k) {
      ports.push_back(cluster.nodes[static_cast<size_t>((i + k) % kNodes)]->wsPort);
    }
    subs.push_back(std::make_unique<ResumingSubscriber>(ports, "u" + std::to_string(i), "feed"));
    ASSERT_TRUE(subs.back()->start());
  }
  // Two users on the victim who will not come back, and a presence watcher on node 0.
  std::vector<std::unique_ptr<PushClient>> bystanders;
  for (const char* user : {"gone0", "gone1"}) {
    bystanders.push_back(std::make_unique<PushClient>());
    ASSERT_TRUE(bystanders.back()->connect(cluster.nodes[kVictim]->wsPort,
                                           std::string("/ws?user=") + user));
    ASSERT_TRUE(subscribeOk(*bystanders.back(), "feed"));
  }
  PushClient watcher;
  ASSERT_TRUE(watcher.connect(cluster.nodes[0]->wsPort, "/ws?user=watcher"));
  ASSERT_TRUE(subscribeOk(watcher, "feed", R"(,"presence":true)"));
  ASSERT_EQ(cluster.metric(kVictim, "subscriptions"), kPerNode + 2);
  std::vector<std::string> users = {"gone0", "gone1", "watcher"};
  for (int i = 0; i < kNodes * kPerNode; ++i) users.push_back("u" + std::to_string(i));
  std::sort(users.begin(), users.end());
  std::string everyone, afterwards;
  for (const std::string& u : users) {
    everyone += u + ":1\n";
    if (u.rfind("gone", 0) != 0) afterwards += u + ":1\n";
  }
  for (size_t n = 0; n < kNodes; ++n) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (presenceOf(*cluster.api[n], "feed") != everyone &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(presenceOf(*cluster.api[n], "feed"), everyone) << "node " << n;
  }

  SteadyPublisher publisher({cluster.nodes[0]->apiPort, cluster.nodes[1]->apiPort}, "feed",
                            kMessages, kInterval);
  const auto started = std::chrono::steady_clock::now();
  publisher.start();
  ASSERT_TRUE(publisher.waitPublished(kKillAt, 10s));
  const auto killedAt = std::chrono::steady_clock::now();
  ExitStatus killed = cluster.nodes[kVictim]->server->kill();
  EXPECT_EQ(killed.kind, ExitStatus::Kind::kSignaled) << killed.describe();
  const auto backIn = cluster.waitSubscriptionsOnOthers(kVictim, kNodes * kPerNode + 1);
  EXPECT_TRUE(backIn) << "the dead node's subscribers did not all subscribe again";
  // Every survivor's list loses the dead node's entries within the bound (docs/DEPLOYMENT.md).
  std::optional<std::chrono::milliseconds> presenceSettled;
  while (!presenceSettled && std::chrono::steady_clock::now() < killedAt + 5s) {
    if (presenceOf(*cluster.api[0], "feed") == afterwards &&
        presenceOf(*cluster.api[1], "feed") == afterwards) {
      presenceSettled = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - killedAt);
    } else {
      std::this_thread::sleep_for(10ms);
    }
  }
  ASSERT_TRUE(presenceSettled) << presenceOf(*cluster.api[0], "feed");
  // The bound, and 500 ms of slack for the scheduling of a busy machine.
  EXPECT_LT(*presenceSettled, kPresenceTtl + kPresenceTtl / 3 + 500ms);
  ASSERT_TRUE(publisher.finish(20s));
  for (auto& s : subs) EXPECT_TRUE(s->waitForOffset(kMessages, 10s));
  const auto took = std::chrono::steady_clock::now() - started;

  int moved = 0;
  for (size_t i = 0; i < subs.size(); ++i) {
    subs[i]->stop();
    EXPECT_TRUE(subs[i]->gotExactlyInOrder(kMessages));
    const bool onVictim = i % kNodes == kVictim;
    EXPECT_EQ(subs[i]->reconnects(), onVictim ? 1 : 0) << "subscriber " << i;
    EXPECT_NE(subs[i]->port(), cluster.nodes[kVictim]->wsPort) << "subscriber " << i;
    moved += subs[i]->reconnects();
  }
  EXPECT_EQ(moved, kPerNode);
  // The watcher heard exactly the two that did not come back leave.
  std::vector<std::string> left;
  for (const Json& j : watcher.drainFor(100ms)) {
    if (j.type() == "leave") left.push_back(j.str("user").value_or(""));
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"gone0", "gone1"}));
  for (size_t n = 0; n < kVictim; ++n) EXPECT_TRUE(cluster.nodes[n]->server->running());
  const int backInMs = backIn ? static_cast<int>(backIn->count()) : -1;
  const auto tookMs = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  RecordProperty("killed_to_all_resubscribed_ms", backInMs);
  RecordProperty("killed_to_presence_settled_ms", static_cast<int>(presenceSettled->count()));
  RecordProperty("first_publish_to_last_delivery_ms", static_cast<int>(tookMs));
  std::fprintf(stderr,
               "failover: %d subscribers moved, all subscribed again %d ms after the kill, the "
               "dead node's presence gone after %d ms; %llu messages delivered to %zu "
               "subscribers in %lld ms\n",
               moved, backInMs, static_cast<int>(presenceSettled->count()),
               static_cast<unsigned long long>(kMessages), subs.size(),
               static_cast<long long>(tookMs));
}

}  // namespace
}  // namespace ringcast::test
