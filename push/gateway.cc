#include "push/gateway.h"

#include <signal.h>
#include <unistd.h>

#include <cassert>
#include <chrono>
#include <cstdio>
#include <future>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "net/socket_ops.h"
#include "push/demo_assets.h"
#include "push/origin.h"

namespace ringcast::push {
namespace {

// Descriptors kept back from the connection budget: listeners, epoll and eventfds, logs,
// the spare fd of each acceptor.
constexpr uint64_t kReservedFds = 64;

constexpr std::string_view kWsBusy =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 24\r\nConnection: close\r\n\r\n"
    "too many connections\r\n\r\n";
constexpr std::string_view kPublishBusy = "-ERR too many connections\r\n";

// Refuses a socket just accepted over a cap: `answer` (nothing for a TLS listener, whose
// client would not understand a plain one), then close. The answer is far smaller than a
// fresh socket's send buffer, so the non-blocking write does not wait.
void refuseOverCap(int fd, std::string_view answer) {
  if (!answer.empty()) {
    ssize_t ignored = ::write(fd, answer.data(), answer.size());
    (void)ignored;
  }
  ::close(fd);
}

}  // namespace

Gateway::Gateway(const Flags& flags) : flags_(flags) {
  wsOptions_.httpLimits = http::Limits{};
  wsOptions_.httpLimits.maxBodyBytes = 0;  // an upgrade request has no body
  wsOptions_.frameLimits.maxMessageBytes = flags_.maxMessageBytes;
  wsOptions_.maxOutbufBytes = flags_.maxOutbufBytes;
  wsOptions_.handshakeTimeoutMs = flags_.handshakeTimeoutMs;
  wsOptions_.pingIntervalMs = flags_.pingIntervalMs;
  wsOptions_.pongTimeoutMs = flags_.pongTimeoutMs;
  wsOptions_.idleTimeoutMs = flags_.idleTimeoutMs;
  wsOptions_.closeTimeoutMs = flags_.closeTimeoutMs;
  wsOptions_.handshake.perMessageDeflate = flags_.compression == "on";
  wsOptions_.compressionMinBytes = flags_.compressionMinBytes;
  wsOptions_.compressionLevel = flags_.compressionLevel;
  wsOptions_.handshake.originAllowed = [this](std::string_view origin, std::string_view host) {
    return originAllowed(origin, host);
  };
  if (flags_.echo) wsOptions_.endpoints.emplace_back("/echo", &echo_);
  for (const DemoAsset& asset : demoAssets()) {
    const http::Header headers[] = {{"Content-Type", asset.contentType},
                                    {"Cache-Control", "no-cache"},
                                    {"Content-Security-Policy", kDemoContentSecurityPolicy},
                                    {"X-Content-Type-Options", "nosniff"}};
    std::string response;
    http::appendResponse(response, 200, headers, asset.body, false);
    wsOptions_.pages.emplace_back(std::string(asset.path), std::move(response));
  }

  apiOptions_.apiKey = flags_.apiKey;
  apiOptions_.limits.maxBodyBytes = flags_.maxMessageBytes;
  apiOptions_.closeTimeoutMs = flags_.closeTimeoutMs;
  apiOptions_.requestTimeoutMs = flags_.apiRequestTimeoutMs;
  apiCap_.setMax(static_cast<uint64_t>(flags_.apiMaxConnections));
  http::appendResponse(apiBusy_, 503, {{http::Header{"Content-Type", "application/json"}}},
                       errorJson("overloaded", "too many API connections (--api-max-connections)"),
                       false);
  publishCap_.setMax(static_cast<uint64_t>(flags_.publishMaxConnections));
  publishOptions_.idleTimeoutMs = flags_.publishIdleTimeoutMs;
  apiOptions_.refusals = &refusals_;
  publishOptions_.refusals = &refusals_;
  publishOptions_.maxPayloadBytes = flags_.maxMessageBytes;
  publishOptions_.closeTimeoutMs = flags_.closeTimeoutMs;
  publishOptions_.apiKey = flags_.apiKey;
  pushOptions_.jwtSecret = flags_.jwtSecret;
  pushOptions_.tokenClaims.audience = flags_.jwtAudience;
  pushOptions_.tokenClaims.issuer = flags_.jwtIssuer;
  pushOptions_.maxSubscriptions = static_cast<uint32_t>(flags_.maxSubscriptions);
  pushOptions_.commandRate = {flags_.commandRate, flags_.commandBurst};
}

Gateway::~Gateway() = default;

bool Gateway::originAllowed(std::string_view origin, std::string_view host) const {
  std::optional<WebOrigin> parsed = parseOrigin(origin);
  if (flags_.allowedOrigins.empty()) {
    if (!parsed) return false;
    return sameServer(*parsed, host, tls_ != nullptr) ||
           (flags_.dev && isLoopbackHost(parsed->host));
  }
  for (const std::string& allowed : flags_.allowedOrigins) {
    if (allowed == "*") return true;
    if (parsed && parseOrigin(allowed) == parsed) return true;
  }
  return false;
}

size_t Gateway::liveConnections() const {
  size_t total = 0;
  for (int i = 0; i < loops_->size(); ++i) total += loops_->loop(i).connectionCount();
  return total;
}

void Gateway::acceptWebSocket(net::EventLoop& loop, int fd) {
  if (liveConnections() >= maxConnections_) {
    refuseOverCap(fd, tls_ == nullptr ? kWsBusy : std::string_view());
    return;
  }
  auto* conn = new ws::WsConnection(&loop, fd, &wsOptions_);  // owned by the loop from here on
  if (tls_ != nullptr) startServerTls(conn);
}

void Gateway::acceptApi(net::EventLoop& loop, int fd) {
  net::ConnectionCap::Slot slot = apiCap_.tryTake();
  if (!slot) {
    refusals_.count(PortRefusals::kApiConnections);
    refuseOverCap(fd, flags_.apiTls ? std::string_view() : std::string_view(apiBusy_));
    return;
  }
  net::TcpConnection* conn =
      acceptApiConnection(loop, fd, engine_.get(), &apiOptions_, std::move(slot));
  if (flags_.apiTls) startServerTls(conn);
}

void Gateway::acceptPublish(net::EventLoop& loop, int fd) {
  net::ConnectionCap::Slot slot = publishCap_.tryTake();
  if (!slot) {
    refusals_.count(PortRefusals::kPublishConnections);
    refuseOverCap(fd, kPublishBusy);
    return;
  }
  acceptPublishConnection(loop, fd, engine_.get(), &publishOptions_, std::move(slot));
}

void Gateway::startServerTls(net::TcpConnection* conn) {
  // The handshake counts against --handshake-timeout, armed when the connection was made.
  conn->startTls(*tls_->current(), net::TlsSession::Role::kServer);
}

void Gateway::reloadTls() {
  if (tls_ == nullptr) {
    RC_LOG_INFO("SIGHUP: no --tls-cert, nothing to reload");
    return;
  }
  std::string error;
  if (tls_->reload(&error)) {
    RC_LOG_INFO("SIGHUP: reloaded {} and {}; new connections use them", tls_->options().certFile,
                tls_->options().keyFile);
  } else {
    RC_LOG_ERROR("SIGHUP: reload failed, keeping the previous certificate: {}", error);
  }
}

bool Gateway::bindListener(Listener& l, int threads) {
  sockets::Address address;
  if (!sockets::parseAddress(l.address, &address)) {
    std::fprintf(stderr, "ringcast: %s: '%s' is not ADDR:PORT (example: 127.0.0.1:8080)\n",
                 l.flag.c_str(), l.address.c_str());
    return false;
  }
  // Bind the first socket to learn the port (it may be 0), then the others to that port.
  l.fds.push_back(sockets::listenReusePortOrDie(address));
  address = sockets::localAddress(l.fds[0]);
  for (int i = 1; i < threads; ++i) l.fds.push_back(sockets::listenReusePortOrDie(address));
  l.address = address.toString();
  return true;
}

int Gateway::run() {
  if (!flags_.tlsCert.empty()) {
    tls_ = net::TlsCredentials::loadOrDie({flags_.tlsCert, flags_.tlsKey, flags_.ktls == "on"});
  }
  uint64_t fdLimit = sockets::raiseOpenFileLimit();
  uint64_t capacity = fdLimit > kReservedFds ? fdLimit - kReservedFds : 1;
  maxConnections_ = flags_.maxConnections > 0
                        ? std::min<uint64_t>(static_cast<uint64_t>(flags_.maxConnections), capacity)
                        : capacity;
  const int threads = flags_.threads > 0 ? flags_.threads : net::LoopGroup::availableCpus();

  loops_ = std::make_unique<net::LoopGroup>(threads);
  std::vector<net::EventLoop*> loopPtrs;
  for (int i = 0; i < threads; ++i) loopPtrs.push_back(&loops_->loop(i));
  FanoutOptions fo;
  fo.ringCapacity = flags_.ringSize;
  fo.maxOutbufBytes = flags_.maxOutbufBytes;
  fo.dropOldest = flags_.slowConsumer == "drop-oldest";
  fo.compression = flags_.compression == "on";
  fo.compressionMinBytes = flags_.compressionMinBytes;
  fo.compressionLevel = flags_.compressionLevel;
  fanout_ = std::make_unique<Fanout>(std::move(loopPtrs), fo);
  const MemoryLimit memoryLimit = flags_.maxMemoryBytes > 0
                                      ? MemoryLimit{flags_.maxMemoryBytes, "--max-memory"}
                                      : detectMemoryLimit();
  memory_ = std::make_unique<MemoryGuard>(memoryLimit.bytes);
  memory_->measure();  // high() is right from the first request, on any loop
  MemoryEngineOptions mo;
  mo.historySize = flags_.historySize;
  mo.historyTtlMs = flags_.historyTtlMs;
  mo.historyBudgetBytes = flags_.maxHistoryMemoryBytes > 0
                              ? flags_.maxHistoryMemoryBytes
                              : memoryLimit.bytes / 100 * kHistoryShareOfMemoryPercent;
  if (flags_.redis.empty()) {
    engine_ = std::make_unique<MemoryEngine>(fanout_.get(), mo);
  } else {
    RedisEngineOptions ro;
    ro.addresses = flags_.redis;
    ro.prefix = flags_.redisPrefix;
    ro.nodeId = flags_.nodeId;
    ro.presenceTtlMs = flags_.presenceTtlMs;
    ro.historySize = flags_.historySize;
    ro.historyTtlMs = flags_.historyTtlMs;
    for (const std::string& a : ro.addresses) {
      sockets::Address parsed;
      if (!sockets::parseAddress(a, &parsed)) {
        std::fprintf(stderr, "ringcast: --redis: '%s' is not HOST:PORT (example: 127.0.0.1:6379)\n",
                     a.c_str());
        return 2;
      }
    }
    engine_ = std::make_unique<RedisEngine>(fanout_.get(), ro);
  }
  fanout_->setEngine(engine_.get());
  engine_->setMemoryGuard(memory_.get());
  push_ = std::make_unique<PushEndpoint>(engine_.get(), &pushOptions_);
  wsOptions_.endpoints.emplace_back("/ws", push_.get());

  listeners_.push_back({"ws",
                        "--listen",
                        flags_.listen,
                        [this](net::EventLoop& loop, int fd) { acceptWebSocket(loop, fd); },
                        {}});
  listeners_.push_back({"api",
                        "--api-listen",
                        flags_.apiListen,
                        [this](net::EventLoop& loop, int fd) { acceptApi(loop, fd); },
                        {}});
  listeners_.push_back({"publish",
                        "--publish-listen",
                        flags_.publishListen,
                        [this](net::EventLoop& loop, int fd) { acceptPublish(loop, fd); },
                        {}});
  for (Listener& l : listeners_) {
    if (!bindListener(l, threads)) return 2;
  }
  // The API answers to the address it is bound to (its port is known only now).
  std::string accessError;
  const Listener& api = listeners_[1];
  assert(api.name == "api");
  if (!buildApiAccessRules(api.address, flags_.apiAllowedOrigins, flags_.apiHosts,
                           &apiOptions_.access, &accessError)) {
    std::fprintf(stderr, "ringcast: %s\n", accessError.c_str());
    return 2;
  }

  std::printf("%s", formatFlags(flags_).c_str());
  std::printf("open-file limit %llu: up to %llu connections\n",
              static_cast<unsigned long long>(fdLimit),
              static_cast<unsigned long long>(maxConnections_));
  std::printf("loops %d\n", threads);
  std::printf("memory limit %llu MiB (%s)",
              static_cast<unsigned long long>(memoryLimit.bytes >> 20), memoryLimit.source.c_str());
  if (flags_.redis.empty()) {
    std::printf(", history budget %llu MiB",
                static_cast<unsigned long long>(mo.historyBudgetBytes >> 20));
  }
  std::printf("\n");
  if (flags_.dev) {
    std::printf(
        "DEV MODE: --dev, clients name themselves with ?user=NAME and may publish anywhere\n");
  }
  for (const std::string& warning : flagWarnings(flags_)) std::printf("%s\n", warning.c_str());
  const char* scheme = tls_ != nullptr ? "wss" : "ws";
  if (flags_.echo) {
    std::printf("echo endpoint %s://%s/echo\n", scheme, listeners_[0].address.c_str());
  }
  for (const Listener& l : listeners_) {
    std::printf("listen %s %s\n", l.name.c_str(), l.address.c_str());
  }
  std::fflush(stdout);

  acceptors_.resize(static_cast<size_t>(threads) * listeners_.size());
  loops_->start([this](net::EventLoop& loop) {
    fanout_->attachLoop(loop);
    engine_->attachLoop(loop);
    if (loop.id() == 0) memory_->start(loop);
    const size_t i = static_cast<size_t>(loop.id());
    for (size_t k = 0; k < listeners_.size(); ++k) {
      AcceptFn* accept = &listeners_[k].accept;
      acceptors_[i * listeners_.size() + k] = std::make_unique<net::Acceptor>(
          &loop, listeners_[k].fds[i],
          [accept, &loop](int fd, const sockets::Address&) { (*accept)(loop, fd); });
    }
  });

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  int sig = 0;
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) reloadTls();
  RC_LOG_INFO("{}: draining {} connections (up to {} ms)", sig == SIGINT ? "SIGINT" : "SIGTERM",
              liveConnections(), flags_.drainTimeoutMs);
  drain();
  return 0;
}

