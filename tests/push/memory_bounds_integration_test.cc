// Black-box tests of the gateway's memory bounds (docs/SECURITY.md, "Limits"): a flood of
// new channels is forgotten once its history expires and the memory goes back to the
// system; the history budget drops the oldest channels' messages first, and a `since` into
// what it dropped recovers false; near --max-memory new connections get 503, publishes
// "overloaded" (HTTP, TCP, client) and /healthz says so, until memory is freed.
//
// A limit below what the process holds at start refuses from the first request, with
// either engine: --max-memory is about the process, not where the history lives.
//
// The tests that read the server's RSS carry the label `nosanitize` (tests/CMakeLists.txt):
// under ASan the allocator keeps freed memory in quarantine and the numbers mean nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "tests/support/eventually.h"
#include "tests/support/line_client.h"
#include "tests/support/push_client.h"
#include "tests/support/redis_server.h"

namespace ringcast::test {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1ull << 20;

// A JSON string of `bytes` characters: a message of about that size.
std::string payload(size_t bytes) {
  return "\"" + std::string(bytes, 'p') + "\"";
}

// Busy-waits (at most a few ms) until the wall clock's millisecond changes: history
// entries are ordered by their millisecond, so channels published in different ones have
// a known order.
void nextWallMs() {
  const int64_t now = wallMs();
  while (wallMs() == now) {
  }
}

TEST(MemoryBounds, ChannelFloodIsForgottenAfterTheTtlAndItsMemoryGoesBack) {
  Gateway gw;
  ASSERT_TRUE(startGateway({"--history-ttl", "1s"}, &gw));
  ApiClient api(gw.apiPort);
  PushClient watcher;
  ASSERT_TRUE(watcher.connect(gw.wsPort, "/ws?user=watcher"));
  ASSERT_TRUE(subscribeOk(watcher, "flood-7"));
  ASSERT_TRUE(eventually([&] { return api.metric("ringcast_channels") == 1u; }));
  const uint64_t rssStart = rssBytes(gw.server->pid());

  constexpr int kChannels = 2000;
  const std::string data = payload(16 * 1024);
  for (int i = 0; i < kChannels; ++i) {
    ASSERT_TRUE(publishOk(api, "flood-" + std::to_string(i), data)) << i;
  }
  const uint64_t rssPeak = rssBytes(gw.server->pid());
  // 32 MiB of messages, each kept (history) until the sweep sees it expire; on a slow
  // machine the sweep may have dropped the first ones already, so this is checked loosely.
  EXPECT_GT(rssPeak, rssStart + 8 * kMiB) << "the flood did not cost what it should";

  // Expired after 1 s and forgotten by the sweep: only the watched channel stays.
  EXPECT_TRUE(eventually([&] { return api.metric("ringcast_channels") == 1u; }, 10s))
      << "channels left: " << api.metric("ringcast_channels").value_or(0);
  EXPECT_EQ(api.metric("ringcast_history_bytes"), 0u);
  EXPECT_GE(api.metric("ringcast_channels_forgotten_total").value_or(0), 1999u);
  // The freed memory goes back to the system, not only to the allocator.
  const uint64_t bound = rssStart + 12 * kMiB;
  EXPECT_TRUE(eventually([&] { return rssBytes(gw.server->pid()) < bound; }, 10s))
      << "RSS start " << rssStart / kMiB << " MiB, peak " << rssPeak / kMiB << " MiB, now "
      << rssBytes(gw.server->pid()) / kMiB << " MiB";
  EXPECT_GE(api.metric("ringcast_memory_trims_total").value_or(0), 1u);
  std::printf(
      "channel flood: RSS %llu MiB at start, %llu MiB after 2,000 x 16 KiB, %llu MiB "
      "once forgotten\n",
      static_cast<unsigned long long>(rssStart / kMiB),
      static_cast<unsigned long long>(rssPeak / kMiB),
      static_cast<unsigned long long>(rssBytes(gw.server->pid()) / kMiB));

  // The watched channel kept its offset: its subscriber is still in the same epoch.
  auto receipt = publishOk(api, "flood-7", "1");
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->u64("offset"), 2u);
  auto m = watcher.nextOfType("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->u64("offset"), 1u);
}

TEST(MemoryBounds, ForgottenChannelStartsAgainInANewEpoch) {
  Gateway gw;
  ASSERT_TRUE(startGateway({"--history-ttl", "300ms"}, &gw));
  ApiClient api(gw.apiPort);
  PushClient c;
  ASSERT_TRUE(c.connect(gw.wsPort, "/ws?user=u"));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(publishOk(api, "gone", "1"));
  auto before = subscribeOk(c, "gone");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->u64("offset"), 3u);
  ASSERT_TRUE(c.request(R"({"op":"unsubscribe","channel":"gone","id":9})"));
  ASSERT_TRUE(eventually([&] { return api.metric("ringcast_channels") == 0u; }, 5s));
  // Back with two messages: a `since` of the old incarnation cannot match them.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(publishOk(api, "gone", "2"));
  auto after = subscribeOk(
      c, "gone", R"(,"since":{"offset":3,"epoch":)" + test::quoted(*before->str("epoch")) + "}");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->u64("offset"), 5u);
  EXPECT_NE(after->str("epoch"), before->str("epoch"));
  EXPECT_EQ(after->boolean("recovered"), false);
}

