// Shard: everything the gateway keeps per loop, owned by that loop alone: its sessions, the
// local index of channel -> subscribers and user -> connections, the subscriptions and the
// changes they report to the engine (a channel's first or last local subscriber, each
// connection's presence), the ring cursor, the work parked for later, and plain counters.
//
// Every iteration (IterationHook) it drains the broadcast ring: for each envelope it finds
// the local targets and queues a reference to the shared frame on each (one atomic add per
// envelope for all local references, not one per subscriber); the loop then flushes every
// dirty connection once with writev. Then it retries parked work in order.
//
// Consecutive messages of one channel in a pass (a busy room) are joined: their frames are
// copied once into one shared frame, and each subscriber that wants all of them, has room
// for all of them and did not negotiate compression queues that one frame, so the loop
// writes one buffer per socket instead of one small frame per message (the kernel's cost
// per iovec is the larger part of a small frame's). The others get the frames one by one.
//
// A new subscription is pending until the engine answers its recovery (Engine::recover):
// live messages that arrive meanwhile are kept for it (bounded) and handed over after the
// missed ones, so none is lost or doubled.
//
// Thread safety: owned by one loop; every method runs on that loop's thread. Other threads
// reach a shard only through its loop's task queue.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/hash.h"
#include "core/thread_owner.h"
#include "net/event_loop.h"
#include "push/fanout.h"
#include "push/session.h"

namespace ringcast::push {

class Engine;

struct SubEntry {
  Session* session;
  uint64_t minOffset;  // deliver only offsets above this (no duplicates after recovery)
  uint32_t subIndex;   // position in session->subs()
  bool presence;       // wants join/leave events
  bool pending;        // waiting for its recovery: live frames are kept in Shard::pending_
};

struct LocalChannel {
  std::string name;
  std::vector<SubEntry> entries;
};

struct ShardCounters {
  uint64_t messagesIn = 0;
  uint64_t messagesOut = 0;
  uint64_t bytesOut = 0;
  uint64_t dropped = 0;
  uint64_t slowConsumerDisconnects = 0;
  uint64_t subscriptions = 0;         // live
  uint64_t parked = 0;                // work that found no room and waited
  uint64_t parkRefused = 0;           // parked work refused with "overloaded" after the bound
  uint64_t joinedFrames = 0;          // joined frames built (Shard::deliverRun)
  uint64_t joinedDeliveries = 0;      // deliveries made through joined frames
  uint64_t commandsRateLimited = 0;   // commands refused with rate_limited
  uint64_t rateLimitDisconnects = 0;  // connections closed for sustained flooding
  std::vector<uint64_t> latencyBuckets = std::vector<uint64_t>(std::size(kLatencyBucketsUs), 0);
  uint64_t latencyCount = 0;
  double latencySumSeconds = 0;
};

class Shard final : public net::IterationHook {
 public:
  Shard(Fanout* fanout, net::EventLoop* loop, int index);
  ~Shard();

  // The loop thread takes the shard over (it was built on main) and learns its engine.
  void adoptByCurrentThread(Engine* engine) {
    owner_.adoptByCurrentThread();
    engine_ = engine;
  }
  int index() const { return index_; }
  net::EventLoop* loop() const { return loop_; }
  ShardCounters& counters() { return counters_; }
  size_t sessionCount() const { return sessions_.size(); }
  // Bytes queued for this loop's client connections now (a walk over them: for scrapes).
  uint64_t queuedBytes() const;

  void addSession(Session* s);
  // Drops every subscription of s (reporting them) and forgets it.
  void removeSession(Session* s);

  // Subscribes s to `channel`, pending until activateSubscription(). False (and nothing
  // changes) when s is already subscribed.
  bool addSubscription(Session* s, std::string_view channel, bool presence);
  // The recovery arrived: s gets, after what the caller sent, the live frames kept while
  // pending whose offset is above `offset`, then live ones. Returns false when frames were
  // lost meanwhile (the bound on kept frames was passed): the caller tells the client.
  bool activateSubscription(Session* s, std::string_view channel, uint64_t offset);
  // Removes s's subscription to `channel`; false when there was none.
  bool removeSubscription(Session* s, std::string_view channel);
  bool isSubscribed(const Session* s, std::string_view channel) const;

