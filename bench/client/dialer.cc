#include "bench/client/dialer.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace ringcast::bench {

struct Dialer::Pending final : net::Pollable {
  void handleEvents(uint32_t events) override { dialer->complete(this, events); }
  Dialer* dialer = nullptr;
  Pending* prev = nullptr;
  Pending* next = nullptr;
  int fd = -1;
  uint32_t slot = 0;
  int64_t startNs = 0;
  int64_t startMs = 0;
};

Dialer::Dialer(net::EventLoop* loop, const sockets::Address& target,
               std::span<const sockets::Address> sources, size_t firstSource, int64_t timeoutMs,
               Sink* sink)
    : loop_(loop),
      target_(target),
      sources_(sources),
      nextSource_(sources.empty() ? 0 : firstSource % sources.size()),
      timeoutMs_(timeoutMs),
      sink_(sink) {}

Dialer::~Dialer() {
  for (Pending* p = head_; p != nullptr; p = p->next) ::close(p->fd);
  for (Pending* p : all_) delete p;
}

int Dialer::dial(uint32_t slot, int64_t nowNs) {
  return dial(slot, nowNs, target_);
}

int Dialer::dial(uint32_t slot, int64_t nowNs, const sockets::Address& target) {
  loop_->assertInLoopThread();
  const int fd =
      ::socket(target.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return errno;
  if (!sources_.empty()) {
    const sockets::Address& src = sources_[nextSource_];
    nextSource_ = nextSource_ + 1 == sources_.size() ? 0 : nextSource_ + 1;
    // Let connect() pick the port for the whole 4-tuple, so each source address offers the
    // full ephemeral range towards each server port (bind() alone would reserve a port).
    int one = 1;
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(fd, src.get(), src.length) != 0) {
      const int err = errno;
      ::close(fd);
      return err;
    }
  }
  sockets::setNoDelay(fd);
  if (::connect(fd, target.get(), target.length) != 0 && errno != EINPROGRESS) {
    const int err = errno;
    ::close(fd);
    return err;
  }
  Pending* p = free_;
  if (p != nullptr) {
    free_ = p->next;
  } else {
    p = new Pending;
    p->dialer = this;
    all_.push_back(p);
  }
  p->fd = fd;
  p->slot = slot;
  p->startNs = nowNs;
  p->startMs = loop_->nowMs();
  p->next = nullptr;
  p->prev = tail_;
  if (tail_ != nullptr) tail_->next = p;
  tail_ = p;
  if (head_ == nullptr) head_ = p;
  ++inProgress_;
  // Even a connect that finished at once is reported through its writable event.
  loop_->add(fd, p);
  return 0;
}

void Dialer::complete(Pending* p, uint32_t events) {
  if (p->fd < 0) return;  // already expired
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0 && (events & (EPOLLERR | EPOLLHUP)) != 0) err = ECONNRESET;
  if (err == 0 && (events & EPOLLOUT) == 0) return;  // not finished yet
  const int fd = p->fd;
  const uint32_t slot = p->slot;
  const int64_t startNs = p->startNs;
  unlink(p);
  // The Pending goes back to the free list now: this event was its registration's only
  // one in the batch being dispatched, so nothing can point at it any more.
  release(p);
  if (err != 0) {
    ::close(fd);
    sink_->onDialFailed(slot, err, startNs);
    return;
  }
  loop_->remove(fd);
  sink_->onDialed(fd, slot, startNs);
}

void Dialer::expire(int64_t nowMs) {
  // Those expired on the previous call are safe to reuse: that iteration's events are done.
  while (retired_ != nullptr) {
    Pending* p = retired_;
    retired_ = p->next;
    release(p);
  }
  while (head_ != nullptr && nowMs - head_->startMs >= timeoutMs_) {
    Pending* p = head_;
    const uint32_t slot = p->slot;
    const int64_t startNs = p->startNs;
    ::close(p->fd);  // also removes it from epoll
    unlink(p);
    // An event for it may still wait in the batch being dispatched: keep it out of reuse
    // until the next call (fd = -1 makes that stale event a no-op).
    p->fd = -1;
    p->next = retired_;
    retired_ = p;
    sink_->onDialFailed(slot, ETIMEDOUT, startNs);
  }
}

void Dialer::unlink(Pending* p) {
  if (p->prev != nullptr) {
    p->prev->next = p->next;
  } else {
    head_ = p->next;
  }
  if (p->next != nullptr) {
    p->next->prev = p->prev;
  } else {
    tail_ = p->prev;
  }
  p->prev = p->next = nullptr;
  --inProgress_;
}

void Dialer::release(Pending* p) {
  p->fd = -1;
  p->next = free_;
  free_ = p;
}

}  // namespace ringcast::bench
