// Black-box test of the back-pressure towards a TCP feeder (--feed-backlog): a feeder that
// publishes far more than its loop's subscribers have read is not read meanwhile, so the
// subscribers' queues stay under --max-outbuf (no one is closed as a slow consumer), and
// once they read, every message arrives, in order, and the feeder's PING gets its PONG.
// Without the bound the same flood would close all of them (32 MiB each over 4 MiB).
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/line_client.h"
#include "tests/support/push_client.h"

namespace ringcast::test {
namespace {

constexpr int kSubscribers = 4;
constexpr int kPubs = 8000;
constexpr size_t kPayloadBytes = 4096;  // 32 MiB in all: more than any socket buffers hold

TEST(FeedBacklogIntegration, AFeederWaitsForReadersThatFellBehindAndNoneIsClosed) {
  Gateway gw;
  ASSERT_TRUE(startGateway(
      {"--threads", "1", "--max-outbuf", "4MiB", "--feed-backlog", "1MiB", "--history-size", "0"},
      &gw));
  std::vector<std::unique_ptr<PushClient>> subs;
  for (int i = 0; i < kSubscribers; ++i) {
    auto c = std::make_unique<PushClient>();
    ASSERT_TRUE(c->connect(gw.wsPort, "/ws?user=reader" + std::to_string(i)));
    ASSERT_TRUE(subscribeOk(*c, "flood"));
    subs.push_back(std::move(c));
  }

  LineClient feeder;
  ASSERT_TRUE(feeder.connect(gw.publishPort));
  const std::string payload = "\"" + std::string(kPayloadBytes - 2, 'x') + "\"";
  std::string batch;
  for (int i = 0; i < kPubs; ++i) {
    batch += "PUB flood " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
  }
  batch += "PING\r\n";
  std::atomic<bool> sent{false};
  std::thread feed([&] {
    EXPECT_TRUE(feeder.send(batch));  // blocks while the gateway does not read
    sent = true;
  });

  // Nobody reads: the feed must stall (the gateway stopped reading it) and nobody is closed.
  std::this_thread::sleep_for(Millis{1500});
  EXPECT_FALSE(sent.load()) << "the whole flood was read while no subscriber read anything";
  ApiClient api(gw.apiPort);
  EXPECT_EQ(api.metric("ringcast_slow_consumer_disconnects_total"), 0u);

  // Everyone reads at once (one thread each: the feed resumes only when the loop's queues
  // as a whole drain): every message arrives, in order.
  std::vector<uint64_t> lastOffset(kSubscribers, 0);
  std::vector<std::string> failure(kSubscribers);
  std::vector<std::thread> readers;
  for (int i = 0; i < kSubscribers; ++i) {
    readers.emplace_back([&, i] {
      uint64_t expected = 1;
      while (expected <= kPubs) {
        auto j = subs[i]->next(Millis{20000});
        if (!j) {
          failure[i] = subs[i]->lastRead().describe();
          return;
        }
        if (j->type() != "message") continue;
        if (j->u64("offset") != expected) {
          failure[i] = "offset " + std::to_string(j->u64("offset").value_or(0)) + ", expected " +
                       std::to_string(expected);
          return;
        }
        lastOffset[i] = expected++;
      }
    });
  }
  for (std::thread& t : readers) t.join();
  feed.join();
  for (int i = 0; i < kSubscribers; ++i) {
    EXPECT_EQ(lastOffset[i], static_cast<uint64_t>(kPubs))
        << "subscriber " << i << ": " << failure[i];
  }
  EXPECT_TRUE(sent.load());
  EXPECT_EQ(feeder.line(Millis{10000}), "PONG");
  EXPECT_EQ(api.metric("ringcast_slow_consumer_disconnects_total"), 0u);
}

}  // namespace
}  // namespace ringcast::test
