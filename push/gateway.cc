#include "push/gateway.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "net/socket_ops.h"

namespace ringcast::push {
namespace {

// Descriptors kept back from the connection budget: listeners, epoll and eventfds, logs,
// the spare fd of each acceptor.
constexpr uint64_t kReservedFds = 64;

// "https://app.example.com:8443" -> "app.example.com"; "[::1]:8080" -> "::1".
std::string_view hostOf(std::string_view url) {
  if (size_t scheme = url.find("://"); scheme != std::string_view::npos) {
    url.remove_prefix(scheme + 3);
  }
  if (size_t slash = url.find('/'); slash != std::string_view::npos) url = url.substr(0, slash);
  if (!url.empty() && url.front() == '[') {
    size_t close = url.find(']');
    return close == std::string_view::npos ? url : url.substr(1, close - 1);
  }
  if (size_t colon = url.rfind(':'); colon != std::string_view::npos) url = url.substr(0, colon);
  return url;
}

bool isLocalHost(std::string_view host) {
  return host == "localhost" || host == "127.0.0.1" || host == "::1";
}

}  // namespace

Gateway::Gateway(const Flags& flags) : flags_(flags) {
  wsOptions_.httpLimits = http::Limits{};
  wsOptions_.frameLimits.maxMessageBytes = flags_.maxMessageBytes;
  wsOptions_.maxOutbufBytes = flags_.maxOutbufBytes;
  wsOptions_.handshakeTimeoutMs = flags_.handshakeTimeoutMs;
  wsOptions_.pingIntervalMs = flags_.pingIntervalMs;
  wsOptions_.pongTimeoutMs = flags_.pongTimeoutMs;
  wsOptions_.idleTimeoutMs = flags_.idleTimeoutMs;
  wsOptions_.closeTimeoutMs = flags_.closeTimeoutMs;
  wsOptions_.handshake.originAllowed = [this](std::string_view origin, std::string_view host) {
    return originAllowed(origin, host);
  };
  if (flags_.echo) wsOptions_.endpoints.emplace_back("/echo", &echo_);
}

Gateway::~Gateway() = default;

bool Gateway::originAllowed(std::string_view origin, std::string_view host) const {
  if (flags_.allowedOrigins.empty()) {
    std::string_view originHost = hostOf(origin);
    return isLocalHost(originHost) || originHost == hostOf(host);
  }
  for (const std::string& allowed : flags_.allowedOrigins) {
    if (allowed == "*" || allowed == origin) return true;
  }
  return false;
}

size_t Gateway::liveConnections() const {
  size_t total = 0;
  for (int i = 0; i < loops_->size(); ++i) total += loops_->loop(i).connectionCount();
  return total;
}

void Gateway::onNewConnection(net::EventLoop& loop, int fd) {
  if (liveConnections() >= maxConnections_) {
    static constexpr std::string_view kBusy =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 24\r\nConnection: close\r\n\r\n"
        "too many connections\r\n\r\n";
    ssize_t ignored = ::write(fd, kBusy.data(), kBusy.size());
    (void)ignored;
    ::close(fd);
    return;
  }
  new ws::WsConnection(&loop, fd, &wsOptions_);  // owned by the loop from here on
}

int Gateway::run() {
  uint64_t fdLimit = sockets::raiseOpenFileLimit();
  uint64_t capacity = fdLimit > kReservedFds ? fdLimit - kReservedFds : 1;
  maxConnections_ = flags_.maxConnections > 0
                        ? std::min<uint64_t>(static_cast<uint64_t>(flags_.maxConnections), capacity)
                        : capacity;
  int threads = flags_.threads > 0 ? flags_.threads : net::LoopGroup::availableCpus();

  sockets::Address address;
  if (!sockets::parseAddress(flags_.listen, &address)) {
    std::fprintf(stderr, "ringcast: --listen: '%s' is not ADDR:PORT (example: 0.0.0.0:8080)\n",
                 flags_.listen.c_str());
    return 2;
  }
  // One SO_REUSEPORT listener per loop. Bind the first to learn the port (it may be 0), then
  // bind the others to that same port.
  std::vector<int> listenFds;
  listenFds.push_back(sockets::listenReusePortOrDie(address));
  address = sockets::localAddress(listenFds[0]);
  for (int i = 1; i < threads; ++i) listenFds.push_back(sockets::listenReusePortOrDie(address));

  std::printf("%s", formatFlags(flags_).c_str());
  std::printf("open-file limit %llu: up to %llu connections\n",
              static_cast<unsigned long long>(fdLimit),
              static_cast<unsigned long long>(maxConnections_));
  std::printf("loops %d\n", threads);
  if (flags_.echo) std::printf("echo endpoint ws://%s/echo\n", address.toString().c_str());
  std::printf("listen ws %s\n", address.toString().c_str());
  std::fflush(stdout);

  loops_ = std::make_unique<net::LoopGroup>(threads);
  acceptors_.resize(static_cast<size_t>(threads));
  loops_->start([this, &listenFds](net::EventLoop& loop) {
    size_t i = static_cast<size_t>(loop.id());
    acceptors_[i] = std::make_unique<net::Acceptor>(
        &loop, listenFds[i],
        [this, &loop](int fd, const sockets::Address&) { onNewConnection(loop, fd); });
  });

  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  int sig = 0;
  sigwait(&stopSignals, &sig);
  RC_LOG_INFO("{}: draining {} connections (up to {} ms)", sig == SIGINT ? "SIGINT" : "SIGTERM",
              liveConnections(), flags_.drainTimeoutMs);
  drain();
  return 0;
}

void Gateway::drain() {
  for (int i = 0; i < loops_->size(); ++i) {
    net::EventLoop* loop = &loops_->loop(i);
    net::Acceptor* acceptor = acceptors_[static_cast<size_t>(i)].get();
    loop->queueInLoop([loop, acceptor] {
      acceptor->stop();
      loop->forEachConnection(
          [](net::TcpConnection& c) { static_cast<ws::WsConnection&>(c).goAway(); });
    });
  }
  const int64_t deadline = monotonicMs() + flags_.drainTimeoutMs;
  while (liveConnections() > 0 && monotonicMs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  size_t left = liveConnections();
  if (left > 0) RC_LOG_WARN("drain timeout: dropping {} connections", left);
  loops_->stop();
  // Connections left over are closed by their loops' destructors, on this thread, after the
  // loop threads have ended.
  for (auto& a : acceptors_) a.reset();
  loops_.reset();
}

}  // namespace ringcast::push
