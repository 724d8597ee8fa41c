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

// The answer to a plain HTTP request on a TLS port (nginx answers 497 for the same mistake).
constexpr std::string_view kPlainHttpOnTlsPort =
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 39\r\n"
    "Connection: close\r\n\r\nplain HTTP request sent to a TLS port\r\n";

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

bool TcpConnection::startTls(const TlsContext& context, TlsSession::Role role,
                             std::string_view serverName) {
  loop_->assertInLoopThread();
  tls_ = TlsSession::create(context, fd_, role, serverName);
  if (tls_ == nullptr) {
    RC_LOG_WARN("c-{}-{}: no TLS session (out of memory)", loop_->id(), serial_);
    closeNow();
    return false;
  }
  if (role == TlsSession::Role::kClient) continueTlsHandshake();  // the ClientHello, now
  return true;
}

void TcpConnection::send(FrameRef frame) {
  loop_->assertInLoopThread();
  if (state_ != State::kOpen || closeAfterFlush_) return;
  queue_.push(std::move(frame));
  if (!writeBlocked_) loop_->markDirty(this);
}

void TcpConnection::flushSoon() {
  loop_->assertInLoopThread();
  if (state_ != State::kOpen || closeAfterFlush_) return;
  flushHook_ = true;
  loop_->markDirty(this);
}

void TcpConnection::sendCopy(std::string_view bytes) {
  if (bytes.empty()) return;
  send(FrameRef(SharedFrame::copyOf(bytes)));
}

void TcpConnection::closeAfterFlush(int64_t lingerMs) {
  loop_->assertInLoopThread();
  if (state_ != State::kOpen || closeAfterFlush_) return;
  if (tls_ != nullptr && !tls_->established()) {
    closeNow();  // nothing can reach a peer that has no TLS session yet
    return;
  }
  if (flushHook_) {
    flushHook_ = false;
    onFlush();  // what the protocol gathered for its next write goes out before the FIN
  }
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
  if (tls_ != nullptr && state_ == State::kOpen) {
    handleTlsEvents(events);
    return;
  }
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
  if (state_ == State::kOpen && !readPaused_) {
    onReadable();
    if (state_ == State::kClosed || readPaused_) return;
  }
  if (tls_ != nullptr && state_ == State::kOpen) {
    if (tls_->established()) {
      readTls();
    } else {
      continueTlsHandshake();
    }
    return;
  }
  // Plain TCP, or a TLS connection that is draining: its input is discarded unread.
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
  if (tls_ != nullptr && state_ == State::kOpen) {
    flushTls();
    return;
  }
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
  finishFlush();
}

void TcpConnection::finishFlush() {
  if (closeAfterFlush_) {
    if (state_ == State::kOpen) {
      // Everything is out: send FIN and wait (within the deadline set earlier) for the peer's.
      if (tls_ != nullptr) tls_->shutdown();  // close_notify first
      ::shutdown(fd_, SHUT_WR);
      state_ = State::kDraining;
    }
    return;
  }
  onDrained();
}

