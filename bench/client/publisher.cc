#include "bench/client/publisher.h"

#include <cstring>

#include <fmt/core.h>

#include "bench/client/delivery_ledger.h"
#include "bench/client/http_response.h"
#include "bench/client/marker.h"
#include "bench/client/worker.h"
#include "bench/client/ws_client.h"
#include "core/clock.h"
#include "ws/frame_writer.h"
#include "ws/mask.h"

namespace ringcast::bench {

// One HTTP or TCP publisher: requests pipelined on one connection, answers read in order
// (HTTP responses, or the TCP protocol's PONG and -ERR lines).
class PublishConnection final : public net::TcpConnection {
 public:
  PublishConnection(net::EventLoop* loop, int fd, PublisherShard* shard, uint32_t publisher,
                    bool tcp)
      : TcpConnection(loop, fd), shard_(shard), publisher_(publisher), tcp_(tcp) {}
  uint32_t publisher() const { return publisher_; }

 private:
  void onData(uint8_t* data, size_t len) override {
    const int64_t nowNs = monotonicNs();
    buffer_.append(reinterpret_cast<const char*>(data), len);
    while (start_ < buffer_.size() && isOpen()) {
      const std::string_view rest = std::string_view(buffer_).substr(start_);
      if (tcp_ ? !readLine(rest, nowNs) : !readResponse(rest, nowNs)) break;
    }
    if (!isOpen()) return;
    // Keep only the unanswered tail (the answers are small; this stays short).
    if (start_ == buffer_.size()) {
      buffer_.clear();
      start_ = 0;
    } else if (start_ > kCompactBytes) {
      buffer_.erase(0, start_);
      start_ = 0;
    }
  }
  // One HTTP response; false when it is incomplete or broken.
  bool readResponse(std::string_view rest, int64_t nowNs) {
    ResponseHead head;
    const ResponseParser::Result r = parser_.parse(rest, &head, false);
    if (r.status == ResponseParser::Status::kIncomplete) return false;
    if (r.status == ResponseParser::Status::kError) return broken();
    start_ += r.consumed;
    if (r.httpStatus < 100 || r.httpStatus >= 200)
      shard_->onAnswer(publisher_, r.httpStatus, nowNs);
    return true;
  }
  // One line of the TCP protocol: PONG or -ERR <reason>.
  bool readLine(std::string_view rest, int64_t nowNs) {
    const size_t eol = rest.find("\r\n");
    if (eol == std::string_view::npos) return rest.size() > kMaxLineBytes ? broken() : false;
    const std::string_view line = rest.substr(0, eol);
    start_ += eol + 2;
    if (line == "PONG") {
      shard_->onPong(publisher_, nowNs);
    } else if (line.starts_with("-ERR")) {
      shard_->onRefused(publisher_);
    } else {
      return broken();
    }
    return true;
  }
  bool broken() {
    end(Failure::kProtocolError, 0);
    closeNow();
    return false;
  }
  void onDeadline(int64_t) override { closeNow(); }
  void onClosed() override {
    const int err = errno;  // see WsClient::onClosed
    errno = 0;
    end(err == ECONNRESET || err == EPIPE ? Failure::kReset : Failure::kDropped, err);
  }
  void end(Failure f, int32_t detail) {
    if (ended_) return;
    ended_ = true;
    shard_->onConnectionEnded(*this, f, detail);
  }

  static constexpr size_t kCompactBytes = 64 * 1024;
  static constexpr size_t kMaxLineBytes = 1024;
  PublisherShard* const shard_;
  const uint32_t publisher_;
  const bool tcp_;
  std::string buffer_;  // answers not yet parsed, from start_
  size_t start_ = 0;
  ResponseParser parser_;
  bool ended_ = false;
};

namespace {

// A WebSocket publisher: publishes more whenever its queue was written out.
class WsPublishClient final : public WsClient {
 public:
  WsPublishClient(net::EventLoop* loop, int fd, PublisherShard* shard, uint32_t slot,
                  int64_t startNs)
      : WsClient(loop, fd, shard, slot, startNs), pub_(shard) {}

