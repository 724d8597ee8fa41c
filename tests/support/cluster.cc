#include "tests/support/cluster.h"

#include <thread>

namespace ringcast::test {

::testing::AssertionResult Cluster::startRedis(int instances) {
  for (int i = 0; i < instances; ++i) {
    std::string error;
    auto r = RedisServer::start(&error);
    if (!r) return ::testing::AssertionFailure() << error;
    redis.push_back(std::move(r));
  }
  return ::testing::AssertionSuccess();
}

std::string Cluster::redisFlag() const {
  std::string s;
  for (const auto& r : redis) s += (s.empty() ? "" : ",") + r->address();
  return s;
}

::testing::AssertionResult Cluster::startNodes(int count,
                                               const std::vector<std::string>& extraArgs) {
  for (int i = 0; i < count; ++i) {
    std::vector<std::string> args = {"--redis", redisFlag(), "--node-id",
                                     "n" + std::to_string(nodes.size())};
    args.insert(args.end(), extraArgs.begin(), extraArgs.end());
    auto gw = std::make_unique<Gateway>();
    if (auto ok = startGateway(args, gw.get()); !ok) return ok;
    api.push_back(std::make_unique<ApiClient>(gw->apiPort));
    nodes.push_back(std::move(gw));
  }
  for (size_t i = 0; i < api.size(); ++i) {
    if (!waitHealthy(*api[i])) {
      return ::testing::AssertionFailure() << "node n" << i << " is not healthy";
    }
  }
  return ::testing::AssertionSuccess();
}

bool Cluster::waitHealthy(ApiClient& api, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (api.get("/healthz").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int64_t Cluster::metric(size_t node, const std::string& name) {
  const std::optional<uint64_t> v = api[node]->metric("ringcast_" + name);
  return v ? static_cast<int64_t>(*v) : -1;
}

std::optional<std::chrono::milliseconds> Cluster::waitSubscriptionsOnOthers(
    size_t except, int64_t want, std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    int64_t sum = 0;
    for (size_t n = 0; n < nodes.size(); ++n) {
      if (n != except) sum += metric(n, "subscriptions");
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    if (sum == want) return took;
    if (took >= timeout) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string presenceOf(ApiClient& api, const std::string& channel) {
  auto r = api.getOk("/api/presence/" + channel);
  if (!r) return "(no answer)";
  std::string out;
  simdjson::dom::array users;
  if (r->root()["users"].get(users) != simdjson::SUCCESS) return "(no users array)";
  for (simdjson::dom::element u : users) {
    std::string_view user;
    uint64_t conns = 0;
    if (u["user"].get(user) != simdjson::SUCCESS || u["conns"].get(conns) != simdjson::SUCCESS) {
      return "(bad entry)";
    }
    out += std::string(user) + ":" + std::to_string(conns) + "\n";
  }
  return out;
}

}  // namespace ringcast::test
