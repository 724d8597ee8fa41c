// MemoryGuard: the process's memory against --max-memory, so that near the limit the
// gateway refuses new work instead of being killed by the kernel. A ticker on loop 0 reads
// the resident set size every kMeasurePeriodMs (one pread of /proc/self/statm). From
// kHighPercent of the limit the guard is high until use falls below kLowPercent: meanwhile
// new WebSocket connections get 503, new publishes, notices and direct messages get
// "overloaded", and /healthz answers 503 "memory high"; what is already open goes on.
//
// It also gives freed heap back to the system: glibc keeps freed chunks in its arenas, so
// the ticker calls malloc_trim(0) once kTrimAfterFreedBytes were freed (noteFreed), once
// frees of at least kTrimQuietFreedBytes stopped coming for a tick, and every second while
// high. Never on every free: a trim walks the arenas' free chunks (about a millisecond for
// a heap of 100 MiB on the machine of BENCHMARKS.md; ringcast_memory_trim_seconds_total).
//
// Thread safety: start() once, on the loop thread that will run the ticker; every other
// method is safe from any thread (relaxed atomics: each value stands alone).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/process_memory.h"
#include "net/event_loop.h"
#include "net/ticker.h"

namespace ringcast::push {

class MemoryGuard {
 public:
  static constexpr int64_t kMeasurePeriodMs = 100;  // reading statm costs ~2 us
  static constexpr uint64_t kHighPercent = 90;      // refuse new work from here
  static constexpr uint64_t kLowPercent = 85;       // ... until use is back below this
  // Freed bytes that make the next tick give memory back; below it, a trim would walk the
  // heap for little.
  static constexpr uint64_t kTrimAfterFreedBytes = 16ull << 20;
  static constexpr uint64_t kTrimQuietFreedBytes = 1ull << 20;
  static constexpr int64_t kTrimWhileHighEveryMs = 1000;

  explicit MemoryGuard(uint64_t limitBytes);
  ~MemoryGuard();

  // Starts the ticker on `loop`. REQUIRES: loop's thread.
  void start(net::EventLoop& loop);
  // Stops it (before its loop stops). REQUIRES: that loop's thread.
  void stop();
  // Reads the resident set size now and updates high(). Called by the ticker.
  void measure();

  bool high() const { return high_.load(std::memory_order_relaxed); }
  uint64_t limitBytes() const { return limitBytes_; }
  uint64_t usedBytes() const { return usedBytes_.load(std::memory_order_relaxed); }

  enum class Refused { kConnection, kSend };
  void countRefused(Refused what);
  // `bytes` were freed somewhere (history dropped): a hint that a trim would give back.
  void noteFreed(uint64_t bytes) { freedBytes_.fetch_add(bytes, std::memory_order_relaxed); }

  // Prometheus text: the limit, the use, high or not, refusals, trims.
  void appendMetrics(std::string& out) const;

 private:
  void tick();

  const uint64_t limitBytes_;
  RssReader rss_;  // used by measure(), on the ticker's loop (or before the loops start)
  net::EventLoop* loop_ = nullptr;  // the ticker's loop, set by start()
  std::unique_ptr<net::Ticker> ticker_;
  int64_t lastTrimMs_ = 0;      // ticker's loop only
  uint64_t freedLastTick_ = 0;  // freedBytes_ as the last tick saw it; ticker's loop only
  std::atomic<bool> high_{false};
  std::atomic<uint64_t> usedBytes_{0};
  std::atomic<uint64_t> freedBytes_{0};
  std::atomic<uint64_t> refusedConnections_{0};
  std::atomic<uint64_t> refusedSends_{0};
  std::atomic<uint64_t> trims_{0};
  std::atomic<uint64_t> trimNs_{0};
};

}  // namespace ringcast::push