void TcpConnection::handleTlsEvents(uint32_t events) {
  if (!tls_->established()) {
    continueTlsHandshake();
    return;
  }
  const bool readable = (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  const bool writable = (events & EPOLLOUT) != 0;
  if (writable || (readable && tls_->readWantedByWrite)) {
    writeBlocked_ = false;
    tls_->readWantedByWrite = false;
    if (!queue_.empty() || tls_->hasPendingWrite() || closeAfterFlush_) flush();
  }
  if (state_ != State::kClosed && (readable || (writable && tls_->writeWantedByRead))) {
    tls_->writeWantedByRead = false;
    handleRead(readable && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
  }
}

void TcpConnection::continueTlsHandshake() {
  const TlsSession::Io io = tls_->handshake();
  if (io == TlsSession::Io::kWantRead || io == TlsSession::Io::kWantWrite) return;
  if (io != TlsSession::Io::kOk) {
    RC_LOG_DEBUG("c-{}-{}: TLS handshake failed", loop_->id(), serial_);
    if (tls_->peerSpokePlainHttp()) {
      // Say so in the peer's language, then linger for its EOF like closeAfterFlush().
      ssize_t ignored = ::write(fd_, kPlainHttpOnTlsPort.data(), kPlainHttpOnTlsPort.size());
      (void)ignored;
      ::shutdown(fd_, SHUT_WR);
      queue_.clear();
      closeAfterFlush_ = true;
      state_ = State::kDraining;
      setDeadline(loop_->nowMs() + kGoAwayLingerMs);
      return;
    }
    closeNow();
    return;
  }
  // Whether the kernel took over the record layer: said once per loop, then at debug level.
  thread_local bool told = false;
  if (!told) {
    told = true;
    RC_LOG_INFO("c-{}-{}: {}", loop_->id(), serial_, tls_->describe());
  } else {
    RC_LOG_DEBUG("c-{}-{}: {}", loop_->id(), serial_, tls_->describe());
  }
  // The last flight may have carried application data, and the queue may hold bytes sent
  // before the handshake ended; no new edge will come for either.
  writeBlocked_ = false;
  if (!queue_.empty()) flushTls();
  if (state_ == State::kOpen) readTls();
}

void TcpConnection::readTls() {
  uint8_t* buffer = loop_->readBuffer();
  size_t budget = kReadBudgetBytes;
  while (state_ == State::kOpen && !readPaused_) {
    // Gather records while the buffer can take a whole one: fewer, larger onData() calls.
    size_t got = 0;
    TlsSession::Io io = TlsSession::Io::kOk;
    while (got + TlsSession::kRecordBytes <= EventLoop::kReadBufferBytes) {
      const TlsSession::Result r = tls_->read(buffer + got, EventLoop::kReadBufferBytes - got);
      if (r.io != TlsSession::Io::kOk) {
        io = r.io;
        break;
      }
      got += r.bytes;
    }
    if (got > 0 && state_ == State::kOpen) onData(buffer, got);
    switch (io) {
      case TlsSession::Io::kWantRead:
        return;  // the socket is empty and OpenSSL holds no whole record: a new edge comes
      case TlsSession::Io::kWantWrite:
        tls_->writeWantedByRead = true;
        return;
      case TlsSession::Io::kEof:
      case TlsSession::Io::kError:
        closeNow();
        return;
      case TlsSession::Io::kOk:
        break;  // the buffer is full; more may be waiting in OpenSSL or the socket
    }
    if (got >= budget) {
      loop_->owesRead(this);
      return;
    }
    budget -= got;
  }
}

void TcpConnection::flushTls() {
  if (!tls_->established()) return;  // the end of the handshake flushes
  TlsSession::Io io = TlsSession::Io::kOk;
  if (tls_->hasPendingWrite()) io = tls_->writePending();
  while (io == TlsSession::Io::kOk && !queue_.empty()) {
    // One record per call: the first frame itself when it fills one, else a copy of as many
    // queued frames as fit (a fan-out batch of small messages becomes one record).
    iovec front;
    queue_.fill(&front, 1);
    const uint8_t* data = static_cast<const uint8_t*>(front.iov_base);
    size_t len = front.iov_len;
    uint8_t staging[TlsSession::kRecordBytes];
    if (len < TlsSession::kRecordBytes) {
      len = queue_.copyFront(staging, sizeof staging);
      data = staging;
    }
    const TlsSession::Result r = tls_->write(data, len);
    queue_.consume(r.bytes);
    io = r.io;
  }
  switch (io) {
    case TlsSession::Io::kOk:
      finishFlush();
      return;
    case TlsSession::Io::kWantRead:
      tls_->readWantedByWrite = true;
      writeBlocked_ = true;
      return;
    case TlsSession::Io::kWantWrite:
      writeBlocked_ = true;  // the writable edge resumes us
      return;
    case TlsSession::Io::kEof:
    case TlsSession::Io::kError:
      RC_LOG_DEBUG("c-{}-{}: TLS write failed", loop_->id(), serial_);
      closeNow();
      return;
  }
}

void TcpConnection::fireDeadline(int64_t nowMs) {
  if (closeAfterFlush_) {
    closeNow();  // the goodbye took too long
    return;
  }
  onDeadline(nowMs);
}

}  // namespace ringcast::net
