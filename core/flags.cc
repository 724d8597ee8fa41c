#include "core/flags.h"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cctype>
#include <charconv>
#include <cstdlib>

#include "core/log.h"

namespace ringcast {
namespace {

struct Unit {
  std::string_view suffix;
  uint64_t factor;
};

// Longest suffixes first so "KiB" is not read as "B".
constexpr Unit kSizeUnits[] = {{"KiB", 1ull << 10},
                               {"MiB", 1ull << 20},
                               {"GiB", 1ull << 30},
                               {"KB", 1000},
                               {"MB", 1000000},
                               {"GB", 1000000000},
                               {"B", 1}};
constexpr Unit kDurationUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};

// Splits "16MiB" into 16 and a factor from `units`. A bare number uses `bareFactor`
// (0 = a unit is required unless the number is 0).
template <size_t N>
std::optional<uint64_t> parseWithUnit(std::string_view text, const Unit (&units)[N],
                                      uint64_t bareFactor) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return std::nullopt;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, value);
  if (ec != std::errc() || ptr != text.data() + digits) return std::nullopt;
  std::string_view suffix = text.substr(digits);
  uint64_t factor = 0;
  if (suffix.empty()) {
    factor = bareFactor != 0 ? bareFactor : (value == 0 ? 1 : 0);
  } else {
    for (const Unit& u : units) {
      if (suffix == u.suffix) factor = u.factor;
    }
  }
  if (factor == 0) return std::nullopt;
  if (value != 0 && factor > UINT64_MAX / value) return std::nullopt;
  return value * factor;
}

// The largest unit of `units` (listed smallest first) that divides `value` exactly.
template <size_t N>
std::string formatExact(uint64_t value, const Unit (&units)[N], std::string_view base) {
  for (size_t i = N; i-- > 0;) {
    if (value != 0 && units[i].factor > 1 && value % units[i].factor == 0) {
      return fmt::format("{}{}", value / units[i].factor, units[i].suffix);
    }
  }
  return fmt::format("{}{}", value, base);
}

