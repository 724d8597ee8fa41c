// PortRefusals: how often the internal ports (HTTP API, TCP publish) refused a caller, by
// reason, for /metrics (ringcast_api_refused_total{reason=...},
// ringcast_publish_refused_total{reason=...}). Refusals are rare and off the data path, so
// these are relaxed atomics shared by every loop rather than per-loop counters summed on a
// scrape; the count orders nothing else.
//
// Thread safety: count() and appendMetrics() are safe from any thread. Owned by the Gateway,
// which outlives every connection.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::push {

class PortRefusals {
 public:
  enum Reason : uint8_t {
    kApiOrigin,           // 403: an Origin not in --api-allowed-origins
    kApiHost,             // 421: a Host that names neither the listener nor an --api-host name
    kApiContentType,      // 415: a JSON route without a JSON Content-Type
    kApiTimeout,          // 408: a request not whole within --api-request-timeout
    kApiConnections,      // 503 at accept: over --api-max-connections
    kPublishIdle,         // -ERR idle timeout: silent for --publish-idle-timeout
    kPublishConnections,  // -ERR too many connections: over --publish-max-connections
    kReasons,
  };

  void count(Reason reason) { counts_[reason].fetch_add(1, std::memory_order_relaxed); }
  uint64_t value(Reason reason) const { return counts_[reason].load(std::memory_order_relaxed); }

  // Appends the two families in the Prometheus text format.
  void appendMetrics(std::string& out) const;

 private:
  std::array<std::atomic<uint64_t>, kReasons> counts_{};
};

}  // namespace ringcast::push
