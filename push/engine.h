// Engine: the seam between what each loop keeps for its own sockets and what nodes share.
// An engine owns the channel's next offset, its epoch, its history and recovery,
// cluster-wide presence and user-online state, and the delivery of encoded messages to every
// node (this one included: into the local fan-out, push/fanout.h). MemoryEngine is one node
// on its own; RedisEngine joins nodes through Redis. Everything per socket stays in the
// loops' Shards (push/shard.h), which call the engine when their local state changes.
//
// The Hub half (hub.h) is what publishers call; the rest is what Shards and Sessions call.
// Every call is made on a loop thread and every callback runs later (or inline) on that same
// loop thread; an engine never blocks the caller: work it cannot do now is parked on the
// caller's Shard (Shard::park) and retried, then refused with "overloaded" after a bound.
// Each callback is called exactly once, also when the engine cannot do the work.
//
// Thread safety: all methods are safe from any loop thread; implementations state their own
// locking rules. attachLoop() runs once on each loop thread before it serves connections,
// detachLoop() once on each after it closed them, before it stops.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/shared_frame.h"
#include "net/event_loop.h"
#include "push/hub.h"
#include "push/memory_guard.h"

namespace ringcast::push {

// Where a subscriber resumes: the last offset it saw, in the epoch it saw it in.
struct StreamPosition {
  uint64_t offset = 0;
  std::string epoch;
};

// The answer to recover(): the channel's position now and, when asked, what was missed.
struct Recovery {
  bool ok = true;         // false: the engine could not answer (error fields say why)
  std::string errorCode;  // "overloaded" while the engine's backend is unreachable
  std::string errorMessage;
  uint64_t offset = 0;           // the channel's last assigned offset (the next message: +1)
  std::string epoch;             // the channel's epoch
  bool recovered = false;        // with `since`: every missed message is in `missed`
  std::vector<FrameRef> missed;  // encoded message frames after since.offset, in order
};
using RecoveryFn = std::function<void(Recovery&&)>;

// The answer to a send refused near --max-memory (the same code as a full ring: try later).
inline constexpr std::string_view kMemoryCode = "overloaded";
inline constexpr std::string_view kMemoryMessage = "the gateway is near its memory limit";

// A bounded presence list: at most the maxEntries asked for, sorted by user, and how many
// users the channel has in all (entries.size() < total: the list was cut).
struct PresencePage {
  std::vector<PresenceEntry> entries;
  uint64_t total = 0;
};

class Engine : public Hub {
 public:
  ~Engine() override = default;

  // On loop thread `loop`, before it serves connections.
  virtual void attachLoop(net::EventLoop& loop) = 0;
  // On loop thread `loop`, once it has closed its connections and before it stops: frees
  // what the engine keeps on that loop (clients, timers), which must not outlive it.
  virtual void detachLoop(net::EventLoop& loop) = 0;

  // The epoch a node announces in its welcome frame (channels may carry their own).
  virtual std::string nodeEpoch() const = 0;

  // A Shard got its first local subscriber of `channel` (interested) or lost its last one:
  // the node needs (no longer needs) the channel's messages. Counted per node: a channel is
  // wanted while any loop of the node wants it.
  virtual void channelInterest(std::string_view channel, bool interested) = 0;

  // The channel's position and epoch; with `since`, also the messages after since->offset
  // when the history still holds all of them (recovered), in offset order. Called after the
  // caller's subscription is in place (see Shard::addSubscription): any message it delivers
  // live afterwards has an offset above Recovery::offset or is recognised as a duplicate.
  virtual void recover(std::string_view channel, const std::optional<StreamPosition>& since,
                       RecoveryFn done) = 0;

  // One connection of `user` subscribed to (delta +1) or left (delta -1) `channel`.
  // The engine keeps the cluster-wide presence list and sends join/leave events to the
  // channel's presence subscribers when a user's first connection anywhere arrives or the
  // last one leaves. `name` is the user's display name (used on +1).
  virtual void presenceChange(std::string_view channel, std::string_view user,
                              std::string_view name, int delta) = 0;

  // Who is subscribed to `channel`, as Hub::presence, but at most `maxEntries` of them (which
  // ones, when there are more, is the engine's choice) and the total count. The work done
  // under a lock is bounded by maxEntries, not by the channel's size where the engine keeps
  // the list itself; sorting never happens under a lock.
  virtual void presencePage(std::string_view channel, size_t maxEntries,
                            std::function<void(PresencePage)> done) = 0;

  // One connection of `user` opened (+1) or closed (-1) on this node.
  virtual void userChange(std::string_view user, int delta) = 0;

  // False while a backend the engine needs is unreachable (healthz reports it). A node
  // that is not healthy refuses publishes with "overloaded" but keeps its clients.
  bool healthy() const override = 0;
  // Hub: the memory guard's lines, then the engine's own (appendEngineMetrics).
  void appendMetrics(std::string& out) const final;

  // Hub: false while the gateway drains (healthz answers 503). Safe from any thread.
  bool serving() const override { return serving_.load(std::memory_order_relaxed); }
  void setServing(bool serving) { serving_.store(serving, std::memory_order_relaxed); }

  // The process's memory guard (--max-memory), set once before the loops start; without
  // one (tests that build an engine alone) memory is never high.
  void setMemoryGuard(MemoryGuard* guard) { memory_ = guard; }
  MemoryGuard* memoryGuard() const { return memory_; }
  // Hub: true while the process is near --max-memory. Safe from any thread.
  bool memoryHigh() const override { return memory_ != nullptr && memory_->high(); }

 protected:
  // Lines of Prometheus text about the engine (link state, round trips, gaps); may be empty.
  virtual void appendEngineMetrics(std::string& out) const { (void)out; }
  // For the start of publish, broadcast and send: true (and `done` answered "overloaded",
  // the refusal counted) while memory is high, so the send costs nothing more.
  bool refusedForMemory(ReceiptFn& done) const;

 private:
  std::atomic<bool> serving_{true};
  MemoryGuard* memory_ = nullptr;
};

inline void Engine::appendMetrics(std::string& out) const {
  if (memory_ != nullptr) memory_->appendMetrics(out);
  appendEngineMetrics(out);
}

inline bool Engine::refusedForMemory(ReceiptFn& done) const {
  if (!memoryHigh()) return false;
  memory_->countRefused(MemoryGuard::Refused::kSend);
  if (done) {
    Receipt r;
    r.ok = false;
    r.errorCode = std::string(kMemoryCode);
    r.errorMessage = std::string(kMemoryMessage);
    done(r);
  }
  return true;
}

}  // namespace ringcast::push
