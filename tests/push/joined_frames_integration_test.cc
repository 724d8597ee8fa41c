// Black-box tests of joined frames (push/shard.h): consecutive messages of one channel that
// a loop delivers in one pass reach each subscriber as one buffer. What a client sees must not
// change: every message whole, once, in order, and under --slow-consumer drop-oldest the
// "dropped" counts still add up to the messages a subscriber missed, also when a dropped
// frame carried several of them.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/line_client.h"
#include "tests/support/push_client.h"

namespace ringcast::test {
namespace {

std::string payload(uint64_t n, size_t pad) {
  return R"({"n":)" + std::to_string(n) + R"(,"pad":")" + std::string(pad, 'x') + "\"}";
}

// One TCP write with `count` PUB commands for `channel` from message `first` on, then PING:
// the gateway reads them together, so one loop pass delivers them. True once PONG is back.
bool publishBurst(LineClient& feed, std::string_view channel, uint64_t first, uint64_t count,
                  size_t pad) {
  std::string bytes;
  for (uint64_t n = first; n < first + count; ++n) {
    bytes += tcpCommand("PUB " + std::string(channel), payload(n, pad));
  }
  bytes += "PING\r\n";
  return feed.send(bytes) && feed.line() == "PONG";
}

TEST(JoinedFramesIntegration, ABurstReachesEverySubscriberWholeOnceAndInOrder) {
  Gateway gw;
  ASSERT_TRUE(startGateway({"--threads", "1"}, &gw));
  constexpr int kSubscribers = 4;
  constexpr uint64_t kMessages = 300;
  std::vector<std::unique_ptr<PushClient>> subs;
  for (int i = 0; i < kSubscribers; ++i) {
    subs.push_back(std::make_unique<PushClient>());
    ASSERT_TRUE(subs.back()->connect(gw.wsPort, "/ws?user=s" + std::to_string(i)));
    ASSERT_TRUE(subscribeOk(*subs.back(), "room"));
  }
  LineClient feed;
  ASSERT_TRUE(feed.connect(gw.publishPort));
  ASSERT_TRUE(publishBurst(feed, "room", 1, kMessages, 16));

  for (int i = 0; i < kSubscribers; ++i) {
    for (uint64_t n = 1; n <= kMessages; ++n) {
      auto j = subs[i]->next();
      ASSERT_TRUE(j) << "subscriber " << i << " after " << n - 1 << ": "
                     << subs[i]->lastRead().describe();
      ASSERT_EQ(j->type(), "message") << j->text();
      ASSERT_EQ(j->u64("offset"), n) << "subscriber " << i << ": " << j->text();
      ASSERT_EQ(j->u64("/data/n"), n) << j->text();
    }
  }
  ApiClient api(gw.apiPort);
  auto stats = api.getOk("/api/stats");
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->u64("messages_out"), kSubscribers * kMessages) << stats->text();
  // The burst went out joined (else this test shows nothing about joined frames): at least
  // one frame carried several messages to every subscriber.
  EXPECT_GE(stats->u64("joined_frames").value_or(0), 1u) << stats->text();
  EXPECT_GE(stats->u64("joined_deliveries").value_or(0), uint64_t{2} * kSubscribers)
      << stats->text();
  EXPECT_LE(stats->u64("joined_deliveries").value_or(0), kSubscribers * kMessages);
}

TEST(JoinedFramesIntegration, DropOldestCountsEveryMessageOfADroppedJoinedFrame) {
  Gateway gw;
  ASSERT_TRUE(startGateway({"--threads", "1", "--max-outbuf", "64KiB", "--max-message-size",
                            "64KiB", "--slow-consumer", "drop-oldest"},
                           &gw));
  ApiClient api(gw.apiPort);
  // Two subscribers that do not read while the feed runs: each pass's burst is joined for
  // both until their queues near --max-outbuf, then the oldest queued frames are dropped.
  PushClient a, b;
  ASSERT_TRUE(a.connect(gw.wsPort, "/ws?user=a"));
  ASSERT_TRUE(b.connect(gw.wsPort, "/ws?user=b"));
  ASSERT_TRUE(subscribeOk(a, "firehose"));
  ASSERT_TRUE(subscribeOk(b, "firehose"));
  LineClient feed;
  ASSERT_TRUE(feed.connect(gw.publishPort));

  // Bursts of 3 messages of about 8 KiB (one joined frame of about 25 KiB each: two of them
  // wait whole behind a partly written one before the outbuf is full, so drop-oldest drops
  // joined frames), until the gateway reports drops and then 32 bursts more; bounded for a
  // machine whose socket buffers take a lot before the queues fill.
  constexpr uint64_t kBurst = 3;
  constexpr size_t kPad = 8 << 10;
  constexpr uint64_t kMaxBursts = 1500;
  uint64_t n = 0, bursts = 0, droppedAtBurst = 0;
  while (bursts < kMaxBursts && (droppedAtBurst == 0 || bursts < droppedAtBurst + 32)) {
    ASSERT_TRUE(publishBurst(feed, "firehose", n + 1, kBurst, kPad)) << "after " << n;
    n += kBurst;
    ++bursts;
    if (droppedAtBurst == 0 && bursts % 8 == 0) {
      auto stats = api.getOk("/api/stats");
      ASSERT_TRUE(stats);
      if (stats->u64("dropped").value_or(0) > 0) droppedAtBurst = bursts;
    }
  }
  ASSERT_NE(droppedAtBurst, 0u) << n << " messages never overflowed a 64 KiB outbuf";
  auto stats = api.getOk("/api/stats");
  ASSERT_TRUE(stats);
  EXPECT_GE(stats->u64("joined_frames").value_or(0), 1u) << stats->text();

  // Each subscriber reads up to the last offset: every message at most once and in order,
  // every gap announced by dropped frames whose counts add up to it.
  for (PushClient* c : {&a, &b}) {
    uint64_t lastOffset = 0, missing = 0, announced = 0;
    while (lastOffset < n) {
      auto j = c->next();
      ASSERT_TRUE(j) << "after offset " << lastOffset << ": " << c->lastRead().describe();
      if (j->type() == "dropped") {
        announced += j->u64("count").value_or(0);
        continue;
      }
      ASSERT_EQ(j->type(), "message") << j->text().substr(0, 200);
      auto offset = j->u64("offset");
      ASSERT_TRUE(offset && *offset > lastOffset) << "after " << lastOffset;
      ASSERT_EQ(j->u64("/data/n"), offset) << j->text().substr(0, 200);
      missing += *offset - lastOffset - 1;
      lastOffset = *offset;
    }
    EXPECT_GT(missing, 0u) << c->user() << " missed nothing of " << n;
    EXPECT_EQ(announced, missing) << c->user() << ": offsets never received " << missing
                                  << ", counts it was told " << announced;
  }
}

}  // namespace
}  // namespace ringcast::test
