#include "core/flags.h"

#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <type_traits>
#include <variant>

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

namespace {

// One flag of the gateway: its name, the Flags member it sets, its help line, and how its
// value is shown in the start-up block. The default is the member's initialiser in Flags.
// The kind of `field` decides the parser: Size and Duration take units (parseSize,
// parseDurationMs), Plain members are CLI11's own, List is comma-separated, Switch is a
// bare flag.
template <typename T>
struct Plain {
  T Flags::*member;
};
struct Size {
  uint64_t Flags::*member;
};
struct Duration {
  int64_t Flags::*member;
};
struct List {
  std::vector<std::string> Flags::*member;
};
struct Switch {
  bool Flags::*member;
};
using Field = std::variant<Plain<std::string>, Plain<int>, Plain<int64_t>, Plain<uint64_t>, Size,
                           Duration, List, Switch>;

struct FlagRow {
  const char* name;
  Field field;
  const char* help;
  // Shown in the start-up block instead of a zero or empty value ("auto", "off", ...).
  const char* whenZero = nullptr;
  // A secret: never printed (shown as "(set)"), no default in --help.
  bool secret = false;
  std::optional<CLI::Validator> check = std::nullopt;
};

// Every flag, in --help order. Adding a flag: a member in Flags and one row here.
const std::vector<FlagRow>& flagTable() {
  static const std::vector<FlagRow> rows = {
      {.name = "--listen",
       .field = Plain<std::string>{&Flags::listen},
       .help = "ADDR:PORT of the public WebSocket listener (port 0: any free port)"},
      {.name = "--api-listen",
       .field = Plain<std::string>{&Flags::apiListen},
       .help = "ADDR:PORT of the internal HTTP publish/admin API (keep it private)"},
      {.name = "--publish-listen",
       .field = Plain<std::string>{&Flags::publishListen},
       .help = "ADDR:PORT of the internal TCP publish protocol (keep it private)"},
      {.name = "--api-allowed-origins",
       .field = List{&Flags::apiAllowedOrigins},
       .help = "browser Origins the HTTP API serves (scheme://host[:port],...); a request with "
               "any other Origin header gets 403",
       .whenZero = "(none: any Origin is refused)"},
      {.name = "--api-host",
       .field = List{&Flags::apiHosts},
       .help = "Host names the HTTP API answers to (NAME or NAME:PORT,...) besides its own "
               "address (and localhost on loopback); any other Host gets 421",
       .whenZero = "(the listener's address)"},
      {.name = "--api-request-timeout",
       .field = Duration{&Flags::apiRequestTimeoutMs},
       .help = "an HTTP API request, headers and body together, must arrive within this time "
               "of its first byte (the first request: of the accept), else 408 and close"},
      {.name = "--api-max-connections",
       .field = Plain<int64_t>{&Flags::apiMaxConnections},
       .help = "open HTTP API connections at once; beyond it a new one gets 503 and is closed "
               "(0: no cap; apart from --max-connections)",
       .whenZero = "no cap",
       .check = CLI::NonNegativeNumber},
      {.name = "--publish-idle-timeout",
       .field = Duration{&Flags::publishIdleTimeoutMs},
       .help = "close a TCP publish connection that sent nothing for this long with '-ERR idle "
               "timeout' (0: off; PING keeps a quiet feeder connected)",
       .whenZero = "off"},
      {.name = "--publish-max-connections",
       .field = Plain<int64_t>{&Flags::publishMaxConnections},
       .help = "open TCP publish connections at once; beyond it a new one gets '-ERR too many "
               "connections' and is closed (0: no cap; apart from --max-connections)",
       .whenZero = "no cap",
       .check = CLI::NonNegativeNumber},
      {.name = "--threads",
       .field = Plain<int>{&Flags::threads},
       .help = "event-loop threads, one per core (0: number of cores)",
       .whenZero = "auto",
       .check = CLI::Range(0, 256)},
      {.name = "--max-connections",
       .field = Plain<int64_t>{&Flags::maxConnections},
       .help = "connections accepted at once; beyond it new ones get 503 (0: the open-file limit)",
       .whenZero = "auto",
       .check = CLI::NonNegativeNumber},
      {.name = "--max-message-size",
       .field = Size{&Flags::maxMessageBytes},
       .help = "largest message a client may send; a bigger one is closed with 1009 (at most "
               "--max-outbuf)"},
      {.name = "--max-outbuf",
       .field = Size{&Flags::maxOutbufBytes},
       .help = "bytes queued for one socket before the gateway stops reading from it; a "
               "subscriber over it gets --slow-consumer"},
      {.name = "--handshake-timeout",
       .field = Duration{&Flags::handshakeTimeoutMs},
       .help = "time from TCP accept to a completed WebSocket upgrade"},
      {.name = "--ping-interval",
       .field = Duration{&Flags::pingIntervalMs},
       .help = "ping a connection that was silent this long (0: never)",
       .whenZero = "off"},
      {.name = "--pong-timeout",
       .field = Duration{&Flags::pongTimeoutMs},
       .help = "drop a pinged connection that sends nothing back within this time"},
      {.name = "--idle-timeout",
       .field = Duration{&Flags::idleTimeoutMs},
       .help = "drop a connection whose client sent nothing for this long (0: off)",
       .whenZero = "off"},
      {.name = "--close-timeout",
       .field = Duration{&Flags::closeTimeoutMs},
       .help = "after sending a close frame, wait this long for the peer's reply"},
      {.name = "--drain-timeout",
       .field = Duration{&Flags::drainTimeoutMs},
       .help = "on SIGINT/SIGTERM, wait this long for clients to close before exiting"},
      {.name = "--allowed-origins",
       .field = List{&Flags::allowedOrigins},
       .help = "browser Origins allowed to connect (default: the same server; with --dev also "
               "localhost; "
               "* = any)",
       .whenZero = "(same server)"},
      {.name = "--dev",
       .field = Switch{&Flags::dev},
       .help = "dev mode: clients name themselves with ?user=NAME and may publish anywhere, "
               "localhost Origins are allowed (never for a public gateway)"},
      {.name = "--jwt-secret",
       .field = Plain<std::string>{&Flags::jwtSecret},
       .help = "require HS256 tokens (?token=) signed with this secret (visible in ps: prefer "
               "--jwt-secret-file or RINGCAST_JWT_SECRET)",
       .whenZero = "(none)",
       .secret = true},
      {.name = "--jwt-secret-file",
       .field = Plain<std::string>{&Flags::jwtSecretFile},
       .help = "read the HS256 secret from this file (one trailing newline ignored)",
       .whenZero = "(none)"},
      {.name = "--jwt-audience",
       .field = Plain<std::string>{&Flags::jwtAudience},
       .help = "require this value in the token's \"aud\" claim (string or list)",
       .whenZero = "(not checked)"},
      {.name = "--jwt-issuer",
       .field = Plain<std::string>{&Flags::jwtIssuer},
       .help = "require this value as the token's \"iss\" claim",
       .whenZero = "(not checked)"},
      {.name = "--api-key",
       .field = Plain<std::string>{&Flags::apiKey},
       .help = "require 'Authorization: Bearer KEY' on /api/ routes and 'AUTH KEY' first on "
               "the TCP publish port (visible in ps: prefer --api-key-file or "
               "RINGCAST_API_KEY)",
       .whenZero = "(none)",
       .secret = true},
      {.name = "--api-key-file",
       .field = Plain<std::string>{&Flags::apiKeyFile},
       .help = "read the API key from this file (one trailing newline ignored)",
       .whenZero = "(none)"},
      {.name = "--slow-consumer",
       .field = Plain<std::string>{&Flags::slowConsumer},
       .help = "a socket over --max-outbuf whose kernel buffer is full is disconnected (1008) or "
               "loses its oldest messages",
       .check = CLI::IsMember({"disconnect", "drop-oldest"})},
      {.name = "--max-subscriptions",
       .field = Plain<uint64_t>{&Flags::maxSubscriptions},
       .help = "channels one connection may subscribe to; one more is refused with "
               "too_many_subscriptions",
       .check = CLI::Range(uint64_t{1}, uint64_t{1} << 20)},
      {.name = "--command-rate",
       .field = Plain<uint64_t>{&Flags::commandRate},
       .help = "commands per second one connection may send on average; over it a command is "
               "refused with rate_limited, and 100 refusals within 10 s close it with 1008 (0: "
               "no limit)",
       .whenZero = "off",
       .check = CLI::Range(uint64_t{0}, uint64_t{1} << 20)},
      {.name = "--command-burst",
       .field = Plain<uint64_t>{&Flags::commandBurst},
       .help = "commands one connection may send at once before --command-rate applies",
       .check = CLI::Range(uint64_t{1}, uint64_t{1} << 20)},
      {.name = "--history-size",
       .field = Plain<uint64_t>{&Flags::historySize},
       .help = "messages kept per channel for recovery after a reconnect (0: none)"},
      {.name = "--history-ttl",
       .field = Duration{&Flags::historyTtlMs},
       .help = "drop history older than this (0: keep the last --history-size)",
       .whenZero = "off"},
      {.name = "--max-history-memory",
       .field = Size{&Flags::maxHistoryMemoryBytes},
       .help = "bytes all channels' history may hold; over it the oldest messages of all "
               "channels are dropped first (0: a quarter of --max-memory)",
       .whenZero = "auto"},
      {.name = "--max-memory",
       .field = Size{&Flags::maxMemoryBytes},
       .help = "resident memory the gateway may use: from 90% of it new connections get 503 "
               "and sends 'overloaded' until use is below 85% (0: the cgroup's limit, else 80% "
               "of physical memory)",
       .whenZero = "auto"},
      {.name = "--ring-size",
       .field = Plain<uint64_t>{&Flags::ringSize},
       .help = "fan-out ring slots, a power of two: messages in flight to the slowest loop",
       .check = CLI::Range(2, 1 << 24)},
      {.name = "--tls-cert",
       .field = Plain<std::string>{&Flags::tlsCert},
       .help = "PEM certificate chain: the public listener speaks TLS (wss://, https://); "
               "SIGHUP reloads it and --tls-key for new connections",
       .whenZero = "(none: plain ws://)"},
      {.name = "--tls-key",
       .field = Plain<std::string>{&Flags::tlsKey},
       .help = "PEM private key of --tls-cert",
       .whenZero = "(none)"},
      {.name = "--api-tls",
       .field = Switch{&Flags::apiTls},
       .help = "the HTTP API listener speaks TLS too (same certificate)"},
      {.name = "--ktls",
       .field = Plain<std::string>{&Flags::ktls},
       .help = "kernel TLS (the kernel encrypts) where the kernel and OpenSSL allow it",
       .check = CLI::IsMember({"on", "off"})},
      {.name = "--redis",
       .field = List{&Flags::redis},
       .help = "join the nodes through Redis at HOST:PORT[,HOST:PORT...] (channels spread "
               "over them by hash)",
       .whenZero = "(none: one node alone)"},
      {.name = "--redis-prefix",
       .field = Plain<std::string>{&Flags::redisPrefix},
       .help = "prefix of the Redis keys and pub/sub channels of this cluster"},
      {.name = "--node-id",
       .field = Plain<std::string>{&Flags::nodeId},
       .help = "this node's name in the cluster (default: host name and pid, e.g. web1-4242)",
       .whenZero = "(host name and pid)"},
      {.name = "--presence-ttl",
       .field = Duration{&Flags::presenceTtlMs},
       .help = "cluster: a node's presence entries expire this long after its last refresh "
               "(every third of it), so a crashed node's users leave within 4/3 of it"},
      {.name = "--echo",
       .field = Switch{&Flags::echo},
       .help = "also serve GET /echo, which echoes every message (tests, benches)"},
      {.name = "--compression",
       .field = Plain<std::string>{&Flags::compression},
       .help = "on: accept permessage-deflate (RFC 7692); each message is compressed once for "
               "every connection that negotiated it",
       .check = CLI::IsMember({"on", "off"})},
      {.name = "--compression-min-size",
       .field = Size{&Flags::compressionMinBytes},
       .help = "messages shorter than this are sent uncompressed"},
      {.name = "--compression-level",
       .field = Plain<int>{&Flags::compressionLevel},
       .help = "zlib level (1 fastest .. 9 smallest) of the per-message compression",
       .check = CLI::Range(1, 9)},
      {.name = "--log-level",
       .field = Plain<std::string>{&Flags::logLevel},
       .help = "debug, info, warn or error",
       .check = CLI::IsMember({"debug", "info", "warn", "error"})},
  };
  return rows;
}

// The value of one row as shown in the start-up block.
std::string showValue(const FlagRow& row, const Flags& f) {
  return std::visit(
      [&](const auto& field) -> std::string {
        using F = std::decay_t<decltype(field)>;
        const auto& value = f.*field.member;
        bool zero;
        std::string text;
        if constexpr (std::is_same_v<F, Plain<std::string>>) {
          zero = value.empty();
          text = row.secret ? "(set)" : value;
        } else if constexpr (std::is_same_v<F, Size>) {
          zero = value == 0;
          text = formatSize(value);
        } else if constexpr (std::is_same_v<F, Duration>) {
          zero = value == 0;
          text = formatDurationMs(value);
        } else if constexpr (std::is_same_v<F, List>) {
          zero = value.empty();
          text = fmt::format("{}", fmt::join(value, ","));
        } else if constexpr (std::is_same_v<F, Switch>) {
          zero = false;
          text = value ? "on" : "off";
        } else {
          zero = value == 0;
          text = std::to_string(value);
        }
        return zero && row.whenZero != nullptr ? row.whenZero : text;
      },
      row.field);
}

// Sizes and durations are read as text and converted after CLI11 is done, so one parser
// serves every such flag and the error names the flag.
struct PendingUnit {
  const FlagRow* row;
  std::string text;
};

// Registers `row` with `app`, bound to `f`; unit-carrying flags get a slot in `pending`.
void addFlag(CLI::App& app, const FlagRow& row, Flags& f, std::vector<PendingUnit>& pending) {
  CLI::Option* opt = std::visit(
      [&](const auto& field) -> CLI::Option* {
        using F = std::decay_t<decltype(field)>;
        if constexpr (std::is_same_v<F, Size> || std::is_same_v<F, Duration>) {
          pending.push_back(
              {&row,
               showValue(FlagRow{.name = row.name, .field = row.field, .help = row.help}, f)});
          return app.add_option(row.name, pending.back().text, row.help)
              ->capture_default_str()
              ->type_name(std::is_same_v<F, Size> ? "SIZE" : "DUR");
        } else if constexpr (std::is_same_v<F, List>) {
          return app.add_option(row.name, f.*field.member, row.help)->delimiter(',');
        } else if constexpr (std::is_same_v<F, Switch>) {
          return app.add_flag(row.name, f.*field.member, row.help);
        } else {
          CLI::Option* o = app.add_option(row.name, f.*field.member, row.help);
          return row.secret ? o : o->capture_default_str();
        }
      },
      row.field);
  if (row.check) opt->check(*row.check);
}

// Converts the text of a size or duration flag into its member; an error message if malformed.
std::optional<std::string> applyUnit(const PendingUnit& p, Flags& f) {
  if (const Size* size = std::get_if<Size>(&p.row->field)) {
    auto v = parseSize(p.text);
    if (!v) {
      return fmt::format("ringcast: {}: '{}' is not a size (examples: 65536, 64KiB, 16MiB)\n",
                         p.row->name, p.text);
    }
    f.*size->member = *v;
  } else if (const Duration* duration = std::get_if<Duration>(&p.row->field)) {
    auto v = parseDurationMs(p.text);
    if (!v) {
      return fmt::format("ringcast: {}: '{}' is not a duration (examples: 500ms, 25s, 2m)\n",
                         p.row->name, p.text);
    }
    f.*duration->member = *v;
  }
  return std::nullopt;
}

}  // namespace

