// Black-box tests of the gateway's defences against dead and slow clients: the heartbeat
// (--ping-interval, --pong-timeout) drops a client that never answers and keeps one that
// does; a subscriber that stops reading is cut off by --max-outbuf with the configured
// --slow-consumer policy (close 1008 "slow consumer", or a "dropped" frame), while a reading
// subscriber of the same channel loses nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/push_client.h"

namespace ringcast::test {
namespace {

using Clock = std::chrono::steady_clock;

// How long a dead client may live at most with --ping-interval 1s --pong-timeout 1s: about
// two seconds, doubled for a loaded machine.
constexpr Millis kDropDeadline{6000};
// How long the answering client must stay: several ping rounds.
constexpr Millis kStayWindow{4000};
// Polling step when reading two clients in turn, or when a reader checks whether to stop.
constexpr Millis kTurn{50};
// The reading subscriber fails when no message arrives for this long while one is due.
constexpr Millis kReaderStall{10000};

// Message size and count bounds for flooding a subscriber that does not read: enough bytes
// to fill the loopback socket buffers and a 64 KiB outbuf many times over.
constexpr size_t kPayloadBytes = 8 << 10;
constexpr uint64_t kMaxPublishes = 4000;
// The reading subscriber may fall this many messages behind before the publisher waits; it
// keeps that subscriber far below --max-outbuf however slowly its thread is scheduled.
constexpr uint64_t kReaderWindow = 4;

TEST(HeartbeatIntegration, SilentClientIsDroppedAndAnsweringClientStays) {
  Gateway gw;
  ASSERT_TRUE(startGateway({"--ping-interval", "1s", "--pong-timeout", "1s"}, &gw));
  PushClient silent, lively;
  ASSERT_TRUE(silent.connect(gw.wsPort, "/ws?user=silent"));
  ASSERT_TRUE(lively.connect(gw.wsPort, "/ws?user=lively"));
  silent.setAnswerPings(false);

  const auto start = Clock::now();
  std::optional<Clock::duration> silentGone;
  std::string silentEnd;
  while (Clock::now() - start < kDropDeadline) {
    if (!silentGone) {
      auto j = silent.next(kTurn);
      if (j) {
        ADD_FAILURE() << "unexpected frame for the silent client: " << j->text();
      } else if (silent.lastRead().status != ReadStatus::kTimeout) {
        silentGone = Clock::now() - start;
        silentEnd = silent.lastRead().describe();
      }
    }
    auto j = lively.next(kTurn);
    if (j) ADD_FAILURE() << "unexpected frame for the answering client: " << j->text();
    ASSERT_EQ(lively.lastRead().status, ReadStatus::kTimeout)
        << "the answering client was dropped: " << lively.lastRead().describe();
    if (silentGone && Clock::now() - start >= kStayWindow) break;
  }
  ASSERT_TRUE(silentGone) << "a client that answers no ping is still connected after "
                          << kDropDeadline.count() << " ms";
  EXPECT_GE(silent.pingsSeen(), 1) << "dropped without being pinged (" << silentEnd << ")";
  // Not before the ping interval and then the whole pong timeout passed (a timer tick, 50 ms,
  // of slack for when the ping went out).
  EXPECT_GE(*silentGone, std::chrono::milliseconds(1950)) << "dropped before its pong was due";
  EXPECT_GE(lively.pingsSeen(), 2) << "the answering client should have been pinged repeatedly";
  // Still served.
  auto pong = lively.request(R"({"op":"ping","id":1})");
  ASSERT_TRUE(pong) << lively.lastRead().describe();
  EXPECT_EQ(pong->type(), "pong");
}

// A subscriber that reads every message of `channel` in its own thread, checking that the
// offsets come one by one from 1; stop() ends it once it has seen `last`.
class Reader {
 public:
  ~Reader() { stop(0); }
  ::testing::AssertionResult start(uint16_t port, std::string_view channel) {
    auto ok = client_.connect(port, "/ws?user=reader");
    if (!ok) return ok;
    if (!subscribeOk(client_, channel)) return ::testing::AssertionFailure() << "subscribe failed";
    thread_ = std::thread([this] { run(); });
    return ::testing::AssertionSuccess();
  }
  // Waits until the reader has seen offset `offset` (false after timeout or an error).
  bool waitFor(uint64_t offset, Millis timeout = Millis{10000}) {
    const auto deadline = Clock::now() + timeout;
    while (seen_.load() < offset && !failed_.load()) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(Millis{1});
    }
    return !failed_.load();
  }
  uint64_t seen() const { return seen_.load(); }
  // Ends the thread once offset `last` is seen (at once for 0, or on an error) and joins it.
  void stop(uint64_t last) {
    last_.store(last);
    if (thread_.joinable()) thread_.join();
  }
  const std::string& error() const { return error_; }  // after stop()

