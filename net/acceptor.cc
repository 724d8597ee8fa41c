#include "net/acceptor.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"

namespace ringcast::net {

Acceptor::Acceptor(EventLoop* loop, int listenFd, NewConnectionFn onNew)
    : loop_(loop),
      listenFd_(listenFd),
      spareFd_(::open("/dev/null", O_RDONLY | O_CLOEXEC)),
      onNew_(std::move(onNew)) {
  loop_->add(listenFd_, this);
}

Acceptor::~Acceptor() {
  stop();
  if (spareFd_ >= 0) ::close(spareFd_);
}

void Acceptor::stop() {
  if (listenFd_ < 0) return;
  ::close(listenFd_);  // also leaves epoll
  listenFd_ = -1;
}

void Acceptor::handleEvents(uint32_t) {
  acceptSome();
}

void Acceptor::acceptSome() {
  rearmQueued_ = false;
  for (int i = 0; i < kAcceptsPerWakeup && listenFd_ >= 0; ++i) {
    sockets::Address peer;
    peer.length = sizeof peer.storage;
    int fd = ::accept4(listenFd_, reinterpret_cast<sockaddr*>(&peer.storage), &peer.length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      sockets::setNoDelay(fd);
      onNew_(fd, peer);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN) return;
    if ((errno == EMFILE || errno == ENFILE) && spareFd_ >= 0) {
      // Out of descriptors: refuse this connection cleanly instead of leaving it queued.
      ::close(spareFd_);
      int refused = ::accept(listenFd_, nullptr, nullptr);
      if (refused >= 0) ::close(refused);
      spareFd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      RC_LOG_WARN("out of file descriptors: refused a connection");
      continue;
    }
    RC_LOG_ERROR("accept failed: {}", std::strerror(errno));
    return;
  }
  // Budget spent with connections possibly still queued: no new edge will say so.
  if (listenFd_ >= 0 && !rearmQueued_) {
    rearmQueued_ = true;
    loop_->queueInLoop([this] { acceptSome(); });
  }
}

}  // namespace ringcast::net