// Reads the secret of `fileFlag` from `path` into *secret.
std::optional<std::string> readSecretFile(std::string_view fileFlag, const std::string& path,
                                          std::string* secret) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return fmt::format("ringcast: {}: cannot read '{}': {}\n", fileFlag, path,
                       std::strerror(errno));
  }
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, file)) > 0 && text.size() < (1u << 20)) {
    text.append(buf, n);
  }
  std::fclose(file);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) return fmt::format("ringcast: {}: '{}' is empty\n", fileFlag, path);
  *secret = std::move(text);
  return std::nullopt;
}

// One secret from at most one of its flag, its file flag, its environment variable.
std::optional<std::string> resolveSecret(std::string_view flag, std::string_view fileFlag,
                                         const char* env, const std::string& path,
                                         std::string* secret) {
  if (!path.empty()) {
    if (!secret->empty()) {
      return fmt::format("ringcast: give {} or {}, not both\n", flag, fileFlag);
    }
    return readSecretFile(fileFlag, path, secret);
  }
  if (secret->empty()) {
    if (const char* value = std::getenv(env); value != nullptr) *secret = value;
  }
  return std::nullopt;
}

std::optional<std::string> resolveSecrets(Flags& f) {
  if (auto error = resolveSecret("--jwt-secret", "--jwt-secret-file", kJwtSecretEnv,
                                 f.jwtSecretFile, &f.jwtSecret)) {
    return error;
  }
  return resolveSecret("--api-key", "--api-key-file", kApiKeyEnv, f.apiKeyFile, &f.apiKey);
}