 private:
  void run() {
    auto progressDeadline = Clock::now() + kReaderStall;
    while (seen_.load() < last_.load()) {
      auto j = client_.next(kTurn);
      if (!j) {
        if (client_.lastRead().status == ReadStatus::kTimeout && Clock::now() < progressDeadline) {
          continue;  // nothing yet; look at last_ again
        }
        error_ =
            "after offset " + std::to_string(seen_.load()) + ": " + client_.lastRead().describe();
        break;
      }
      if (j->type() != "message" || j->u64("offset") != seen_.load() + 1) {
        error_ =
            "after offset " + std::to_string(seen_.load()) + " got " + j->text().substr(0, 200);
        break;
      }
      seen_.fetch_add(1);
      progressDeadline = Clock::now() + kReaderStall;
    }
    if (seen_.load() < last_.load()) failed_.store(true);
  }

  PushClient client_;
  std::thread thread_;
  std::atomic<uint64_t> seen_{0};
  std::atomic<uint64_t> last_{UINT64_MAX};
  std::atomic<bool> failed_{false};
  std::string error_;
};

std::string bigPayload(uint64_t n) {
  return R"({"n":)" + std::to_string(n) + R"(,"pad":")" + std::string(kPayloadBytes, 'x') + "\"}";
}

TEST(SlowConsumerIntegration, NonReadingSubscriberIsClosedWith1008AndTheReaderGetsEverything) {
  Gateway gw;
  ASSERT_TRUE(startGateway(
      {"--max-outbuf", "64KiB", "--max-message-size", "64KiB", "--slow-consumer", "disconnect"},
      &gw));
  ApiClient api(gw.apiPort);
  PushClient slow;
  ASSERT_TRUE(slow.connect(gw.wsPort, "/ws?user=slow"));
  ASSERT_TRUE(subscribeOk(slow, "firehose"));
  Reader reader;
  ASSERT_TRUE(reader.start(gw.wsPort, "firehose"));

  std::optional<Json> cut;  // the receipt of the publish that found the slow consumer
  uint64_t n = 0;
  while (!cut && n < kMaxPublishes) {
    ASSERT_TRUE(reader.waitFor(n + 1 > kReaderWindow ? n + 1 - kReaderWindow : 0))
        << "the reading subscriber stalled at " << reader.seen();
    auto receipt = publishOk(api, "firehose", bigPayload(++n));
    ASSERT_TRUE(receipt);
    ASSERT_EQ(receipt->u64("offset"), n);
    if (receipt->u64("dropped").value_or(0) > 0) cut = std::move(receipt);
  }
  ASSERT_TRUE(cut) << kMaxPublishes << " messages of " << kPayloadBytes
                   << " bytes never overflowed a 64 KiB outbuf";
  EXPECT_EQ(cut->u64("matched"), 2u) << cut->text();
  EXPECT_EQ(cut->u64("queued"), 1u) << cut->text();
  EXPECT_EQ(cut->u64("dropped"), 1u) << cut->text();

  // Afterwards only the reader is a target.
  auto receipt = publishOk(api, "firehose", bigPayload(++n));
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->u64("matched"), 1u) << receipt->text();
  EXPECT_EQ(receipt->u64("queued"), 1u) << receipt->text();
  EXPECT_EQ(receipt->u64("dropped"), 0u) << receipt->text();

  reader.stop(n);
  EXPECT_EQ(reader.seen(), n) << reader.error();

  // The slow client finds what had reached its socket, in order, then the close.
  uint64_t lastOffset = 0;
  int messages = 0;
  while (auto j = slow.next()) {
    ASSERT_EQ(j->type(), "message") << j->text().substr(0, 200);
    auto offset = j->u64("offset");
    ASSERT_TRUE(offset && *offset > lastOffset)
        << "after " << lastOffset << ": " << j->text().substr(0, 200);
    lastOffset = *offset;
    ++messages;
  }
  const ReadResult& end = slow.lastRead();
  ASSERT_TRUE(end.ok() && end.frame.isClose()) << "want close 1008, got " << end.describe();
  EXPECT_EQ(end.frame.closeCode(), 1008) << end.describe();
  EXPECT_EQ(end.frame.closeReason(), "slow consumer") << end.describe();
  EXPECT_LT(lastOffset, n);
  // The client answers the close; the server then ends TCP.
  ASSERT_TRUE(slow.ws().sendClose(1008));
  EXPECT_TRUE(slow.ws().waitEof(Millis{3000}));

  auto stats = api.getOk("/api/stats");
  ASSERT_TRUE(stats);
  EXPECT_GE(stats->u64("dropped").value_or(0), 1u) << stats->text();
}

