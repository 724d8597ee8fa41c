// The single-node engine, the fan-out ring and the shards without sockets: two loops that
// are built but never run, whose shards the test drives by hand on its own thread. One shard
// is drained only when the test says so, which makes the ring fill up on purpose.
#include "push/memory_engine.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "push/fanout.h"
#include "push/session.h"
#include "push/shard.h"

namespace ringcast::push {
namespace {

class MemoryEngineTest : public ::testing::Test {
 protected:
  static constexpr size_t kRing = 4;

  explicit MemoryEngineTest(int64_t parkTimeoutMs = 60'000)
      : loop0_(0),
        loop1_(1),
        fanout_({&loop0_, &loop1_}, fanoutOptions(parkTimeoutMs)),
        engine_(&fanout_, {}) {
    fanout_.setEngine(&engine_);
    fanout_.attachLoop(loop0_);  // the test thread is loop 0's thread from here on
    fanout_.shard(1).adoptByCurrentThread(&engine_);
  }
  ~MemoryEngineTest() override {
    // Whatever is still in the ring is delivered (and freed) before the loops go.
    drainAll();
  }

  // Nothing parked is refused unless a test lowers the bound.
  static FanoutOptions fanoutOptions(int64_t parkTimeoutMs) {
    FanoutOptions o;
    o.ringCapacity = kRing;
    o.parkTimeoutMs = parkTimeoutMs;
    return o;
  }

  Shard& shard0() { return fanout_.shard(0); }
  Shard& shard1() { return fanout_.shard(1); }
  void drainAll() {
    shard0().drain();
    shard1().drain();
  }

  // Publishes on loop 0; the receipt lands in `receipts` (inline once accepted).
  void publish(std::string_view channel, std::string_view data) {
    engine_.publish(channel, data, "api", ReceiptWait::kAccepted,
                    [this](const Receipt& r) { receipts_.push_back(r); });
  }

  // What loop 1 has not read yet, without reading it: (kind, offset, frame text).
  struct Seen {
    Envelope::Kind kind;
    uint64_t offset;
    std::string text;
  };
  std::vector<Seen> unreadByLoop1() {
    Envelope* out[kRing];
    size_t n = fanout_.ring().peek(1, out, kRing);
    std::vector<Seen> seen;
    for (size_t i = 0; i < n; ++i) {
      std::string_view bytes = out[i]->frame ? out[i]->frame->view() : std::string_view();
      // Server frames up to 125 bytes have a 2-byte header.
      seen.push_back({out[i]->kind, out[i]->offset, std::string(bytes.substr(2))});
    }
    return seen;
  }

  Recovery recover(std::string_view channel, std::optional<StreamPosition> since) {
    Recovery got;
    engine_.recover(channel, since, [&](Recovery&& r) { got = std::move(r); });
    return got;
  }

  net::EventLoop loop0_;
  net::EventLoop loop1_;
  Fanout fanout_;
  MemoryEngine engine_;
  std::vector<Receipt> receipts_;
};

TEST_F(MemoryEngineTest, OffsetsAreConsecutivePerChannelAndKeptInHistory) {
  publish("a", "1");
  publish("b", "1");
  publish("a", "2");
  ASSERT_EQ(receipts_.size(), 3u);
  EXPECT_EQ(receipts_[0].offset, 1u);
  EXPECT_EQ(receipts_[1].offset, 1u);
  EXPECT_EQ(receipts_[2].offset, 2u);
  EXPECT_FALSE(receipts_[2].counted) << "an accepted receipt does not claim delivery counts";
  drainAll();

  Recovery r = recover("a", StreamPosition{0, engine_.nodeEpoch()});
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.offset, 2u);
  EXPECT_TRUE(r.recovered);
  ASSERT_EQ(r.missed.size(), 2u);
  EXPECT_NE(r.missed[1]->view().find("\"offset\":2"), std::string_view::npos);