 private:
  void onDrained() override {
    if (isUp()) pub_->fill(slot());
  }
  PublisherShard* const pub_;
};

}  // namespace

PublisherShard::PublisherShard(net::EventLoop* loop, const WorkerContext* ctx, const Plan& plan)
    : Shard(loop, ctx, plan),
      via_(ctx->options->publishVia),
      channelCount_(ctx->options->channels.count()),
      pubs_(plan.slots),
      seq_(plan.slots * channelCount_, 0),
      acked_(plan.slots * channelCount_, 0),
      picker_(channelCount_, ctx->options->zipf, ctx->options->seed) {
  const Options& o = *ctx->options;
  for (const Url& target : o.publishTargets) {
    images_.emplace_back(o, target);
    const size_t bytes = images_.back().size();
    pools_.push_back(std::make_unique<FramePool>(
        static_cast<uint32_t>(via_ == PublishVia::kWs ? maskedFrameBytes(bytes) : bytes)));
  }
  for (uint32_t p = 0; p < pubs_.size(); ++p) {
    pubs_[p].target = static_cast<uint32_t>(p % o.publishTargets.size());
    if (via_ == PublishVia::kHttp) {
      pubs_[p].sentNs.reset(new int64_t[o.publishInflight]);
      pubs_[p].sentChannel.reset(new uint32_t[o.publishInflight]);
    }
  }
  pingEvery_ = std::max<uint32_t>(1, o.publishInflight / 4);
  if (ctx->ledger != nullptr) {
    readers_ = readersPerChannel(o);
    setTickUs(kWindowTickUs);
  } else if (o.ratePerSec > 0) {
    setTickUs(1000);
  }
}

PublisherShard::~PublisherShard() = default;

std::vector<uint64_t> PublisherShard::expected() const {
  return via_ == PublishVia::kHttp ? acked_ : seq_;
}

const sockets::Address& PublisherShard::addressOf(uint32_t slot) const {
  return context().options->publishTargets[pubs_[slot].target].address;
}

void PublisherShard::onDialed(int fd, uint32_t slot, int64_t startNs) {
  if (via_ == PublishVia::kWs) {
    Shard::onDialed(fd, slot, startNs);
    return;
  }
  Counters& c = counters();
  --c.pending;
  ++c.opened;
  ++c.openNow;
  liveStats().connect.record(static_cast<uint64_t>(monotonicNs() - startNs));
  // Owned by the loop.
  pubs_[slot].conn = new PublishConnection(loop_, fd, this, slot, via_ == PublishVia::kTcp);
  startTransport(pubs_[slot].conn);
}

void PublisherShard::onConnectionEnded(PublishConnection& conn, Failure f, int32_t detail) {
  Pub& p = pubs_[conn.publisher()];
  Counters& c = counters();
  --c.openNow;
  if (!stopped()) countFailure(f, detail);
  c.publishUnanswered += p.inflight;
  c.publishInflight -= p.inflight;
  p.inflight = 0;
  p.pings.clear();
  p.conn = nullptr;
}

WsClient* PublisherShard::createClient(int fd, uint32_t slot, int64_t startNs) {
  return new WsPublishClient(loop_, fd, this, slot, startNs);
}

void PublisherShard::onClientOpened(WsClient& c) {
  pubs_[c.slot()].conn = &c;
}

void PublisherShard::onClientEnded(WsClient& c, Failure, int64_t) {
  if (pubs_[c.slot()].conn == &c) pubs_[c.slot()].conn = nullptr;
}

void PublisherShard::onGo() {
  budget_.start(context().options->ratePerSec, monotonicNs());
  if (budget_.limited()) return;  // the ticks publish
  fillAll();
}

void PublisherShard::fillAll() {
  for (uint32_t p = 0; p < pubs_.size(); ++p) fill(p);
}

void PublisherShard::onStop() {
  // TCP: the end-of-run sync point; the coordinator waits for its PONG.
  if (via_ != PublishVia::kTcp) return;
  const int64_t nowNs = monotonicNs();
  for (uint32_t p = 0; p < pubs_.size(); ++p) {
    if (pubs_[p].unpinged > 0 && pubs_[p].conn != nullptr) sendPing(p, nowNs);
  }
}

bool PublisherShard::hasRoom(const Pub& p) const {
  if (p.conn == nullptr || !p.conn->isOpen()) return false;
  const uint64_t limit = context().options->messages;
  if (limit > 0 && stats().c.published >= limit) return false;
  if (windowed() && due_ - delivered_ >= context().options->deliveryWindow) return false;
  if (via_ == PublishVia::kWs) return p.conn->queuedBytes() < kWsWindowBytes;
  return p.inflight < context().options->publishInflight;
}

void PublisherShard::fill(uint32_t publisher) {
  if (!running() || budget_.limited()) return;
  const int64_t nowNs = monotonicNs();
  if (windowed()) delivered_ = context().ledger->total();
  while (hasRoom(pubs_[publisher])) publishOne(publisher, nowNs);
}

void PublisherShard::onTick(int64_t nowNs) {
  if (!running()) return;
  if (!budget_.limited()) {
    if (windowed()) fillAll();  // the subscribers may have made room
    return;
  }
  if (windowed()) delivered_ = context().ledger->total();
  uint64_t allowance = budget_.allowance(nowNs);
  uint32_t blocked = 0;  // publishers in a row without room
  while (allowance > 0 && blocked < pubs_.size()) {
    const uint32_t p = nextPub_;
    nextPub_ = nextPub_ + 1 == pubs_.size() ? 0 : nextPub_ + 1;
    if (!hasRoom(pubs_[p])) {
      ++blocked;
      continue;
    }
    blocked = 0;
    publishOne(p, nowNs);
    budget_.take();
    --allowance;
  }
  // Paced TCP publishing: confirm what was sent every tick, so nothing waits for a batch.
  if (via_ == PublishVia::kTcp) {
    for (uint32_t p = 0; p < pubs_.size(); ++p) {
      if (pubs_[p].unpinged > 0 && pubs_[p].conn != nullptr) sendPing(p, nowNs);
    }
  }
}

void PublisherShard::publishOne(uint32_t publisher, int64_t nowNs) {
  Pub& p = pubs_[publisher];
  const PublishImage& image = images_[p.target];
  const uint32_t channel = picker_.next();
  if (windowed()) due_ += readers_[channel];
  SharedFrame* f = pools_[p.target]->take();
  uint8_t* out = f->mutableData();
  const Marker marker{publisher, channel, ++seq_[size_t{publisher} * channelCount_ + channel],
                      nowNs};
  if (via_ == PublishVia::kWs) {
    const uint32_t key32 = static_cast<uint32_t>(random().next());
    const uint8_t key[4] = {static_cast<uint8_t>(key32 >> 24), static_cast<uint8_t>(key32 >> 16),
                            static_cast<uint8_t>(key32 >> 8), static_cast<uint8_t>(key32)};
    const size_t header = ws::encodeFrameHeader(out, ws::Opcode::kText, true, image.size(), key);
    char* payload = reinterpret_cast<char*>(out + header);
    std::memcpy(payload, image.bytes().data(), image.size());
    image.setChannel(payload, channel);
    writeMarker(payload + image.markerAt(), marker);
    ws::applyMask(out + header, image.size(), key, 0);
  } else {
    char* bytes = reinterpret_cast<char*>(out);
    std::memcpy(bytes, image.bytes().data(), image.size());
    image.setChannel(bytes, channel);
    writeMarker(bytes + image.markerAt(), marker);
    if (via_ == PublishVia::kHttp) {
      const uint32_t window = context().options->publishInflight;
      const uint32_t at = (p.head + p.inflight) % window;
      p.sentNs[at] = nowNs;
      p.sentChannel[at] = channel;
    }
    ++p.inflight;
    ++counters().publishInflight;
  }
  p.conn->send(FramePool::share(f));
  ++counters().published;
  if (via_ == PublishVia::kTcp &&
      (++p.unpinged >= pingEvery_ || p.inflight >= context().options->publishInflight)) {
    sendPing(publisher, nowNs);
  }
}

void PublisherShard::sendPing(uint32_t publisher, int64_t nowNs) {
  Pub& p = pubs_[publisher];
  p.pings.push_back({p.unpinged, nowNs});
  p.unpinged = 0;
  p.conn->sendCopy(std::string_view("PING\r\n"));
}

void PublisherShard::onPong(uint32_t publisher, int64_t nowNs) {
  Pub& p = pubs_[publisher];
  Counters& c = counters();
  if (p.pings.empty()) {
    ++c.publishErrors;  // an answer to nothing we sent
    return;
  }
  const Pub::Ping ping = p.pings.front();
  p.pings.pop_front();
  liveStats().latency.record(static_cast<uint64_t>(nowNs - ping.sentNs));
  p.inflight -= ping.commands;
  c.publishInflight -= ping.commands;
  c.acked += ping.commands;
  fill(publisher);
}

void PublisherShard::onRefused(uint32_t) {
  ++counters().publishErrors;
}

void PublisherShard::onAnswer(uint32_t publisher, int status, int64_t nowNs) {
  Pub& p = pubs_[publisher];
  Counters& c = counters();
  if (p.inflight == 0) {
    ++c.publishErrors;  // an answer to nothing we sent
    c.publishStatus.add(status);
    return;
  }
  const uint32_t window = context().options->publishInflight;
  liveStats().latency.record(static_cast<uint64_t>(nowNs - p.sentNs[p.head]));
  const uint32_t channel = p.sentChannel[p.head];
  p.head = (p.head + 1) % window;
  --p.inflight;
  --c.publishInflight;
  if (status >= 200 && status < 300) {
    ++acked_[size_t{publisher} * channelCount_ + channel];
    ++c.acked;
  } else {
    ++c.publishErrors;
    c.publishStatus.add(status);
  }
  fill(publisher);
}

}  // namespace ringcast::bench
