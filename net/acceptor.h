// Acceptor: one SO_REUSEPORT listening socket owned by one loop. The kernel spreads new
// connections over the loops' listeners; each accepted socket is handed, non-blocking, to
// the callback on this loop, which owns it for its whole life.
//
// Edge-triggered: accepts until EAGAIN (or a per-wake-up budget, then resumes on the next
// iteration). When the process runs out of descriptors (EMFILE) it frees a spare fd, accepts
// and closes the pending connection at once, and takes the spare back, so the backlog does
// not fill with connections nobody answers (libev/muduo's idle-fd trick).
//
// Thread safety: constructed, used and destroyed on its loop's thread.
#pragma once

#include <functional>

#include "net/event_loop.h"
#include "net/socket_ops.h"

namespace ringcast::net {

class Acceptor final : public Pollable {
 public:
  // Called for each accepted socket (non-blocking, close-on-exec, TCP_NODELAY).
  using NewConnectionFn = std::function<void(int fd, const sockets::Address& peer)>;

  // Takes ownership of `listenFd` and registers it with `loop`.
  Acceptor(EventLoop* loop, int listenFd, NewConnectionFn onNew);
  ~Acceptor();

  // Closes the listening socket: no new connections (used while draining).
  void stop();
  int listenFd() const { return listenFd_; }

  static constexpr int kAcceptsPerWakeup = 256;

 private:
  void handleEvents(uint32_t events) override;
  void acceptSome();

  EventLoop* loop_;
  int listenFd_;
  int spareFd_;  // reserved descriptor for the EMFILE case
  NewConnectionFn onNew_;
  bool rearmQueued_ = false;
};

}  // namespace ringcast::net
