// The Redis layout's pure parts: key names, the compact message encodings every node
// decodes, and refusal of malformed payloads (whatever arrives from Redis is checked).
#include "push/redis_codec.h"

#include <gtest/gtest.h>

#include <string>

namespace ringcast::push::redis {
namespace {

TEST(RedisCodec, KeysKeepAChannelInOneHashSlotAndNamesRoundTrip) {
  EXPECT_EQ(metaKey("rc", "news"), "rc:{news}:meta");
  EXPECT_EQ(historyKey("rc", "news"), "rc:{news}:hist");
  const PresenceKeys p = channelPresenceKeys("rc", "news");
  EXPECT_EQ(p.conns, "rc:{news}:ph");
  EXPECT_EQ(p.names, "rc:{news}:pn");
  // The user list cannot collide with a channel's presence, whatever the channel is called.
  EXPECT_NE(onlinePresenceKeys("rc").conns, channelPresenceKeys("rc", "online").conns);
  // The names parsed out are views into their argument: it must outlive them.
  const std::string pubsub = messageChannel("rc", "a:b}c");
  std::string_view channel;
  ASSERT_TRUE(channelOfMessageChannel("rc", pubsub, &channel));
  EXPECT_EQ(channel, "a:b}c");
  EXPECT_FALSE(channelOfMessageChannel("rc", "rc:{news}:hist", &channel));
  EXPECT_FALSE(channelOfMessageChannel("rc", "other:{news}:msg", &channel));
  const std::string userPubsub = userChannel("rc", "alice");
  std::string_view user;
  ASSERT_TRUE(userOfUserChannel("rc", userPubsub, &user));
  EXPECT_EQ(user, "alice");
  EXPECT_FALSE(userOfUserChannel("rc", "rc:user:{}", &user));
}

TEST(RedisCodec, ChannelMessageCarriesFromAndDataByteForByte) {
  ChannelMessage m;
  ASSERT_TRUE(decodeChannelMessage("17 ab12 1700000000000 3 api{\"x\": [1, 2]}", &m));
  EXPECT_EQ(m.offset, 17u);
  EXPECT_EQ(m.epoch, "ab12");
  EXPECT_EQ(m.tsMs, 1700000000000);
  EXPECT_EQ(m.from, "api");
  EXPECT_EQ(m.data, "{\"x\": [1, 2]}");
  // A sender name with spaces is length-prefixed, not split.
  ASSERT_TRUE(decodeChannelMessage("1 e 5 8 a b c de\"hi\"", &m));
  EXPECT_EQ(m.from, "a b c de");
  EXPECT_EQ(m.data, "\"hi\"");
  for (const char* bad : {"", "x e 1 0 1", "1 e 1 0 ", "1 e 1 9 ab", "1  1 0 1", "1 e x 0 1"}) {
    EXPECT_FALSE(decodeChannelMessage(bad, &m)) << bad;
  }
}

TEST(RedisCodec, PresenceEventsAreNotChannelMessages) {
  bool join = false;
  std::string_view user;
  ASSERT_TRUE(decodePresenceEvent("j alice smith", &join, &user));
  EXPECT_TRUE(join);
  EXPECT_EQ(user, "alice smith");
  ASSERT_TRUE(decodePresenceEvent("l bob", &join, &user));
  EXPECT_FALSE(join);
  EXPECT_EQ(user, "bob");
  for (const char* bad : {"", "j ", "j", "x bob", "jbob", "1 e 1 0 1"}) {
    EXPECT_FALSE(decodePresenceEvent(bad, &join, &user)) << bad;
  }
  ChannelMessage m;
  EXPECT_FALSE(decodeChannelMessage("j alice", &m));
}

TEST(RedisCodec, DirectMessagesNoticesAndDisconnectsRoundTrip) {
  UserMessage u;
  const std::string direct = encodeDirect(42, "carol", "[1]");  // u's views point into it
  ASSERT_TRUE(decodeUserMessage(direct, &u));
  EXPECT_FALSE(u.disconnect);
  EXPECT_EQ(u.tsMs, 42);
  EXPECT_EQ(u.from, "carol");
  EXPECT_EQ(u.data, "[1]");
  ASSERT_TRUE(decodeUserMessage(kDisconnectPayload, &u));
  EXPECT_TRUE(u.disconnect);
  EXPECT_FALSE(decodeUserMessage("d 42 9 carol", &u));
  EXPECT_FALSE(decodeUserMessage("y", &u));
  Notice n;
  const std::string notice = encodeNotice(7, "\"up\"");
  ASSERT_TRUE(decodeNotice(notice, &n));
  EXPECT_EQ(n.tsMs, 7);
  EXPECT_EQ(n.data, "\"up\"");
  EXPECT_FALSE(decodeNotice("7 ", &n));
  EXPECT_FALSE(decodeNotice("seven \"up\"", &n));
}

TEST(RedisCodec, ScriptShaIsRedisOwnSha1) {
  // SHA1("return 1") as redis-cli SCRIPT LOAD answers it.
  EXPECT_EQ(scriptSha1("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  EXPECT_EQ(scriptSha1(kPresenceScript).size(), 40u);
}

}  // namespace
}  // namespace ringcast::push::redis
