// Gateway: wires the flags, the loop threads, the listeners (public WebSocket, internal
// HTTP API, internal TCP publish), the fan-out and the endpoints, and runs the process until
// SIGINT/SIGTERM, then drains: stop accepting, close every WebSocket with 1001, wait up to
// --drain-timeout for the peers, exit 0.
//
// Thread safety: constructed and run on the main thread; the loops it starts own everything
// they accept. Endpoints and options are built before the loops start and are const while
// they run.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/flags.h"
#include "net/acceptor.h"
#include "net/connection_cap.h"
#include "net/loop_group.h"
#include "net/tls_context.h"
#include "push/api_http.h"
#include "push/api_tcp.h"
#include "push/echo_endpoint.h"
#include "push/fanout.h"
#include "push/memory_engine.h"
#include "push/memory_guard.h"
#include "push/redis_engine.h"
#include "push/session.h"
#include "ws/ws_connection.h"

namespace ringcast::push {

class Gateway {
 public:
  explicit Gateway(const Flags& flags);
  ~Gateway();

  // Listens, serves until SIGINT/SIGTERM, drains. Returns the process exit status. SIGHUP
  // reloads the TLS certificate and key (new connections get them; open ones keep theirs).
  // REQUIRES: SIGINT, SIGTERM and SIGHUP are blocked in the calling thread (main does that,
  // before any thread starts, so every loop thread inherits the mask).
  int run();

 private:
  using AcceptFn = std::function<void(net::EventLoop& loop, int fd)>;
  struct Listener {
    std::string name;  // printed as "listen <name> ADDR:PORT"
    std::string flag;  // the flag it comes from, for error messages
    std::string address;
    AcceptFn accept;
    std::vector<int> fds;  // one SO_REUSEPORT socket per loop
  };

  void acceptWebSocket(net::EventLoop& loop, int fd);
  void acceptApi(net::EventLoop& loop, int fd);
  void acceptPublish(net::EventLoop& loop, int fd);
  // Puts TLS on a new connection of a TLS listener (from the current credentials).
  void startServerTls(net::TcpConnection* conn);
  void reloadTls();
  bool originAllowed(std::string_view origin, std::string_view host) const;
  size_t liveConnections() const;
  bool bindListener(Listener& listener, int threads);
  void drain();

  const Flags flags_;
  uint64_t maxConnections_ = 0;
  ws::WsOptions wsOptions_;
  ApiOptions apiOptions_;
  PublishOptions publishOptions_;
  net::ConnectionCap apiCap_;      // --api-max-connections
  net::ConnectionCap publishCap_;  // --publish-max-connections
  std::string apiBusy_;            // the 503 for an API connection over its cap
  PortRefusals refusals_;          // the internal ports' refusals, for /metrics
  PushOptions pushOptions_;
  EchoEndpoint echo_;
  std::unique_ptr<net::TlsCredentials> tls_;  // null: the public listener is plain TCP
  std::unique_ptr<net::LoopGroup> loops_;
  std::unique_ptr<Fanout> fanout_;
  std::unique_ptr<MemoryGuard> memory_;  // outlives engine_, which points to it
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<PushEndpoint> push_;
  std::vector<Listener> listeners_;
  std::vector<std::unique_ptr<net::Acceptor>> acceptors_;
};

}  // namespace ringcast::push
