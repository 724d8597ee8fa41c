#include "bench/client/report.h"

#include <cstring>

#include <fmt/core.h>

namespace ringcast::bench {
namespace {

constexpr double kPercentiles[] = {0.50, 0.90, 0.99, 0.999};
constexpr const char* kPercentileNames[] = {"p50", "p90", "p99", "p99.9"};

std::string formatNs(uint64_t ns) {
  if (ns < 10'000) return fmt::format("{}us", fmt::format("{:.1f}", ns / 1e3));
  if (ns < 10'000'000) return fmt::format("{:.2f}ms", ns / 1e6);
  if (ns < 10'000'000'000) return fmt::format("{:.1f}ms", ns / 1e6);
  return fmt::format("{:.2f}s", ns / 1e9);
}

double rate(uint64_t n, double sec) {
  return sec > 0 ? static_cast<double>(n) / sec : 0.0;
}

std::string codes(const CodeCounts& cc, const char* prefix) {
  std::string out;
  for (size_t i = 0; i < CodeCounts::kSlots; ++i) {
    if (cc.count[i] == 0) continue;
    if (!out.empty()) out += ", ";
    out += fmt::format("{}{} x{}", prefix, cc.code[i], cc.count[i]);
  }
  if (cc.other > 0) out += fmt::format("{}others x{}", out.empty() ? "" : ", ", cc.other);
  return out;
}

std::string errnoCodes(const CodeCounts& cc) {
  std::string out;
  for (size_t i = 0; i < CodeCounts::kSlots; ++i) {
    if (cc.count[i] == 0) continue;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} x{}", std::strerror(cc.code[i]), cc.count[i]);
  }
  return out;
}

std::string cpuLine(const RunReport& r) {
  const double sec = r.cpuSec;
  std::string line =
      fmt::format("cpu over the window ({:.2f} s): client {:.2f} s ({:.0f}% of a core)", sec,
                  r.clientCpuWindowNs / 1e9, sec > 0 ? 100.0 * r.clientCpuWindowNs / 1e9 / sec : 0);
  auto share = [sec](int64_t ns) { return sec > 0 ? 100.0 * ns / 1e9 / sec : 0; };
  const auto& pids = r.options->serverPids;
  for (size_t i = 0; i < r.serverCpuWindowPerPidNs.size() && i < pids.size(); ++i) {
    line += fmt::format(", server pid {} {:.2f} s ({:.0f}%)", pids[i],
                        r.serverCpuWindowPerPidNs[i] / 1e9, share(r.serverCpuWindowPerPidNs[i]));
  }
  if (pids.size() > 1 && r.serverCpuWindowNs >= 0) {
    line += fmt::format(", servers together {:.2f} s ({:.0f}%)", r.serverCpuWindowNs / 1e9,
                        share(r.serverCpuWindowNs));
  }
  line += fmt::format("\ncpu over the whole run: client {:.2f} s", r.clientCpuTotalNs / 1e9);
  if (r.serverCpuTotalNs >= 0) line += fmt::format(", server {:.2f} s", r.serverCpuTotalNs / 1e9);
  return line;
}

void jsonHistogram(std::string& out, const char* name, const Histogram& h, double scale) {
  out += fmt::format("\"{}\":{{\"count\":{}", name, h.count());
  if (h.count() > 0) {
    for (size_t i = 0; i < 4; ++i) {
      out +=
          fmt::format(",\"{}\":{:.3f}", kPercentileNames[i], h.percentile(kPercentiles[i]) * scale);
    }
    out += fmt::format(",\"min\":{:.3f},\"mean\":{:.3f},\"max\":{:.3f}", h.min() * scale,
                       h.mean() * scale, h.max() * scale);
  }
  out += "}";
}

std::string jsonString(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

void jsonCodes(std::string& out, const char* name, const CodeCounts& cc) {
  out += fmt::format(",\"{}\":{{", name);
  bool first = true;
  for (size_t i = 0; i < CodeCounts::kSlots; ++i) {
    if (cc.count[i] == 0) continue;
    out += fmt::format("{}\"{}\":{}", first ? "" : ",", cc.code[i], cc.count[i]);
    first = false;
  }
  if (cc.other > 0) out += fmt::format("{}\"other\":{}", first ? "" : ",", cc.other);
  out += "}";
}

}  // namespace

const char* publishViaName(PublishVia via) {
  switch (via) {
    case PublishVia::kHttp:
      return "http";
    case PublishVia::kWs:
      return "ws";
    case PublishVia::kTcp:
      return "tcp";
  }
  return "?";
}

std::string formatLatency(const Histogram& h) {
  if (h.count() == 0) return "no samples";
  std::string out;
  for (size_t i = 0; i < 4; ++i) {
    out += fmt::format("{} {}  ", kPercentileNames[i], formatNs(h.percentile(kPercentiles[i])));
  }
  return out + fmt::format("max {}", formatNs(h.max()));
}

std::string describeFailures(const Counters& c) {
  std::string out;
  for (size_t i = 0; i < kFailureKinds; ++i) {
    if (c.failures[i] == 0) continue;
    const Failure f = static_cast<Failure>(i);
    out += fmt::format("  {:>8} {}: {}", c.failures[i], failureKey(f), failureDescription(f));
    if (f == Failure::kRejected) out += " (" + codes(c.rejectedStatus, "HTTP ") + ")";
    if (f == Failure::kConnectError) out += " (" + errnoCodes(c.connectErrno) + ")";
    if (f == Failure::kServerClosed) out += " (" + codes(c.serverCloseCode, "code ") + ")";
    out += "\n";
  }
  return out;
}

std::string formatReport(const RunReport& r) {
  const Options& o = *r.options;
  const Counters& c = r.workers.c;
  std::string out = fmt::format("ringcast-bench {}: {}  ({} procs x {} threads)\n",
                                modeName(o.mode), o.url.text, o.procs, o.threads);
  if (!r.fatal.empty() && c.opened == 0) {
    // Nothing was measured: the failures are the whole story.
    out += fmt::format("connections: {} attempts, none opened\n", c.attempts);
    out += "failures by kind:\n" + describeFailures(c);
    return out + "FAILED: " + r.fatal + "\n";
  }
  if (o.mode != Mode::kHandshake) {
    out += fmt::format("connections: {} opened of {} in {:.2f} s, {} failed to open\n", c.opened,
                       o.conns, r.connectSec, c.failed());
    out += fmt::format("connect + upgrade latency: {}\n", formatLatency(r.workers.connect));
    if (o.compression) {
      out += fmt::format("permessage-deflate negotiated on {} of {} connections\n",
                         c.compressedConns, c.opened);
    }
    out += fmt::format("bytes received on the wire: {} ({:.1f} MB)\n", c.bytesReceived,
                       c.bytesReceived / 1e6);
  }
  switch (o.mode) {
    case Mode::kEcho:
      out += fmt::format("echo: {} connections x {} in flight x {} B {}, {:.2f} s\n", c.opened,
                         o.inflight, o.sizeBytes, o.binary ? "binary" : "text", r.windowSec);
      out += fmt::format("round trips: {} = {:.0f}/s ({:.2f} MB/s each way)\n", c.received,
                         rate(c.received, r.windowSec),
                         rate(c.received, r.windowSec) * static_cast<double>(o.sizeBytes) / 1e6);
      out += fmt::format("round-trip latency: {}\n", formatLatency(r.workers.latency));
      if (c.badEchoes > 0) out += fmt::format("BAD ECHOES (wrong size or type): {}\n", c.badEchoes);
      break;
    case Mode::kIdle: {
      out += fmt::format("held: {} of {} open for the whole hold of {:.2f} s; {} lost during it\n",
                         c.closedOk, o.conns, r.windowSec, c.lostOpen());
      if (r.workers.lifetime.count() > 0) {
        out += fmt::format("time up of the lost ones (ms): min {} p50 {} max {}\n",
                           r.workers.lifetime.min(), r.workers.lifetime.percentile(0.5),
                           r.workers.lifetime.max());
      }
      out += fmt::format("pings answered: {}\n", c.pingsAnswered);
      break;
    }
    case Mode::kHandshake:
      out += fmt::format(
          "handshakes: {} completed cycles (connect + upgrade + close) in {:.2f} s = "
          "{:.0f}/s{}; {} attempts, {} failed\n",
          c.cycles, r.windowSec, rate(c.cycles, r.windowSec),
          o.ratePerSec > 0 ? fmt::format(" (target {:.0f}/s)", o.ratePerSec) : "", c.attempts,
          c.failed());
      out += fmt::format("connect + upgrade latency: {}\n", formatLatency(r.workers.connect));
      out += fmt::format("whole cycle latency:       {}\n", formatLatency(r.workers.latency));
      break;
    case Mode::kFanout: {
      const Counters& p = r.publisher.c;
      out += fmt::format("subscribers: {} ready", c.subscribers);
      if (o.channels.count() > 1 || o.urls.size() > 1) {
        out += fmt::format(" over {} channels ({} .. {}) and {} URLs; publishes spread {}",
                           o.channels.count(), o.channels.name(0),
                           o.channels.name(o.channels.count() - 1), o.urls.size(),
                           o.zipf > 0 ? fmt::format("by Zipf s={} (seed {})", o.zipf, o.seed)
                                      : std::string("uniformly"));
      }
      if (r.readerNice > 0) out += fmt::format("; readers at nice {}", r.readerNice);
      out += "\n";
      out += fmt::format("published: {} in {:.2f} s = {:.0f} publishes/s by {} publishers via {}{}",
                         p.published, r.windowSec, rate(p.published, r.windowSec), o.publishConns,
                         publishViaName(o.publishVia),
                         o.ratePerSec > 0 ? fmt::format(" (target {:.0f}/s)", o.ratePerSec) : "");
      if (o.publishVia == PublishVia::kHttp) {
        out +=
            fmt::format("; {} answered 2xx, {} errors{}, {} unanswered\n", p.acked, p.publishErrors,
                        p.publishErrors > 0 ? " (" + codes(p.publishStatus, "HTTP ") + ")" : "",
                        p.publishUnanswered);
        out += fmt::format("publish answer latency: {}\n", formatLatency(r.publisher.latency));
      } else if (o.publishVia == PublishVia::kTcp) {
        out += fmt::format("; {} confirmed by PONG, {} refused (-ERR), {} unconfirmed\n", p.acked,
                           p.publishErrors, p.publishUnanswered + p.publishInflight);
        out += fmt::format("PING-to-PONG latency: {}\n", formatLatency(r.publisher.latency));
      } else {
        out += "\n";
      }
      out += fmt::format(
          "deliveries: expected {}, delivered {} ({} unique), lost {}, duplicated {}, out of "
          "order {}{}\n",
          c.expected, c.deliveries, c.unique, c.lost, c.duplicates, c.late,
          c.beyondWindow > 0 ? fmt::format(" ({} beyond the check window)", c.beyondWindow) : "");
      out += fmt::format(
          "delivery rate: {:.0f} deliveries/s over {:.2f} s (first publish to last delivery)\n",
          rate(c.deliveries, r.deliverySec), r.deliverySec);
      out += fmt::format("publish-to-delivery latency: {}\n", formatLatency(r.workers.latency));
      if (c.malformed > 0) out += fmt::format("malformed markers: {}\n", c.malformed);
      if (c.wrongChannel > 0) {
        out += fmt::format("MESSAGES OF ANOTHER CHANNEL: {}\n", c.wrongChannel);
      }
      if (o.reconnect) {
        out += fmt::format(
            "reconnects: {} started, {} resubscribed with since, {} of them recovered:false\n",
            c.reconnects, c.resubscribed, c.notRecovered);
      }
      if (o.stalled > 0) {
        out += fmt::format(
            "stalled subscribers (never read until the end): {} of {} subscribed; cut off by "
            "the server: {} with a close frame{}, {} without one (FIN or RST); still "
            "subscribed at the end: {}; they read {} messages at the end\n",
            c.stalled, o.stalled, c.stalledCutOff,
            c.stalledCutOff > 0 ? " (" + codes(c.stalledCloseCode, "code ") + ")" : "",
            c.stalledDropped, c.stalledKept, c.stalledMessages);
      }
      if (p.publishErrors + p.publishUnanswered > 0) {
        out += "note: some publishes failed; expected counts only the answered ones\n";
      }
      if (p.failed() + p.lostOpen() > 0) {
        out += "publisher connection failures:\n" + describeFailures(p);
      }
      break;
    }
  }
  if (c.failed() + c.lostOpen() > 0) out += "failures by kind:\n" + describeFailures(c);
  out += cpuLine(r) + "\n";
  if (r.interrupted) out += "(interrupted: the window was cut short by a signal)\n";
  if (!r.fatal.empty()) out += "FAILED: " + r.fatal + "\n";
  return out;
}

std::string formatJson(const RunReport& r) {
  const Options& o = *r.options;
  const Counters& c = r.workers.c;
  std::string out = "{";
  out += fmt::format("\"mode\":\"{}\",\"url\":{},\"procs\":{},\"threads\":{},\"conns\":{}",
                     modeName(o.mode), jsonString(o.url.text), o.procs, o.threads, o.conns);
  out +=
      fmt::format(",\"ok\":{},\"error\":{},\"interrupted\":{}", r.fatal.empty() ? "true" : "false",
                  jsonString(r.fatal), r.interrupted ? "true" : "false");
  out += fmt::format(",\"connect_seconds\":{:.3f},\"window_seconds\":{:.3f}", r.connectSec,
                     r.windowSec);
  out += fmt::format(
      ",\"connections\":{{\"attempts\":{},\"opened\":{},\"failed\":{},"
      "\"lost_while_open\":{},\"closed_ok\":{},\"pings_answered\":{},"
      "\"compressed\":{},\"bytes_received\":{}}}",
      c.attempts, c.opened, c.failed(), c.lostOpen(), c.closedOk, c.pingsAnswered,
      c.compressedConns, c.bytesReceived);
  out += ",\"failures\":{";
  for (size_t i = 0; i < kFailureKinds; ++i) {
    out += fmt::format("{}\"{}\":{}", i == 0 ? "" : ",", failureKey(static_cast<Failure>(i)),
                       c.failures[i]);
  }
  jsonCodes(out, "rejected_status", c.rejectedStatus);
  jsonCodes(out, "connect_errno", c.connectErrno);
  jsonCodes(out, "server_close_code", c.serverCloseCode);
  out += "},\"latency_ms\":{";
  jsonHistogram(out, "connect", r.workers.connect, 1e-6);
  switch (o.mode) {
    case Mode::kEcho:
      jsonHistogram(out += ",", "round_trip", r.workers.latency, 1e-6);
      break;
    case Mode::kHandshake:
      jsonHistogram(out += ",", "cycle", r.workers.latency, 1e-6);
      break;
    case Mode::kFanout:
      jsonHistogram(out += ",", "delivery", r.workers.latency, 1e-6);
      jsonHistogram(out += ",", "publish_answer", r.publisher.latency, 1e-6);
      break;
    case Mode::kIdle:
      jsonHistogram(out += ",", "lost_lifetime", r.workers.lifetime, 1.0);
      break;
  }
  out += "}";
  switch (o.mode) {
    case Mode::kEcho:
      out += fmt::format(
          ",\"echo\":{{\"inflight\":{},\"size\":{},\"round_trips\":{},"
          "\"round_trips_per_sec\":{:.1f},\"bad_echoes\":{}}}",
          o.inflight, o.sizeBytes, c.received, rate(c.received, r.windowSec), c.badEchoes);
      break;
    case Mode::kIdle:
      out += fmt::format(",\"idle\":{{\"held\":{},\"lost\":{},\"hold_seconds\":{:.3f}}}",
                         c.closedOk, c.lostOpen(), r.windowSec);
      break;
    case Mode::kHandshake:
      out += fmt::format(",\"handshake\":{{\"cycles\":{},\"per_sec\":{:.1f},\"target_rate\":{}}}",
                         c.cycles, rate(c.cycles, r.windowSec), o.ratePerSec);
      break;
    case Mode::kFanout: {
      const Counters& p = r.publisher.c;
      out += fmt::format(
          ",\"fanout\":{{\"subscribers\":{},\"publishers\":{},\"published\":{},\"acked\":{},"
          "\"publish_errors\":{},\"publish_unanswered\":{},\"expected\":{},\"delivered\":{},"
          "\"unique\":{},\"lost\":{},\"duplicated\":{},\"out_of_order\":{},\"beyond_window\":{},"
          "\"malformed\":{},\"deliveries_per_sec\":{:.1f},\"delivery_seconds\":{:.3f},"
          "\"target_rate\":{},\"publishes_per_sec\":{:.1f},\"publish_via\":\"{}\","
          "\"channels\":{},\"zipf\":{},\"urls\":{},\"wrong_channel\":{},\"reconnects\":{},"
          "\"resubscribed\":{},\"not_recovered\":{},\"reader_nice\":{}",
          c.subscribers, o.publishConns, p.published, p.acked, p.publishErrors, p.publishUnanswered,
          c.expected, c.deliveries, c.unique, c.lost, c.duplicates, c.late, c.beyondWindow,
          c.malformed, rate(c.deliveries, r.deliverySec), r.deliverySec, o.ratePerSec,
          rate(p.published, r.windowSec), publishViaName(o.publishVia), o.channels.count(), o.zipf,
          o.urls.size(), c.wrongChannel, c.reconnects, c.resubscribed, c.notRecovered,
          r.readerNice);
      jsonCodes(out, "publish_status", p.publishStatus);
      out += fmt::format(
          ",\"stalled\":{{\"requested\":{},\"subscribed\":{},\"cut_off_with_close_frame\":{},"
          "\"cut_off_without_close_frame\":{},\"still_subscribed\":{},\"messages_read\":{}",
          o.stalled, c.stalled, c.stalledCutOff, c.stalledDropped, c.stalledKept,
          c.stalledMessages);
      jsonCodes(out, "close_codes", c.stalledCloseCode);
      out += "}}";
      break;
    }
  }
  out += fmt::format(
      ",\"cpu_seconds\":{{\"window\":{:.3f},\"client_window\":{:.3f},"
      "\"client_total\":{:.3f}",
      r.cpuSec, r.clientCpuWindowNs / 1e9, r.clientCpuTotalNs / 1e9);
  if (r.serverCpuWindowNs >= 0) {
    // server_pid/server_window/server_total: the first pid's and the sum (one pid: the same);
    // servers: each pid's window.
    out += fmt::format(",\"server_pid\":{},\"server_window\":{:.3f},\"server_total\":{:.3f}",
                       o.serverPids.empty() ? 0 : o.serverPids[0], r.serverCpuWindowNs / 1e9,
                       r.serverCpuTotalNs / 1e9);
    out += ",\"servers\":[";
    for (size_t i = 0; i < r.serverCpuWindowPerPidNs.size() && i < o.serverPids.size(); ++i) {
      out += fmt::format("{}{{\"pid\":{},\"window\":{:.3f}}}", i == 0 ? "" : ",", o.serverPids[i],
                         r.serverCpuWindowPerPidNs[i] / 1e9);
    }
    out += "]";
  }
  out += "}}\n";
  return out;
}

}  // namespace ringcast::bench
