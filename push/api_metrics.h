// The gateway's counters as the internal HTTP API shows them: GET /metrics in the Prometheus
// text format, GET /api/stats as one JSON object. Pure functions of a Stats snapshot, safe
// from any thread.
#pragma once

#include <cstdint>
#include <string>

#include "push/hub.h"

namespace ringcast::push {

// GET /metrics: Prometheus text exposition format 0.0.4.
std::string renderMetrics(const Stats& stats);
// GET /api/stats: one JSON object.
std::string renderStatsJson(const Stats& stats);
// "0.0001" for 100 us: exact decimal seconds.
std::string formatMicrosAsSeconds(uint64_t us);

}  // namespace ringcast::push
