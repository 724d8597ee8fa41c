// WsClient: the client side of one WebSocket on a bench loop, on top of net::TcpConnection.
// It sends the upgrade request, checks the 101 answer (status, Upgrade, Sec-WebSocket-Accept),
// parses server frames with ws::FrameParser (Role::kClient) straight from the loop's shared
// read buffer, answers pings, and runs the close handshake: the bench closes with a masked
// close frame and waits for the server's close and FIN, so TIME_WAIT lands on the server
// and the client's ports are free again at once.
//
// Its Shard is told exactly once how it ended: closed by the bench (ok), or a Failure with
// a detail (HTTP status, errno, close code). Subclasses (one per mode) add what happens on
// open and per message.
//
// Memory: an open client holds no buffer; the handshake state lives on the heap only until
// the upgrade answer arrived.
//
// Thread safety: loop-owned, like its TcpConnection base.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "bench/client/stats.h"
#include "net/tcp_connection.h"
#include "ws/frame_parser.h"

namespace ringcast::bench {

class Shard;

class WsClient : public net::TcpConnection {
 public:
  enum class Phase : uint8_t {
    kHandshake,  // upgrade request sent, waiting for the answer
    kOpen,
    kClosing,  // the bench sent its close frame; waiting for the server's
    kDone,     // close frames exchanged (or the server closed): waiting for FIN
  };

  // Takes the connected socket `fd`, queues the upgrade request and arms the handshake
  // timeout. REQUIRES: on loop's thread.
  WsClient(net::EventLoop* loop, int fd, Shard* shard, uint32_t slot, int64_t startNs);
  ~WsClient() override;

  uint32_t slot() const { return slot_; }
  int64_t startNs() const { return startNs_; }
  int64_t openedNs() const { return openedNs_; }
  Phase phase() const { return phase_; }
  bool isUp() const { return phase_ == Phase::kOpen; }

  // A text message, copied and masked (for rare messages; hot paths send pooled frames).
  void sendTextCopy(std::string_view payload);
  // Starts the close handshake. The end is reported as a close by the bench.
  void closeWs(uint16_t code);

  // How long the bench waits for the server's side of a close.
  static constexpr int64_t kCloseTimeoutMs = 2000;

 protected:
  virtual void onOpen(int64_t /*nowNs*/) {}
  // A data message, in the loop's shared buffer (valid during the call only).
  virtual void onWsMessage(ws::Opcode /*op*/, std::string_view /*payload*/, int64_t /*nowNs*/) {}
  // A close frame from the server, whoever closed first (1005 when it carried no code).
  virtual void onCloseFrame(uint16_t /*code*/) {}

  Shard* const shard_;

 private:
  friend class ws::FrameParser;  // calls the sink methods below
  struct Handshake;

  void onData(uint8_t* data, size_t len) override;
  void onDeadline(int64_t nowMs) override;
  void onClosed() override;

  void readHandshake(uint8_t* data, size_t len);
  void fail(Failure f, int32_t detail);    // reports and closes now
  void report(Failure f, int32_t detail);  // reports once; kCount means "closed by the bench"
  void sendControl(ws::Opcode op, std::string_view payload);

  // FrameParser sink.
  bool onMessage(ws::Opcode op, std::string_view payload);
  bool onPing(std::string_view payload);
  bool onPong(std::string_view payload);
  bool onClose(uint16_t code, std::string_view reason);
  void onError(ws::CloseCode code, std::string_view reason);

  const uint32_t slot_;
  const int64_t startNs_;
  int64_t openedNs_ = 0;
  int64_t nowNs_ = 0;  // time of the read being handled
  std::unique_ptr<Handshake> handshake_;
  ws::FrameParser parser_;
  Phase phase_ = Phase::kHandshake;
  bool reported_ = false;
};

}  // namespace ringcast::bench
