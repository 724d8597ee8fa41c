// Session without sockets: what a token grants (kept on the heap only when it grants
// something beyond its user), a refresh that replaces the grants but keeps the display name,
// and the subscription list that holds one subscription in place and grows past it.
#include "push/session.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "push/shard.h"

namespace ringcast::push {
namespace {

Identity identity(std::string user) {
  Identity id;
  id.user = std::move(user);
  id.name = id.user;
  return id;
}

TEST(Session, WithoutGrantsTheNameIsTheUserAndEveryChannelMayBeSubscribed) {
  Session s(nullptr, identity("ann"), {}, 0);
  EXPECT_EQ(s.user(), "ann");
  EXPECT_EQ(s.name(), "ann");
  EXPECT_TRUE(s.maySubscribe("any/channel"));
  EXPECT_FALSE(s.mayPublish("any/channel")) << "publishing needs a pubs claim";
  EXPECT_TRUE(s.canSend());
  EXPECT_EQ(s.expSec(), 0);
}

TEST(Session, TheTokensGrantsDecideAndARefreshReplacesThemButKeepsTheName) {
  Identity id = identity("bob");
  id.name = "Bob B.";
  id.hasSubs = true;
  id.subs = {"news", "room/*"};
  id.hasPubs = true;
  id.pubs = {"room/1"};
  id.canSend = false;
  id.expSec = int64_t{1} << 40;  // past 2106: counts as 2106
  Session s(nullptr, id, {}, 0);
  EXPECT_EQ(s.name(), "Bob B.");
  EXPECT_TRUE(s.maySubscribe("room/7"));
  EXPECT_FALSE(s.maySubscribe("other"));
  EXPECT_TRUE(s.mayPublish("room/1"));
  EXPECT_FALSE(s.mayPublish("room/2"));
  EXPECT_FALSE(s.canSend());
  EXPECT_EQ(s.expSec(), int64_t{UINT32_MAX});

  Identity fresh = identity("bob");  // no name, no subs or pubs claims
  fresh.expSec = 2'000'000'000;
  s.replaceGrants(fresh);
  EXPECT_EQ(s.name(), "Bob B.") << "the display name stays";
  EXPECT_TRUE(s.maySubscribe("other")) << "no subs claim: every channel";
  EXPECT_FALSE(s.mayPublish("room/1")) << "no pubs claim: none";
  EXPECT_TRUE(s.canSend());
  EXPECT_EQ(s.expSec(), 2'000'000'000);
}

TEST(Session, SubscriptionsGrowFromOneInPlaceAndShrinkBackToNone) {
  Session s(nullptr, identity("cy"), {}, 0);
  constexpr uint32_t kMany = 40;  // past one, and past the scan limit (the index)
  std::vector<LocalChannel> channels(kMany);
  auto ch = [&](uint32_t i) { return &channels[i]; };
  for (uint32_t i = 0; i < kMany; ++i) {
    s.addSub({ch(i), i * 10});
    ASSERT_EQ(s.subs().size(), i + 1);
    ASSERT_EQ(s.position(ch(i)), i);
    ASSERT_EQ(s.position(ch(0)), 0u) << "the first one survives every growth";
  }
  EXPECT_TRUE(s.indexed());
  EXPECT_EQ(s.subs()[7].index, 70u);
  Session::Sub moved{};
  EXPECT_TRUE(s.removeSub(0, &moved));  // the last moves into its place
  EXPECT_EQ(moved.channel, ch(kMany - 1));
  EXPECT_EQ(s.position(ch(kMany - 1)), 0u);
  EXPECT_EQ(s.position(ch(0)), Session::kNotSubscribed);
  while (!s.subs().empty()) s.removeSub(static_cast<uint32_t>(s.subs().size() - 1), &moved);
  EXPECT_FALSE(s.indexed());
  s.addSub({ch(3), 1});  // in place again
  EXPECT_EQ(s.position(ch(3)), 0u);
  EXPECT_EQ(s.subs()[0].index, 1u);
}

}  // namespace
}  // namespace ringcast::push
