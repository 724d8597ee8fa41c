// Debian's real haproxy in front of three ringcast nodes joined through a real redis-server,
// with the configuration of docs/haproxy.cfg (the one docs/DEPLOYMENT.md shows; only the
// addresses change for loopback). Clients connect through HAProxy's port and subscribe;
// while messages flow at a steady rate one node dies by SIGKILL; its clients reconnect
// through HAProxy, which sends them to the live nodes, subscribe with `since` and end with
// every message exactly once, in offset order. Skipped when haproxy is not installed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/cluster.h"
#include "tests/support/failover_traffic.h"
#include "tests/support/free_port.h"
#include "tests/support/haproxy.h"

namespace ringcast::test {
namespace {

using namespace std::chrono_literals;

std::string readSourceFile(const std::string& relative) {
  std::ifstream in(std::string(RINGCAST_SOURCE_DIR) + "/" + relative);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The documentation shows docs/haproxy.cfg as it is, as one block indented by four spaces.
TEST(HaproxyConfig, DeploymentDocShowsTheTestedFile) {
  const std::string config = readSourceFile("docs/haproxy.cfg");
  ASSERT_FALSE(config.empty());
  std::istringstream lines(config);
  std::string block;
  for (std::string line; std::getline(lines, line);) {
    block += line.empty() ? "\n" : "    " + line + "\n";
  }
  EXPECT_NE(readSourceFile("docs/DEPLOYMENT.md").find(block), std::string::npos)
      << "docs/DEPLOYMENT.md must show docs/haproxy.cfg unchanged:\n"
      << block;
}

TEST(HaproxyFront, KilledNodesClientsComeBackThroughHaproxyWithoutLossOrDuplicates) {
  if (!Haproxy::installed()) {
    GTEST_SKIP() << Haproxy::kBinary << " is not installed (Debian package haproxy)";
  }
  constexpr size_t kNodes = 3;
  constexpr int kClients = 6;
  constexpr uint64_t kMessages = 500;
  constexpr uint64_t kKillAt = 150;
  constexpr auto kInterval = 10ms;  // 100 messages/s
  Cluster cluster;
  ASSERT_TRUE(cluster.startRedis(1));
  // The history must cover what flows while a client is away: up to HAProxy's two failed
  // checks (about 2 s) if it reaches the dead node first.
  ASSERT_TRUE(cluster.startNodes(kNodes, {"--history-size", "10000"}));
  std::vector<HaproxyNode> backends;
  for (const auto& n : cluster.nodes) backends.push_back({n->wsPort, n->apiPort});
  std::string error;
  std::unique_ptr<Haproxy> haproxy;
  for (int attempt = 0; attempt < 3 && !haproxy; ++attempt) {
    const uint16_t port = freeLoopbackPort();  // taken by someone else meanwhile: try again
    const std::string config =
        loopbackConfig(readSourceFile("docs/haproxy.cfg"), port, backends, &error);
    ASSERT_FALSE(config.empty()) << error;
    haproxy = Haproxy::start(config, port, &error);
  }
  ASSERT_TRUE(haproxy) << error;

  std::vector<std::unique_ptr<ResumingSubscriber>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<ResumingSubscriber>(std::vector<uint16_t>{haproxy->port()},
                                                           "h" + std::to_string(i), "feed"));
    ASSERT_TRUE(clients.back()->start()) << haproxy->log();
  }
  // leastconn deals the clients over the three nodes; the victim is the one with the most.
  size_t victim = 0;
  int64_t onVictim = -1, total = 0;
  for (size_t n = 0; n < kNodes; ++n) {
    const int64_t subs = cluster.metric(n, "subscriptions");
    EXPECT_EQ(subs, kClients / static_cast<int>(kNodes)) << "node n" << n;
    total += subs;
    if (subs > onVictim) onVictim = subs, victim = n;
  }
  ASSERT_EQ(total, kClients);
  std::vector<uint16_t> liveApis;
  for (size_t n = 0; n < kNodes; ++n) {
    if (n != victim) liveApis.push_back(cluster.nodes[n]->apiPort);
  }

  SteadyPublisher publisher(liveApis, "feed", kMessages, kInterval);
  publisher.start();
  ASSERT_TRUE(publisher.waitPublished(kKillAt, 10s));
  ExitStatus killed = cluster.nodes[victim]->server->kill();
  EXPECT_EQ(killed.kind, ExitStatus::Kind::kSignaled) << killed.describe();
  // Back in: every client subscribed again on a live node (polled, with a deadline).
  const auto backIn = cluster.waitSubscriptionsOnOthers(victim, kClients);
  EXPECT_TRUE(backIn) << haproxy->log();
  ASSERT_TRUE(publisher.finish(20s));
  for (auto& c : clients) EXPECT_TRUE(c->waitForOffset(kMessages, 15s));

  int moved = 0;
  for (auto& c : clients) {
    c->stop();
    EXPECT_TRUE(c->gotExactlyInOrder(kMessages));
    moved += c->reconnects();
  }
  EXPECT_EQ(moved, onVictim) << "only the dead node's clients reconnect, once each";
  const int backInMs = backIn ? static_cast<int>(backIn->count()) : -1;
  RecordProperty("killed_to_all_resubscribed_ms", backInMs);
  std::fprintf(stderr, "haproxy: %d clients moved; all subscribed again %d ms after the kill\n",
               moved, backInMs);
}

}  // namespace
}  // namespace ringcast::test
