// WsConnection: one server-side WebSocket on its loop. It adds the RFC 6455 life cycle to a
// TcpConnection: the bounded HTTP upgrade (size and time limits), the frame parser, ping
// answers, heartbeat (ping when silent, drop when a ping goes unanswered), the idle timeout,
// back-pressure on the peer's input while its output queue is over the limit, and the close
// handshake with a timeout. What a message means is the endpoint's business (WsEndpoint).
//
// Back-pressure is checked after every message: once the output queue is over
// maxOutbufBytes (or the endpoint holds the input), no further message is handed to the
// endpoint, not even the rest of the chunk already read. Those bytes (at most one read,
// EventLoop::kReadBufferBytes) are kept and parsed first when reading resumes.
//
// Memory: while open and idle a connection holds no buffer (no read buffer, an empty write
// queue, a parser with nothing pending); the handshake state lives on the heap only until
// the upgrade completes.
//
// Thread safety: loop-owned, like its TcpConnection base.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/http_parser.h"
#include "net/tcp_connection.h"
#include "ws/frame_parser.h"
#include "ws/handshake.h"

namespace ringcast::ws {

class WsConnection;

// What a WebSocket path does. One endpoint object serves every connection of its path on
// every loop, so it keeps no per-connection state of its own (that goes in userData()).
// Callbacks run on the connection's loop thread.
class WsEndpoint {
 public:
  virtual ~WsEndpoint() = default;
  // Called with the complete upgrade request before the 101 is sent. Returns 0 to accept, or
  // an HTTP status (401, 403, 503, ...) with *reason to refuse the upgrade.
  virtual int onUpgrade(WsConnection&, const http::Request&, std::string* /*reason*/) { return 0; }
  virtual void onOpen(WsConnection&) {}
  virtual void onMessage(WsConnection&, Opcode op, std::string_view payload) = 0;
  // The connection ended (close handshake, error, timeout or a dropped socket). Once.
  virtual void onClose(WsConnection&, uint16_t /*code*/) {}
  // The deadline the endpoint set with WsConnection::setEndpointDeadline passed (the
  // connection is open). It is cleared before the call; the endpoint may set a new one.
  virtual void onEndpointDeadline(WsConnection&, int64_t /*nowMs*/) {}
};

// Settings shared by every connection of a listener; const once the loops run.
struct WsOptions {
  http::Limits httpLimits;
  FrameLimits frameLimits;
  HandshakeOptions handshake;
  std::vector<std::pair<std::string, WsEndpoint*>> endpoints;  // path -> endpoint
  // Plain GET pages served on the same port (the demo page and its script): path -> the
  // complete HTTP response bytes. The connection closes after the response.
  std::vector<std::pair<std::string, std::string>> pages;
  uint64_t maxOutbufBytes = 16 << 20;  // stop reading from a peer with more queued than this
  int64_t handshakeTimeoutMs = 10'000;
  int64_t pingIntervalMs = 25'000;  // 0: never ping
  int64_t pongTimeoutMs = 10'000;
  int64_t idleTimeoutMs = 0;  // 0: off
  int64_t closeTimeoutMs = 5'000;
  // permessage-deflate (handshake.perMessageDeflate turns it on): messages shorter than
  // this go uncompressed (the deflate header and a fresh stream cost more than they save),
  // and zlib's level for the compressed twin of a message.
  uint64_t compressionMinBytes = 256;
  int compressionLevel = 1;
};

class WsConnection final : public net::TcpConnection {
 public:
  // Takes ownership of the accepted socket `fd`. REQUIRES: on loop's thread.
  WsConnection(net::EventLoop* loop, int fd, const WsOptions* options);
  ~WsConnection() override;
  // From a FixedPool (core/fixed_pool.h): every socket of the gateway is one.
  static void* operator new(size_t bytes);
  static void operator delete(void* p) noexcept;

  // Sends one unfragmented message / an already encoded frame (shared by many sockets).
  // Once the connection is no longer open (our close frame is queued, or the handshake
  // ended) these do nothing: no frame ever follows a close frame (RFC 6455 5.5.1).
  void sendText(std::string_view payload);
  void sendBinary(std::string_view payload);
  void sendFrame(FrameRef frame) {
    if (phase_ == Phase::kOpen) send(std::move(frame));
  }
  // Slow-consumer handling: drops every queued frame except one partly written (so the
  // byte stream stays whole) and returns how many messages that lost, not counting
  // `uncounted` (which is reported through *uncountedDropped when given).
  size_t dropQueuedFrames(const SharedFrame* uncounted, bool* uncountedDropped) {
    return writeQueue().dropQueued(true, uncounted, uncountedDropped);
  }
  // Sends one whole message frame from buildFrame (shared by many sockets): its compressed
  // twin when this connection negotiated permessage-deflate and the message qualifies
  // (deflatedTwin in ws/frame_writer.h), else the frame itself.
  void sendMessage(FrameRef frame);

