#include "push/api_metrics.h"

#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "core/json.h"

namespace ringcast::push {

std::string formatMicrosAsSeconds(uint64_t us) {
  std::string out = std::to_string(us / 1'000'000);
  uint64_t fraction = us % 1'000'000;
  if (fraction == 0) return out;
  std::string digits = fmt::format("{:06}", fraction);
  while (digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

namespace {

std::string formatSeconds(double seconds) {
  return std::isfinite(seconds) ? fmt::format("{}", seconds) : std::string("0");
}

template <typename Value>  // an integer count, or seconds as a double
void appendMetric(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, Value value) {
  fmt::format_to(std::back_inserter(out), "# HELP ringcast_{} {}\n# TYPE ringcast_{} {}\n", name,
                 help, name, type);
  fmt::format_to(std::back_inserter(out), "ringcast_{} {}\n", name, value);
}

void appendLoopMetric(std::string& out, std::string_view name, std::string_view type,
                      std::string_view help, const std::vector<uint64_t>& values) {
  fmt::format_to(std::back_inserter(out), "# HELP ringcast_{} {}\n# TYPE ringcast_{} {}\n", name,
                 help, name, type);
  for (size_t i = 0; i < values.size(); ++i) {
    fmt::format_to(std::back_inserter(out), "ringcast_{}{{loop=\"{}\"}} {}\n", name, i, values[i]);
  }
}

}  // namespace

std::string renderMetrics(const Stats& s) {
  std::string out;
  out.reserve(4096);
  appendMetric(out, "connections", "gauge", "Open client connections.", s.connections);
  appendMetric(out, "subscriptions", "gauge", "Channel subscriptions over all connections.",
               s.subscriptions);
  appendMetric(out, "messages_in_total", "counter",
               "Sends accepted for delivery (publishes, notices, direct messages).", s.messagesIn);
  appendMetric(out, "messages_out_total", "counter", "Frames queued to client sockets.",
               s.messagesOut);
  appendMetric(out, "bytes_out_total", "counter", "Bytes queued to client sockets.", s.bytesOut);
  appendMetric(out, "dropped_total", "counter",
               "Deliveries skipped or cut by the slow-consumer policy.", s.dropped);
  appendMetric(out, "slow_consumer_disconnects_total", "counter",
               "Connections closed as slow consumers.", s.slowConsumerDisconnects);
  appendMetric(out, "client_queued_bytes", "gauge",
               "Bytes queued for client connections (messages and replies) right now.",
               s.clientQueuedBytes);
  appendMetric(out, "commands_rate_limited_total", "counter",
               "Client commands refused with rate_limited (--command-rate).",
               s.commandsRateLimited);
  appendMetric(out, "rate_limit_disconnects_total", "counter",
               "Connections closed with 1008 for sustained command flooding.",
               s.rateLimitDisconnects);
  appendMetric(out, "parked_total", "counter",
               "Sends that found the fan-out ring full and waited for room.", s.parked);
  appendMetric(out, "park_refused_total", "counter",
               "Parked sends refused with overloaded after the bound.", s.parkRefused);
  appendMetric(
      out, "joined_frames_total", "counter",
      "Frames that carried consecutive messages of one channel to its subscribers at once.",
      s.joinedFrames);
  appendMetric(out, "joined_deliveries_total", "counter",
               "Deliveries made through joined frames (a message to one socket).",
               s.joinedDeliveries);
  appendMetric(out, "deflate_messages_compressed_total", "counter",
               "Messages compressed for permessage-deflate (once each, on a loop).",
               s.framesCompressed);
  appendMetric(out, "deflate_compress_cpu_seconds_total", "counter",
               "Loop CPU time spent compressing them.", static_cast<double>(s.compressNs) / 1e9);
  appendMetric(out, "deflate_deliveries_total", "counter", "Deliveries that went out compressed.",
               s.messagesSentCompressed);
  appendMetric(out, "deflate_bytes_saved_total", "counter",
               "Wire bytes those deliveries saved against the uncompressed frames.",
               s.compressionBytesSaved);
  appendMetric(out, "ring_occupancy", "gauge", "Messages in the broadcast ring.", s.ringOccupancy);
  appendMetric(out, "ring_capacity", "gauge", "Slots in the broadcast ring.", s.ringCapacity);
  appendLoopMetric(out, "loop_connections", "gauge", "Open connections per loop.",
                   s.loopConnections);
  appendLoopMetric(out, "loop_iterations_total", "counter", "Event loop iterations per loop.",
                   s.loopIterations);

  constexpr std::string_view kHist = "ringcast_publish_to_write_seconds";
  fmt::format_to(std::back_inserter(out),
                 "# HELP {} Time from publish to the write of a delivery.\n# TYPE {} histogram\n",
                 kHist, kHist);
  size_t i = 0;
  for (uint64_t us : kLatencyBucketsUs) {
    uint64_t count = i < s.latencyBuckets.size() ? s.latencyBuckets[i] : 0;
    fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"{}\"}} {}\n", kHist,
                   formatMicrosAsSeconds(us), count);
    ++i;
  }
  fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"+Inf\"}} {}\n", kHist, s.latencyCount);
  fmt::format_to(std::back_inserter(out), "{}_sum {}\n", kHist, formatSeconds(s.latencySumSeconds));
  fmt::format_to(std::back_inserter(out), "{}_count {}\n", kHist, s.latencyCount);
  return out;
}

std::string renderStatsJson(const Stats& s) {
  std::string out = "{\"ok\":true,";
  const std::pair<std::string_view, uint64_t> counters[] = {
      {"connections", s.connections},
      {"subscriptions", s.subscriptions},
      {"messages_in", s.messagesIn},
      {"messages_out", s.messagesOut},
      {"bytes_out", s.bytesOut},
      {"dropped", s.dropped},
      {"slow_consumer_disconnects", s.slowConsumerDisconnects},
      {"joined_frames", s.joinedFrames},
      {"joined_deliveries", s.joinedDeliveries},
      {"ring_occupancy", s.ringOccupancy},
      {"ring_capacity", s.ringCapacity},
  };
  for (const auto& [name, value] : counters) {
    json::appendUintField(out, name, value);
    out += ',';
  }
  auto appendList = [&out](std::string_view name, const std::vector<uint64_t>& values) {
    fmt::format_to(std::back_inserter(out), "\"{}\":[", name);
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      out += std::to_string(values[i]);
    }
    out += "],";
  };
  appendList("loop_connections", s.loopConnections);
  appendList("loop_iterations", s.loopIterations);
  out += "\"publish_to_write\":{";
  json::appendUintField(out, "count", s.latencyCount);
  fmt::format_to(std::back_inserter(out), ",\"sum_seconds\":{},\"buckets\":[",
                 formatSeconds(s.latencySumSeconds));
  size_t i = 0;
  for (uint64_t us : kLatencyBucketsUs) {
    if (i > 0) out += ',';
    uint64_t count = i < s.latencyBuckets.size() ? s.latencyBuckets[i] : 0;
    fmt::format_to(std::back_inserter(out), "{{\"le_seconds\":{},\"count\":{}}}",
                   formatMicrosAsSeconds(us), count);
    ++i;
  }
  out += "]}}";
  return out;
}

}  // namespace ringcast::push
