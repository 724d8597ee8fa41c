#include "bench/client/shard.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "bench/client/ws_client.h"
#include "core/clock.h"

namespace ringcast::bench {
namespace {

// A loop stops trying when this many attempts failed and none succeeded (a server that is
// down or refuses every upgrade ends the run in moments, not after every slot tried).
constexpr uint64_t kGiveUpAfterFailures = 16;
// Tick periods: 1 ms while pacing connects (the granularity of --ramp and --rate), else
// 20 ms, enough to expire connects in progress on time.
constexpr int64_t kPacingTickUs = 1000;
constexpr int64_t kIdleTickUs = 20'000;

void base64Of16(const uint8_t in[16], char out[24]) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < 15; i += 3) {
    const uint32_t v = uint32_t{in[i]} << 16 | uint32_t{in[i + 1]} << 8 | in[i + 2];
    out[o++] = kAlphabet[v >> 18 & 63];
    out[o++] = kAlphabet[v >> 12 & 63];
    out[o++] = kAlphabet[v >> 6 & 63];
    out[o++] = kAlphabet[v & 63];
  }
  const uint32_t v = uint32_t{in[15]} << 16;
  out[o++] = kAlphabet[v >> 18 & 63];
  out[o++] = kAlphabet[v >> 12 & 63];
  out[o++] = '=';
  out[o++] = '=';
}

}  // namespace

Failure failureOfErrno(int err) {
  switch (err) {
    case ECONNREFUSED:
      return Failure::kRefused;
    case ETIMEDOUT:
      return Failure::kConnectTimeout;
    case EADDRNOTAVAIL:
    case EADDRINUSE:
      return Failure::kNoLocalAddress;
    case EMFILE:
    case ENFILE:
      return Failure::kNoDescriptors;
    case ENETUNREACH:
    case EHOSTUNREACH:
      return Failure::kUnreachable;
    default:
      return Failure::kConnectError;
  }
}

Shard::Shard(net::EventLoop* loop, const WorkerContext* ctx, const Plan& plan)
    : loop_(loop),
      ctx_(ctx),
      plan_(plan),
      random_(static_cast<uint64_t>(monotonicNs()) ^ (uint64_t(::getpid()) << 32) ^
              (uint64_t(loop->id()) << 48)),
      dialer_(loop, ctx->target->address, ctx->options->sources, plan.firstSource,
              ctx->options->timeoutMs, this),
      ticker_(loop, [this] { tick(); }),
      clients_(plan.slots, nullptr) {}

Shard::~Shard() = default;

void Shard::start() {
  loop_->assertInLoopThread();
  connectBudget_.start(plan_.ratePerSec, monotonicNs());
  setTickUs(minTickUs_);
  if (ctx_->options->mode == Mode::kHandshake) return;  // attempts begin at go()
  toLaunch_.reserve(plan_.slots);
  for (uint64_t s = plan_.slots; s > 0; --s) queueLaunch(static_cast<uint32_t>(s - 1));
  launchMore();
}

void Shard::go() {
  loop_->assertInLoopThread();
  running_ = true;
  measuring_ = true;
  // Handshake mode paces its attempts from now, not from the start of the process.
  if (ctx_->options->mode == Mode::kHandshake)
    connectBudget_.start(plan_.ratePerSec, monotonicNs());
  onGo();
}

void Shard::stop() {
  loop_->assertInLoopThread();
  running_ = false;
  measuring_ = false;
  stopped_ = true;
  stats_.c.pending -= toLaunch_.size();
  toLaunch_.clear();
  onStop();
  for (WsClient* c : clients_) {
    if (c != nullptr) c->closeWs(1000);
  }
}

void Shard::requestSnapshot() {
  loop_->queueInLoop([this] { publishSnapshot(); });
}

void Shard::publishSnapshot() {
  std::lock_guard<std::mutex> lock(snapshotMutex_);
  snapshot_ = stats_.c;
  published_ = true;
}

bool Shard::snapshot(Counters* out) const {
  std::lock_guard<std::mutex> lock(snapshotMutex_);
  *out = snapshot_;
  return published_;
}

std::string Shard::upgradeRequest(uint32_t slot, std::string* key) {
  uint8_t raw[16];
  const uint64_t a = random_.next(), b = random_.next();
  for (int i = 0; i < 8; ++i) {
    raw[i] = static_cast<uint8_t>(a >> (8 * i));
    raw[8 + i] = static_cast<uint8_t>(b >> (8 * i));
  }
  char encoded[24];
  base64Of16(raw, encoded);
  key->assign(encoded, sizeof encoded);
  std::string request = upgradeHeadOf(slot);
  request += "Sec-WebSocket-Key: ";
  request += *key;
  request += "\r\n\r\n";
  return request;
}

