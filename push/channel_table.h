// ChannelTable: the single-node engine's (MemoryEngine) state of every channel — the offset
// counter, the bounded history (for recovery after a reconnect), the subscriber count and
// the presence list (which users are subscribed, with how many connections). It is, with the
// broadcast ring, the only shared mutable state of a single node.
//
// Bounded as a whole: every channel's history is counted in bytes, and the channels with
// history are ordered by the age of their oldest entry, so trimToBudget() drops the oldest
// messages of all channels first. sweep() walks the table a bounded slice at a time (a
// timer calls it): it drops history past the age limit and forgets a channel with no
// subscriber, no history and no waiting event. A forgotten channel that comes back is a new
// incarnation: its offsets start again at 0 under a new epoch (MemoryEngine::epochOf), so
// an old `since` cannot be mistaken for a position in the new one.
//
// Locking rule: the table's map is guarded by a shared_mutex (readers look channels up,
// writers add or remove them); each Channel has its own mutex guarding all of its fields.
// Callers work on a channel through withChannel(), which holds that channel's lock for the
// duration of the callback. A publish assigns the offset, pushes the frame into the ring and
// appends to history under one lock, so offsets reach every loop in order. Pushing never
// waits (a full ring fails at once; the caller parks its work and retries outside the
// lock). Channel locks never nest. The order is map, then one channel, then the history
// index's mutex, a leaf (held for a few map operations, never while taking another lock).
//
// Thread safety: every method is safe from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/hash.h"
#include "core/shared_frame.h"
#include "push/hub.h"

namespace ringcast::push {

struct Envelope;

struct HistoryEntry {
  uint64_t offset;
  int64_t tsMs;
  FrameRef frame;  // the encoded message frame, exactly as it was sent live
};

// What one history entry is counted as against the budget: its frame plus the bookkeeping
// around it (the frame's header, the deque slot, the allocator's rounding), measured
// roughly so that a flood of tiny messages is not counted as free.
inline constexpr uint64_t kHistoryEntryOverheadBytes = 96;

// A deque that exists only while it holds something: libstdc++'s std::deque allocates its
// map and a 512-byte block when constructed, and a channel has two that are empty most of
// its life (the history of a channel nobody published to, the events waiting for a full
// ring). The subset of the deque's interface the table uses; the deque is freed when it
// empties.
template <class T>
class OnDemandDeque {
 public:
  bool empty() const { return items_ == nullptr; }
  size_t size() const { return items_ == nullptr ? 0 : items_->size(); }
  T& front() { return items_->front(); }
  const T& front() const { return items_->front(); }
  T& back() { return items_->back(); }
  void push_back(T item) {
    if (items_ == nullptr) items_ = std::make_unique<std::deque<T>>();
    items_->push_back(std::move(item));
  }
  void pop_front() {
    items_->pop_front();
    if (items_->empty()) items_.reset();
  }
  void clear() { items_.reset(); }
  auto begin() const { return items_ == nullptr ? kNone.begin() : items_->cbegin(); }
  auto end() const { return items_ == nullptr ? kNone.end() : items_->cend(); }