bool isLoopbackListen(std::string_view listen) {
  std::string_view host = listen.substr(0, listen.rfind(':'));
  return host == "localhost" || host == "[::1]" || host.starts_with("127.");
}

std::vector<std::string> flagWarnings(const Flags& f) {
  std::vector<std::string> out;
  if (!f.jwtSecret.empty() && f.jwtSecret.size() < kMinJwtSecretBytes) {
    out.push_back(fmt::format(
        "warning: the JWT secret is {} bytes; an HS256 secret should have at least {} random "
        "bytes (e.g. openssl rand -base64 32)",
        f.jwtSecret.size(), kMinJwtSecretBytes));
  }
  if (f.dev && !isLoopbackListen(f.listen)) {
    out.push_back(fmt::format(
        "warning: --dev on {}: anyone who reaches it may claim any user name and publish "
        "anywhere",
        f.listen));
  }
  return out;
}

std::optional<std::string> checkFlags(const Flags& f) {
  if (f.jwtSecret.empty() && !f.dev) {
    return fmt::format(
        "ringcast: refusing to start on {} without client authentication: give --jwt-secret "
        "(or --jwt-secret-file, or {}) to require signed tokens, or --dev to let clients name "
        "themselves with ?user=NAME (development only)\n",
        f.listen, kJwtSecretEnv);
  }
  if (!f.jwtSecret.empty() && f.dev) {
    return std::string(
        "ringcast: --dev and a JWT secret exclude each other: dev mode takes ?user=NAME, a "
        "secret requires tokens\n");
  }
  if (f.apiRequestTimeoutMs <= 0) {
    return std::string("ringcast: --api-request-timeout must be above 0\n");
  }
  if ((f.ringSize & (f.ringSize - 1)) != 0) {
    return fmt::format("ringcast: --ring-size must be a power of two (got {})\n", f.ringSize);
  }
  if (f.presenceTtlMs < 300 || f.presenceTtlMs > 3'600'000) {
    return std::string("ringcast: --presence-ttl must be between 300ms and 1h\n");
  }
  if (f.maxMessageBytes == 0 || f.maxMessageBytes > (1ull << 30)) {
    return std::string("ringcast: --max-message-size must be between 1B and 1GiB\n");
  }
  if (f.maxMessageBytes > f.maxOutbufBytes) {
    return fmt::format(
        "ringcast: --max-message-size ({}) is above --max-outbuf ({}): every subscriber would be "
        "disconnected by the first message of that size; raise --max-outbuf or lower "
        "--max-message-size\n",
        formatSize(f.maxMessageBytes), formatSize(f.maxOutbufBytes));
  }
  if (f.tlsCert.empty() != f.tlsKey.empty()) {
    return std::string("ringcast: --tls-cert and --tls-key go together\n");
  }
  if (f.apiTls && f.tlsCert.empty()) {
    return std::string("ringcast: --api-tls needs --tls-cert and --tls-key\n");
  }
  return std::nullopt;
}