  // Starts the close handshake: sends a close frame, ignores further messages, and drops the
  // TCP connection when the peer's close arrives or after the close timeout.
  void close(uint16_t code, std::string_view reason);
  // Server shutdown: close with 1001 (or drop a connection still in its handshake).
  void goAway() override;

  // The endpoint's own deadline for this connection (/ws: the token's expiry), in loop
  // milliseconds (EventLoop::nowMs); 0 clears it. When it passes while the connection is
  // open, WsEndpoint::onEndpointDeadline runs (within one timer tick, 50 ms). It shares the
  // connection's one timer with the heartbeat (the earlier of the two is armed), so it adds
  // no timer and no work per tick.
  void setEndpointDeadline(int64_t atMs);

  // The endpoint stops (held) or resumes reading this peer's messages, for example while
  // too many of its commands wait for answers; output back-pressure still applies.
  void holdInput(bool held);

  bool isWebSocketOpen() const { return phase_ == Phase::kOpen; }
  const DeflateParams& perMessageDeflate() const { return deflate_; }
  // The negotiated subprotocol, or empty.
  std::string_view subprotocol() const {
    return subprotocolIndex_ < 0 ? std::string_view()
                                 : options_->handshake.subprotocols[subprotocolIndex_];
  }
  void* userData() const { return userData_; }
  void setUserData(void* data) { userData_ = data; }

 private:
  friend class FrameParser;  // calls the sink methods below

  enum class Phase : uint8_t {
    kHandshake,  // reading the upgrade request
    kOpen,       // messages flow
    kClosing,    // we sent a close frame and wait for the peer's
    kDone,       // close handshake finished or failed: only flushing and lingering remain
  };
  struct Handshake;  // request buffer + parser, on the heap until the upgrade completes

  void onData(uint8_t* data, size_t len) override;
  void onReadable() override;
  void onDeadline(int64_t nowMs) override;
  void onDrained() override;
  void onClosed() override;

  void readHandshake(const uint8_t* data, size_t len);
  void upgrade(const http::Request& request, size_t consumed);
  void rejectHandshake(int status, std::string_view reason);
  void readFrames(uint8_t* data, size_t len);
  // Arms the connection's timer for the earliest of: the pong deadline (a ping is
  // outstanding) or the next ping / idle check, and the endpoint's deadline.
  void armOpenDeadline(int64_t nowMs);
  void finish(uint16_t code);  // the WebSocket is over: tell the endpoint, linger, drop

  // FrameParser sink.
  bool onMessage(Opcode op, std::string_view payload);
  bool onPing(std::string_view payload);
  bool onPong(std::string_view payload);
  bool onClose(uint16_t code, std::string_view reason);
  void onError(CloseCode code, std::string_view reason);

  WsEndpoint* endpoint() const {
    return endpointIndex_ < 0 ? nullptr : options_->endpoints[endpointIndex_].second;
  }
  // While a ping is outstanding (no byte heard since it went out): when the peer is dropped.
  int64_t pongDueMs() const {
    return lastHeardMs_ + options_->pingIntervalMs + options_->pongTimeoutMs;
  }

  // Packed (248 bytes with the base): one sits in every connection.
  const WsOptions* options_;
  void* userData_ = nullptr;
  std::unique_ptr<Handshake> handshake_;
  // Read but not parsed: input paused in the middle of a chunk (null otherwise).
  std::unique_ptr<std::string> unread_;
  FrameParser parser_;
  Phase phase_ = Phase::kHandshake;
  bool endpointNotified_ = false;
  bool inputHeld_ = false;          // holdInput(true): not read until holdInput(false)
  DeflateParams deflate_;           // what the handshake negotiated
  int8_t subprotocolIndex_ = -1;    // into options_->handshake.subprotocols
  int8_t endpointIndex_ = -1;       // into options_->endpoints; -1: none (yet)
  bool pingOutstanding_ = false;    // a ping went out and nothing was heard since
  int64_t lastHeardMs_;             // any bytes from the peer (see the ping in onDeadline)
  int64_t lastMessageMs_;           // last data message from the peer (idle timeout)
  int64_t endpointDeadlineMs_ = 0;  // setEndpointDeadline; 0: none
};

}  // namespace ringcast::ws