 private:
  static inline const std::deque<T> kNone;
  std::unique_ptr<std::deque<T>> items_;
};

struct PresenceUser {
  std::string name;
  uint32_t conns = 0;
};

struct Channel : std::enable_shared_from_this<Channel> {
  Channel(std::string n, uint64_t inc) : name(std::move(n)), incarnation(inc) {}
  const std::string name;
  // 0 for a channel first made before any channel was forgotten; otherwise a number no
  // earlier incarnation of this name had (part of its epoch).
  const uint64_t incarnation;
  std::mutex mutex;      // guards everything below
  bool removed = false;  // unlinked from the table: whoever still holds it must look again
  uint64_t offset = 0;   // last assigned offset (0: none yet; the first message gets 1)
  // Offsets ascending, contiguous. Changed only through ChannelTable (keep, trimHistory),
  // which counts the bytes against the budget.
  OnDemandDeque<HistoryEntry> history;
  uint64_t historyBytes = 0;  // what `history` counts against the budget
  // The key this channel is listed under in the table's oldest-first index, never newer
  // than history.front().tsMs; -1 while the history is empty (not listed).
  int64_t budgetKeyMs = -1;
  uint64_t subscribers = 0;
  std::unordered_map<std::string, PresenceUser, StringHash, std::equal_to<>> presence;
  // Presence events that found the ring full, oldest first (owned; each an Envelope of the
  // fan-out). They go out before any later message of the channel, so order holds.
  OnDemandDeque<Envelope*> pendingEvents;
};

// What one sweep() slice did.
struct SweepResult {
  size_t visited = 0;    // channels looked at
  size_t forgotten = 0;  // of those, removed from the table
};

class ChannelTable {
 public:
  // Runs fn(channel) under the channel's lock, creating the channel if needed.
  template <class Fn>
  auto withChannel(std::string_view name, Fn&& fn) {
    for (;;) {
      std::shared_ptr<Channel> ch = getOrCreate(name);
      std::lock_guard<std::mutex> lock(ch->mutex);
      if (!ch->removed) return fn(*ch);
    }
  }
  // Like withChannel, but does nothing (returns false) when the channel does not exist.
  bool withExisting(std::string_view name, const std::function<void(Channel&)>& fn);
  // Removes the channel if it has no subscribers, never had a message (a channel with
  // offsets is forgotten only by sweep(), once its history is gone) and has no event
  // waiting. Keeps the table bounded by what is live when clients subscribe to many names.
  void removeIfUnused(std::string_view name);

  // History of one channel. REQUIRES: ch's lock is held (inside withChannel/withExisting).
  // keep() appends an entry (offsets ascending); trimHistory() drops entries beyond
  // `maxEntries` or older than `ttlMs` (0: no age limit).
  void keep(Channel& ch, uint64_t offset, int64_t tsMs, FrameRef frame);
  void trimHistory(Channel& ch, size_t maxEntries, int64_t ttlMs, int64_t nowMs);

  // Drops history entries, the oldest of all channels first, until the histories hold at
  // most `budgetBytes`, or `maxSteps` entries were looked at (a bound on the work of one
  // call). Returns the entries dropped. REQUIRES: no channel lock held by the caller.
  size_t trimToBudget(uint64_t budgetBytes, size_t maxSteps);
  // One slice of the walk over the table, after where the last slice stopped: up to
  // `maxVisits` buckets and channels. Each channel's history older than `ttlMs` (0: no age
  // limit) is dropped; a channel with no subscriber, no history and no waiting event is
  // forgotten. REQUIRES: no channel lock held by the caller.
  SweepResult sweep(size_t maxVisits, int64_t ttlMs, int64_t nowMs);

  uint64_t historyBytes() const { return historyBytes_.load(std::memory_order_relaxed); }
  // Bytes of history dropped since the last call (a hint for giving memory back).
  uint64_t takeFreedBytes() { return freedBytes_.exchange(0, std::memory_order_relaxed); }
  uint64_t budgetTrimmed() const { return budgetTrimmed_.load(std::memory_order_relaxed); }
  uint64_t forgotten() const;

  std::vector<ChannelInfo> list();
  size_t size() const;

 private:
  std::shared_ptr<Channel> getOrCreate(std::string_view name);
  // REQUIRES: ch's lock. Drops the oldest entry and re-lists (or unlists) the channel.
  void popFront(Channel& ch);
  // REQUIRES: ch's lock. Lists ch under `keyMs` (-1: unlists it).
  void relist(Channel& ch, int64_t keyMs);

  mutable std::shared_mutex mapMutex_;
  std::unordered_map<std::string, std::shared_ptr<Channel>, StringHash, std::equal_to<>> map_;
  uint64_t forgotten_ = 0;  // channels forgotten by sweep(); guarded by mapMutex_
  size_t sweepBucket_ = 0;  // where the next sweep() slice starts; guarded by mapMutex_

  // The oldest-first index: (key, channel) for every channel with history. A leaf lock.
  std::mutex indexMutex_;
  std::map<std::pair<int64_t, const Channel*>, std::shared_ptr<Channel>> index_;

  // Written with relaxed atomics under a channel's lock: a publish already writes shared
  // state (its channel, the ring), one more counter on it costs nothing visible.
  std::atomic<uint64_t> historyBytes_{0};
  std::atomic<uint64_t> freedBytes_{0};
  std::atomic<uint64_t> budgetTrimmed_{0};
};

}  // namespace ringcast::push