TEST(MemoryBounds, HistoryBudgetDropsTheOldestChannelsFirst) {
  Gateway gw;
  ASSERT_TRUE(startGateway({"--max-history-memory", "1MiB"}, &gw));
  ApiClient api(gw.apiPort);
  // Ten channels of ten 16 KiB messages, one channel after the other: 1.6 MiB of history
  // for a 1 MiB budget, so the first channels lose their oldest messages.
  const std::string data = payload(16 * 1024);
  for (int c = 0; c < 10; ++c) {
    nextWallMs();
    for (int m = 0; m < 10; ++m) ASSERT_TRUE(publishOk(api, "b" + std::to_string(c), data));
  }
  EXPECT_TRUE(eventually(
      [&] { return api.metric("ringcast_history_bytes").value_or(UINT64_MAX) <= kMiB; }));
  EXPECT_GT(api.metric("ringcast_history_budget_trimmed_total").value_or(0), 20u);

  PushClient c;
  ASSERT_TRUE(c.connect(gw.wsPort, "/ws?user=late"));
  const std::string epoch = c.epoch();
  auto since0 = [&](std::string_view ch) {
    return subscribeOk(c, ch, R"(,"since":{"offset":0,"epoch":)" + test::quoted(epoch) + "}");
  };
  // The first channel's history is gone (all or in part): no recovery from its start.
  auto oldest = since0("b0");
  ASSERT_TRUE(oldest);
  EXPECT_EQ(oldest->boolean("recovered"), false) << oldest->text();
  // Either it still holds its offset, or, all its history gone, the sweep forgot it and it
  // is a new incarnation (offset 0, another epoch).
  if (oldest->u64("offset") != 10u) {
    EXPECT_EQ(oldest->u64("offset"), 0u) << oldest->text();
    EXPECT_NE(oldest->str("epoch"), epoch) << oldest->text();
  }
  // The last channel is whole: all ten messages come back. Its epoch is the node's, or its
  // own when it was made after another channel was forgotten: a look tells which.
  PushClient look;
  ASSERT_TRUE(look.connect(gw.wsPort, "/ws?user=look"));
  auto seen = subscribeOk(look, "b9");
  ASSERT_TRUE(seen);
  auto newest = subscribeOk(
      c, "b9", R"(,"since":{"offset":0,"epoch":)" + test::quoted(*seen->str("epoch")) + "}");
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->boolean("recovered"), true) << newest->text();
  for (uint64_t m = 1; m <= 10; ++m) {
    auto j = c.nextOfType("message");
    ASSERT_TRUE(j) << m;
    EXPECT_EQ(j->str("channel"), "b9");
    EXPECT_EQ(j->u64("offset"), m);
  }
}