void Gateway::drain() {
  engine_->setServing(false);  // /healthz answers 503 and new upgrades are refused from now on
  for (int i = 0; i < loops_->size(); ++i) {
    net::EventLoop* loop = &loops_->loop(i);
    std::vector<net::Acceptor*> mine;
    for (size_t k = 0; k < listeners_.size(); ++k) {
      mine.push_back(acceptors_[static_cast<size_t>(i) * listeners_.size() + k].get());
    }
    loop->queueInLoop([loop, mine] {
      for (net::Acceptor* a : mine) a->stop();
      // Each protocol says goodbye its own way: WebSocket close 1001, API finish and close.
      loop->forEachConnection([](net::TcpConnection& c) { c.goAway(); });
    });
  }
  const int64_t deadline = monotonicMs() + flags_.drainTimeoutMs;
  while (liveConnections() > 0 && monotonicMs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  size_t left = liveConnections();
  if (left > 0) RC_LOG_WARN("drain timeout: dropping {} connections", left);
  // Whatever is left is dropped on its own loop (connection teardown touches loop state).
  std::vector<std::future<void>> dropped;
  for (int i = 0; i < loops_->size(); ++i) {
    net::EventLoop* loop = &loops_->loop(i);
    auto done = std::make_shared<std::promise<void>>();
    dropped.push_back(done->get_future());
    loop->queueInLoop([this, loop, done] {
      loop->forEachConnection([](net::TcpConnection& c) { c.closeNow(); });
      // What the engine and the memory guard keep on this loop goes with it, not after.
      engine_->detachLoop(*loop);
      if (loop->id() == 0) memory_->stop();
      done->set_value();
    });
  }
  for (auto& f : dropped) f.wait();
  loops_->stop();
  acceptors_.clear();
  loops_.reset();
}

}  // namespace ringcast::push
