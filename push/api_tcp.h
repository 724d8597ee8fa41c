// The TCP publish protocol (--publish-listen; docs/PROTOCOL.md, "TCP protocol"): one
// PublishConnection per feeder socket, on its loop. It parses commands with parseTcpCommand
// (push/api_tcp_parser.h), hands PUB, BCAST and SEND to the Hub, and answers nothing on
// success, so a feeder can stream. Replies go out in command order: "-ERR <reason>" for a
// refused command or a failed receipt (e.g. "-ERR overloaded"), and "PONG" for a PING only
// once every command before it has its receipt. A stream that lost sync gets its "-ERR" and is
// closed. With an API key the first command must be "AUTH <key>": anything else, or a wrong
// key, gets "-ERR unauthorized ..." and the connection is closed; until then no payload is
// buffered (a command line with one is refused as it completes).
//
// Bounds: input is buffered only while a command is incomplete (at most one command line,
// payload and CRLF). At most kMaxQueuedReplies commands may wait for receipts or for an
// earlier reply, and at most kMaxOutputBytes may sit unread in the write queue, before the
// connection stops reading; it resumes as they drain. A connection that sends nothing for
// idleTimeoutMs (while no reply is owed) gets "-ERR idle timeout" and is closed; a feeder that
// stays connected while quiet sends PING. The listener's connection cap (a Slot held for the
// connection's life) is apart from the WebSocket one.
//
// Thread safety: a PublishConnection is loop-owned, like its TcpConnection base.
// PublishOptions is built before the loops start and is const while they run.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "net/connection_cap.h"
#include "net/event_loop.h"
#include "push/api_tcp_parser.h"
#include "push/hub.h"
#include "push/ordered_reply_connection.h"
#include "push/port_refusals.h"

namespace ringcast::push {

// Settings shared by every publish connection; const once the loops run.
struct PublishOptions {
  uint64_t maxPayloadBytes = 1 << 20;  // --max-message-size
  int64_t closeTimeoutMs = 5'000;      // linger for the peer's FIN after our last reply
  std::string apiKey;                  // --api-key; empty: no AUTH needed
  int64_t idleTimeoutMs = 300'000;     // --publish-idle-timeout; 0: none
  PortRefusals* refusals = nullptr;    // counted here, shown in /metrics; null: not counted
};

// Takes ownership of the accepted socket `fd` and serves the protocol on it until it closes.
// `hub` and `options` must outlive every connection; `slot` is the connection's share of the
// listener's cap, held until it is freed. REQUIRES: on loop's thread.
void acceptPublishConnection(net::EventLoop& loop, int fd, Hub* hub, const PublishOptions* options,
                             net::ConnectionCap::Slot slot = {});

class PublishConnection final : public OrderedReplyConnection {
 public:
  // Commands waiting for their receipt or behind one (the ordered reply queue) before the
  // connection stops reading; reading resumes when half of them are answered.
  static constexpr size_t kMaxQueuedReplies = 1024;
  // Unread reply bytes (a feeder that never reads its -ERR lines) before it stops reading.
  static constexpr uint64_t kMaxOutputBytes = 1 << 20;

  // REQUIRES: on loop's thread; hub and options outlive the connection.
  PublishConnection(net::EventLoop* loop, int fd, Hub* hub, const PublishOptions* options,
                    net::ConnectionCap::Slot slot = {});
  ~PublishConnection() override;

  // Receipts not back yet (for tests and logs).
  size_t outstandingReceipts() const { return outstanding_; }

 protected:
  void onData(uint8_t* data, size_t len) override;
  void onDeadline(int64_t nowMs) override;
  void onDrained() override;
  void onClosed() override;

 private:
  // One command's place in the reply order.
  struct Slot {
    bool done = false;
    std::string line;  // what to write once done: empty (accepted), "-ERR ...", "PONG"
  };

  // Parses and handles complete commands from `buffer` while the bounds allow; returns the
  // bytes consumed (skipped payload bytes included).
  size_t processInput(std::string_view buffer) override;
  bool mayTakeCommands(size_t resumeAt) const;
  void handleCommand(const TcpCommand& command);
  // Answers "-ERR <reason>" behind every earlier reply, reads nothing more and closes once
  // the replies are out.
  void refuseAndClose(std::string_view reason);
  // Queues a reply that needs no receipt, behind every earlier one.
  void reply(std::string_view line);
  void onReceipt(uint64_t id, const Receipt& receipt);
  // Writes every finished reply at the front of the queue, in order.
  void writeReady() override;
  void armIdleDeadline();

  Hub* const hub_;
  const PublishOptions* const options_;
  net::ConnectionCap::Slot slot_;  // this connection's place under the listener's cap
  bool authenticated_;             // AUTH with the key came first (or no key is needed)
  uint64_t skip_ = 0;              // payload bytes of a refused command still to drop
  std::string data_;               // the JSON of the current payload (reused)
  std::deque<Slot> replies_;       // in command order
  uint64_t firstId_ = 1;           // id of replies_.front()
  size_t outstanding_ = 0;         // receipts not back yet
};

}  // namespace ringcast::push