TEST(MemoryBounds, NearMaxMemoryNewWorkIsRefusedUntilMemoryIsFreed) {
  // The limit: what an idle gateway holds, plus 64 MiB.
  uint64_t idleRss = 0;
  {
    Gateway probe;
    ASSERT_TRUE(startGateway({}, &probe));
    ApiClient api(probe.apiPort);
    ASSERT_TRUE(api.getOk("/api/stats"));
    idleRss = rssBytes(probe.server->pid());
  }
  ASSERT_GT(idleRss, 0u);
  const uint64_t limit = idleRss + 64 * kMiB;
  Gateway gw;
  ASSERT_TRUE(startGateway({"--max-memory", std::to_string(limit), "--history-ttl", "3s",
                            "--max-history-memory", "1GiB"},
                           &gw));
  ApiClient api(gw.apiPort);
  EXPECT_EQ(api.metric("ringcast_memory_limit_bytes"), limit);
  PushClient early;
  ASSERT_TRUE(early.connect(gw.wsPort, "/ws?user=early"));
  EXPECT_EQ(api.get("/healthz").status, 200);

  // History until the guard says no: at most 128 MiB of publishes.
  const std::string data = payload(64 * 1024);
  HttpResponse refused;
  for (int i = 0; i < 2048; ++i) {
    HttpResponse r = api.post("/api/publish",
                              R"({"channel":"m)" + std::to_string(i) + R"(","data":)" + data + "}");
    if (r.status != 200) {
      refused = r;
      break;
    }
  }
  ASSERT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("\"overloaded\""), std::string::npos) << refused.body;

  HttpResponse health = api.get("/healthz");
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(health.body, "memory high");
  EXPECT_EQ(api.metric("ringcast_memory_high"), 1u);
  PushClient late;
  HttpResponse upgrade = late.open(gw.wsPort, "/ws?user=late");
  EXPECT_EQ(upgrade.status, 503);
  LineClient tcp;
  ASSERT_TRUE(tcp.connect(gw.publishPort));
  ASSERT_TRUE(tcp.send(tcpCommand("PUB news", "\"x\"")));
  EXPECT_EQ(tcp.line(), "-ERR overloaded");
  auto reply = early.request(R"({"op":"publish","channel":"news","data":1,"id":1})");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->errorCode(), "overloaded") << reply->text();
  EXPECT_GE(api.metric(R"(ringcast_memory_refused_total{kind="connection"})").value_or(0), 1u);
  EXPECT_GE(api.metric(R"(ringcast_memory_refused_total{kind="send"})").value_or(0), 3u);

  // The history expires, is dropped and given back: the gateway takes work again.
  EXPECT_TRUE(eventually([&] { return api.get("/healthz").status == 200; }, 15s))
      << "RSS " << rssBytes(gw.server->pid()) / kMiB << " MiB of " << limit / kMiB << " MiB";
  EXPECT_EQ(api.metric("ringcast_memory_high"), 0u);
  EXPECT_TRUE(publishOk(api, "news", "2"));
  PushClient again;
  EXPECT_TRUE(again.connect(gw.wsPort, "/ws?user=again"));
  auto ok = early.request(R"({"op":"publish","channel":"news","data":3,"id":2})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->boolean("ok"), true) << ok->text();
}

// The refusals every door gives while memory is high; the connection `open` was made
// before.
void expectRefusals(Gateway& gw, ApiClient& api) {
  HttpResponse r = api.post("/api/publish", R"({"channel":"news","data":1})");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("\"overloaded\""), std::string::npos) << r.body;
  HttpResponse notice = api.post("/api/broadcast", R"({"data":1})");
  EXPECT_EQ(notice.status, 503) << notice.body;
  HttpResponse health = api.get("/healthz");
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(health.body, "memory high");
  EXPECT_EQ(api.metric("ringcast_memory_high"), 1u);
  PushClient late;
  EXPECT_EQ(late.open(gw.wsPort, "/ws?user=late").status, 503);
  LineClient tcp;
  ASSERT_TRUE(tcp.connect(gw.publishPort));
  ASSERT_TRUE(tcp.send(tcpCommand("PUB news", "\"x\"")));
  EXPECT_EQ(tcp.line(), "-ERR overloaded");
  EXPECT_GE(api.metric(R"(ringcast_memory_refused_total{kind="connection"})").value_or(0), 1u);
  EXPECT_GE(api.metric(R"(ringcast_memory_refused_total{kind="send"})").value_or(0), 3u);
}

TEST(MemoryBounds, LimitBelowUseRefusesFromTheStartInMemory) {
  Gateway gw;
  ASSERT_TRUE(startGateway({"--max-memory", "1MiB"}, &gw));
  EXPECT_NE(gw.server->startupOutput().find("memory limit 1 MiB (--max-memory)"), std::string::npos)
      << gw.server->startupOutput();
  ApiClient api(gw.apiPort);
  expectRefusals(gw, api);
}

TEST(MemoryBounds, LimitBelowUseRefusesFromTheStartWithRedis) {
  std::string error;
  auto redis = RedisServer::start(&error);
  ASSERT_TRUE(redis) << error;
  Gateway gw;
  ASSERT_TRUE(startGateway({"--max-memory", "1MiB", "--redis", redis->address()}, &gw));
  ApiClient api(gw.apiPort);
  ASSERT_TRUE(eventually([&] { return api.get("/healthz").body != "backend down"; }));
  expectRefusals(gw, api);
}

}  // namespace
}  // namespace ringcast::test
