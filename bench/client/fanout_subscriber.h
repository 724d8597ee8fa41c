// Fanout subscribers: each connection sends --first-message once open, becomes ready (at
// once, or when a frame containing --ready-match arrived), and then checks every marker it
// receives: channel, publisher, sequence (SeqTracker: loss, duplicates, order, per channel
// and publisher) and send time (publish-to-delivery latency). What a subscriber has seen is
// kept per slot by the shard, not by the connection, so it survives the connection and is
// read at the end.
//
// Subscriber g of the run (Plan::firstGlobal + slot) joins channel g mod K (ChannelSet) and
// connects to --url number (g / K + reconnects) mod U: each channel's subscribers are dealt
// over the URLs, and a reconnect moves on to the next one.
//
// --reconnect: a ready subscriber whose connection was lost (or whose reconnect failed) is
// dialled again at the next tick, to its next URL, and resubscribes with since: the last
// offset it saw on its channel and the channel's epoch (from the subscribe replies, kept per
// channel by the shard). Messages the server recovers from its history are checked like live
// ones (a message seen twice is a duplicate); a reply with recovered:false is counted.
//
// Stalled subscribers (--stalled, the first slots of each shard) shrink their receive
// buffer, subscribe and stop reading once ready: the server's slow-consumer policy meets
// them. When the run stops they read what reached them and the close frames tell how the
// server treated them: closed first with a code, kept (it answered the bench's close), or
// dropped without a close frame.
//
// Memory per subscriber: the slot (24 B) and one SeqTracker (144 B) per publisher.
//
// Thread safety: loop-owned; finish() after the loop ended.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bench/client/seq_tracker.h"
#include "bench/client/shard.h"

namespace ringcast::bench {

struct ReplyFields;

class SubscriberShard final : public Shard {
 public:
  SubscriberShard(net::EventLoop* loop, const WorkerContext* ctx, const Plan& plan);

  // Loss accounting: every subscriber of channel c that became ready expected
  // expected[p * K + c] messages from publisher p.
  void finish(std::span<const uint64_t> expected) override;

  // For subscriber clients, on the loop thread.
  uint32_t channelOf(uint32_t slot) const {
    return context().options->channels.ofSubscriber(plan().firstGlobal + slot);
  }
  // The first message of a connection: the subscribe, or the resubscribe with since.
  std::string openingMessage(uint32_t slot);
  void markReady(uint32_t slot);
  bool isReady(uint32_t slot) const {
    return slots_[slot].trackers != nullptr || slots_[slot].stalledReady;
  }
  bool isStalled(uint32_t slot) const { return slot < plan().stalled; }
  // A frame before the subscriber was (re)subscribed; true once it is.
  bool awaitReply(uint32_t slot, std::string_view payload);
  void deliver(uint32_t slot, std::string_view payload, int64_t nowNs);
  void stalledMessage() { ++counters().stalledMessages; }
  // The first close frame a stalled subscriber read.
  void stalledCloseFrame(uint32_t slot, uint16_t code) {
    if (slots_[slot].firstCloseCode == 0) slots_[slot].firstCloseCode = code;
  }

 private:
  struct Subscriber {
    std::unique_ptr<SeqTracker[]> trackers;  // one per publisher, once ready
    uint64_t offset = 0;                     // --reconnect: the last offset seen
    uint32_t turn = 0;                       // reconnects so far (which URL)
    uint16_t firstCloseCode = 0;             // stalled: the first close frame read, if any
    bool stalledReady = false;               // a stalled subscriber that subscribed
    bool awaiting = false;                   // waiting for its (re)subscribe reply
  };

  WsClient* createClient(int fd, uint32_t slot, int64_t startNs) override;
  const sockets::Address& addressOf(uint32_t slot) const override;
  std::string upgradeHeadOf(uint32_t slot) const override;
  void onClientEnded(WsClient& c, Failure f, int64_t nowNs) override;
  void onSlotFree(uint32_t slot, bool wasOpen, Failure f) override;
  void onTick(int64_t nowNs) override;
  void onStop() override;
  size_t urlOf(uint32_t slot) const;
  void takeReply(uint32_t slot, const ReplyFields& reply);

  const uint32_t publishers_;
  const size_t ledgerSlot_;  // this loop's counter in context().ledger
  std::vector<Subscriber> slots_;
  std::vector<std::string> epochs_;  // --reconnect: per channel, from the replies
  std::vector<uint32_t> retry_;      // --reconnect: slots to dial again at the next tick
};

}  // namespace ringcast::bench
