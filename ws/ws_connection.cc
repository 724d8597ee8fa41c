#include "ws/ws_connection.h"

#include "core/fixed_pool.h"
#include "core/log.h"
#include "ws/deflate_counters.h"
#include "ws/frame_writer.h"

namespace ringcast::ws {

struct WsConnection::Handshake {
  explicit Handshake(const http::Limits* limits) : parser(limits) {}
  std::string buffer;  // the request bytes so far (bounded by the parser's header limit)
  http::RequestParser parser;
};

// Every socket of the gateway is one: keep it small (see the members).
static_assert(sizeof(WsConnection) <= 248);

using ConnectionPool = FixedPool<sizeof(WsConnection)>;

void* WsConnection::operator new(size_t bytes) {
  return ConnectionPool::allocateFor(bytes);
}

void WsConnection::operator delete(void* p) noexcept {
  ConnectionPool::release(p);
}

WsConnection::WsConnection(net::EventLoop* loop, int fd, const WsOptions* options)
    : TcpConnection(loop, fd),
      options_(options),
      handshake_(std::make_unique<Handshake>(&options->httpLimits)),
      parser_(Role::kServer, &options->frameLimits),
      lastHeardMs_(loop->nowMs()),
      lastMessageMs_(loop->nowMs()) {
  setDeadline(loop->nowMs() + options_->handshakeTimeoutMs);
}

WsConnection::~WsConnection() {
  if (deflate_.enabled) deflateConnections().fetch_sub(1, std::memory_order_relaxed);
}

void WsConnection::onData(uint8_t* data, size_t len) {
  lastHeardMs_ = loop()->nowMs();
  pingOutstanding_ = false;  // any bytes prove liveness; a pong is just the usual ones
  switch (phase_) {
    case Phase::kHandshake:
      readHandshake(data, len);
      break;
    case Phase::kOpen:
    case Phase::kClosing:
      readFrames(data, len);
      break;
    case Phase::kDone:
      break;  // the close handshake is over: input is discarded
  }
}

void WsConnection::readHandshake(const uint8_t* data, size_t len) {
  handshake_->buffer.append(reinterpret_cast<const char*>(data), len);
  http::Request request;
  http::ParseResult r = handshake_->parser.parse(handshake_->buffer, &request);
  if (r.status == http::ParseResult::kIncomplete) return;
  if (r.status == http::ParseResult::kError) {
    rejectHandshake(r.httpStatus, r.reason);
    return;
  }
  upgrade(request, r.consumed);
}

void WsConnection::upgrade(const http::Request& request, size_t consumed) {
  if (request.method == "GET" && !request.headerHasToken("Upgrade", "websocket")) {
    for (const auto& [path, response] : options_->pages) {
      if (request.path != path) continue;
      sendCopy(response);
      handshake_.reset();
      phase_ = Phase::kDone;
      closeAfterFlush(options_->closeTimeoutMs);
      return;
    }
  }
  const auto& endpoints = options_->endpoints;
  for (size_t i = 0; i < endpoints.size() && i <= INT8_MAX; ++i) {
    if (request.path == endpoints[i].first) endpointIndex_ = static_cast<int8_t>(i);
  }
  if (endpoint() == nullptr) {
    rejectHandshake(404, "no WebSocket endpoint at this path");
    return;
  }
  HandshakeResult result = acceptUpgrade(request, options_->handshake);
  if (result.status != 101) {
    endpointIndex_ = -1;
    sendCopy(result.response);
    phase_ = Phase::kDone;
    closeAfterFlush(options_->closeTimeoutMs);
    return;
  }
  std::string reason;
  if (int status = endpoint()->onUpgrade(*this, request, &reason); status != 0) {
    endpointIndex_ = -1;
    rejectHandshake(status, reason);
    return;
  }
  const auto& protocols = options_->handshake.subprotocols;
  for (size_t i = 0; i < protocols.size(); ++i) {
    if (protocols[i] == result.subprotocol) subprotocolIndex_ = static_cast<int8_t>(i);
  }
  deflate_ = result.deflate;
  if (deflate_.enabled) {
    parser_.enablePerMessageDeflate();
    deflateConnections().fetch_add(1, std::memory_order_relaxed);
  }
  sendCopy(result.response);
  phase_ = Phase::kOpen;
  // Bytes after the request are the client's first frames (a client may send them at once).
  std::string early = handshake_->buffer.substr(consumed);
  handshake_.reset();
  lastMessageMs_ = loop()->nowMs();
  armOpenDeadline(loop()->nowMs());
  endpoint()->onOpen(*this);
  if (!early.empty() && phase_ == Phase::kOpen) {
    readFrames(reinterpret_cast<uint8_t*>(early.data()), early.size());
  }
}

void WsConnection::rejectHandshake(int status, std::string_view reason) {
  RC_LOG_DEBUG("c-{}-{}: handshake refused: {} {}", loop()->id(), serial(), status, reason);
  sendCopy(rejectResponse(status, reason));
  handshake_.reset();
  phase_ = Phase::kDone;
  closeAfterFlush(options_->closeTimeoutMs);
}

void WsConnection::readFrames(uint8_t* data, size_t len) {
  if (parser_.failed() || parser_.closed()) return;
  const size_t used = parser_.consume(data, len, *this);
  // onMessage() paused the input after a message: keep the rest for when it resumes.
  if (used < len && readPaused() && isOpen() && phase_ != Phase::kDone && !parser_.failed() &&
      !parser_.closed()) {
    unread_ = std::make_unique<std::string>(reinterpret_cast<const char*>(data) + used, len - used);
  }
  // Back-pressure: a peer that sends faster than it reads our replies is not read from
  // until its queue drains (onDrained resumes).
  if (queuedBytes() > options_->maxOutbufBytes) pauseReading();
}

void WsConnection::onReadable() {
  if (!unread_) return;
  const std::unique_ptr<std::string> kept = std::move(unread_);
  onData(reinterpret_cast<uint8_t*>(kept->data()), kept->size());
}

void WsConnection::onDrained() {
  if (!inputHeld_) resumeReading();
}

void WsConnection::holdInput(bool held) {
  inputHeld_ = held;
  if (held) {
    pauseReading();
  } else if (queuedBytes() <= options_->maxOutbufBytes) {
    resumeReading();
  }
}

bool WsConnection::onMessage(Opcode op, std::string_view payload) {
  if (phase_ != Phase::kOpen) return true;  // after our close: discarded (RFC 6455 5.5.1)
  lastMessageMs_ = loop()->nowMs();
  endpoint()->onMessage(*this, op, payload);
  if (!isOpen() || phase_ == Phase::kDone) return false;
  // Per message, not per read: the next command waits while the answers to this peer's
  // earlier ones are over the limit (its own replies count like every other frame).
  if (inputHeld_ || (phase_ == Phase::kOpen && queuedBytes() > options_->maxOutbufBytes)) {
    pauseReading();
    return false;
  }
  return true;
}

bool WsConnection::onPing(std::string_view payload) {
  if (phase_ == Phase::kOpen) send(buildFrame(Opcode::kPong, payload));
  return true;
}

bool WsConnection::onPong(std::string_view) {
  return true;  // its bytes cleared pingOutstanding_ (onData)
}

bool WsConnection::onClose(uint16_t code, std::string_view reason) {
  if (phase_ == Phase::kOpen) {
    // Echo the peer's code and reason (RFC 6455 5.5.1); an empty close gets an empty close.
    send(code == kNoStatus ? buildFrame(Opcode::kClose, {}) : buildCloseFrame(code, reason));
  }
  finish(code);
  return false;
}

void WsConnection::onError(CloseCode code, std::string_view reason) {
  RC_LOG_DEBUG("c-{}-{}: protocol error {}: {}", loop()->id(), serial(), static_cast<int>(code),
               reason);
  if (phase_ == Phase::kOpen) send(buildCloseFrame(code, reason));
  finish(code);
}

void WsConnection::close(uint16_t code, std::string_view reason) {
  if (phase_ != Phase::kOpen) return;
  send(buildCloseFrame(code, reason));
  phase_ = Phase::kClosing;
  setDeadline(loop()->nowMs() + options_->closeTimeoutMs);
}

void WsConnection::goAway() {
  if (phase_ == Phase::kOpen) {
    close(kGoingAway, "server shutting down");
  } else if (phase_ == Phase::kHandshake) {
    closeNow();
  }
}

void WsConnection::finish(uint16_t code) {
  phase_ = Phase::kDone;
  if (endpoint() != nullptr && !endpointNotified_) {
    endpointNotified_ = true;
    endpoint()->onClose(*this, code);
  }
  closeAfterFlush(options_->closeTimeoutMs);
}

void WsConnection::onClosed() {
  // The socket went away without (or before the end of) a close handshake.
  if (endpoint() != nullptr && !endpointNotified_) {
    endpointNotified_ = true;
    endpoint()->onClose(*this, kAbnormal);
  }
}

void WsConnection::setEndpointDeadline(int64_t atMs) {
  endpointDeadlineMs_ = atMs;
  // A later deadline needs nothing now: the timer fires early, finds nothing due and re-arms.
  if (phase_ == Phase::kOpen && atMs != 0 && (!armed() || atMs < deadlineMs)) setDeadline(atMs);
}

void WsConnection::armOpenDeadline(int64_t nowMs) {
  int64_t next = INT64_MAX;
  if (pingOutstanding_) {
    next = pongDueMs();
  } else {
    if (options_->pingIntervalMs > 0) next = lastHeardMs_ + options_->pingIntervalMs;
    if (options_->idleTimeoutMs > 0) {
      next = std::min(next, lastMessageMs_ + options_->idleTimeoutMs);
    }
  }
  if (endpointDeadlineMs_ != 0) next = std::min(next, endpointDeadlineMs_);
  if (next == INT64_MAX) {
    clearDeadline();
  } else {
    setDeadline(std::max(next, nowMs + 1));
  }
}

void WsConnection::onDeadline(int64_t nowMs) {
  switch (phase_) {
    case Phase::kHandshake:
      rejectHandshake(408, "handshake timed out");
      return;
    case Phase::kClosing:
      finish(kAbnormal);  // the peer never answered our close
      return;
    case Phase::kDone:
      return;
    case Phase::kOpen:
      break;
  }
  // The timer may fire for any of the reasons below, or early (a deadline moved later):
  // each one checks its own time.
  if (endpointDeadlineMs_ != 0 && nowMs >= endpointDeadlineMs_) {
    endpointDeadlineMs_ = 0;
    endpoint()->onEndpointDeadline(*this, nowMs);
    if (phase_ != Phase::kOpen) return;
  }
  if (pingOutstanding_ && nowMs >= pongDueMs()) {
    RC_LOG_DEBUG("c-{}-{}: no pong in time, dropping", loop()->id(), serial());
    phase_ = Phase::kDone;
    closeNow();
    return;
  }
  if (!pingOutstanding_) {
    if (options_->idleTimeoutMs > 0 && nowMs - lastMessageMs_ >= options_->idleTimeoutMs) {
      close(kGoingAway, "idle timeout");
      return;
    }
    if (options_->pingIntervalMs > 0 && nowMs - lastHeardMs_ >= options_->pingIntervalMs) {
      send(buildFrame(Opcode::kPing, {}));
      pingOutstanding_ = true;
      // Silent since exactly one interval before this ping, as far as the pong's deadline
      // goes (pongDueMs): the peer gets the whole pong timeout from now, however late the
      // tick that sent the ping.
      lastHeardMs_ = nowMs - options_->pingIntervalMs;
    }
  }
  armOpenDeadline(nowMs);
}

void WsConnection::sendText(std::string_view payload) {
  if (phase_ != Phase::kOpen) return;
  send(buildFrame(Opcode::kText, payload));
}

void WsConnection::sendBinary(std::string_view payload) {
  if (phase_ != Phase::kOpen) return;
  send(buildFrame(Opcode::kBinary, payload));
}

void WsConnection::sendMessage(FrameRef frame) {
  if (deflate_.enabled) {
    SharedFrame* twin = deflatedTwin(frame.get(), options_->compressionMinBytes,
                                     options_->compressionLevel, deflate_);
    if (twin != nullptr) {
      DeflateCounters& counters = deflateCounters();
      ++counters.messagesSentCompressed;
      counters.bytesSaved += frame->size() - twin->size();
      twin->acquire();
      send(FrameRef(twin));
      return;
    }
  }
  send(std::move(frame));
}

}  // namespace ringcast::ws