constexpr Unit kBinarySizeUnits[] = {{"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}};

}  // namespace

std::optional<uint64_t> parseSize(std::string_view text) {
  return parseWithUnit(text, kSizeUnits, 1);
}

std::optional<int64_t> parseDurationMs(std::string_view text) {
  auto ms = parseWithUnit(text, kDurationUnits, 0);
  if (!ms || *ms > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(*ms);
}

std::string formatSize(uint64_t bytes) {
  return formatExact(bytes, kBinarySizeUnits, "B");
}

std::string formatDurationMs(int64_t ms) {
  return formatExact(static_cast<uint64_t>(ms), kDurationUnits, "ms");
}

Flags parseFlagsOrDie(int argc, char** argv) {
  Flags f;
  CLI::App app{
      "ringcast: a WebSocket push gateway.\n"
      "Sizes take KiB/MiB/GiB (or KB/MB/GB, or plain bytes); durations take ms/s/m/h."};
  app.get_formatter()->column_width(34);

  // Sizes and durations are read as text and converted afterwards, so one parser serves
  // every flag and the error names the flag.
  struct Pending {
    std::string text;
    std::string name;
    uint64_t* size = nullptr;
    int64_t* durationMs = nullptr;
  };
  std::vector<Pending> pending;
  pending.reserve(16);
  auto sizeFlag = [&](const char* name, uint64_t* target, const char* help) {
    pending.push_back({formatSize(*target), name, target, nullptr});
    app.add_option(name, pending.back().text, help)->capture_default_str()->type_name("SIZE");
  };
  auto durationFlag = [&](const char* name, int64_t* target, const char* help) {
    pending.push_back({formatDurationMs(*target), name, nullptr, target});
    app.add_option(name, pending.back().text, help)->capture_default_str()->type_name("DUR");
  };

  app.add_option("--listen", f.listen,
                 "ADDR:PORT of the public WebSocket listener (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--api-listen", f.apiListen,
                 "ADDR:PORT of the internal HTTP publish/admin API (keep it private)")
      ->capture_default_str();
  app.add_option("--publish-listen", f.publishListen,
                 "ADDR:PORT of the internal TCP publish protocol (keep it private)")
      ->capture_default_str();
  app.add_option("--threads", f.threads, "event-loop threads, one per core (0: number of cores)")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  app.add_option(
         "--max-connections", f.maxConnections,
         "connections accepted at once; beyond it new ones get 503 (0: the open-file limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sizeFlag("--max-message-size", &f.maxMessageBytes,
           "largest message a client may send; a bigger one is closed with 1009");
  sizeFlag("--max-outbuf", &f.maxOutbufBytes,
           "bytes queued for one socket before the gateway stops reading from it");
  durationFlag("--handshake-timeout", &f.handshakeTimeoutMs,
               "time from TCP accept to a completed WebSocket upgrade");
  durationFlag("--ping-interval", &f.pingIntervalMs,
               "ping a connection that was silent this long (0: never)");
  durationFlag("--pong-timeout", &f.pongTimeoutMs,
               "drop a pinged connection that sends nothing back within this time");
  durationFlag("--idle-timeout", &f.idleTimeoutMs,
               "drop a connection whose client sent nothing for this long (0: off)");
  durationFlag("--close-timeout", &f.closeTimeoutMs,
               "after sending a close frame, wait this long for the peer's reply");
  durationFlag("--drain-timeout", &f.drainTimeoutMs,
               "on SIGINT/SIGTERM, wait this long for clients to close before exiting");
  app.add_option("--allowed-origins", f.allowedOrigins,
                 "browser Origins allowed to connect (default: same host and localhost; * = any)")
      ->delimiter(',');
  app.add_option("--jwt-secret", f.jwtSecret,
                 "require HS256 tokens (?token=) signed with this secret; without it: dev mode, "
                 "?user=NAME");
  app.add_option("--api-key", f.apiKey, "require 'Authorization: Bearer KEY' on /api/ routes");
  app.add_option("--slow-consumer", f.slowConsumer,
                 "a socket over --max-outbuf is disconnected (1008) or loses its oldest messages")
      ->capture_default_str()
      ->check(CLI::IsMember({"disconnect", "drop-oldest"}));
  app.add_option("--history-size", f.historySize,
                 "messages kept per channel for recovery after a reconnect (0: none)")
      ->capture_default_str();
  durationFlag("--history-ttl", &f.historyTtlMs,
               "drop history older than this (0: keep the last --history-size)");
  app.add_option("--ring-size", f.ringSize,
                 "fan-out ring slots, a power of two: messages in flight to the slowest loop")
      ->capture_default_str()
      ->check(CLI::Range(2, 1 << 24));
  app.add_flag("--echo", f.echo,
               "also serve GET /echo, which echoes every message (tests, benches)");
  app.add_option("--log-level", f.logLevel, "debug, info, warn or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  for (const Pending& p : pending) {
    if (p.size != nullptr) {
      auto v = parseSize(p.text);
      if (!v) {
        fmt::print(stderr, "ringcast: {}: '{}' is not a size (examples: 65536, 64KiB, 16MiB)\n",
                   p.name, p.text);
        std::exit(2);
      }
      *p.size = *v;
    } else {
      auto v = parseDurationMs(p.text);
      if (!v) {
        fmt::print(stderr, "ringcast: {}: '{}' is not a duration (examples: 500ms, 25s, 2m)\n",
                   p.name, p.text);
        std::exit(2);
      }
      *p.durationMs = *v;
    }
  }
  if ((f.ringSize & (f.ringSize - 1)) != 0) {
    fmt::print(stderr, "ringcast: --ring-size must be a power of two (got {})\n", f.ringSize);
    std::exit(2);
  }
  if (f.maxMessageBytes == 0 || f.maxMessageBytes > (1ull << 30)) {
    fmt::print(stderr, "ringcast: --max-message-size must be between 1B and 1GiB\n");
    std::exit(2);
  }
  return f;
}

std::string formatFlags(const Flags& f) {
  std::string out = "ringcast settings:\n";
  auto line = [&out](std::string_view name, std::string_view value) {
    fmt::format_to(std::back_inserter(out), "  {:<22}{}\n", name, value);
  };
  line("--listen", f.listen);
  line("--api-listen", f.apiListen);
  line("--publish-listen", f.publishListen);
  line("--threads", f.threads == 0 ? "auto" : std::to_string(f.threads));
  line("--max-connections", f.maxConnections == 0 ? "auto" : std::to_string(f.maxConnections));
  line("--max-message-size", formatSize(f.maxMessageBytes));
  line("--max-outbuf", formatSize(f.maxOutbufBytes));
  line("--handshake-timeout", formatDurationMs(f.handshakeTimeoutMs));
  auto durationOrOff = [](int64_t ms) {
    return ms == 0 ? std::string("off") : formatDurationMs(ms);
  };
  line("--ping-interval", durationOrOff(f.pingIntervalMs));
  line("--pong-timeout", formatDurationMs(f.pongTimeoutMs));
  line("--idle-timeout", durationOrOff(f.idleTimeoutMs));
  line("--close-timeout", formatDurationMs(f.closeTimeoutMs));
  line("--drain-timeout", formatDurationMs(f.drainTimeoutMs));
  std::string origins;
  for (const auto& o : f.allowedOrigins) origins += (origins.empty() ? "" : ",") + o;
  line("--allowed-origins", origins.empty() ? "(same host, localhost)" : origins);
  line("--jwt-secret", f.jwtSecret.empty() ? "(none: dev mode, ?user=NAME)" : "(set)");
  line("--api-key", f.apiKey.empty() ? "(none)" : "(set)");
  line("--slow-consumer", f.slowConsumer);
  line("--history-size", std::to_string(f.historySize));
  line("--history-ttl", durationOrOff(f.historyTtlMs));
  line("--ring-size", std::to_string(f.ringSize));
  line("--echo", f.echo ? "on" : "off");
  line("--log-level", f.logLevel);
  return out;
}

}  // namespace ringcast
