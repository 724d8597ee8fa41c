// BroadcastRing: a bounded lock-free ring of pointers with many writers and one read cursor
// per reader; every reader sees every item, in the order the writers claimed their slots.
// It carries the fan-out: a publishing thread pushes an encoded message once, every loop
// delivers it to its own subscribers.
//
// Thread safety / Invariants:
// - tryPublish() is safe from any thread. A writer claims position p with a CAS on
//   writeIndex_, stores the item, then publishes the slot by storing seq = p + 1 (release).
// - Reader r (one thread per reader) reads slot p only when its seq == p + 1 (acquire: the
//   item written before the release is visible), and moves its cursor past the items it has
//   finished with (release).
// - A writer may claim p only when p - min(cursors) < capacity, i.e. the slot's previous
//   item (p - capacity) has been released by every reader. The cursors are loaded with
//   acquire, so the readers' loads of that old item happen before the writer overwrites it.
//   Writers share the minimum they computed through minCursorCache_ (release store, acquire
//   load), which carries that happens-before on to a writer that trusts the cached value.
//   The slowest reader gates the writers: memory is bounded, and a full ring is
//   back-pressure (tryPublish returns false), never loss.
// - Items become visible strictly in claim order: a reader stops at the first claimed slot
//   whose writer has not stored it yet, even if later slots are ready.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace ringcast {

template <class T>
class BroadcastRing {
 public:
  // REQUIRES: capacity is a power of two; readers >= 1.
  BroadcastRing(size_t capacity, int readers)
      : mask_(capacity - 1),
        readers_(readers),
        slots_(new Slot[capacity]),
        cursors_(new Cursor[static_cast<size_t>(readers)]) {
    assert(capacity >= 2 && (capacity & (capacity - 1)) == 0);
    for (size_t i = 0; i < capacity; ++i) slots_[i].seq.store(0, std::memory_order_relaxed);
  }
  BroadcastRing(const BroadcastRing&) = delete;
  BroadcastRing& operator=(const BroadcastRing&) = delete;

  size_t capacity() const { return mask_ + 1; }
  int readers() const { return readers_; }

  // Safe from any thread. Returns false when the slowest reader is a whole ring behind.
  bool tryPublish(T* item) {
    uint64_t pos = writeIndex_.load(std::memory_order_relaxed);
    for (;;) {
      if (pos - minCursorCache_.load(std::memory_order_acquire) > mask_) {
        uint64_t min = slowestCursor();
        minCursorCache_.store(min, std::memory_order_release);
        if (pos - min > mask_) return false;
      }
      // relaxed: the claim orders nothing by itself; the slot's seq store publishes.
      if (writeIndex_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
    }
    Slot& slot = slots_[pos & mask_];
    slot.item = item;
    slot.seq.store(pos + 1, std::memory_order_release);
    return true;
  }

  // Reader r only: copies up to `max` ready items from r's cursor into out; returns how many.
  // The items stay reserved (no writer reuses their slots) until release(r, n).
  size_t peek(int r, T** out, size_t max) const {
    uint64_t pos = cursors_[r].pos.load(std::memory_order_relaxed);
    size_t n = 0;
    while (n < max) {
      const Slot& slot = slots_[(pos + n) & mask_];
      if (slot.seq.load(std::memory_order_acquire) != pos + n + 1) break;
      out[n++] = slot.item;
    }
    return n;
  }

  // Reader r only: done with the next n items.
  void release(int r, size_t n) {
    uint64_t pos = cursors_[r].pos.load(std::memory_order_relaxed);
    cursors_[r].pos.store(pos + n, std::memory_order_release);
  }

  // Reader r only (or any thread, as a hint): is an item ready at r's cursor?
  bool hasReady(int r) const {
    uint64_t pos = cursors_[r].pos.load(std::memory_order_acquire);
    return slots_[pos & mask_].seq.load(std::memory_order_acquire) == pos + 1;
  }

  // Items claimed but not yet released by the slowest reader (a gauge for metrics).
  uint64_t occupancy() const {
    return writeIndex_.load(std::memory_order_relaxed) - slowestCursor();
  }

 private:
  static constexpr size_t kCacheLine = 64;

  struct Slot {
    std::atomic<uint64_t> seq;  // p + 1 once item p is stored
    T* item = nullptr;
  };
  struct alignas(kCacheLine) Cursor {
    std::atomic<uint64_t> pos{0};  // next position reader r will read
  };

  uint64_t slowestCursor() const {
    uint64_t min = cursors_[0].pos.load(std::memory_order_acquire);
    for (int r = 1; r < readers_; ++r) {
      uint64_t c = cursors_[r].pos.load(std::memory_order_acquire);
      if (c < min) min = c;
    }
    return min;
  }

  const uint64_t mask_;
  const int readers_;
  std::unique_ptr<Slot[]> slots_;
  std::unique_ptr<Cursor[]> cursors_;
  alignas(kCacheLine) std::atomic<uint64_t> writeIndex_{0};      // next position to claim
  alignas(kCacheLine) std::atomic<uint64_t> minCursorCache_{0};  // writers' cached minimum
  char pad_[kCacheLine - sizeof(std::atomic<uint64_t>)];
};

static_assert(sizeof(std::atomic<uint64_t>) == 8, "one word per index");

}  // namespace ringcast