void Shard::launchMore() {
  if (toLaunch_.empty()) return;
  const int64_t nowNs = monotonicNs();
  uint64_t allowance = connectBudget_.allowance(nowNs);
  while (!toLaunch_.empty() && allowance > 0 &&
         dialer_.inProgress() + handshaking_ < plan_.concurrency) {
    const uint32_t slot = toLaunch_.back();
    toLaunch_.pop_back();
    connectBudget_.take();
    --allowance;
    ++stats_.c.attempts;
    if (int err = dialer_.dial(slot, nowNs, addressOf(slot)); err != 0) {
      --stats_.c.pending;
      countFailure(failureOfErrno(err), err);
      onSlotFree(slot, false, failureOfErrno(err));
      maybeGiveUp();
    }
  }
}

WsClient* Shard::createClient(int fd, uint32_t slot, int64_t startNs) {
  return new WsClient(loop_, fd, this, slot, startNs);
}

void Shard::onDialed(int fd, uint32_t slot, int64_t startNs) {
  ++handshaking_;
  startTransport(createClient(fd, slot, startNs));  // owned by the loop from here on
}

void Shard::startTransport(net::TcpConnection* conn) const {
  if (ctx_->tls == nullptr) return;
  conn->startTls(*ctx_->tls, net::TlsSession::Role::kClient, ctx_->target->host);
}

void Shard::onDialFailed(uint32_t slot, int err, int64_t) {
  --stats_.c.pending;
  countFailure(failureOfErrno(err), err);
  onSlotFree(slot, false, failureOfErrno(err));
  maybeGiveUp();
  launchMore();
}

void Shard::clientOpened(WsClient& c, int64_t nowNs) {
  --handshaking_;
  --stats_.c.pending;
  ++stats_.c.opened;
  ++stats_.c.openNow;
  stats_.connect.record(static_cast<uint64_t>(nowNs - c.startNs()));
  if (c.slot() < clients_.size()) clients_[c.slot()] = &c;
  if (stopped_) {
    c.closeWs(1000);  // finished its upgrade after the run ended
    return;
  }
  onClientOpened(c);
  launchMore();
}

void Shard::clientEnded(WsClient& c, Failure f, int32_t detail, int64_t nowNs) {
  const bool wasOpen = c.openedNs() != 0;
  if (wasOpen) {
    --stats_.c.openNow;
    if (c.slot() < clients_.size() && clients_[c.slot()] == &c) clients_[c.slot()] = nullptr;
    if (f != Failure::kCount && !stopped_) {
      stats_.lifetime.record(static_cast<uint64_t>((nowNs - c.openedNs()) / 1'000'000));
    }
  } else {
    --handshaking_;
    --stats_.c.pending;
  }
  if (f == Failure::kCount) {
    ++stats_.c.closedOk;
  } else {
    countFailure(f, detail);
  }
  onClientEnded(c, f, nowNs);
  onSlotFree(c.slot(), wasOpen, f);
  if (!wasOpen) maybeGiveUp();
  launchMore();
}

void Shard::countFailure(Failure f, int32_t detail) {
  ++stats_.c.failures[static_cast<size_t>(f)];
  switch (f) {
    case Failure::kRejected:
      stats_.c.rejectedStatus.add(detail);
      break;
    case Failure::kConnectError:
      stats_.c.connectErrno.add(detail);
      break;
    case Failure::kServerClosed:
      stats_.c.serverCloseCode.add(detail);
      break;
    default:
      break;
  }
}

void Shard::maybeGiveUp() {
  if (stats_.c.opened != 0 || stats_.c.gaveUp != 0) return;
  const uint64_t threshold =
      ctx_->options->mode == Mode::kHandshake
          ? kGiveUpAfterFailures
          : std::min<uint64_t>(kGiveUpAfterFailures, std::max<uint64_t>(plan_.slots, 1));
  if (stats_.c.failed() < threshold) return;
  stats_.c.gaveUp = 1;
  stats_.c.pending -= toLaunch_.size();
  toLaunch_.clear();
  running_ = false;
}

void Shard::setTickUs(int64_t periodUs) {
  minTickUs_ = periodUs;
  const int64_t own = plan_.ratePerSec > 0 ? kPacingTickUs : kIdleTickUs;
  ticker_.setPeriodUs(periodUs > 0 && periodUs < own ? periodUs : own);
}

void Shard::tick() {
  dialer_.expire(loop_->nowMs());
  launchMore();
  onTick(monotonicNs());
}

}  // namespace ringcast::bench
