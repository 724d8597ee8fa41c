#include "bench/client/publisher.h"

#include <cstring>

#include <fmt/core.h>

#include "bench/client/http_response.h"
#include "bench/client/marker.h"
#include "bench/client/ws_client.h"
#include "core/clock.h"
#include "ws/frame_writer.h"
#include "ws/mask.h"

namespace ringcast::bench {

// One HTTP publisher: POSTs pipelined on a keep-alive connection, answers read in order.
class HttpPublishConnection final : public net::TcpConnection {
 public:
  HttpPublishConnection(net::EventLoop* loop, int fd, PublisherShard* shard, uint32_t publisher)
      : TcpConnection(loop, fd), shard_(shard), publisher_(publisher) {}
  uint32_t publisher() const { return publisher_; }

 private:
  void onData(uint8_t* data, size_t len) override {
    const int64_t nowNs = monotonicNs();
    buffer_.append(reinterpret_cast<const char*>(data), len);
    while (start_ < buffer_.size()) {
      ResponseHead head;
      const std::string_view rest = std::string_view(buffer_).substr(start_);
      const ResponseParser::Result r = parser_.parse(rest, &head, false);
      if (r.status == ResponseParser::Status::kIncomplete) break;
      if (r.status == ResponseParser::Status::kError) {
        end(Failure::kProtocolError, 0);
        closeNow();
        return;
      }
      start_ += r.consumed;
      if (r.httpStatus >= 100 && r.httpStatus < 200) continue;  // an interim answer
      shard_->onAnswer(publisher_, r.httpStatus, nowNs);
      if (!isOpen()) return;
    }
    // Keep only the unanswered tail (the answers are small; this stays short).
    if (start_ == buffer_.size()) {
      buffer_.clear();
      start_ = 0;
    } else if (start_ > kCompactBytes) {
      buffer_.erase(0, start_);
      start_ = 0;
    }
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
    shard_->onHttpEnded(*this, f, detail);
  }

  static constexpr size_t kCompactBytes = 64 * 1024;
  PublisherShard* const shard_;
  const uint32_t publisher_;
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

std::string PublisherShard::buildImage(const Options& o, size_t* markerAt) {
  std::string body = o.publishBody;
  const size_t m = body.find("{marker}");
  body.replace(m, 8, std::string(kMarkerBytes, '#'));
  size_t bodyMarker = m;
  if (const size_t pad = body.find("{pad}"); pad != std::string::npos) {
    const size_t without = body.size() - 5;
    const size_t padBytes = o.sizeBytes > without ? o.sizeBytes - without : 0;
    body.replace(pad, 5, std::string(padBytes, 'x'));
    if (pad < m) bodyMarker = m - 5 + padBytes;
  }
  if (o.publishOverWs) {
    *markerAt = bodyMarker;
    return body;
  }
  const Url& u = o.publishUrl;
  std::string head =
      fmt::format("POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
                  u.target, u.hostHeader, o.contentType, body.size());
  for (const std::string& h : o.publishHeaders) head += h + "\r\n";
  head += "\r\n";
  *markerAt = head.size() + bodyMarker;
  return head + body;
}

PublisherShard::PublisherShard(net::EventLoop* loop, const WorkerContext* ctx, const Plan& plan)
    : Shard(loop, ctx, plan),
      overWs_(ctx->options->publishOverWs),
      image_(buildImage(*ctx->options, &markerAt_)),
      pool_(static_cast<uint32_t>(overWs_ ? maskedFrameBytes(image_.size()) : image_.size())),
      pubs_(plan.slots) {
  for (Pub& p : pubs_) p.sentNs.reset(new int64_t[ctx->options->publishInflight]);
  if (ctx->options->ratePerSec > 0) setTickUs(1000);
}

PublisherShard::~PublisherShard() = default;

std::vector<uint64_t> PublisherShard::expected() const {
  std::vector<uint64_t> out;
  for (const Pub& p : pubs_) out.push_back(overWs_ ? p.seq : p.acked);
  return out;
}

void PublisherShard::onDialed(int fd, uint32_t slot, int64_t startNs) {
  if (overWs_) {
    Shard::onDialed(fd, slot, startNs);
    return;
  }
  Counters& c = counters();
  --c.pending;
  ++c.opened;
  ++c.openNow;
  liveStats().connect.record(static_cast<uint64_t>(monotonicNs() - startNs));
  pubs_[slot].conn = new HttpPublishConnection(loop_, fd, this, slot);  // owned by the loop
  startTransport(pubs_[slot].conn);
}

void PublisherShard::onHttpEnded(HttpPublishConnection& conn, Failure f, int32_t detail) {
  Pub& p = pubs_[conn.publisher()];
  Counters& c = counters();
  --c.openNow;
  if (!stopped()) countFailure(f, detail);
  c.publishUnanswered += p.inflight;
  c.publishInflight -= p.inflight;
  p.inflight = 0;
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
  for (uint32_t p = 0; p < pubs_.size(); ++p) fill(p);
}

void PublisherShard::onStop() {}

bool PublisherShard::hasRoom(const Pub& p) const {
  if (p.conn == nullptr || !p.conn->isOpen()) return false;
  const uint64_t limit = context().options->messages;
  if (limit > 0 && stats().c.published >= limit) return false;
  if (overWs_) return p.conn->queuedBytes() < kWsWindowBytes;
  return p.inflight < context().options->publishInflight;
}

void PublisherShard::fill(uint32_t publisher) {
  if (!running() || budget_.limited()) return;
  const int64_t nowNs = monotonicNs();
  while (hasRoom(pubs_[publisher])) publishOne(publisher, nowNs);
}

void PublisherShard::onTick(int64_t nowNs) {
  if (!running() || !budget_.limited()) return;
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
}

void PublisherShard::publishOne(uint32_t publisher, int64_t nowNs) {
  Pub& p = pubs_[publisher];
  SharedFrame* f = pool_.take();
  uint8_t* out = f->mutableData();
  const Marker marker{publisher, ++p.seq, nowNs};
  if (overWs_) {
    const uint32_t key32 = static_cast<uint32_t>(random().next());
    const uint8_t key[4] = {static_cast<uint8_t>(key32 >> 24), static_cast<uint8_t>(key32 >> 16),
                            static_cast<uint8_t>(key32 >> 8), static_cast<uint8_t>(key32)};
    const size_t header = ws::encodeFrameHeader(out, ws::Opcode::kText, true, image_.size(), key);
    std::memcpy(out + header, image_.data(), image_.size());
    writeMarker(reinterpret_cast<char*>(out + header + markerAt_), marker);
    ws::applyMask(out + header, image_.size(), key, 0);
  } else {
    std::memcpy(out, image_.data(), image_.size());
    writeMarker(reinterpret_cast<char*>(out + markerAt_), marker);
    const uint32_t window = context().options->publishInflight;
    p.sentNs[(p.head + p.inflight) % window] = nowNs;
    ++p.inflight;
    ++counters().publishInflight;
  }
  p.conn->send(FramePool::share(f));
  ++counters().published;
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
  p.head = (p.head + 1) % window;
  --p.inflight;
  --c.publishInflight;
  if (status >= 200 && status < 300) {
    ++p.acked;
    ++c.acked;
  } else {
    ++c.publishErrors;
    c.publishStatus.add(status);
  }
  fill(publisher);
}

}  // namespace ringcast::bench
