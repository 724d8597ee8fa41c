#include "bench/client/fanout_subscriber.h"

#include <sys/socket.h>

#include <cstring>

#include "bench/client/delivery_ledger.h"
#include "bench/client/marker.h"
#include "bench/client/recovery_frames.h"
#include "bench/client/ws_client.h"
#include "ws/close_code.h"

namespace ringcast::bench {
namespace {

class SubscriberClient final : public WsClient {
 public:
  SubscriberClient(net::EventLoop* loop, int fd, SubscriberShard* shard, uint32_t slot,
                   int64_t startNs)
      : WsClient(loop, fd, shard, slot, startNs), sub_(shard), stalled_(shard->isStalled(slot)) {}

 private:
  void onOpen(int64_t) override {
    const Options& o = *shard_->context().options;
    if (stalled_) {
      // A small receive buffer, so the server's queue for this socket grows after some KiB
      // instead of after megabytes of socket buffers. (Not the smallest the kernel allows:
      // with a window-scaled connection the window then rounds to zero and even the final
      // read trickles in at the pace of zero-window probes.)
      const int bytes = 16 * 1024;
      ::setsockopt(fd(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }
    if (!o.firstMessage.empty()) sendTextCopy(sub_->openingMessage(slot()));
    if (o.readyMatch.empty()) becomeReady();
  }

  void onWsMessage(ws::Opcode, std::string_view payload, int64_t nowNs) override {
    if (sub_->awaitReply(slot(), payload)) becomeReady();
    if (stalled_) {
      if (sub_->isReady(slot())) sub_->stalledMessage();
      return;
    }
    sub_->deliver(slot(), payload, nowNs);
  }

  void onCloseFrame(uint16_t code) override {
    if (stalled_) sub_->stalledCloseFrame(slot(), code);
  }

  void becomeReady() {
    sub_->markReady(slot());
    if (stalled_) pauseReading();  // until the run stops (SubscriberShard::onStop)
  }

  SubscriberShard* const sub_;
  const bool stalled_;
};

}  // namespace

SubscriberShard::SubscriberShard(net::EventLoop* loop, const WorkerContext* ctx, const Plan& plan)
    : Shard(loop, ctx, plan),
      publishers_(ctx->options->publishConns),
      ledgerSlot_(static_cast<size_t>(ctx->procIndex) * static_cast<size_t>(ctx->options->threads) +
                  static_cast<size_t>(loop->id())),
      slots_(plan.slots) {
  if (ctx->options->reconnect) epochs_.resize(ctx->options->channels.count());
}

WsClient* SubscriberShard::createClient(int fd, uint32_t slot, int64_t startNs) {
  return new SubscriberClient(loop_, fd, this, slot, startNs);
}

size_t SubscriberShard::urlOf(uint32_t slot) const {
  const Options& o = *context().options;
  const uint64_t g = plan().firstGlobal + slot;
  return (g / o.channels.count() + slots_[slot].turn) % o.urls.size();
}

const sockets::Address& SubscriberShard::addressOf(uint32_t slot) const {
  return context().options->urls[urlOf(slot)].address;
}

std::string SubscriberShard::upgradeHeadOf(uint32_t slot) const {
  const std::string& head = context().upgradeHeads[urlOf(slot)];
  if (!ChannelSet::hasPlaceholder(head)) return head;
  return context().options->channels.expand(head, channelOf(slot));
}

std::string SubscriberShard::openingMessage(uint32_t slot) {
  const Options& o = *context().options;
  const uint32_t channel = channelOf(slot);
  Subscriber& s = slots_[slot];
  s.awaiting = !o.readyMatch.empty();
  if (o.reconnect && s.trackers) {
    return fillSince(o.channels.expand(o.resubscribeMessage, channel), s.offset, epochs_[channel]);
  }
  return o.channels.expand(o.firstMessage, channel);
}

bool SubscriberShard::awaitReply(uint32_t slot, std::string_view payload) {
  Subscriber& s = slots_[slot];
  if (!s.awaiting) return false;
  const std::string& match = context().options->readyMatch;
  if (::memmem(payload.data(), payload.size(), match.data(), match.size()) == nullptr) {
    return false;
  }
  s.awaiting = false;
  if (context().options->reconnect) {
    ReplyFields reply;
    if (subscribeReply(payload, &reply)) takeReply(slot, reply);
  }
  return true;
}

void SubscriberShard::takeReply(uint32_t slot, const ReplyFields& reply) {
  Subscriber& s = slots_[slot];
  epochs_[channelOf(slot)] = reply.epoch;
  if (!s.trackers) {
    // The first subscribe: what came before it is not this subscriber's to receive.
    s.offset = reply.offset;
    return;
  }
  ++counters().resubscribed;
  ++counters().readyNow;
  if (reply.recovered != 1) {
    // Nothing old follows; the subscriber goes on from the channel's present.
    ++counters().notRecovered;
    s.offset = reply.offset;
  }
}

void SubscriberShard::markReady(uint32_t slot) {
  Subscriber& s = slots_[slot];
  if (isReady(slot)) return;
  if (isStalled(slot)) {
    s.stalledReady = true;
    ++counters().stalled;
    ++counters().readyNow;
    return;
  }
  s.trackers = std::make_unique<SeqTracker[]>(publishers_);
  ++counters().subscribers;
  ++counters().readyNow;
}

void SubscriberShard::onClientEnded(WsClient& c, Failure, int64_t) {
  if (c.slot() >= slots_.size() || !isReady(c.slot())) return;
  Subscriber& s = slots_[c.slot()];
  if (!s.awaiting) --counters().readyNow;
  s.awaiting = false;
  if (!s.stalledReady) return;
  Counters& n = counters();
  if (s.firstCloseCode == 0) {
    ++n.stalledDropped;
  } else if (s.firstCloseCode == ws::kNormal && stopped()) {
    ++n.stalledKept;  // the server only answered the bench's close
  } else {
    ++n.stalledCutOff;
    n.stalledCloseCode.add(s.firstCloseCode);
  }
}

void SubscriberShard::onSlotFree(uint32_t slot, bool, Failure f) {
  if (!context().options->reconnect || stopped() || f == Failure::kCount) return;
  if (slot >= slots_.size() || !slots_[slot].trackers) return;
  ++slots_[slot].turn;
  retry_.push_back(slot);
}

void SubscriberShard::onTick(int64_t) {
  if (retry_.empty() || stopped()) return;
  for (uint32_t slot : retry_) {
    ++counters().reconnects;
    queueLaunch(slot);
  }
  retry_.clear();
  launchMore();
}

void SubscriberShard::onStop() {
  retry_.clear();
  // Stalled subscribers read what reached them, then take part in the close handshake. A
  // normal receive buffer again first, so the backlog comes in large reads.
  const int bytes = 1 << 20;
  for (WsClient* c : clients()) {
    if (c == nullptr || !isStalled(c->slot())) continue;
    ::setsockopt(c->fd(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    c->resumeReading();
  }
}

void SubscriberShard::deliver(uint32_t slot, std::string_view payload, int64_t nowNs) {
  Counters& c = counters();
  Subscriber& s = slots_[slot];
  if (context().options->reconnect) {
    uint64_t offset = 0;
    if (messageOffset(payload, &offset) && offset > s.offset) s.offset = offset;
  }
  const uint32_t channel = channelOf(slot);
  size_t pos = 0;
  Marker m;
  bool any = false;
  const uint64_t deliveriesBefore = c.deliveries;
  while (findMarker(payload, &pos, &m, &c.malformed)) {
    any = true;
    if (!s.trackers || m.publisher >= publishers_ || m.seq == 0) {
      ++c.malformed;
      continue;
    }
    if (m.channel != channel) {
      ++c.wrongChannel;
      continue;
    }
    ++c.deliveries;
    switch (s.trackers[m.publisher].record(m.seq)) {
      case SeqTracker::Verdict::kInOrder:
        ++c.unique;
        break;
      case SeqTracker::Verdict::kLate:
        ++c.unique;
        ++c.late;
        break;
      case SeqTracker::Verdict::kDuplicate:
        ++c.duplicates;
        break;
      case SeqTracker::Verdict::kBeyondWindow:
        ++c.unique;
        ++c.late;
        ++c.beyondWindow;
        break;
    }
    liveStats().latency.record(nowNs > m.sentNs ? static_cast<uint64_t>(nowNs - m.sentNs) : 0);
    if (c.firstDeliveryNs == 0) c.firstDeliveryNs = nowNs;
    c.lastDeliveryNs = nowNs;
  }
  if (DeliveryLedger* ledger = context().ledger; ledger != nullptr)
    ledger->add(ledgerSlot_, c.deliveries - deliveriesBefore);
  if (any) {
    ++c.received;
  } else {
    ++c.otherFrames;
  }
}

void SubscriberShard::finish(std::span<const uint64_t> expected) {
  Counters& c = stats().c;
  const uint32_t channels = context().options->channels.count();
  for (uint32_t slot = 0; slot < slots_.size(); ++slot) {
    const Subscriber& s = slots_[slot];
    if (!s.trackers) continue;
    const uint32_t channel = channelOf(slot);
    for (uint32_t p = 0; p < publishers_; ++p) {
      const size_t at = size_t{p} * channels + channel;
      if (at >= expected.size()) break;
      c.expected += expected[at];
      c.lost += s.trackers[p].lostOf(expected[at]);
    }
  }
}

}  // namespace ringcast::bench
