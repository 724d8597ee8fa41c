// Black-box tests of recovery after a reconnect (docs/PROTOCOL.md, "Recovery" and "Precise
// points"): subscribe with since {offset, epoch} gets the reply, then exactly the missed
// messages in offset order, then live ones, none twice; or recovered:false when the history
// no longer holds them or the epoch is not the server's. The last test reconnects over and
// over while a publisher never stops, and checks that every offset arrives exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/push_client.h"

namespace ringcast::test {
namespace {

std::string sinceMember(uint64_t offset, std::string_view epoch) {
  return R"(,"since":{"offset":)" + std::to_string(offset) + R"(,"epoch":)" + quoted(epoch) + "}";
}

// Publishes {"m":first} .. {"m":last} on channel.
::testing::AssertionResult publishRange(ApiClient& api, std::string_view channel, uint64_t first,
                                        uint64_t last) {
  for (uint64_t m = first; m <= last; ++m) {
    auto receipt = publishOk(api, channel, R"({"m":)" + std::to_string(m) + "}");
    if (!receipt) return ::testing::AssertionFailure() << "publish " << m << " failed";
    if (receipt->u64("offset") != m) {
      return ::testing::AssertionFailure() << "publish " << m << " got " << receipt->text();
    }
  }
  return ::testing::AssertionSuccess();
}

// The next frames of c are the messages first..last of channel, in order, carrying the data
// publishRange gave them.
::testing::AssertionResult nextMessagesAre(PushClient& c, std::string_view channel, uint64_t first,
                                           uint64_t last) {
  for (uint64_t m = first; m <= last; ++m) {
    auto j = c.next();
    if (!j) {
      return ::testing::AssertionFailure()
             << "waiting for offset " << m << ": " << c.lastRead().describe();
    }
    if (j->type() != "message" || j->u64("offset") != m ||
        j->str("channel") != std::string(channel) ||
        j->text().find(R"("data":{"m":)" + std::to_string(m) + "}") == std::string::npos) {
      return ::testing::AssertionFailure() << "want message " << m << ", got " << j->text();
    }
  }
  return ::testing::AssertionSuccess();
}

// A pong is the next frame: nothing else (a duplicate, a late replay) is queued before it.
::testing::AssertionResult nothingBeforePong(PushClient& c) {
  if (!c.send(R"({"op":"ping","id":"end"})")) return ::testing::AssertionFailure() << "send failed";
  auto j = c.next();
  if (!j) return ::testing::AssertionFailure() << "no pong: " << c.lastRead().describe();
  if (j->type() != "pong") return ::testing::AssertionFailure() << "unexpected " << j->text();
  return ::testing::AssertionSuccess();
}

class RecoveryIntegration : public ::testing::Test {
 protected:
  void start(const std::vector<std::string>& args) {
    ASSERT_TRUE(startGateway(args, &gw_));
    api_ = std::make_unique<ApiClient>(gw_.apiPort);
  }

  std::unique_ptr<PushClient> client(std::string_view user) {
    return connectedClient(gw_.wsPort, "/ws?user=" + std::string(user));
  }

