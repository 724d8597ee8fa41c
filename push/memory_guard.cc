#include "push/memory_guard.h"

#include <fmt/format.h>
#include <malloc.h>

#include "core/clock.h"
#include "core/log.h"

namespace ringcast::push {

MemoryGuard::MemoryGuard(uint64_t limitBytes) : limitBytes_(limitBytes) {}

MemoryGuard::~MemoryGuard() = default;

void MemoryGuard::start(net::EventLoop& loop) {
  loop.assertInLoopThread();
  loop_ = &loop;
  measure();
  ticker_ = std::make_unique<net::Ticker>(&loop, [this] { tick(); });
  ticker_->setPeriodUs(kMeasurePeriodMs * 1000);
}

void MemoryGuard::stop() {
  if (loop_ != nullptr) loop_->assertInLoopThread();
  ticker_.reset();
}

void MemoryGuard::measure() {
  const uint64_t used = rss_.residentBytes();
  usedBytes_.store(used, std::memory_order_relaxed);
  const bool wasHigh = high();
  const uint64_t percent = limitBytes_ > 0 ? used * 100 / limitBytes_ : 0;
  const bool nowHigh = wasHigh ? percent >= kLowPercent : percent >= kHighPercent;
  if (nowHigh == wasHigh) return;
  high_.store(nowHigh, std::memory_order_relaxed);
  if (nowHigh) {
    RC_LOG_WARN("memory {} MiB of --max-memory {} MiB: refusing new connections and sends",
                used >> 20, limitBytes_ >> 20);
  } else {
    RC_LOG_INFO("memory {} MiB of --max-memory {} MiB: accepting again", used >> 20,
                limitBytes_ >> 20);
  }
}

void MemoryGuard::tick() {
  loop_->assertInLoopThread();
  const int64_t nowMs = monotonicMs();
  const uint64_t freed = freedBytes_.load(std::memory_order_relaxed);
  const bool freedMuch = freed >= kTrimAfterFreedBytes;
  const bool freeingStopped = freed >= kTrimQuietFreedBytes && freed == freedLastTick_;
  freedLastTick_ = freed;
  if (freedMuch || freeingStopped || (high() && nowMs - lastTrimMs_ >= kTrimWhileHighEveryMs)) {
    freedBytes_.fetch_sub(freed, std::memory_order_relaxed);
    freedLastTick_ = 0;
    lastTrimMs_ = nowMs;
    const int64_t startNs = monotonicNs();
    // Walks the free chunks of every arena and hands whole free pages back (madvise).
    ::malloc_trim(0);
    trimNs_.fetch_add(static_cast<uint64_t>(monotonicNs() - startNs), std::memory_order_relaxed);
    trims_.fetch_add(1, std::memory_order_relaxed);
  }
  measure();
}

void MemoryGuard::countRefused(Refused what) {
  auto& counter = what == Refused::kConnection ? refusedConnections_ : refusedSends_;
  counter.fetch_add(1, std::memory_order_relaxed);
}

void MemoryGuard::appendMetrics(std::string& out) const {
  auto family = [&out](std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  family("ringcast_memory_limit_bytes", "gauge", "--max-memory (resident bytes)");
  out += fmt::format("ringcast_memory_limit_bytes {}\n", limitBytes_);
  family("ringcast_memory_used_bytes", "gauge", "resident set size at the last measurement");
  out += fmt::format("ringcast_memory_used_bytes {}\n", usedBytes());
  family("ringcast_memory_high", "gauge",
         "1 while near --max-memory: new connections and sends are refused");
  out += fmt::format("ringcast_memory_high {}\n", high() ? 1 : 0);
  family("ringcast_memory_refused_total", "counter", "work refused near --max-memory");
  out += fmt::format("ringcast_memory_refused_total{{kind=\"connection\"}} {}\n",
                     refusedConnections_.load(std::memory_order_relaxed));
  out += fmt::format("ringcast_memory_refused_total{{kind=\"send\"}} {}\n",
                     refusedSends_.load(std::memory_order_relaxed));
  family("ringcast_memory_trims_total", "counter", "freed heap handed back (malloc_trim)");
  out += fmt::format("ringcast_memory_trims_total {}\n", trims_.load(std::memory_order_relaxed));
  family("ringcast_memory_trim_seconds_total", "counter", "loop 0's time spent in those trims");
  out += fmt::format("ringcast_memory_trim_seconds_total {}\n",
                     static_cast<double>(trimNs_.load(std::memory_order_relaxed)) / 1e9);
}

}  // namespace ringcast::push