  Recovery other = recover("a", StreamPosition{0, "another-epoch"});
  EXPECT_FALSE(other.recovered) << "an offset from another epoch means nothing here";
  EXPECT_TRUE(other.missed.empty());
}

TEST_F(MemoryEngineTest, AFullRingParksThePublishUntilTheSlowestLoopDrains) {
  for (size_t i = 0; i < kRing; ++i) publish("news", "1");
  ASSERT_EQ(receipts_.size(), kRing);
  shard0().drain();  // loop 0 keeps up; loop 1 holds the ring

  publish("news", "\"late\"");
  EXPECT_EQ(receipts_.size(), kRing) << "no room: the publish waits, it is not refused";
  EXPECT_TRUE(shard0().hasParked());
  EXPECT_EQ(shard0().counters().parked, 1u);

  // A later publish from the same loop queues behind the parked one, even for another
  // channel that might have found room: order is kept.
  publish("other", "2");
  EXPECT_EQ(receipts_.size(), kRing);

  shard0().runIteration();  // still full: stays parked
  EXPECT_TRUE(shard0().hasParked());
  shard1().drain();
  shard0().runIteration();  // room now: both go in, in order
  EXPECT_FALSE(shard0().hasParked());
  ASSERT_EQ(receipts_.size(), kRing + 2);
  EXPECT_TRUE(receipts_[kRing].ok);
  EXPECT_EQ(receipts_[kRing].offset, kRing + 1);
  EXPECT_EQ(receipts_[kRing + 1].offset, 1u);
  std::vector<Seen> next = unreadByLoop1();
  ASSERT_EQ(next.size(), 2u);
  EXPECT_NE(next[0].text.find("\"late\""), std::string::npos);
  EXPECT_EQ(shard0().counters().parkRefused, 0u);
}

TEST_F(MemoryEngineTest, PresenceEventsWaitInOrderAheadOfLaterMessagesOfTheirChannel) {
  for (size_t i = 0; i < kRing; ++i) publish("filler", "1");
  shard0().drain();
  engine_.presenceChange("room", "carol", "Carol", +1);  // join: no room in the ring
  engine_.presenceChange("room", "dave", "Dave", +1);    // a second join waits behind it
  publish("room", "\"hello\"");                          // must not overtake the joins
  EXPECT_EQ(receipts_.size(), kRing);

  shard1().drain();
  shard0().runIteration();
  std::vector<Seen> next = unreadByLoop1();
  ASSERT_EQ(next.size(), 3u);
  EXPECT_EQ(next[0].kind, Envelope::Kind::kPresence);
  EXPECT_NE(next[0].text.find("\"user\":\"carol\""), std::string::npos);
  EXPECT_NE(next[1].text.find("\"user\":\"dave\""), std::string::npos);
  EXPECT_EQ(next[2].kind, Envelope::Kind::kChannel);
  EXPECT_EQ(next[2].offset, 1u);
  ASSERT_EQ(receipts_.size(), kRing + 1);

  std::vector<PresenceEntry> who;
  engine_.presence("room", [&](std::vector<PresenceEntry> e) { who = std::move(e); });
  ASSERT_EQ(who.size(), 2u);
  EXPECT_EQ(who[0].user, "carol");
  EXPECT_EQ(who[0].name, "Carol");
  EXPECT_EQ(who[1].user, "dave");
}

TEST_F(MemoryEngineTest, AUsersSecondConnectionMakesNoSecondJoin) {
  engine_.presenceChange("room", "erin", "Erin", +1);
  engine_.presenceChange("room", "erin", "Erin", +1);
  engine_.presenceChange("room", "erin", "Erin", -1);
  std::vector<Seen> events = unreadByLoop1();
  ASSERT_EQ(events.size(), 1u) << "one join for two connections, no leave while one stays";
  engine_.presenceChange("room", "erin", "Erin", -1);
  events = unreadByLoop1();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].text.rfind("{\"type\":\"leave\"", 0), 0u) << events[1].text;
  std::vector<ChannelInfo> channels;
  engine_.channels([&](std::vector<ChannelInfo> c) { channels = std::move(c); });
  EXPECT_TRUE(channels.empty()) << "a channel with no subscriber and no message is forgotten";
}

// The same, with parked work refused at its first retry.
class MemoryEngineRefusalTest : public MemoryEngineTest {
 protected:
  MemoryEngineRefusalTest() : MemoryEngineTest(0) {}
};

