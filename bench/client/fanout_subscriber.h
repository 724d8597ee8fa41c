// Fanout subscribers: each connection sends --first-message once open, becomes ready (at
// once, or when a frame containing --ready-match arrived), and then checks every marker it
// receives: publisher, sequence (SeqTracker: loss, duplicates, order) and send time
// (publish-to-delivery latency). What a subscriber has seen is kept per slot by the shard,
// not by the connection, so it survives the connection and is read at the end.
//
// Stalled subscribers (--stalled, the first slots of each shard) shrink their receive
// buffer, subscribe and stop reading once ready: the server's slow-consumer policy meets
// them. When the run stops they read what reached them and the close frames tell how the
// server treated them: closed first with a code, kept (it answered the bench's close), or
// dropped without a close frame.
//
// Thread safety: loop-owned; finish() after the loop ended.
#pragma once

#include <memory>
#include <vector>

#include "bench/client/seq_tracker.h"
#include "bench/client/shard.h"

namespace ringcast::bench {

class SubscriberShard final : public Shard {
 public:
  SubscriberShard(net::EventLoop* loop, const WorkerContext* ctx, const Plan& plan);

  // Loss accounting: every subscriber that became ready expected expected[p] messages
  // from publisher p.
  void finish(std::span<const uint64_t> expected) override;

  // For subscriber clients, on the loop thread.
  void markReady(uint32_t slot);
  bool isReady(uint32_t slot) const {
    return slots_[slot].trackers != nullptr || slots_[slot].stalledReady;
  }
  bool isStalled(uint32_t slot) const { return slot < plan().stalled; }
  void deliver(uint32_t slot, std::string_view payload, int64_t nowNs);
  void stalledMessage() { ++counters().stalledMessages; }
  // The first close frame a stalled subscriber read.
  void stalledCloseFrame(uint32_t slot, uint16_t code) {
    if (slots_[slot].firstCloseCode == 0) slots_[slot].firstCloseCode = code;
  }

 private:
  struct Subscriber {
    std::unique_ptr<SeqTracker[]> trackers;  // one per publisher, once ready
    bool stalledReady = false;               // a stalled subscriber that subscribed
    uint16_t firstCloseCode = 0;             // stalled: the first close frame read, if any
  };

  WsClient* createClient(int fd, uint32_t slot, int64_t startNs) override;
  void onClientEnded(WsClient& c, Failure f, int64_t nowNs) override;
  void onStop() override;

  const uint32_t publishers_;
  std::vector<Subscriber> slots_;
};

}  // namespace ringcast::bench
