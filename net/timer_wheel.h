// TimerWheel: O(1) per-connection deadlines (handshake, ping, pong, idle, close).
//
// Each connection embeds one TimerNode (two pointers and a deadline); arming, re-arming and
// cancelling are O(1) list operations, and advancing touches only the slots whose tick has
// passed. Deadlines further away than one turn of the wheel simply stay in their slot and
// are looked at once per turn. Callers that push a deadline later on every bit of activity
// need not re-arm at all: they keep their own "last activity" time and, when the old
// deadline fires, re-arm for the new one (lazy re-arming), so the hot path does no list work.
//
// Thread safety: one wheel per EventLoop, used by that loop's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringcast::net {

struct TimerNode {
  TimerNode* prev = nullptr;  // both null: not armed
  TimerNode* next = nullptr;
  int64_t deadlineMs = 0;
  bool armed() const { return prev != nullptr; }
};

class TimerWheel {
 public:
  using FireFn = void (*)(TimerNode* node, int64_t nowMs);

  // `fire` is called for each node whose deadline passed, after the node was unlinked; it
  // may re-arm the node or arm and cancel others.
  TimerWheel(int64_t nowMs, FireFn fire);
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Arms (or moves) `node` to fire at `deadlineMs`, rounded up to the next tick.
  void arm(TimerNode* node, int64_t deadlineMs);
  void cancel(TimerNode* node);
  // Fires every node whose deadline is <= nowMs.
  void advance(int64_t nowMs);
  // Milliseconds until the next tick that may fire something; -1 when nothing is armed.
  int64_t msUntilNextTick(int64_t nowMs) const;
  size_t size() const { return size_; }

  static constexpr int64_t kTickMs = 50;  // deadline resolution
  static constexpr size_t kSlots = 1024;  // one turn = 51.2 s; power of two

 private:
  TimerNode& slotFor(int64_t tick) { return slots_[static_cast<size_t>(tick) & (kSlots - 1)]; }
  static void unlink(TimerNode* node);

  std::vector<TimerNode> slots_;  // circular list heads (sentinels)
  int64_t currentTick_;           // every tick below this was processed
  size_t size_ = 0;
  FireFn fire_;
};

}  // namespace ringcast::net