TEST_F(MemoryEngineRefusalTest, ParkedPublishesAreRefusedWithOverloadedAfterTheBound) {
  for (size_t i = 0; i < kRing; ++i) publish("news", "1");
  publish("news", "2");
  ASSERT_TRUE(shard0().hasParked());
  shard0().runIteration();  // the bound (0 ms) has passed: refused, not dropped silently
  EXPECT_FALSE(shard0().hasParked());
  ASSERT_EQ(receipts_.size(), kRing + 1);
  EXPECT_FALSE(receipts_[kRing].ok);
  EXPECT_EQ(receipts_[kRing].errorCode, "overloaded");
  EXPECT_EQ(shard0().counters().parkRefused, 1u);
  drainAll();
  Recovery r = recover("news", std::nullopt);
  EXPECT_EQ(r.offset, kRing) << "a refused publish takes no offset";
}

TEST_F(MemoryEngineRefusalTest, PresenceEventsAreNeverRefused) {
  for (size_t i = 0; i < kRing; ++i) publish("filler", "1");
  engine_.presenceChange("room", "carol", "Carol", +1);
  for (int i = 0; i < 3; ++i) shard0().runIteration();  // past the bound, still waiting
  EXPECT_TRUE(shard0().hasParked());
  drainAll();
  shard0().runIteration();
  std::vector<Seen> next = unreadByLoop1();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].kind, Envelope::Kind::kPresence);
}

TEST_F(MemoryEngineTest, AShardReportsFirstAndLastLocalSubscriberAndEveryPresenceChange) {
  Identity id;
  id.user = "frank";
  id.name = "Frank";
  Session a(nullptr, id, {}, 0), b(nullptr, id, {}, 0);
  shard0().addSession(&a);
  shard0().addSession(&b);
  EXPECT_TRUE(shard0().addSubscription(&a, "room", false));
  EXPECT_FALSE(shard0().addSubscription(&a, "room", false)) << "already subscribed";
  EXPECT_TRUE(shard0().addSubscription(&b, "room", true));
  EXPECT_TRUE(shard0().isSubscribed(&b, "room"));
  std::vector<PresenceEntry> who;
  engine_.presence("room", [&](std::vector<PresenceEntry> e) { who = std::move(e); });
  ASSERT_EQ(who.size(), 1u);
  EXPECT_EQ(who[0].conns, 2u);
  std::vector<UserInfo> users;
  engine_.users([&](std::vector<UserInfo> u) { users = std::move(u); });
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].conns, 2u);

  EXPECT_TRUE(shard0().activateSubscription(&a, "room", 0));
  shard0().removeSession(&a);
  EXPECT_FALSE(shard0().removeSubscription(&a, "room"));
  engine_.presence("room", [&](std::vector<PresenceEntry> e) { who = std::move(e); });
  ASSERT_EQ(who.size(), 1u);
  EXPECT_EQ(who[0].conns, 1u);
  EXPECT_TRUE(shard0().removeSubscription(&b, "room"));
  shard0().removeSession(&b);
  engine_.presence("room", [&](std::vector<PresenceEntry> e) { who = std::move(e); });
  EXPECT_TRUE(who.empty());
  engine_.users([&](std::vector<UserInfo> u) { users = std::move(u); });
  EXPECT_TRUE(users.empty());
  EXPECT_EQ(shard0().counters().subscriptions, 0u);
}

