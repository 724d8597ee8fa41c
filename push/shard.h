// Shard: everything the fan-out keeps per loop — the local index of channel -> subscribers
// and user -> connections, the list of sessions, the ring cursor, and plain counters. It
// drains the broadcast ring once per loop iteration (IterationHook): for each envelope it
// finds the local targets and queues a reference to the shared frame on each (one atomic
// add per envelope for all local references, not one per subscriber); the loop then flushes
// every dirty connection once with writev.
//
// Thread safety: owned by one loop; every method runs on that loop's thread. stats are read
// by posting a task to the loop.
#pragma once

#include <cstdint>
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

struct SubEntry {
  Session* session;
  uint32_t subIndex;   // position in session->subs()
  uint64_t minOffset;  // deliver only offsets above this (set at subscribe: no duplicates)
  bool presence;       // wants join/leave events
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
  uint64_t subscriptions = 0;  // live
  std::vector<uint64_t> latencyBuckets = std::vector<uint64_t>(std::size(kLatencyBucketsUs), 0);
  uint64_t latencyCount = 0;
  double latencySumSeconds = 0;
};

class Shard final : public net::IterationHook {
 public:
  Shard(Fanout* fanout, net::EventLoop* loop, int index);
  ~Shard();

  void adoptByCurrentThread() { owner_.adoptByCurrentThread(); }
  int index() const { return index_; }
  net::EventLoop* loop() const { return loop_; }
  ShardCounters& counters() { return counters_; }
  size_t sessionCount() const { return sessions_.size(); }

  void addSession(Session* s);
  // Drops every subscription of s (with leave events) and forgets it.
  void removeSession(Session* s);
  // Adds a subscription; REQUIRES: s not yet subscribed to `channel`.
  void addSubscription(Session* s, std::string_view channel, uint64_t minOffset, bool presence);
  // Removes s's subscription to `channel`; false when there was none.
  bool removeSubscription(Session* s, std::string_view channel);
  bool isSubscribed(const Session* s, std::string_view channel) const;

  // Delivers everything the ring holds for this loop. Also called by a publisher on this
  // loop that finds the ring full.
  void drain();

  // IterationHook
  bool hasPendingWork() override;
  void runIteration() override { drain(); }

 private:
  struct Tally {
    uint64_t matched = 0, queued = 0, dropped = 0;
    uint32_t unused = 0;  // references taken but not handed to a write queue
  };
  void deliver(Envelope* env);
  // Queues env's frame on s (one reference already taken for it), applying the
  // slow-consumer policy, and counts the outcome in *tally.
  void queueFrame(Session* s, Envelope* env, Tally* tally);
  void recordLatency(int64_t ns);
  void unlinkSubscription(Session* s, size_t subIndex);

  Fanout* fanout_;
  net::EventLoop* loop_;
  const int index_;
  ThreadOwner owner_;
  std::vector<Session*> sessions_;
  std::unordered_map<std::string, std::unique_ptr<LocalChannel>, StringHash, std::equal_to<>>
      channels_;
  std::unordered_map<std::string, std::vector<Session*>, StringHash, std::equal_to<>> users_;
  ShardCounters counters_;
};

}  // namespace ringcast::push
