// OrderedReplyConnection: what the HTTP API (ApiConnection) and the TCP publish protocol
// (PublishConnection) share. Both parse pipelined requests straight from the loop's read
// buffer and keep only what is not dispatched yet (net::InputBuffer), hand commands to the
// Hub, and answer in request order as receipts come back; both pause reading over a bound
// and resume as answers drain; both stop parsing after a fatal error or on shutdown and
// close once every answer is written. Their writes are urgent: flushed every iteration,
// ahead of a fan-out pass to thousands of subscribers (TcpConnection::setUrgentWrites).
//
// Thread safety: loop-owned, like TcpConnection. Receipt callbacks hold a weak reference to
// alive_, which expires when the connection closes, so a late receipt touches nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "net/input_buffer.h"
#include "net/tcp_connection.h"

namespace ringcast::push {

class OrderedReplyConnection : public net::TcpConnection {
 public:
  // REQUIRES: on loop's thread.
  OrderedReplyConnection(net::EventLoop* loop, int fd);

  // Server shutdown: answers what was already read, then closes.
  void goAway() override;

 protected:
  // Parses and dispatches complete requests from `buffer` while the bounds allow (calling
  // holdInput() when one is reached); returns the bytes consumed.
  virtual size_t processInput(std::string_view buffer) = 0;
  // Writes every finished answer at the front of the queue, in order.
  virtual void writeReady() = 0;

  // New bytes from the peer: dispatched as far as possible, the rest kept.
  void feedInput(const uint8_t* data, size_t len);
  // A bound is reached: read nothing until resumeInput().
  void holdInput() {
    inputHeld_ = true;
    pauseReading();
  }
  // Re-runs processInput() over the bytes kept and resumes reading unless a bound holds.
  // May be called from inside processInput() (an answer that came at once): it then runs
  // when that pass ends, over everything kept by then.
  void resumeInput();
  // Subclasses drop their answer queue too, after calling this.
  void onClosed() override;

  net::InputBuffer input_;      // bytes of requests not yet dispatched
  bool processing_ = false;     // inside processInput(): no re-entry from a receipt
  bool inputHeld_ = false;      // over a bound: reading paused, input_ may hold whole requests
  bool stopParsing_ = false;    // a fatal error, a last request or goAway: read no further
  bool closeWhenIdle_ = false;  // close once every queued answer is written
  bool feeding_ = false;        // inside a pass over input (feed or replay)
  bool resumeWanted_ = false;   // resumeInput() was called during that pass
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);  // receipts hold a weak_ptr

 private:
  // After a pass: replays the kept input while a resume is wanted, then reads again unless
  // a bound holds.
  void finishPass();
};

}  // namespace ringcast::push