TEST(SlowConsumerIntegration, DropOldestTellsTheSlowSubscriberHowManyMessagesItMissed) {
  Gateway gw;
  ASSERT_TRUE(startGateway(
      {"--max-outbuf", "64KiB", "--max-message-size", "64KiB", "--slow-consumer", "drop-oldest"},
      &gw));
  ApiClient api(gw.apiPort);
  PushClient slow;
  ASSERT_TRUE(slow.connect(gw.wsPort, "/ws?user=slow"));
  ASSERT_TRUE(subscribeOk(slow, "firehose"));
  Reader reader;
  ASSERT_TRUE(reader.start(gw.wsPort, "firehose"));

  // Publish until the server reports drops, then a little more so that several rounds of
  // dropping happen.
  constexpr uint64_t kStatsEvery = 16;
  uint64_t n = 0;
  uint64_t droppedAt = 0;
  while (n < kMaxPublishes && (droppedAt == 0 || n < droppedAt + 64)) {
    ASSERT_TRUE(reader.waitFor(n + 1 > kReaderWindow ? n + 1 - kReaderWindow : 0))
        << "the reading subscriber stalled at " << reader.seen();
    auto receipt = publishOk(api, "firehose", bigPayload(++n));
    ASSERT_TRUE(receipt);
    ASSERT_EQ(receipt->u64("offset"), n);
    EXPECT_EQ(receipt->u64("matched"), 2u)
        << "drop-oldest keeps the subscriber: " << receipt->text();
    EXPECT_EQ(receipt->u64("queued"), 2u)
        << "drop-oldest queues the new message: " << receipt->text();
    if (droppedAt == 0 && n % kStatsEvery == 0) {
      auto stats = api.getOk("/api/stats");
      ASSERT_TRUE(stats);
      if (stats->u64("dropped").value_or(0) > 0) droppedAt = n;
    }
  }
  ASSERT_NE(droppedAt, 0u) << kMaxPublishes << " messages of " << kPayloadBytes
                           << " bytes never overflowed a 64 KiB outbuf";
  reader.stop(n);
  EXPECT_EQ(reader.seen(), n) << reader.error();

  // The slow subscriber now reads everything up to the last offset. Each message at most once
  // and in order; every gap is announced by dropped frames whose counts add up to it.
  uint64_t lastOffset = 0, missing = 0, announced = 0;
  int droppedFrames = 0;
  std::vector<std::string> notices;
  while (lastOffset < n) {
    auto j = slow.next();
    ASSERT_TRUE(j) << "after offset " << lastOffset << ": " << slow.lastRead().describe();
    if (j->type() == "dropped") {
      auto count = j->u64("count");
      ASSERT_TRUE(count) << j->text();
      EXPECT_GE(*count, 1u) << j->text();
      announced += *count;
      ++droppedFrames;
      notices.push_back(j->text() + " after offset " + std::to_string(lastOffset));
      continue;
    }
    ASSERT_EQ(j->type(), "message") << j->text().substr(0, 200);
    auto offset = j->u64("offset");
    ASSERT_TRUE(offset && *offset > lastOffset)
        << "after " << lastOffset << ": " << j->text().substr(0, 200);
    missing += *offset - lastOffset - 1;
    lastOffset = *offset;
  }
  EXPECT_GE(droppedFrames, 1);
  EXPECT_GT(missing, 0u);
  std::string noticeList;
  for (const std::string& s : notices) noticeList += "\n  " + s;
  EXPECT_EQ(announced, missing) << "offsets the slow subscriber never got: " << missing
                                << "; sum of the counts it was told: " << announced << " in "
                                << droppedFrames << " dropped frame(s):" << noticeList;

  // Still subscribed and served.
  auto pong = slow.request(R"({"op":"ping","id":1})");
  ASSERT_TRUE(pong) << slow.lastRead().describe();
  EXPECT_EQ(pong->type(), "pong");
  auto receipt = publishOk(api, "firehose", R"("tail")");
  ASSERT_TRUE(receipt);
  auto tail = slow.next();
  ASSERT_TRUE(tail) << slow.lastRead().describe();
  EXPECT_EQ(tail->u64("offset"), n + 1) << tail->text().substr(0, 200);
}

}  // namespace
}  // namespace ringcast::test
