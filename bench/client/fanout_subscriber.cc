#include "bench/client/fanout_subscriber.h"

#include <cstring>

#include "bench/client/marker.h"
#include "bench/client/ws_client.h"

namespace ringcast::bench {
namespace {

class SubscriberClient final : public WsClient {
 public:
  SubscriberClient(net::EventLoop* loop, int fd, SubscriberShard* shard, uint32_t slot,
                   int64_t startNs)
      : WsClient(loop, fd, shard, slot, startNs), sub_(shard) {}

 private:
  void onOpen(int64_t) override {
    const Options& o = *shard_->context().options;
    if (!o.firstMessage.empty()) sendTextCopy(o.firstMessage);
    if (o.readyMatch.empty()) sub_->markReady(slot());
  }

  void onWsMessage(ws::Opcode, std::string_view payload, int64_t nowNs) override {
    if (!sub_->isReady(slot())) {
      const std::string& match = shard_->context().options->readyMatch;
      if (::memmem(payload.data(), payload.size(), match.data(), match.size()) != nullptr) {
        sub_->markReady(slot());
      }
    }
    sub_->deliver(slot(), payload, nowNs);
  }

  SubscriberShard* const sub_;
};

}  // namespace

SubscriberShard::SubscriberShard(net::EventLoop* loop, const WorkerContext* ctx, const Plan& plan)
    : Shard(loop, ctx, plan), publishers_(ctx->options->publishConns), slots_(plan.slots) {}

WsClient* SubscriberShard::createClient(int fd, uint32_t slot, int64_t startNs) {
  return new SubscriberClient(loop_, fd, this, slot, startNs);
}

void SubscriberShard::markReady(uint32_t slot) {
  Subscriber& s = slots_[slot];
  if (s.trackers) return;
  s.trackers = std::make_unique<SeqTracker[]>(publishers_);
  ++counters().subscribers;
  ++counters().readyNow;
}

void SubscriberShard::onClientEnded(WsClient& c, Failure, int64_t) {
  if (c.slot() < slots_.size() && slots_[c.slot()].trackers) --counters().readyNow;
}

void SubscriberShard::deliver(uint32_t slot, std::string_view payload, int64_t nowNs) {
  Counters& c = counters();
  Subscriber& s = slots_[slot];
  size_t pos = 0;
  Marker m;
  bool any = false;
  while (findMarker(payload, &pos, &m, &c.malformed)) {
    any = true;
    if (!s.trackers || m.publisher >= publishers_ || m.seq == 0) {
      ++c.malformed;
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
  if (any) {
    ++c.received;
  } else {
    ++c.otherFrames;
  }
}

void SubscriberShard::finish(std::span<const uint64_t> expected) {
  Counters& c = stats().c;
  for (const Subscriber& s : slots_) {
    if (!s.trackers) continue;
    for (uint32_t p = 0; p < publishers_ && p < expected.size(); ++p) {
      c.expected += expected[p];
      c.lost += s.trackers[p].lostOf(expected[p]);
    }
  }
}

}  // namespace ringcast::bench
