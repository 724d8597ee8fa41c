// Dialer: non-blocking TCP connects for one loop, each bound first to the next source address
// of a round-robin list (--src), and each reported once: connected (the socket is handed on,
// no longer registered with the loop) or failed with its errno (from SO_ERROR, so a refused
// connect is told apart from a timeout or a reset).
//
// A connect in progress is a small PendingConnect registered with the loop; pending connects
// sit in a FIFO in start order, and since they share one timeout the oldest expires first,
// so expire() looks only at the front.
//
// Thread safety: loop-owned; every method runs on the loop thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "net/event_loop.h"
#include "net/socket_ops.h"

namespace ringcast::bench {

class Dialer {
 public:
  class Sink {
   public:
    // The connect completed: `fd` is a connected, non-blocking socket now owned by the sink
    // and no longer registered with the loop.
    virtual void onDialed(int fd, uint32_t slot, int64_t startNs) = 0;
    // The connect failed; err is ETIMEDOUT when our own timeout ran out.
    virtual void onDialFailed(uint32_t slot, int err, int64_t startNs) = 0;

   protected:
    ~Sink() = default;
  };

  // `sources` may be empty (the kernel picks the local address); it must outlive the dialer.
  Dialer(net::EventLoop* loop, const sockets::Address& target,
         std::span<const sockets::Address> sources, size_t firstSource, int64_t timeoutMs,
         Sink* sink);
  ~Dialer();  // closes connects still in progress without reporting them
  Dialer(const Dialer&) = delete;
  Dialer& operator=(const Dialer&) = delete;

  // Starts a connect for `slot`. Returns 0 when it is in progress (reported later through
  // the sink, never from inside dial()), or the errno of a failure that happened at once
  // (EMFILE from socket(), EADDRNOTAVAIL from connect(), ...), which is not reported again.
  int dial(uint32_t slot, int64_t nowNs);
  // The same to another address than the dialer's (a run over several servers).
  int dial(uint32_t slot, int64_t nowNs, const sockets::Address& target);
  // Fails every connect started before nowMs - timeoutMs. Call at most once per loop
  // iteration (from a timer).
  void expire(int64_t nowMs);
  size_t inProgress() const { return inProgress_; }

 private:
  struct Pending;
  void complete(Pending* p, uint32_t events);
  void unlink(Pending* p);
  void release(Pending* p);

  net::EventLoop* loop_;
  sockets::Address target_;
  std::span<const sockets::Address> sources_;
  size_t nextSource_;
  int64_t timeoutMs_;
  Sink* sink_;
  Pending* head_ = nullptr;  // oldest pending connect
  Pending* tail_ = nullptr;
  Pending* free_ = nullptr;     // recycled Pending objects
  Pending* retired_ = nullptr;  // expired during this iteration; reusable from the next
  std::vector<Pending*> all_;
  size_t inProgress_ = 0;
};

}  // namespace ringcast::bench
