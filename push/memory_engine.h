// MemoryEngine: the Engine of a single node. Offsets, history and presence live in this
// process's ChannelTable; delivery to "every node" is delivery into the local fan-out.
//
// A publish takes the channel's lock, encodes the message once with its offset, pushes it
// into the ring and appends it to history, all under that lock, so offsets reach every
// loop in order. When the ring is full it gives up the lock at once and the work is parked
// on the caller's Shard, retried each iteration, and refused with "overloaded" after
// FanoutOptions::parkTimeoutMs. Presence events that find the ring full wait in their
// channel's pendingEvents (ahead of any later message of that channel) and are retried
// until they are in: they are never dropped.
//
// Bounded as a whole (ChannelTable): over historyBudgetBytes the publisher that went over
// drops the oldest history of all channels (up to kTrimStepsPerPublish entries), and a
// ticker on loop 0 walks the table every kSweepPeriodMs, kSweepVisitsPerTick channels at a
// time, dropping expired history, forgetting channels nobody uses and finishing the budget's
// trim. A `since` into a dropped part recovers false; a forgotten channel comes back in a
// new epoch (epochOf).
//
// Thread safety: every method is safe from any loop thread (ChannelTable's locking rule;
// the user directory has its own mutex, never held with a channel's).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/hash.h"
#include "net/ticker.h"
#include "push/channel_table.h"
#include "push/engine.h"
#include "push/fanout.h"

namespace ringcast::push {

struct MemoryEngineOptions {
  size_t historySize = 100;
  int64_t historyTtlMs = 0;         // 0: no age limit
  uint64_t historyBudgetBytes = 0;  // all channels' history together; 0: no budget
};

class MemoryEngine final : public Engine {
 public:
  MemoryEngine(Fanout* fanout, const MemoryEngineOptions& options);
  ~MemoryEngine() override;

  // Hub
  void publish(std::string_view channel, std::string_view dataJson, std::string_view from,
               ReceiptWait wait, ReceiptFn done) override;
  void broadcast(std::string_view dataJson, ReceiptFn done) override;
  void send(const std::vector<std::string>& users, std::string_view dataJson, std::string_view from,
            ReceiptFn done) override;
  void disconnect(std::string_view user, ReceiptFn done) override;
  void stats(std::function<void(const Stats&)> done) override { fanout_->stats(std::move(done)); }
  void presence(std::string_view channel,
                std::function<void(std::vector<PresenceEntry>)> done) override;
  void users(std::function<void(std::vector<UserInfo>)> done) override;
  void channels(std::function<void(std::vector<ChannelInfo>)> done) override;

  // How often and how much the ticker sweeps: 2,048 channels each 50 ms walks 40,000
  // channels a second in slices of well under a millisecond.
  static constexpr int64_t kSweepPeriodMs = 50;
  static constexpr size_t kSweepVisitsPerTick = 2048;
  // Bounds on one trim to the history budget: by a publisher, by the ticker.
  static constexpr size_t kTrimStepsPerPublish = 64;
  static constexpr size_t kTrimStepsPerTick = 4096;

  // Engine. attachLoop starts the sweep ticker on loop 0, detachLoop stops it.
  void attachLoop(net::EventLoop& loop) override;
  void detachLoop(net::EventLoop& loop) override;
  std::string nodeEpoch() const override { return epoch_; }
  void channelInterest(std::string_view, bool) override {}  // every message is local
  void recover(std::string_view channel, const std::optional<StreamPosition>& since,
               RecoveryFn done) override;
  void presenceChange(std::string_view channel, std::string_view user, std::string_view name,
                      int delta) override;
  void presencePage(std::string_view channel, size_t maxEntries,
                    std::function<void(PresencePage)> done) override;
  void userChange(std::string_view user, int delta) override;
  bool healthy() const override { return true; }

  // The channel's epoch: the node's for a first incarnation, else one of its own.
  // REQUIRES: ch's lock.
  std::string epochOf(const Channel& ch) const;

 private:
  void appendEngineMetrics(std::string& out) const override;
  // One ticker step on loop 0: a sweep slice, the budget's trim, and the freed bytes
  // reported to the memory guard.
  void sweepTick();
  // One try at a channel publish: false when the ring is full (nothing changed, `done` kept).
  bool tryPublish(std::string_view channel, std::string_view dataJson, std::string_view from,
                  ReceiptWait wait, ReceiptFn& done);
  // Pushes the channel's waiting presence events in order; false while some remain.
  bool flushEventsLocked(Channel& ch);
  // Retries a channel's waiting presence events on this loop until they are all in.
  void parkEventFlush(std::string channel);
  // Delivers an envelope whose frame does not depend on the moment it enters the ring, or
  // parks it; counts it as a message in when `countIn`.
  void deliverOrPark(Envelope* env, bool countIn);

  Fanout* const fanout_;
  const MemoryEngineOptions options_;
  const std::string epoch_;
  ChannelTable channels_;
  net::EventLoop* sweepLoop_ = nullptr;   // loop 0, set by attachLoop
  std::unique_ptr<net::Ticker> sweeper_;  // on sweepLoop_

  std::mutex usersMutex_;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> users_;  // conns
};

}  // namespace ringcast::push
