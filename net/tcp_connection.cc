#include "net/tcp_connection.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "core/log.h"

namespace ringcast::net {
namespace {

uint32_t nextSerial() {
  thread_local uint32_t serial = 0;
  return ++serial;
}

}  // namespace

TcpConnection::TcpConnection(EventLoop* loop, int fd)
    : loop_(loop), fd_(fd), serial_(nextSerial()) {
  loop_->assertInLoopThread();
  loop_->attach(this);
  loop_->add(fd_, this);
}

TcpConnection::~TcpConnection() {
  if (fd_ >= 0) ::close(fd_);
}

void TcpConnection::send(FrameRef frame) {
  loop_->assertInLoopThread();
  if (state_ != State::kOpen || closeAfterFlush_) return;
  queue_.push(std::move(frame));
  if (!writeBlocked_) loop_->markDirty(this);
}

void TcpConnection::sendCopy(std::string_view bytes) {
  if (bytes.empty()) return;
  send(FrameRef(SharedFrame::copyOf(bytes)));
}

void TcpConnection::closeAfterFlush(int64_t lingerMs) {
  loop_->assertInLoopThread();
  if (state_ != State::kOpen || closeAfterFlush_) return;
  closeAfterFlush_ = true;
  // Bound the whole goodbye, flushing included: a peer that never reads cannot hold us.
  setDeadline(loop_->nowMs() + lingerMs);
  if (!writeBlocked_) loop_->markDirty(this);
}

void TcpConnection::closeNow() {
  loop_->assertInLoopThread();
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  clearDeadline();
  ::close(fd_);  // also removes it from epoll
  fd_ = -1;
  queue_.clear();
  onClosed();
  loop_->destroyLater(this);
}

void TcpConnection::resumeReading() {
  if (!readPaused_) return;
  readPaused_ = false;
  loop_->owesRead(this);  // edges that came while paused were not acted on
}

void TcpConnection::handleEvents(uint32_t events) {
  if (state_ == State::kClosed) return;  // a stale event in the same epoll batch
  if (events & EPOLLOUT) {
    writeBlocked_ = false;
    if (!queue_.empty() || closeAfterFlush_) flush();
  }
  if (state_ != State::kClosed && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
    handleRead((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
  }
}

void TcpConnection::handleRead(bool peerHungUp) {
  owesRead_ = false;
  uint8_t* buffer = loop_->readBuffer();
  size_t budget = kReadBudgetBytes;
  while (state_ != State::kClosed && !readPaused_) {
    ssize_t n = ::read(fd_, buffer, EventLoop::kReadBufferBytes);
    if (n > 0) {
      if (state_ == State::kOpen) onData(buffer, static_cast<size_t>(n));
      // A short read emptied the socket; new data brings a new edge. Unless the peer hung
      // up: then read on to see the EOF, whose edge was this one.
      if (static_cast<size_t>(n) < EventLoop::kReadBufferBytes && !peerHungUp) return;
      if (static_cast<size_t>(n) >= budget) {
        loop_->owesRead(this);
        return;
      }
      budget -= static_cast<size_t>(n);
    } else if (n == 0) {
      closeNow();  // the peer closed (or finished its half of our lingering close)
      return;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN) {
      return;
    } else {
      RC_LOG_DEBUG("c-{}-{}: read failed: {}", loop_->id(), serial_, errno);
      closeNow();
      return;
    }
  }
}

void TcpConnection::flush() {
  while (!queue_.empty()) {
    iovec iov[kMaxIovecs];
    int count = queue_.fill(iov, kMaxIovecs);
    size_t want = 0;
    for (int i = 0; i < count; ++i) want += iov[i].iov_len;
    ssize_t n = ::writev(fd_, iov, count);
    if (n >= 0) {
      queue_.consume(static_cast<size_t>(n));
      if (static_cast<size_t>(n) < want) {
        writeBlocked_ = true;  // socket buffer full: the writable edge resumes us
        return;
      }
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN) {
      writeBlocked_ = true;
      return;
    } else {
      RC_LOG_DEBUG("c-{}-{}: write failed: {}", loop_->id(), serial_, errno);
      closeNow();
      return;
    }
  }
  if (closeAfterFlush_) {
    if (state_ == State::kOpen) {
      // Everything is out: send FIN and wait (within the deadline set earlier) for the peer's.
      ::shutdown(fd_, SHUT_WR);
      state_ = State::kDraining;
    }
    return;
  }
  onDrained();
}

void TcpConnection::fireDeadline(int64_t nowMs) {
  if (closeAfterFlush_) {
    closeNow();  // the goodbye took too long
    return;
  }
  onDeadline(nowMs);
}

}  // namespace ringcast::net
