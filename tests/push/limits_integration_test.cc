// The per-connection limits against the real binary over real sockets: --max-subscriptions
// (one more is refused, the connection goes on), the command rate limit (rate_limited
// replies with the command's id, then 1008 for a flood, while another client on the same loop keeps
// its round trips), the presence cap (kMaxPresenceEntries users and the total), and back-pressure
// per command: a client that pipelines presence without reading stops being read once its replies
// are over --max-outbuf (the gateway's queued bytes stay bounded), and every one of its commands is
// still answered, in order, once it reads.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "push/client_protocol.h"
#include "push/command_limiter.h"
#include "tests/support/push_client.h"

namespace ringcast::test {
namespace {

using Clock = std::chrono::steady_clock;

TEST(LimitsIntegration, OneSubscriptionOverTheCapIsRefusedAndTheConnectionGoesOn) {
  Gateway gw;
  ASSERT_TRUE(startGateway({"--max-subscriptions", "3"}, &gw));
  PushClient c;
  ASSERT_TRUE(c.connect(gw.wsPort, "/ws?user=collector"));
  for (const char* ch : {"a", "b", "c"}) ASSERT_TRUE(subscribeOk(c, ch));
  auto refused = c.request(R"({"op":"subscribe","channel":"d","id":4})");
  ASSERT_TRUE(refused) << c.lastRead().describe();
  EXPECT_EQ(refused->boolean("ok"), false) << refused->text();
  EXPECT_EQ(refused->errorCode(), "too_many_subscriptions") << refused->text();
  EXPECT_EQ(refused->u64("id"), 4u);
  // Subscribing again to one it has is no new subscription: still fine.
  ASSERT_TRUE(subscribeOk(c, "b"));
  // The connection works: round trips, messages of its channels, room after a leave.
  auto pong = c.request(R"({"op":"ping","id":5})");
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->type(), "pong");
  ApiClient api(gw.apiPort);
  ASSERT_TRUE(publishOk(api, "c", R"({"n":1})"));
  auto msg = c.nextOfType("message");
  ASSERT_TRUE(msg) << c.lastRead().describe();
  EXPECT_EQ(msg->str("channel"), "c");
  auto left = c.request(R"({"op":"unsubscribe","channel":"a","id":6})");
  ASSERT_TRUE(left);
  EXPECT_EQ(left->boolean("ok"), true) << left->text();
  ASSERT_TRUE(subscribeOk(c, "d"));
}

// A functional check, not a measurement: a connection with many subscriptions closes, and
// the loop it shared with another client answers that client at once.
TEST(LimitsIntegration, ClosingAConnectionWithManySubscriptionsFreezesNoOne) {
  constexpr int kChannels = 10'000;
  Gateway gw;
  ASSERT_TRUE(startGateway(
      {"--threads", "1", "--max-subscriptions", std::to_string(kChannels), "--command-rate", "0"},
      &gw));
  PushClient many, other;
  ASSERT_TRUE(many.connect(gw.wsPort, "/ws?user=many"));
  ASSERT_TRUE(other.connect(gw.wsPort, "/ws?user=other"));
  std::string burst;
  for (int i = 0; i < kChannels; ++i) {
    burst +=
        encodeFrame(op::kText, R"({"op":"subscribe","channel":"ch)" + std::to_string(i) + R"("})",
                    true, 0, true, many.ws().nextMaskKey());
  }
  ASSERT_TRUE(many.ws().sendRaw(burst));
  for (int i = 0; i < kChannels; ++i) {
    auto r = many.nextOfType("reply");
    ASSERT_TRUE(r) << i << ": " << many.lastRead().describe();
    ASSERT_EQ(r->boolean("ok"), true) << r->text();
  }
  auto over = many.request(R"({"op":"subscribe","channel":"one-more","id":1})");
  ASSERT_TRUE(over);
  EXPECT_EQ(over->errorCode(), "too_many_subscriptions");

  ASSERT_TRUE(many.ws().sendClose(1000));
  const auto start = Clock::now();
  auto pong = other.request(R"({"op":"ping","id":1})", Millis{10'000});
  ASSERT_TRUE(pong) << other.lastRead().describe();
  // Generous: a close linear in its subscriptions takes milliseconds here.
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  EXPECT_TRUE(many.ws().expectClose(1000));
  ApiClient api(gw.apiPort);
  std::optional<uint64_t> subs;
  for (const auto until = Clock::now() + std::chrono::seconds(10); Clock::now() < until;) {
    subs = api.metric("ringcast_subscriptions");
    if (subs == 0u) break;
  }
  EXPECT_EQ(subs, 0u) << "every subscription of the closed connection is gone";
}

TEST(LimitsIntegration, ACommandFloodIsRefusedThenClosedWhileAnotherClientKeepsItsRoundTrips) {
  Gateway gw;
  // One loop for both clients; a small bucket so the flood is short.
  ASSERT_TRUE(
      startGateway({"--threads", "1", "--command-rate", "10", "--command-burst", "5"}, &gw));
  PushClient flooder, steady;
  ASSERT_TRUE(flooder.connect(gw.wsPort, "/ws?user=flooder"));
  ASSERT_TRUE(steady.connect(gw.wsPort, "/ws?user=steady"));
  constexpr int kFlood = 400;
  std::string burst;
  for (int i = 0; i < kFlood; ++i) {
    burst += encodeFrame(op::kText, R"({"op":"ping","id":)" + std::to_string(i) + "}", true, 0,
                         true, flooder.ws().nextMaskKey());
  }
  ASSERT_TRUE(flooder.ws().sendRaw(burst));

  // The other client's round trips go on, during the flood and after (within its own burst).
  for (int i = 0; i < 3; ++i) {
    auto pong = steady.request(R"({"op":"ping","id":"s"})", Millis{2000});
    ASSERT_TRUE(pong) << steady.lastRead().describe();
    EXPECT_EQ(pong->type(), "pong");
  }

  int pongs = 0, limited = 0;
  for (;;) {
    auto f = flooder.next();
    if (!f) break;
    if (f->type() == "pong") {
      ++pongs;
    } else {
      ASSERT_EQ(f->errorCode(), "rate_limited") << f->text();
      EXPECT_TRUE(f->has("id")) << "the refusal names its command: " << f->text();
      ++limited;
    }
  }
  const ReadResult& end = flooder.lastRead();
  ASSERT_EQ(end.status, ReadStatus::kFrame) << end.describe();
  ASSERT_TRUE(end.frame.isClose()) << end.describe();
  EXPECT_EQ(end.frame.closeCode(), 1008);
  EXPECT_EQ(end.frame.closeReason(), "rate limit exceeded");
  EXPECT_GE(pongs, 5) << "the burst is served";
  EXPECT_LT(pongs, 5 + 10) << "then about 10 per second";
  EXPECT_EQ(limited, static_cast<int>(push::CommandLimiter::kMaxRefused) - 1)
      << "the refusal that closes gets no reply";

  auto pong = steady.request(R"({"op":"ping","id":"after"})", Millis{2000});
  ASSERT_TRUE(pong) << steady.lastRead().describe();
  EXPECT_EQ(pong->type(), "pong") << pong->text();
  ApiClient api(gw.apiPort);
  EXPECT_EQ(api.metric("ringcast_commands_rate_limited_total"),
            push::CommandLimiter::kMaxRefused - 1);
  EXPECT_EQ(api.metric("ringcast_rate_limit_disconnects_total"), 1u);
}

TEST(LimitsIntegration, APresenceReplyListsAtMostTheCapAndCountsEveryone) {
  const size_t kUsers = push::kMaxPresenceEntries + 3;
  Gateway gw;
  ASSERT_TRUE(startGateway({}, &gw));
  std::vector<std::unique_ptr<PushClient>> crowd;
  for (size_t i = 0; i < kUsers; ++i) {
    crowd.push_back(std::make_unique<PushClient>());
    ASSERT_TRUE(crowd.back()->connect(gw.wsPort, "/ws?user=u" + std::to_string(10'000 + i)));
    ASSERT_TRUE(subscribeOk(*crowd.back(), "crowd"));
  }
  auto reply = crowd[0]->request(R"({"op":"presence","channel":"crowd","id":1})");
  ASSERT_TRUE(reply) << crowd[0]->lastRead().describe();
  ASSERT_EQ(reply->type(), "presence") << reply->text().substr(0, 200);
  EXPECT_EQ(reply->u64("total"), kUsers);
  EXPECT_EQ(reply->arraySize("users"), push::kMaxPresenceEntries);
  std::string previous;
  for (size_t i = 0; i < push::kMaxPresenceEntries; ++i) {
    auto user = reply->str("/users/" + std::to_string(i) + "/user");
    ASSERT_TRUE(user);
    EXPECT_LT(previous, *user) << "sorted by user";
    previous = *user;
  }
}

// Pipelined presence commands from a client that never reads: once the replies queued for
// it pass --max-outbuf, the gateway reads none of its commands, not even those of the chunk
// it already read. Checked by the bytes queued for clients (/metrics), not by timing.
TEST(LimitsIntegration, AClientThatPipelinesPresenceWithoutReadingStopsBeingRead) {
  constexpr uint64_t kMaxOutbuf = 64 << 10;
  constexpr int kMembers = 200;
  constexpr int kCommands = 2000;
  Gateway gw;
  ASSERT_TRUE(startGateway({"--threads", "1", "--max-outbuf", "64KiB", "--max-message-size",
                            "64KiB", "--command-rate", "0"},
                           &gw));
  // Long names make each reply ~60 KiB, so the commands of one read would queue ~300 MiB.
  std::vector<std::unique_ptr<PushClient>> members;
  for (int i = 0; i < kMembers; ++i) {
    members.push_back(std::make_unique<PushClient>());
    const std::string user = "member-" + std::to_string(i) + "-" + std::string(100, 'm');
    ASSERT_TRUE(
        members.back()->connect(gw.wsPort, "/ws?user=" + user + "&name=" + std::string(120, 'n')));
    ASSERT_TRUE(subscribeOk(*members.back(), "big"));
  }
  PushClient hog, steady;
  ASSERT_TRUE(hog.connect(gw.wsPort, "/ws?user=hog"));
  ASSERT_TRUE(steady.connect(gw.wsPort, "/ws?user=steady"));
  std::string burst;
  for (int i = 0; i < kCommands; ++i) {
    burst += encodeFrame(op::kText,
                         R"({"op":"presence","channel":"big","id":)" + std::to_string(i) + "}",
                         true, 0, true, hog.ws().nextMaskKey());
  }
  ASSERT_LT(burst.size(), 256u << 10) << "the burst fits the socket buffers and one read";
  ASSERT_TRUE(hog.ws().sendRaw(burst));

  // Wait until the gateway queues for the hog (the socket buffers are full), then check a
  // few times, with round trips of another client on the same loop in between, that the
  // queue stays within the limit plus the reply that crossed it.
  ApiClient api(gw.apiPort);
  const uint64_t replyBound = 80 << 10;
  std::optional<uint64_t> queued;
  for (const auto until = Clock::now() + std::chrono::seconds(20); Clock::now() < until;) {
    queued = api.metric("ringcast_client_queued_bytes");
    ASSERT_TRUE(queued);
    ASSERT_LE(*queued, kMaxOutbuf + replyBound);
    if (*queued > kMaxOutbuf) break;
  }
  ASSERT_GT(queued.value_or(0), kMaxOutbuf) << "the hog's replies never filled its queue";
  for (int i = 0; i < 5; ++i) {
    auto pong = steady.request(R"({"op":"ping","id":1})", Millis{2000});
    ASSERT_TRUE(pong) << steady.lastRead().describe();
    queued = api.metric("ringcast_client_queued_bytes");
    ASSERT_TRUE(queued);
    EXPECT_LE(*queued, kMaxOutbuf + replyBound) << "the hog was read on";
  }

  // Once it reads, every command is answered, in order: none was lost while it was held.
  for (int i = 0; i < kCommands; ++i) {
    auto r = hog.nextOfType("presence", Millis{20'000});
    ASSERT_TRUE(r) << i << ": " << hog.lastRead().describe();
    ASSERT_EQ(r->u64("id"), static_cast<uint64_t>(i));
    ASSERT_EQ(r->u64("total"), static_cast<uint64_t>(kMembers));
  }
}

}  // namespace
}  // namespace ringcast::test