  Gateway gw_;
  std::unique_ptr<ApiClient> api_;
};

TEST_F(RecoveryIntegration, ReconnectWithSinceGetsExactlyTheMissedMessagesThenLiveOnes) {
  start({});
  auto first = client("alice");
  ASSERT_TRUE(first);
  auto r = subscribeOk(*first, "news");
  ASSERT_TRUE(r);
  const std::string epoch = r->str("epoch").value_or("");
  ASSERT_FALSE(epoch.empty()) << r->text();
  ASSERT_TRUE(publishRange(*api_, "news", 1, 3));
  ASSERT_TRUE(nextMessagesAre(*first, "news", 1, 3));
  first.reset();  // the client goes away having seen offset 3

  ASSERT_TRUE(publishRange(*api_, "news", 4, 7));

  auto again = client("alice");
  ASSERT_TRUE(again);
  r = again->request(R"({"op":"subscribe","channel":"news","id":9)" + sinceMember(3, epoch) + "}");
  ASSERT_TRUE(r) << again->lastRead().describe();
  EXPECT_EQ(r->type(), "reply");
  EXPECT_EQ(r->boolean("ok"), true) << r->text();
  EXPECT_EQ(r->i64("id"), 9);
  EXPECT_EQ(r->boolean("recovered"), true) << r->text();
  EXPECT_EQ(r->u64("offset"), 7u) << r->text();
  EXPECT_EQ(r->str("epoch"), epoch);
  ASSERT_TRUE(nextMessagesAre(*again, "news", 4, 7));

  ASSERT_TRUE(publishRange(*api_, "news", 8, 9));
  ASSERT_TRUE(nextMessagesAre(*again, "news", 8, 9));
  EXPECT_TRUE(nothingBeforePong(*again));
}

TEST_F(RecoveryIntegration, SinceTheLastOffsetRecoversWithNothingToReplay) {
  start({});
  auto a = client("alice");
  ASSERT_TRUE(a);
  ASSERT_TRUE(subscribeOk(*a, "news"));
  ASSERT_TRUE(publishRange(*api_, "news", 1, 2));
  auto b = client("alice");
  ASSERT_TRUE(b);
  auto r = subscribeOk(*b, "news", sinceMember(2, a->epoch()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->boolean("recovered"), true) << r->text();
  EXPECT_EQ(r->u64("offset"), 2u);
  EXPECT_TRUE(nothingBeforePong(*b));
  ASSERT_TRUE(publishRange(*api_, "news", 3, 3));
  EXPECT_TRUE(nextMessagesAre(*b, "news", 3, 3));
}

TEST_F(RecoveryIntegration, AGapBeyondTheHistoryIsNotRecovered) {
  start({"--history-size", "5"});
  auto a = client("alice");
  ASSERT_TRUE(a);
  auto r = subscribeOk(*a, "news");
  ASSERT_TRUE(r);
  const std::string epoch = a->epoch();
  ASSERT_TRUE(publishRange(*api_, "news", 1, 10));  // history now holds 6..10

  struct Case {
    uint64_t since;
    bool recovered;
  };
  const Case cases[] = {{1, false}, {4, false}, {5, true}, {8, true}, {10, true}};
  std::vector<std::unique_ptr<PushClient>> clients;
  for (const Case& c : cases) {
    SCOPED_TRACE("since " + std::to_string(c.since));
    clients.push_back(client("bob"));
    PushClient& b = *clients.back();
    r = subscribeOk(b, "news", sinceMember(c.since, epoch));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->boolean("recovered"), c.recovered) << r->text();
    EXPECT_EQ(r->u64("offset"), 10u) << r->text();
    if (c.recovered) {
      ASSERT_TRUE(nextMessagesAre(b, "news", c.since + 1, 10));
    }
    EXPECT_TRUE(nothingBeforePong(b)) << "a client that was not recovered gets no replay";
  }
  // Live messages follow for everyone, recovered or not.
  ASSERT_TRUE(publishRange(*api_, "news", 11, 11));
  for (auto& b : clients) EXPECT_TRUE(nextMessagesAre(*b, "news", 11, 11));
}

TEST_F(RecoveryIntegration, AForeignEpochOrAFutureOffsetIsNotRecovered) {
  start({});
  auto a = client("alice");
  ASSERT_TRUE(a);
  ASSERT_TRUE(subscribeOk(*a, "news"));
  ASSERT_TRUE(publishRange(*api_, "news", 1, 3));
  const std::string wrongEpoch = a->epoch() == "0badcafe" ? "0badcaff" : "0badcafe";

  auto b = client("bob");
  ASSERT_TRUE(b);
  auto r = subscribeOk(*b, "news", sinceMember(1, wrongEpoch));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->boolean("recovered"), false) << "history of another epoch: " << r->text();
  EXPECT_EQ(r->str("epoch"), a->epoch()) << "the reply names the server's epoch";
  EXPECT_EQ(r->u64("offset"), 3u);
  EXPECT_TRUE(nothingBeforePong(*b));

