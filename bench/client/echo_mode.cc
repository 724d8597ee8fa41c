#include "bench/client/echo_mode.h"

#include "core/clock.h"

namespace ringcast::bench {
namespace {

class EchoClient final : public WsClient {
 public:
  EchoClient(net::EventLoop* loop, int fd, EchoShard* shard, uint32_t slot, int64_t startNs)
      : WsClient(loop, fd, shard, slot, startNs),
        echo_(shard),
        sentNs_(new int64_t[shard->inflight()]) {}

  // Fills the window: `inflight` messages.
  void startSending() {
    while (outstanding_ < echo_->inflight()) sendNext();
  }

 private:
  void sendNext() {
    echo_->sendOne(*this);
    const uint32_t at = (head_ + outstanding_) % echo_->inflight();
    sentNs_[at] = 0;  // stamped when the write completes (onDrained)
    ++outstanding_;
    ++unstamped_;
    ++shard_->counters().sent;
  }

  // The queue was written out: the messages queued since the last write left just now.
  // (Stamping at the write, not at queueing, keeps the loop's own work in this iteration
  // out of the round-trip time.)
  void onDrained() override {
    if (unstamped_ == 0) return;
    const int64_t now = monotonicNs();
    for (uint32_t i = outstanding_ - unstamped_; i < outstanding_; ++i) {
      sentNs_[(head_ + i) % echo_->inflight()] = now;
    }
    unstamped_ = 0;
  }

  void onWsMessage(ws::Opcode op, std::string_view payload, int64_t nowNs) override {
    Counters& c = shard_->counters();
    if (outstanding_ == 0) {
      ++c.otherFrames;
      return;
    }
    const int64_t sent = sentNs_[head_];
    head_ = (head_ + 1) % echo_->inflight();
    --outstanding_;
    if (unstamped_ > outstanding_) unstamped_ = outstanding_;
    if (!shard_->measuring()) return;
    if (op != echo_->opcode() || payload.size() != echo_->payload().size()) ++c.badEchoes;
    ++c.received;
    // A reply that overtook its own write completion (partial write) counts from now.
    shard_->liveStats().latency.record(sent != 0 && nowNs > sent ? uint64_t(nowNs - sent) : 0);
    sendNext();
  }

  EchoShard* const echo_;
  std::unique_ptr<int64_t[]> sentNs_;  // ring of `inflight` send times, oldest at head_
  uint32_t head_ = 0;
  uint32_t outstanding_ = 0;
  uint32_t unstamped_ = 0;  // the newest this many entries wait for their write
};

// Printable bytes, so a text echo is valid UTF-8.
std::string makePayload(uint64_t size) {
  std::string p(size, 'x');
  for (uint64_t i = 0; i < size; ++i) p[i] = static_cast<char>('a' + i % 26);
  return p;
}

}  // namespace

EchoShard::EchoShard(net::EventLoop* loop, const WorkerContext* ctx, const Plan& plan)
    : Shard(loop, ctx, plan),
      payload_(makePayload(ctx->options->sizeBytes)),
      opcode_(ctx->options->binary ? ws::Opcode::kBinary : ws::Opcode::kText),
      inflight_(ctx->options->inflight),
      pool_(static_cast<uint32_t>(maskedFrameBytes(payload_.size()))) {}

WsClient* EchoShard::createClient(int fd, uint32_t slot, int64_t startNs) {
  return new EchoClient(loop_, fd, this, slot, startNs);
}

void EchoShard::sendOne(WsClient& c) {
  SharedFrame* f = pool_.take();
  writeMaskedFrame(f->mutableData(), opcode_, payload_, static_cast<uint32_t>(random().next()));
  c.send(FramePool::share(f));
}

void EchoShard::onGo() {
  for (WsClient* c : clients()) {
    if (c != nullptr) static_cast<EchoClient*>(c)->startSending();
  }
}

void EchoShard::onClientOpened(WsClient& c) {
  if (running()) static_cast<EchoClient&>(c).startSending();
}

}  // namespace ringcast::bench
