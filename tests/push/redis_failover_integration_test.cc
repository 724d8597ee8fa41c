// A node of three, joined through a real redis-server, dies by SIGKILL while messages flow
// at a steady rate: its subscribers reconnect to the other nodes, subscribe with `since`
// (their last offset and the channel's epoch) and end with every message exactly once, in
// offset order. Publishes go through the API of the nodes that stay up.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
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
  ASSERT_TRUE(cluster.startNodes(kNodes, {"--history-size", "10000"}));

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
  ASSERT_EQ(cluster.metric(kVictim, "subscriptions"), kPerNode);

  SteadyPublisher publisher({cluster.nodes[0]->apiPort, cluster.nodes[1]->apiPort}, "feed",
                            kMessages, kInterval);
  const auto started = std::chrono::steady_clock::now();
  publisher.start();
  ASSERT_TRUE(publisher.waitPublished(kKillAt, 10s));
  ExitStatus killed = cluster.nodes[kVictim]->server->kill();
  EXPECT_EQ(killed.kind, ExitStatus::Kind::kSignaled) << killed.describe();
  const auto backIn = cluster.waitSubscriptionsOnOthers(kVictim, kNodes * kPerNode);
  EXPECT_TRUE(backIn) << "the dead node's subscribers did not all subscribe again";
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
  for (size_t n = 0; n < kVictim; ++n) EXPECT_TRUE(cluster.nodes[n]->server->running());
  const int backInMs = backIn ? static_cast<int>(backIn->count()) : -1;
  const auto tookMs = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
  RecordProperty("killed_to_all_resubscribed_ms", backInMs);
  RecordProperty("first_publish_to_last_delivery_ms", static_cast<int>(tookMs));
  std::fprintf(stderr,
               "failover: %d subscribers moved, all subscribed again %d ms after the kill; %llu "
               "messages delivered to %zu subscribers in %lld ms\n",
               moved, backInMs, static_cast<unsigned long long>(kMessages), subs.size(),
               static_cast<long long>(tookMs));
}

}  // namespace
}  // namespace ringcast::test