FlagsParse parseFlags(int argc, const char* const* argv) {
  FlagsParse result;
  Flags& f = result.flags;
  CLI::App app{
      "ringcast: a WebSocket push gateway.\n"
      "Sizes take KiB/MiB/GiB (or KB/MB/GB, or plain bytes); durations take ms/s/m/h."};
  app.get_formatter()->column_width(34);

  const std::vector<FlagRow>& rows = flagTable();
  std::vector<PendingUnit> pending;
  pending.reserve(rows.size());  // addresses of the texts are bound into `app`
  for (const FlagRow& row : rows) addFlag(app, row, f, pending);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out;
    result.exitCode = app.exit(e, out, out);
    result.output = out.str();
    return result;
  }
  for (const PendingUnit& p : pending) {
    if (auto error = applyUnit(p, f)) {
      result.exitCode = 2;
      result.output = *error;
      return result;
    }
  }
  if (auto error = resolveSecrets(f)) {
    result.exitCode = 2;
    result.output = *error;
    return result;
  }
  if (auto error = checkFlags(f)) {
    result.exitCode = 2;
    result.output = *error;
  }
  return result;
}

Flags parseFlagsOrDie(int argc, char** argv) {
  FlagsParse parsed = parseFlags(argc, argv);
  if (parsed.exitCode >= 0) {
    std::fputs(parsed.output.c_str(), parsed.exitCode == 0 ? stdout : stderr);
    std::exit(parsed.exitCode);
  }
  return parsed.flags;
}

std::string defaultNodeId() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    std::strcpy(host, "localhost");
  }
  return fmt::format("{}-{}", host, ::getpid());
}

std::string formatFlags(const Flags& f) {
  std::string out = "ringcast settings:\n";
  constexpr size_t kNameColumn = 24;  // a longer name is followed by one space
  for (const FlagRow& row : flagTable()) {
    const std::string_view name = row.name;
    fmt::format_to(std::back_inserter(out), "  {:<24}{}{}\n", name,
                   name.size() >= kNameColumn ? " " : "", showValue(row, f));
  }
  return out;
}

}  // namespace ringcast
