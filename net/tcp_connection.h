// TcpConnection: one accepted, non-blocking TCP socket on its loop; the base of every
// protocol connection (WebSocket, HTTP API, TCP publish).
//
// Reading: on each readable edge it reads into the loop's shared buffer until EAGAIN, a
// short read, or the per-wake-up budget (then it goes on the loop's owes-a-read list, so
// one busy peer cannot starve the others), and hands each chunk to onData(). It keeps no
// read buffer of its own: a protocol that must keep a partial message copies just that.
//
// Writing: send() queues references to shared frames; the loop flushes each dirty connection
// once at the end of the iteration with writev (corking), and again on each writable edge.
// queuedBytes() is the back-pressure number protocols act on.
//
// TLS: startTls() puts a TlsSession between the socket and the same calls. The handshake is
// driven by the same edges before onData() sees any byte; reads run until OpenSSL wants more
// from the socket (so no edge is lost, even for bytes OpenSSL decrypted ahead); writes hand
// the queue to OpenSSL a full record (16 KiB) at a time, gathered from many queued frames,
// instead of one record per frame.
//
// Closing: closeAfterFlush() writes what is queued, half-closes (FIN) and discards input
// until the peer closes or the linger time passes (so the peer reads our last bytes instead
// of a reset); closeNow() drops everything. Either way the object is freed by the loop after
// the current iteration, never during dispatch.
//
// Thread safety: everything runs on the owning loop's thread (asserted in debug builds).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/shared_frame.h"
#include "net/event_loop.h"
#include "net/timer_wheel.h"
#include "net/tls_session.h"
#include "net/write_queue.h"

namespace ringcast::net {

class TcpConnection : public Pollable, public TimerNode {
 public:
  enum class State : uint8_t {
    kOpen,
    kDraining,  // flushed and half-closed; discarding input until EOF or the deadline
    kClosed,    // fd closed; waiting to be freed after the iteration
  };

  // Takes ownership of `fd` (non-blocking) and registers it with `loop`.
  // REQUIRES: called on loop's thread.
  TcpConnection(EventLoop* loop, int fd);
  virtual ~TcpConnection();
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  EventLoop* loop() const { return loop_; }
  int fd() const { return fd_; }
  uint32_t serial() const { return serial_; }  // per-loop number, for logs ("c-<loop>-<n>")
  State state() const { return state_; }
  bool isOpen() const { return state_ == State::kOpen; }

  // Speaks TLS on this socket from now on (the server side answers the handshake, the
  // client side starts it). Returns false when OpenSSL cannot make a session (out of memory:
  // the connection is closed). REQUIRES: right after construction, before any byte moved.
  bool startTls(const TlsContext& context, TlsSession::Role role, std::string_view serverName = {});
  // The TLS session, or null on a plain TCP connection.
  const TlsSession* tls() const { return tls_.get(); }

  // Queues bytes for the peer; written at the end of the iteration. Ignored unless open.
  void send(FrameRef frame);
  void sendCopy(std::string_view bytes);
  uint64_t queuedBytes() const { return queue_.bytes(); }
  WriteQueue& writeQueue() { return queue_; }
  // The socket took less than offered at the last write and has not become writable since:
  // the peer is behind. Bytes queued while this is false only wait for the loop's flush.
  bool writeBlocked() const { return writeBlocked_; }

  // Writes what is queued, then half-closes and waits up to lingerMs for the peer's EOF.
  void closeAfterFlush(int64_t lingerMs);
  // Closes the socket now; queued bytes are dropped.
  void closeNow();
  // The server is shutting down: end this connection the way its protocol prefers. The
  // default writes what is queued and closes; protocols override it (WebSocket: close 1001).
  virtual void goAway() { closeAfterFlush(kGoAwayLingerMs); }

  // Writes of this connection are flushed at the end of every iteration, ahead of the
  // budgeted list (EventLoop::kFlushBudget): for the few connections whose answers must not
  // wait behind a fan-out pass to thousands of sockets (publishers waiting for receipts).
  void setUrgentWrites() { urgent_ = true; }

  // Stops reading (back-pressure) until resumeReading(), which catches up on missed edges.
  void pauseReading() { readPaused_ = true; }
  void resumeReading();
  bool readPaused() const { return readPaused_; }

  // One deadline per connection (timing wheel); onDeadline() runs when it passes.
  void setDeadline(int64_t atMs) { loop_->timers().arm(this, atMs); }
  void clearDeadline() { loop_->timers().cancel(this); }

  // Bytes read per wake-up before yielding to other connections.
  static constexpr size_t kReadBudgetBytes = 512 * 1024;
  // iovecs per writev call (well under IOV_MAX; a batch of small frames fits in one call).
  static constexpr int kMaxIovecs = 128;
  // How long goAway() waits for the peer after the last byte.
  static constexpr int64_t kGoAwayLingerMs = 1000;

 protected:
  // New bytes from the peer, in the loop's shared buffer: writable and valid only during
  // the call. The connection may close itself from here.
  virtual void onData(uint8_t* data, size_t len) = 0;
  // A read pass begins (readable edge or resumeReading), before the socket is read: a
  // protocol that paused in the middle of a chunk hands the rest it kept to onData() again
  // here. It may pause again, and then the socket is not read.
  virtual void onReadable() {}
  // The deadline passed (never called while draining: the base class handles that).
  virtual void onDeadline(int64_t nowMs) = 0;
  // The write queue became empty after a flush.
  virtual void onDrained() {}
  // Asks for one onFlush() right before this connection's next write, in this iteration's
  // flush: a protocol that answers many small requests in one pass gathers the answers and
  // queues them there as one buffer, instead of one copy (and one iovec) each. A
  // closeAfterFlush() meanwhile calls it first. Ignored unless open.
  void flushSoon();
  virtual void onFlush() {}
  // The socket is going away (EOF, error, closeNow, linger end). Called once.
  virtual void onClosed() {}

 private:
  friend class EventLoop;
  void handleEvents(uint32_t events) override;
  void handleRead(bool peerHungUp);
  void flush();
  void fireDeadline(int64_t nowMs);
  // The TLS halves of the above (tls_ set).
  void handleTlsEvents(uint32_t events);
  void continueTlsHandshake();
  void readTls();
  void flushTls();
  void finishFlush();

  EventLoop* const loop_;
  TcpConnection* liveNext_ = nullptr;  // EventLoop's intrusive list of live connections
  TcpConnection* livePrev_ = nullptr;
  int fd_;
  uint32_t serial_;
  State state_ = State::kOpen;
  bool dirty_ = false;         // on the loop's dirty list
  bool owesRead_ = false;      // on the loop's owes-a-read list
  bool readPaused_ = false;    // back-pressure: not reading until resumeReading()
  bool writeBlocked_ = false;  // the socket buffer was full: wait for the writable edge
  bool closeAfterFlush_ = false;
  bool urgent_ = false;     // flushed every iteration (setUrgentWrites)
  bool flushHook_ = false;  // flushSoon() asked for onFlush()
  WriteQueue queue_;
  std::unique_ptr<TlsSession> tls_;  // null on plain TCP (8 bytes: the only cost to plain TCP)
};

}  // namespace ringcast::net
