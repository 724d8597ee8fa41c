// Fanout: the Hub implementation. Encodes each message once, stamps channel offsets and
// history (ChannelTable), and pushes an Envelope into the broadcast ring that every loop's
// Shard drains; receipts are summed over loops and handed back on the caller's loop.
//
// Back-pressure: when the ring is full the publisher first delivers what its own loop owes
// (its cursor may be the one holding the ring), then retries for up to ringWaitMs; after
// that the send fails with "overloaded" (503 / -ERR) — never a silent drop.
//
// Thread safety: constructed on the main thread before the loops start; attachLoop() runs
// on each loop thread; Hub methods follow hub.h.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/broadcast_ring.h"
#include "core/hash.h"
#include "core/shared_frame.h"
#include "net/event_loop.h"
#include "push/channel_table.h"
#include "push/hub.h"

namespace ringcast::push {

class Shard;

// One message on its way to every loop.
struct Envelope {
  enum class Kind : uint8_t {
    kChannel,     // subscribers of `key` whose subscription starts before `offset`
    kPresence,    // join/leave: subscribers of `key` that asked for presence events
    kUser,        // every connection of user `key`
    kAll,         // every connection (system notice)
    kDisconnect,  // close every connection of user `key` (no frame)
  };
  Kind kind = Kind::kChannel;
  std::string key;
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
  int64_t ringWaitMs = 200;       // how long a publisher waits for room before "overloaded"
  uint64_t maxOutbufBytes = 16 << 20;
  bool dropOldest = false;  // slow consumers: drop their oldest queued messages instead of
                            // disconnecting them
  size_t historySize = 100;
  int64_t historyTtlMs = 0;  // 0: no age limit
};

class Fanout final : public Hub {
 public:
  // `loops` must outlive the Fanout; their threads start after this constructor.
  Fanout(std::vector<net::EventLoop*> loops, const FanoutOptions& options);
  ~Fanout() override;

  // On loop thread i, before it serves connections: installs its shard.
  void attachLoop(net::EventLoop& loop);
  Shard& shard(int loop) { return *shards_[static_cast<size_t>(loop)]; }
  // The calling loop thread's shard.
  static Shard& currentShard();

  const std::string& epoch() const { return epoch_; }
  const FanoutOptions& options() const { return options_; }
  ChannelTable& channelTable() { return channels_; }
  BroadcastRing<Envelope>& ring() { return ring_; }

  // Publishes with the offset known at once (client publishes reply with it).
  // Returns false (and calls nothing) when the ring stayed full. REQUIRES: loop thread.
  bool publishWithOffset(std::string_view channel, std::string_view dataJson, std::string_view from,
                         ReceiptFn done, uint64_t* offset);
  // Pushes a presence event (join/leave) to the channel's presence subscribers.
  // REQUIRES: loop thread, holding the channel's lock (events stay in order per channel).
  void pushPresenceLocked(const Channel& channel, bool join, std::string_view user);

  // Called by a shard when it has delivered `env`: the last loop completes it.
  void finished(Envelope* env);

  // User directory (open connections per user), for /api/users.
  void userConnected(std::string_view user);
  void userDisconnected(std::string_view user);

  // Hub
  void publish(std::string_view channel, std::string_view dataJson, std::string_view from,
               ReceiptFn done) override;
  void broadcast(std::string_view dataJson, ReceiptFn done) override;
  void send(std::string_view user, std::string_view dataJson, std::string_view from,
            ReceiptFn done) override;
  void disconnect(std::string_view user, ReceiptFn done) override;
  void stats(std::function<void(const Stats&)> done) override;
  std::vector<PresenceEntry> presence(std::string_view channel) const override;
  std::vector<UserInfo> users() const override;
  std::vector<ChannelInfo> channels() const override;
  bool serving() const override { return serving_.load(std::memory_order_relaxed); }
  void setServing(bool serving) { serving_.store(serving, std::memory_order_relaxed); }

 private:
  // Pushes env into the ring (waiting boundedly for room) and wakes sleeping loops. On
  // failure deletes env after answering its receipt with "overloaded".
  bool push(Envelope* env);
  bool tryPush(Envelope* env);
  void fail(Envelope* env, std::string_view code, std::string_view message);
  Envelope* newEnvelope(Envelope::Kind kind, std::string_view key, ReceiptFn done);

  const FanoutOptions options_;
  std::vector<net::EventLoop*> loops_;
  std::vector<std::unique_ptr<Shard>> shards_;
  BroadcastRing<Envelope> ring_;
  mutable ChannelTable channels_;  // its own locks; const queries read it
  std::string epoch_;
  std::atomic<bool> serving_{true};

  mutable std::mutex usersMutex_;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> users_;  // conns
};

}  // namespace ringcast::push
