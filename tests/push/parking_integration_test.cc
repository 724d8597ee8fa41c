// A full fan-out ring against the real binary: with --ring-size 2 and two loops, a burst of
// pipelined client publishes finds the ring full again and again. Each such publish is
// parked on its loop (never a sleeping loop thread), retried, and either accepted, with the
// next consecutive offset, or refused with "overloaded" after the bound. Meanwhile both
// loops keep draining: subscribers on each loop get every accepted message once, in order,
// and a client on each loop keeps getting its pongs.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/push_client.h"

namespace ringcast::test {
namespace {

constexpr int kPublishes = 3000;
constexpr Millis kReplyWait{20000};

TEST(ParkingIntegration, AFullRingParksPublishersAndEveryLoopKeepsDraining) {
  Gateway gw;
  // 3000 pipelined commands on one connection: no command rate limit.
  ASSERT_TRUE(startGateway({"--ring-size", "2", "--command-rate", "0"}, &gw));
  auto subscribers = connectOnEveryLoop(gw.wsPort, "/ws?user=reader");
  ASSERT_EQ(subscribers.size(), 2u) << "need a subscriber on each loop";
  for (auto& s : subscribers) ASSERT_TRUE(subscribeOk(*s, "burst"));
  auto pingers = connectOnEveryLoop(gw.wsPort, "/ws?user=pinger");
  ASSERT_EQ(pingers.size(), 2u);
  PushClient writer;
  ASSERT_TRUE(writer.connect(gw.wsPort, "/ws?user=writer"));

  std::string burst;
  for (int i = 1; i <= kPublishes; ++i) {
    burst = R"({"op":"publish","channel":"burst","id":)" + std::to_string(i) + R"(,"data":{"n":)" +
            std::to_string(i) + "}}";
    ASSERT_TRUE(writer.send(burst));
  }

  // Both loops answer pings while the burst is being absorbed.
  for (auto& p : pingers) {
    auto pong = p->request(R"({"op":"ping","id":"p"})");
    ASSERT_TRUE(pong) << "a loop stopped answering: " << p->lastRead().describe();
    EXPECT_EQ(pong->type(), "pong");
  }

  // Every publish is answered: accepted with the next offset, or refused as overloaded.
  std::vector<uint64_t> accepted;
  int refused = 0;
  for (int answered = 0; answered < kPublishes;) {
    auto r = writer.nextOfType("reply", kReplyWait);
    ASSERT_TRUE(r) << answered << " answered, then: " << writer.lastRead().describe();
    ++answered;
    if (r->boolean("ok") == true) {
      accepted.push_back(r->u64("offset").value_or(0));
    } else {
      EXPECT_EQ(r->errorCode(), "overloaded") << r->text();
      ++refused;
    }
  }
  ASSERT_FALSE(accepted.empty());
  std::sort(accepted.begin(), accepted.end());
  for (size_t i = 0; i < accepted.size(); ++i) {
    ASSERT_EQ(accepted[i], i + 1) << "offsets are consecutive: a refused publish takes none";
  }

  // Each subscriber, one per loop, gets exactly the accepted messages, in offset order.
  for (auto& s : subscribers) {
    for (uint64_t want = 1; want <= accepted.size(); ++want) {
      auto m = s->nextOfType("message", kReplyWait);
      ASSERT_TRUE(m) << "message " << want << ": " << s->lastRead().describe();
      ASSERT_EQ(m->u64("offset"), want);
    }
  }

  ApiClient api(gw.apiPort);
  auto stats = api.getOk("/api/stats");
  ASSERT_TRUE(stats);
  auto metrics = api.get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("ringcast_parked_total "), std::string::npos);
  EXPECT_EQ(metrics.body.find("ringcast_parked_total 0\n"), std::string::npos)
      << "the burst should have found the 2-slot ring full at least once";
  RecordProperty("refused", refused);
}

}  // namespace
}  // namespace ringcast::test
