// ChannelTable: the single-node engine's (MemoryEngine) state of every channel — the offset
// counter, the bounded history (for recovery after a reconnect), the subscriber count and
// the presence list (which users are subscribed, with how many connections). It is, with the
// broadcast ring, the only shared mutable state of a single node.
//
// Locking rule: the table's map is guarded by a shared_mutex (readers look channels up,
// writers add or remove them); each Channel has its own mutex guarding all of its fields.
// Callers work on a channel through withChannel(), which holds that channel's lock for the
// duration of the callback. A publish assigns the offset, pushes the frame into the ring and
// appends to history under one lock, so offsets reach every loop in order. Pushing never
// waits (a full ring fails at once; the caller parks its work and retries outside the
// lock). Channel locks never nest, and no other lock is taken while one is held.
//
// Thread safety: every method is safe from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
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

struct PresenceUser {
  std::string name;
  uint32_t conns = 0;
};

struct Channel {
  explicit Channel(std::string n) : name(std::move(n)) {}
  const std::string name;
  std::mutex mutex;      // guards everything below
  bool removed = false;  // unlinked from the table: whoever still holds it must look again
  uint64_t offset = 0;   // last assigned offset (0: none yet; the first message gets 1)
  std::deque<HistoryEntry> history;  // offsets ascending, contiguous
  uint64_t subscribers = 0;
  std::unordered_map<std::string, PresenceUser, StringHash, std::equal_to<>> presence;
  // Presence events that found the ring full, oldest first (owned; each an Envelope of the
  // fan-out). They go out before any later message of the channel, so order holds.
  std::deque<Envelope*> pendingEvents;

  // Drops history entries beyond `maxEntries` or older than `ttlMs` (0: no age limit).
  void trimHistory(size_t maxEntries, int64_t ttlMs, int64_t nowMs);
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
  // offsets must keep them, or recovery would mistake new messages for old ones) and has no
  // event waiting. Keeps the table bounded by what is live when clients subscribe to many
  // names.
  void removeIfUnused(std::string_view name);

  std::vector<ChannelInfo> list();
  size_t size() const;

 private:
  std::shared_ptr<Channel> getOrCreate(std::string_view name);

  mutable std::shared_mutex mapMutex_;
  std::unordered_map<std::string, std::shared_ptr<Channel>, StringHash, std::equal_to<>> map_;
};

}  // namespace ringcast::push
