#include "bench/client/ws_client.h"

#include <cerrno>
#include <cstring>

#include "bench/client/client_frames.h"
#include "bench/client/http_response.h"
#include "bench/client/shard.h"
#include "core/clock.h"
#include "ws/close_code.h"
#include "ws/frame_writer.h"
#include "ws/handshake.h"

namespace ringcast::bench {

struct WsClient::Handshake {
  std::string key;       // Sec-WebSocket-Key we sent
  std::string response;  // the answer's bytes so far (bounded by the parser's head limit)
  ResponseParser parser;
};

WsClient::WsClient(net::EventLoop* loop, int fd, Shard* shard, uint32_t slot, int64_t startNs)
    : TcpConnection(loop, fd),
      shard_(shard),
      slot_(slot),
      startNs_(startNs),
      handshake_(std::make_unique<Handshake>()),
      parser_(ws::Role::kClient, &shard->context().frameLimits) {
  sendCopy(shard->upgradeRequest(slot, &handshake_->key));
  setDeadline(loop->nowMs() + shard->context().options->timeoutMs);
}

WsClient::~WsClient() = default;

void WsClient::onData(uint8_t* data, size_t len) {
  nowNs_ = monotonicNs();
  shard_->counters().bytesReceived += len;
  if (phase_ == Phase::kHandshake) {
    readHandshake(data, len);
    return;
  }
  if (parser_.failed() || parser_.closed()) return;
  parser_.consume(data, len, *this);
}

void WsClient::readHandshake(uint8_t* data, size_t len) {
  Handshake& hs = *handshake_;
  hs.response.append(reinterpret_cast<const char*>(data), len);
  ResponseHead head;
  const ResponseParser::Result r = hs.parser.parse(hs.response, &head, true);
  if (r.status == ResponseParser::Status::kIncomplete) return;
  if (r.status == ResponseParser::Status::kError) {
    fail(Failure::kBadHandshake, 0);
    return;
  }
  if (head.status != 101) {
    fail(Failure::kRejected, head.status);
    return;
  }
  if (!http::equalsIgnoreCase(head.upgrade, "websocket") || head.accept != ws::acceptKey(hs.key)) {
    fail(Failure::kBadHandshake, 101);
    return;
  }
  // The server accepted the offer (the bench makes none without --compression): its
  // messages may come compressed (RSV1).
  if (head.extensions.find("permessage-deflate") != std::string_view::npos) {
    parser_.enablePerMessageDeflate();
    ++shard_->counters().compressedConns;
  }
  // Bytes after the answer are the server's first frames.
  std::string early = hs.response.substr(r.consumed);
  handshake_.reset();
  phase_ = Phase::kOpen;
  openedNs_ = nowNs_;
  clearDeadline();
  shard_->clientOpened(*this, nowNs_);
  if (phase_ == Phase::kOpen) onOpen(nowNs_);
  if (!early.empty() && isOpen() && !parser_.failed()) {
    parser_.consume(reinterpret_cast<uint8_t*>(early.data()), early.size(), *this);
  }
}

void WsClient::sendTextCopy(std::string_view payload) {
  if (payload.size() <= ws::kMaxControlPayloadBytes) {
    uint8_t frame[ws::kMaxFrameHeaderBytes + ws::kMaxControlPayloadBytes];
    const size_t n = writeMaskedFrame(frame, ws::Opcode::kText, payload,
                                      static_cast<uint32_t>(shard_->random().next()));
    sendCopy({reinterpret_cast<const char*>(frame), n});
    return;
  }
  std::string frame(maskedFrameBytes(payload.size()), '\0');
  writeMaskedFrame(reinterpret_cast<uint8_t*>(frame.data()), ws::Opcode::kText, payload,
                   static_cast<uint32_t>(shard_->random().next()));
  sendCopy(frame);
}

void WsClient::sendControl(ws::Opcode op, std::string_view payload) {
  uint8_t frame[ws::kMaxFrameHeaderBytes + ws::kMaxControlPayloadBytes];
  const size_t n = writeMaskedFrame(frame, op, payload.substr(0, ws::kMaxControlPayloadBytes),
                                    static_cast<uint32_t>(shard_->random().next()));
  sendCopy({reinterpret_cast<const char*>(frame), n});
}

void WsClient::closeWs(uint16_t code) {
  if (phase_ == Phase::kHandshake) {
    report(Failure::kCount, 0);
    closeNow();
    return;
  }
  if (phase_ != Phase::kOpen) return;
  const char payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
  sendControl(ws::Opcode::kClose, {payload, 2});
  phase_ = Phase::kClosing;
  setDeadline(loop()->nowMs() + kCloseTimeoutMs);
}

bool WsClient::onMessage(ws::Opcode op, std::string_view payload) {
  onWsMessage(op, payload, nowNs_);
  return isOpen();
}

bool WsClient::onPing(std::string_view payload) {
  if (phase_ == Phase::kOpen) {
    sendControl(ws::Opcode::kPong, payload);
    ++shard_->counters().pingsAnswered;
  }
  return true;
}

bool WsClient::onPong(std::string_view) {
  return true;
}

bool WsClient::onClose(uint16_t code, std::string_view) {
  onCloseFrame(code);
  if (phase_ == Phase::kOpen) {
    // The server closed first: answer with its code (RFC 6455 5.5.1) and wait for its FIN.
    char payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
    sendControl(ws::Opcode::kClose,
                code == ws::kNoStatus ? std::string_view() : std::string_view(payload, 2));
    report(Failure::kServerClosed, code);
    setDeadline(loop()->nowMs() + kCloseTimeoutMs);
  }
  phase_ = Phase::kDone;  // after our close: the server answered; its FIN comes next
  return false;
}

void WsClient::onError(ws::CloseCode code, std::string_view) {
  if (phase_ == Phase::kOpen) {
    fail(Failure::kProtocolError, code);
  } else {
    closeNow();
  }
}

void WsClient::onDeadline(int64_t) {
  if (phase_ == Phase::kHandshake) {
    fail(Failure::kHandshakeTimeout, 0);
  } else {
    closeNow();  // the server did not finish the close in time; onClosed reports
  }
}

void WsClient::fail(Failure f, int32_t detail) {
  report(f, detail);
  closeNow();
}

void WsClient::report(Failure f, int32_t detail) {
  if (reported_) return;
  reported_ = true;
  shard_->clientEnded(*this, f, detail, nowNs_ != 0 ? nowNs_ : monotonicNs());
}

void WsClient::onClosed() {
  if (reported_) return;
  // TcpConnection closes right after the read or write that failed, so errno still holds
  // its cause; for an orderly EOF it holds nothing of this socket's (cleared below after
  // each use, so an old failure elsewhere cannot be mistaken for this one).
  const int err = errno;
  errno = 0;
  const bool reset = err == ECONNRESET || err == EPIPE;
  nowNs_ = monotonicNs();
  switch (phase_) {
    case Phase::kHandshake:
      report(reset ? Failure::kResetInHandshake : Failure::kClosedInHandshake, err);
      break;
    case Phase::kOpen:
      report(reset ? Failure::kReset : Failure::kDropped, err);
      break;
    case Phase::kClosing:
    case Phase::kDone:
      report(Failure::kCount, 0);  // the close the bench asked for is complete
      break;
  }
}

}  // namespace ringcast::bench
