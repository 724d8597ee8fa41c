// ChannelTable's bounds without sockets: the history budget drops the oldest messages of all
// channels first (whatever the channels' own order), the sweep forgets channels nobody uses
// once their history expired and keeps the others, and a forgotten channel comes back as a
// new incarnation.
#include "push/channel_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ws/frame_writer.h"

namespace ringcast::push {
namespace {

constexpr size_t kPayload = 1000;
const uint64_t kEntry = ws::buildFrame(ws::Opcode::kText, std::string(kPayload, 'x'))->size() +
                        kHistoryEntryOverheadBytes;

void keepAt(ChannelTable& t, const std::string& channel, int64_t tsMs) {
  t.withChannel(channel, [&](Channel& ch) {
    ++ch.offset;
    t.keep(ch, ch.offset, tsMs, ws::buildFrame(ws::Opcode::kText, std::string(kPayload, 'x')));
  });
}

// The offsets `channel` still holds.
std::vector<uint64_t> offsets(ChannelTable& t, const std::string& channel) {
  std::vector<uint64_t> out;
  t.withExisting(channel, [&](Channel& ch) {
    for (const HistoryEntry& h : ch.history) out.push_back(h.offset);
  });
  return out;
}

TEST(ChannelTableBudget, CountsBytesOfEveryChannel) {
  ChannelTable t;
  keepAt(t, "a", 1);
  keepAt(t, "b", 2);
  EXPECT_EQ(t.historyBytes(), 2 * kEntry);
  t.withExisting("a", [&](Channel& ch) { t.trimHistory(ch, 0, 0, 10); });
  EXPECT_EQ(t.historyBytes(), kEntry);
  EXPECT_EQ(t.takeFreedBytes(), kEntry);
  EXPECT_EQ(t.takeFreedBytes(), 0u);
}

TEST(ChannelTableBudget, DropsTheOldestMessagesOfAllChannelsFirst) {
  ChannelTable t;
  // Interleaved: a@10 b@11 c@12 a@13 b@14 c@15 a@16 b@17 c@18 (times in ms).
  int64_t ts = 10;
  for (int round = 0; round < 3; ++round) {
    for (const char* ch : {"a", "b", "c"}) keepAt(t, ch, ts++);
  }
  // Room for five entries: the four oldest (a@10 b@11 c@12 a@13) go.
  EXPECT_EQ(t.trimToBudget(5 * kEntry, 100), 4u);
  EXPECT_EQ(t.historyBytes(), 5 * kEntry);
  EXPECT_EQ(offsets(t, "a"), (std::vector<uint64_t>{3}));
  EXPECT_EQ(offsets(t, "b"), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(offsets(t, "c"), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(t.budgetTrimmed(), 4u);
  // Within the budget nothing more goes.
  EXPECT_EQ(t.trimToBudget(5 * kEntry, 100), 0u);
}

TEST(ChannelTableBudget, AChannelTrimmedByItsOwnLimitsMovesBackInLine) {
  ChannelTable t;
  keepAt(t, "old", 1);
  keepAt(t, "old", 2);
  keepAt(t, "old", 30);
  keepAt(t, "new", 20);
  // The per-channel size limit drops old@1 and old@2: old's oldest is now 30, younger
  // than new@20, so the budget takes new@20 first.
  t.withExisting("old", [&](Channel& ch) { t.trimHistory(ch, 1, 0, 40); });
  EXPECT_EQ(t.trimToBudget(kEntry, 100), 1u);
  EXPECT_EQ(offsets(t, "new"), (std::vector<uint64_t>{}));
  EXPECT_EQ(offsets(t, "old"), (std::vector<uint64_t>{3}));
}

TEST(ChannelTableBudget, WorkPerCallIsBounded) {
  ChannelTable t;
  for (int i = 0; i < 50; ++i) keepAt(t, "c" + std::to_string(i), i);
  EXPECT_EQ(t.trimToBudget(0, 10), 10u);
  EXPECT_EQ(t.historyBytes(), 40 * kEntry);
  EXPECT_EQ(t.trimToBudget(0, 1000), 40u);
  EXPECT_EQ(t.historyBytes(), 0u);
}

TEST(ChannelTableSweep, ForgetsExpiredUnusedChannelsAndKeepsTheRest) {
  ChannelTable t;
  for (int i = 0; i < 100; ++i) keepAt(t, "flood" + std::to_string(i), 1000);
  keepAt(t, "fresh", 5000);
  keepAt(t, "watched", 1000);
  t.withExisting("watched", [](Channel& ch) { ch.subscribers = 1; });
  ASSERT_EQ(t.size(), 102u);
  // Slices of 16 visits: several calls, none doing more than its share.
  size_t calls = 0;
  while (t.size() > 2 && calls < 1000) {
    SweepResult r = t.sweep(16, /*ttlMs=*/1000, /*nowMs=*/5500);
    EXPECT_LE(r.visited, 16u);
    ++calls;
  }
  EXPECT_GT(calls, 5u);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.forgotten(), 100u);
  EXPECT_EQ(offsets(t, "fresh"), (std::vector<uint64_t>{1}));
  EXPECT_EQ(offsets(t, "watched"), (std::vector<uint64_t>{}));  // expired, channel kept
  EXPECT_EQ(t.historyBytes(), kEntry);
}

TEST(ChannelTableSweep, AForgottenChannelComesBackAsANewIncarnation) {
  ChannelTable t;
  keepAt(t, "x", 1);
  uint64_t first = 0;
  t.withExisting("x", [&](Channel& ch) { first = ch.incarnation; });
  while (t.size() > 0) t.sweep(64, 10, 100);
  uint64_t offset = 99, second = 0;
  t.withChannel("x", [&](Channel& ch) {
    offset = ch.offset;
    second = ch.incarnation;
  });
  EXPECT_EQ(offset, 0u);
  EXPECT_NE(first, second);
}

}  // namespace
}  // namespace ringcast::push