  // Work that cannot proceed now (a full ring, a link that is down). `attempt` is called on
  // every iteration until it returns true; if `parkTimeoutMs` passes first, `refuse` is
  // called instead. Parked work stays in order: once anything is parked, runOrPark() parks
  // behind it rather than overtaking.
  void park(std::function<bool()> attempt, std::function<void()> refuse);
  void runOrPark(std::function<bool()> attempt, std::function<void()> refuse);
  bool hasParked() const { return !parked_.empty(); }

  // Delivers everything the ring holds for this loop.
  void drain();

  // IterationHook
  bool hasPendingWork() override;
  void runIteration() override;
  int maxPollWaitMs() override { return parked_.empty() ? -1 : kParkedPollMs; }

  // Frames kept for one pending subscription before it counts as having lost some.
  static constexpr size_t kMaxPendingFrames = 4096;
  // How often parked work is retried while the loop has nothing else to do.
  static constexpr int kParkedPollMs = 1;

 private:
  struct Tally {
    uint64_t matched = 0, queued = 0, dropped = 0;
    uint32_t unused = 0;  // references taken but not handed to a write queue
  };
  struct Parked {
    std::function<bool()> attempt;
    std::function<void()> refuse;
    int64_t deadlineMs;
  };
  struct PendingFrames {
    std::vector<std::pair<uint64_t, FrameRef>> frames;  // offset, frame; in ring order
    bool overflowed = false;
  };
  // A pending subscription: which session, which local channel (both stable while it lives).
  struct PendingKey {
    const Session* session;
    const LocalChannel* channel;
    bool operator==(const PendingKey&) const = default;
  };
  struct PendingKeyHash {
    size_t operator()(const PendingKey& k) const {
      return std::hash<const void*>()(k.session) * 31 + std::hash<const void*>()(k.channel);
    }
  };

  void deliver(Envelope* env);
  // Adds the loop's tally to env (shared by every loop) and records its latency (queued at
  // queuedNs, monotonic).
  void report(Envelope* env, const Tally& tally, int64_t queuedNs);
  // run[0..count) are consecutive channel messages of one channel, offsets increasing, whose
  // frames hold `bytes` together.
  void deliverRun(Envelope* const* run, size_t count, uint64_t bytes);
  // env (a channel message, presence event or loss notice) to the local subscribers of ch;
  // `joined`: entries already given it in a joined frame (nullptr: none).
  void deliverToChannel(LocalChannel* ch, Envelope* env, Tally* tally,
                        const std::vector<bool>* joined);
  // Queues env's frame on s (one reference already taken for it), applying the
  // slow-consumer policy, and counts the outcome in *tally.
  void queueFrame(Session* s, Envelope* env, Tally* tally);
  // Whether `bytes` more make conn a slow consumer: over --max-outbuf with a socket that
  // refused bytes. A queue that only waits for the loop's flush is not the peer's fault (a
  // flush yields to input for a while: EventLoop::kMaxFlushHoldNs).
  bool overOutbuf(const ws::WsConnection* conn, uint64_t bytes) const;
  void keepPending(Session* s, const LocalChannel* ch, Envelope* env);
  void recordLatency(int64_t ns);
  void unlinkSubscription(Session* s, size_t subIndex);
  void retryParked();
  SubEntry* findEntry(Session* s, std::string_view channel, size_t* subIndex);

  Fanout* fanout_;
  Engine* engine_ = nullptr;
  net::EventLoop* loop_;
  const int index_;
  ThreadOwner owner_;
  std::vector<Session*> sessions_;
  std::unordered_map<std::string, std::unique_ptr<LocalChannel>, StringHash, std::equal_to<>>
      channels_;
  std::unordered_map<std::string, std::vector<Session*>, StringHash, std::equal_to<>> users_;
  std::unordered_map<PendingKey, PendingFrames, PendingKeyHash> pending_;
  std::deque<Parked> parked_;
  std::vector<bool> joined_;  // deliverRun's scratch: one flag per entry of the channel
  ShardCounters counters_;
};

}  // namespace ringcast::push
