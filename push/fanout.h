// Fanout: the local half of delivery. An engine hands it each message, encoded once, as an
// Envelope; it pushes a pointer into the broadcast ring that every loop's Shard drains, and
// when the last loop has delivered it, hands the receipt (summed over loops) back to the loop
// that asked. It never waits: tryDeliver() fails when the ring is full and the engine parks
// the work on the caller's Shard (Shard::park) to retry on the next iteration.
//
// Thread safety: constructed on the main thread before the loops start; attachLoop() runs
// on each loop thread; tryDeliver(), newEnvelope() and finished() are safe from any loop
// thread; stats() from a loop thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/broadcast_ring.h"
#include "core/shared_frame.h"
#include "net/event_loop.h"
#include "push/hub.h"

namespace ringcast::push {

class Engine;
class Shard;

// One message on its way to every loop.
struct Envelope {
  enum class Kind : uint8_t {
    kChannel,     // subscribers of `key` whose subscription starts before `offset`
    kPresence,    // join/leave: subscribers of `key` that asked for presence events
    kUsers,       // every connection of each of `users` (a direct message)
    kAll,         // every connection (system notice)
    kDisconnect,  // close every connection of user `key` (no frame)
    kLost,        // subscribers of `key` missed messages the history no longer holds: the
                  // frame tells them (server-initiated recovery:false); `offset` is where
                  // the channel continues
  };
  Kind kind = Kind::kChannel;
  std::string key;
  std::vector<std::string> users;  // kUsers: the recipients, without duplicates
  // kUsers: sockets matched per recipient, summed over loops (users.size() counters).
  std::unique_ptr<std::atomic<uint64_t>[]> userMatched;
  uint64_t offset = 0;
  FrameRef frame;
  int64_t publishNs = 0;  // monotonic, for the publish-to-queue latency histogram
  int originLoop = -1;
  ReceiptFn done;  // may be empty
  std::atomic<int> loopsLeft{0};
  std::atomic<uint64_t> matched{0};
  std::atomic<uint64_t> queued{0};
  std::atomic<uint64_t> dropped{0};
};

struct FanoutOptions {
  size_t ringCapacity = 1 << 14;  // envelopes; power of two
  int64_t parkTimeoutMs = 200;    // how long parked work waits for room before "overloaded"
  uint64_t maxOutbufBytes = 16 << 20;
  bool dropOldest = false;  // slow consumers: drop their oldest queued messages instead of
                            // disconnecting them
  // permessage-deflate (--compression on): while any connection negotiated it, a message of
  // at least compressionMinBytes is compressed once by its publisher, before it enters the
  // ring, so that every loop finds the compressed frame ready (ws/frame_writer.h).
  bool compression = false;
  uint64_t compressionMinBytes = 256;
  int compressionLevel = 1;
};

class Fanout {
 public:
  // `loops` must outlive the Fanout; their threads start after this constructor.
  Fanout(std::vector<net::EventLoop*> loops, const FanoutOptions& options);
  ~Fanout();

  // Before the loops start: the engine the shards report to.
  void setEngine(Engine* engine) { engine_ = engine; }
  // On loop thread i, before it serves connections: installs its shard.
  void attachLoop(net::EventLoop& loop);
  Shard& shard(int loop) { return *shards_[static_cast<size_t>(loop)]; }
  int loopCount() const { return static_cast<int>(loops_.size()); }
  // The calling loop thread's shard (nullptr off the loops).
  static Shard* currentShard();
  // What an engine stamps a message with: on a loop thread the loop's clocks, read once per
  // iteration right after its epoll_wait (one pair of reads per pass instead of two per
  // message; a stamp is at most one pass early), elsewhere the clocks themselves. Wall-clock
  // milliseconds for the frame's ts, monotonic nanoseconds for Envelope::publishNs.
  static int64_t stampWallMs();
  static int64_t stampMonotonicNs();

  const FanoutOptions& options() const { return options_; }
  BroadcastRing<Envelope>& ring() { return ring_; }

  // A new envelope whose receipt (if `done` is set) returns to the calling loop.
  Envelope* newEnvelope(Envelope::Kind kind, std::string_view key, ReceiptFn done);
  // Puts env into the ring and wakes sleeping loops. False when the ring is full: env is
  // untouched and still the caller's. REQUIRES: a loop thread.
  bool tryDeliver(Envelope* env);
  // Answers env's receipt with an error and frees it (env never entered the ring).
  void fail(Envelope* env, std::string_view code, std::string_view message);
  // Called by a shard when it has delivered `env`: the last loop completes it. When that is
  // the loop that asked, the receipt callback runs inside this call.
  void finished(Envelope* env);

  // Gathers every loop's counters. REQUIRES: loop thread; done runs on it.
  void stats(std::function<void(const Stats&)> done);

 private:
  const FanoutOptions options_;
  std::vector<net::EventLoop*> loops_;
  std::vector<std::unique_ptr<Shard>> shards_;
  BroadcastRing<Envelope> ring_;
  Engine* engine_ = nullptr;
};

// The receipt every send gets when the gateway cannot take it now.
inline constexpr std::string_view kOverloadedCode = "overloaded";
inline constexpr std::string_view kOverloadedMessage = "the gateway is overloaded; try again later";

}  // namespace ringcast::push
