// Gateway: wires the flags, the loop threads, the listeners and the endpoints, and runs the
// process until SIGINT/SIGTERM, then drains: stop accepting, close every WebSocket with 1001,
// wait up to --drain-timeout for the peers, exit 0.
//
// Thread safety: constructed and run on the main thread; the loops it starts own everything
// they accept. The endpoints and WsOptions are built before the loops start and are const
// while they run.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "core/flags.h"
#include "net/acceptor.h"
#include "net/loop_group.h"
#include "push/echo_endpoint.h"
#include "ws/ws_connection.h"

namespace ringcast::push {

class Gateway {
 public:
  explicit Gateway(const Flags& flags);
  ~Gateway();

  // Listens, serves until SIGINT/SIGTERM, drains. Returns the process exit status.
  // REQUIRES: SIGINT and SIGTERM are blocked in the calling thread (main does that, before
  // any thread starts, so every loop thread inherits the mask).
  int run();

 private:
  void onNewConnection(net::EventLoop& loop, int fd);
  bool originAllowed(std::string_view origin, std::string_view host) const;
  size_t liveConnections() const;
  void drain();

  const Flags flags_;
  uint64_t maxConnections_ = 0;
  ws::WsOptions wsOptions_;
  EchoEndpoint echo_;
  std::unique_ptr<net::LoopGroup> loops_;
  std::vector<std::unique_ptr<net::Acceptor>> acceptors_;  // [i] belongs to loop i
};

}  // namespace ringcast::push