TEST_F(MemoryEngineTest, MembershipStaysExactThroughSwapRemovesInAnyOrder) {
  Identity id;
  id.user = "gina";
  Session a(nullptr, id, {}, 0), b(nullptr, id, {}, 0);
  shard0().addSession(&a);
  shard0().addSession(&b);
  constexpr int kChannels = 2000;
  auto name = [](int i) { return "ch" + std::to_string(i); };
  for (int i = 0; i < kChannels; ++i) {
    ASSERT_TRUE(shard0().addSubscription(&a, name(i), false));
    if (i % 3 == 0) {
      ASSERT_TRUE(shard0().addSubscription(&b, name(i), false));
    }
  }
  EXPECT_FALSE(shard0().addSubscription(&a, name(7), false)) << "already subscribed";
  // Remove every 7th-step channel (a scrambled order), checking the rest after each.
  std::vector<bool> gone(kChannels, false);
  for (int k = 0, i = 0; k < kChannels / 2; ++k, i = (i + 7) % kChannels) {
    ASSERT_TRUE(shard0().removeSubscription(&a, name(i))) << i;
    ASSERT_FALSE(shard0().removeSubscription(&a, name(i))) << i;
    gone[i] = true;
  }
  for (int i = 0; i < kChannels; ++i) {
    EXPECT_EQ(shard0().isSubscribed(&a, name(i)), !gone[i]) << i;
    EXPECT_EQ(shard0().isSubscribed(&b, name(i)), i % 3 == 0) << i;
  }
  EXPECT_EQ(a.subs().size(), static_cast<size_t>(kChannels / 2));
  EXPECT_TRUE(a.indexed());
  for (size_t k = 0; k < a.subs().size(); ++k) {
    EXPECT_EQ(a.position(a.subs()[k].channel), k);
  }
  shard0().removeSession(&a);
  EXPECT_FALSE(a.indexed());
  EXPECT_TRUE(a.subs().empty());
  for (int i = 0; i < kChannels; ++i) EXPECT_EQ(shard0().isSubscribed(&b, name(i)), i % 3 == 0);
  shard0().removeSession(&b);
  EXPECT_EQ(shard0().counters().subscriptions, 0u);
}

// A session with a few subscriptions keeps no index (a scan of at most kScanUpTo is O(1)
// and costs no memory); one more than that builds it, and membership stays exact across the
// switch and the swap-removes.
TEST_F(MemoryEngineTest, FewSubscriptionsAreScannedManyAreIndexed) {
  Identity id;
  id.user = "hal";
  Session a(nullptr, id, {}, 0);
  shard0().addSession(&a);
  auto name = [](size_t i) { return "r" + std::to_string(i); };
  for (size_t i = 0; i < Session::kScanUpTo; ++i) {
    ASSERT_TRUE(shard0().addSubscription(&a, name(i), false));
  }
  EXPECT_FALSE(a.indexed());
  ASSERT_TRUE(shard0().removeSubscription(&a, name(0)));  // the last one moves to the front
  EXPECT_FALSE(shard0().isSubscribed(&a, name(0)));
  for (size_t i = 1; i < Session::kScanUpTo; ++i) EXPECT_TRUE(shard0().isSubscribed(&a, name(i)));
  for (size_t i = Session::kScanUpTo; i < Session::kScanUpTo + 2; ++i) {
    ASSERT_TRUE(shard0().addSubscription(&a, name(i), false));
  }
  EXPECT_TRUE(a.indexed());
  EXPECT_FALSE(shard0().addSubscription(&a, name(3), false)) << "already subscribed";
  for (size_t k = 0; k < a.subs().size(); ++k) EXPECT_EQ(a.position(a.subs()[k].channel), k);
  EXPECT_FALSE(shard0().isSubscribed(&a, name(0)));
  ASSERT_TRUE(shard0().removeSubscription(&a, name(5)));
  EXPECT_FALSE(shard0().isSubscribed(&a, name(5)));
  for (size_t k = 0; k < a.subs().size(); ++k) EXPECT_EQ(a.position(a.subs()[k].channel), k);
  shard0().removeSession(&a);
  EXPECT_FALSE(a.indexed());
  EXPECT_EQ(shard0().counters().subscriptions, 0u);
}

TEST_F(MemoryEngineTest, APresencePageListsAtMostItsSizeSortedWithTheTotal) {
  for (int i = 0; i < 50; ++i) {
    engine_.presenceChange("big", "u" + std::to_string(100 + i), "U", +1);
  }
  drainAll();
  PresencePage page;
  engine_.presencePage("big", 10, [&](PresencePage p) { page = std::move(p); });
  EXPECT_EQ(page.total, 50u);
  ASSERT_EQ(page.entries.size(), 10u);
  for (size_t i = 1; i < page.entries.size(); ++i) {
    EXPECT_LT(page.entries[i - 1].user, page.entries[i].user);
  }
  engine_.presencePage("big", 1000, [&](PresencePage p) { page = std::move(p); });
  EXPECT_EQ(page.total, 50u);
  EXPECT_EQ(page.entries.size(), 50u);
  engine_.presencePage("none", 10, [&](PresencePage p) { page = std::move(p); });
  EXPECT_EQ(page.total, 0u);
  EXPECT_TRUE(page.entries.empty());
}

}  // namespace
}  // namespace ringcast::push
