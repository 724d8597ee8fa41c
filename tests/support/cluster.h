// Cluster: real redis-server instances (RedisServer) and ringcast nodes joined through them
// (--redis), each node with an ApiClient, for the tests of several nodes. Nodes are started
// with --node-id n0, n1, ... and the caller's extra flags, and are healthy (GET /healthz
// 200, so their Redis links are up) before startNodes() returns.
//
// Thread safety: one thread owns a Cluster.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/push_client.h"
#include "tests/support/redis_server.h"

namespace ringcast::test {

struct Cluster {
  ::testing::AssertionResult startRedis(int instances);
  // HOST:PORT of every Redis instance, comma-separated: the value of --redis.
  std::string redisFlag() const;
  ::testing::AssertionResult startNodes(int count, const std::vector<std::string>& extraArgs = {});
  // Polls GET /healthz until it answers 200.
  static bool waitHealthy(ApiClient& api,
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  // A number of the node's /metrics ("subscriptions" reads ringcast_subscriptions); -1 when
  // absent or the node does not answer.
  int64_t metric(size_t node, const std::string& name);
  // Polls until the nodes other than `except` hold `want` subscriptions in all; how long it
  // took, or nullopt at the timeout.
  std::optional<std::chrono::milliseconds> waitSubscriptionsOnOthers(
      size_t except, int64_t want,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(15000));

  std::vector<std::unique_ptr<RedisServer>> redis;
  std::vector<std::unique_ptr<Gateway>> nodes;
  std::vector<std::unique_ptr<ApiClient>> api;
};

// The presence list of `channel` as `api`'s node answers it (GET /api/presence/CHANNEL):
// "user:conns" per line, sorted by user; "(...)" saying what went wrong otherwise.
std::string presenceOf(ApiClient& api, const std::string& channel);

}  // namespace ringcast::test