  auto c = client("carol");
  ASSERT_TRUE(c);
  r = subscribeOk(*c, "news", sinceMember(50, a->epoch()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->boolean("recovered"), false) << "an offset the channel never had: " << r->text();
  EXPECT_TRUE(nothingBeforePong(*c));

  ASSERT_TRUE(publishRange(*api_, "news", 4, 4));
  EXPECT_TRUE(nextMessagesAre(*b, "news", 4, 4));
  EXPECT_TRUE(nextMessagesAre(*c, "news", 4, 4));
}

// One publisher never stops while the client keeps dropping its connection (abruptly or with
// a close frame) after a random number of messages and resubscribing with since. In the end
// it must have seen every offset exactly once, in order.
TEST_F(RecoveryIntegration, HammerReconnectingWhilePublishingLosesAndRepeatsNothing) {
  constexpr uint64_t kMessages = 3000;
  start({"--history-size", "10000"});  // more than kMessages: every gap is recoverable

  auto c = client("hammer");
  ASSERT_TRUE(c);
  auto r = subscribeOk(*c, "stream");
  ASSERT_TRUE(r);
  const std::string epoch = c->epoch();
  ASSERT_EQ(r->u64("offset"), 0u);

  std::atomic<bool> publisherFailed{false};
  std::thread publisher([&] {
    ApiClient api(gw_.apiPort);
    for (uint64_t m = 1; m <= kMessages; ++m) {
      auto receipt = publishOk(api, "stream", R"({"m":)" + std::to_string(m) + "}");
      if (!receipt || receipt->u64("offset") != m) {
        publisherFailed = true;
        return;
      }
    }
  });

  std::mt19937 rng(20261122);
  std::uniform_int_distribution<int> batch(1, 120);
  std::vector<int> seen(kMessages + 1, 0);
  uint64_t last = 0;
  int reconnects = 0;
  bool failed = false;
  while (last < kMessages && !failed) {
    const int want = batch(rng);
    for (int i = 0; i < want && last < kMessages; ++i) {
      auto j = c->next(Millis{10000});
      if (!j) {
        ADD_FAILURE() << "after offset " << last << ": " << c->lastRead().describe();
        failed = true;
        break;
      }
      auto offset = j->u64("offset");
      if (j->type() != "message" || !offset || *offset != last + 1) {
        ADD_FAILURE() << "after offset " << last << " got " << j->text();
        failed = true;
        break;
      }
      if (j->text().find(R"("data":{"m":)" + std::to_string(*offset) + "}") == std::string::npos) {
        ADD_FAILURE() << "wrong data: " << j->text();
      }
      ++seen[*offset];
      last = *offset;
    }
    if (failed || last == kMessages) break;
    if (reconnects % 2 == 0) {
      c.reset();  // gone without a word
    } else {
      c->ws().sendClose(close_code::kNormal);
      c.reset();
    }
    c = client("hammer");
    if (!c) {
      failed = true;  // client() reported why; the publisher is still joined below
      break;
    }
    ++reconnects;
    r = subscribeOk(*c, "stream", sinceMember(last, epoch));
    if (!r) {
      failed = true;
    } else if (r->boolean("recovered") != true) {
      ADD_FAILURE() << "reconnect " << reconnects << " since " << last << ": " << r->text();
      failed = true;
    }
  }
  publisher.join();
  EXPECT_FALSE(publisherFailed.load());
  ASSERT_FALSE(failed);
  EXPECT_GE(reconnects, 10) << "the test should reconnect many times";
  for (uint64_t m = 1; m <= kMessages; ++m) ASSERT_EQ(seen[m], 1) << "offset " << m;
  EXPECT_TRUE(nothingBeforePong(*c));
}

}  // namespace
}  // namespace ringcast::test
