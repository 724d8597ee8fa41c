// Flags: every setting of the gateway, with its default, in one struct. Each flag is described
// once more, in the table of core/flags.cc (name, help, parser, how it is printed): adding a
// flag is a member here and a row there. Parsed once by main (parseFlags), printed as one
// block at start-up (formatFlags), then passed down as const. Nothing deeper reads the
// command line or the environment.
//
// Sizes accept a unit (64KiB, 4MiB, 1GiB; KB/MB/GB are powers of ten; no unit = bytes).
// Durations accept ms, s, m, h (500ms, 25s, 2m); 0 means "off" where the help says so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast {

struct Flags {
  std::string listen = "0.0.0.0:8080";           // public WebSocket port
  std::string apiListen = "127.0.0.1:8081";      // internal HTTP publish/admin API
  std::string publishListen = "127.0.0.1:8082";  // internal TCP publish protocol
  std::vector<std::string> apiAllowedOrigins;    // browser Origins the API serves; empty = none
  std::vector<std::string> apiHosts;             // Host names the API answers to besides its own
  int64_t apiRequestTimeoutMs = 10'000;          // one API request, headers and body, in total
  int64_t apiMaxConnections = 1024;              // open API connections; 0 = no cap
  int64_t publishIdleTimeoutMs = 300'000;        // close a TCP publish connection silent this long
  int64_t publishMaxConnections = 1024;          // open TCP publish connections; 0 = no cap
  int threads = 0;                               // loop threads; 0 = one per core
  int64_t maxConnections = 0;                    // 0 = as many as the open-file limit allows
  uint64_t maxMessageBytes = 1 << 20;            // largest message a client may send (1009 above)
  uint64_t maxOutbufBytes = 1 << 20;             // bytes queued for one socket before back-pressure
  int64_t handshakeTimeoutMs = 10'000;           // TCP accept -> completed upgrade
  int64_t pingIntervalMs = 25'000;               // ping a connection idle this long; 0 = never
  int64_t pongTimeoutMs = 10'000;           // drop it if no pong (or any frame) arrives in time
  int64_t idleTimeoutMs = 0;                // drop a client silent this long; 0 = off
  int64_t closeTimeoutMs = 5'000;           // wait for the peer's close reply, then drop TCP
  int64_t drainTimeoutMs = 5'000;           // on SIGTERM: wait this long for clients to close
  std::vector<std::string> allowedOrigins;  // empty = same host and localhost
  bool dev = false;                         // dev mode (?user=NAME); excludes a JWT secret
  std::string jwtSecret;                    // the HS256 secret: flag, file or environment
  std::string jwtSecretFile;                // read into jwtSecret by parseFlags
  std::string jwtAudience;                  // empty = "aud" not checked
  std::string jwtIssuer;                    // empty = "iss" not checked
  std::string apiKey;                       // empty = the API needs no key
  std::string apiKeyFile;                   // read into apiKey by parseFlags
  std::string slowConsumer = "disconnect";  // or "drop-oldest"
  uint64_t maxSubscriptions = 1024;         // channels one connection may subscribe to
  uint64_t commandRate = 100;               // commands per second per connection; 0 = no limit
  uint64_t commandBurst = 200;              // commands a connection may send at once
  uint64_t historySize = 100;               // messages kept per channel for recovery
  int64_t historyTtlMs = 0;                 // 0 = no age limit
  uint64_t maxHistoryMemoryBytes = 0;       // every channel's history together; 0 = auto
  uint64_t maxMemoryBytes = 0;              // refuse new work near it; 0 = cgroup or physical
  uint64_t ringSize = 16384;                // fan-out ring slots (power of two)
  std::string tlsCert;                      // PEM chain: the public listener speaks TLS (wss://)
  std::string tlsKey;                       // PEM private key of --tls-cert
  bool apiTls = false;                      // the HTTP API listener speaks TLS too
  std::string ktls = "on";                  // kernel TLS where the kernel allows: on or off
  bool echo = false;                        // serve GET /echo
  std::string compression = "on";           // accept permessage-deflate offers: on or off
  uint64_t compressionMinBytes = 256;       // messages shorter than this go uncompressed
  int compressionLevel = 1;                 // zlib level of the once-per-message compression
  std::string logLevel = "info";
  std::vector<std::string> redis;  // HOST:PORT of each Redis instance; empty = one node alone
  std::string redisPrefix = "rc";  // prefix of every Redis key and pub/sub channel
  std::string nodeId;              // empty = defaultNodeId(), filled in by main
  int64_t presenceTtlMs = 10'000;  // cluster presence entries expire this long after a refresh
};

// The history budget when --max-history-memory is not given: this share of --max-memory.
inline constexpr uint64_t kHistoryShareOfMemoryPercent = 25;

// "<host name>-<pid>": the node's name when --node-id is not given (unique among the
// processes of one host, and readable in logs). Not part of parseFlags, which stays a pure
// function of argv.
std::string defaultNodeId();

// Parses a size such as "16MiB". Returns nullopt on anything malformed or overflowing.
std::optional<uint64_t> parseSize(std::string_view text);
// Parses a duration such as "25s" into milliseconds. Returns nullopt when malformed.
std::optional<int64_t> parseDurationMs(std::string_view text);
// "16MiB", "25s": the shortest exact spelling, as printed in the start-up block.
std::string formatSize(uint64_t bytes);
std::string formatDurationMs(int64_t ms);

// The outcome of parsing argv: the settings, or (exitCode >= 0) a text to print and an exit
// status: 0 with the help for --help, non-zero with a message naming the bad flag.
struct FlagsParse {
  Flags flags;
  int exitCode = -1;  // -1: run with `flags`
  std::string output;
};
FlagsParse parseFlags(int argc, const char* const* argv);
// Secrets kept out of `ps`: --jwt-secret-file / --api-key-file are read (one trailing newline
// dropped), else the environment variables RINGCAST_JWT_SECRET / RINGCAST_API_KEY fill a
// secret no flag gave. Two sources for one secret, or an unreadable or empty file: a message.
inline constexpr const char* kJwtSecretEnv = "RINGCAST_JWT_SECRET";
inline constexpr const char* kApiKeyEnv = "RINGCAST_API_KEY";
std::optional<std::string> resolveSecrets(Flags& flags);
// Checks across flags: --max-message-size within --max-outbuf; exactly one of --dev and a JWT
// secret (without either every client could claim any identity). The message to print and
// refuse to start with, or nullopt.
std::optional<std::string> checkFlags(const Flags& flags);
// Start-up warnings that do not stop the gateway (a short HS256 secret, dev mode on a
// non-loopback address), one line each.
inline constexpr size_t kMinJwtSecretBytes = 32;
std::vector<std::string> flagWarnings(const Flags& flags);
// True when `listen` (ADDR:PORT) is a loopback address: 127.0.0.0/8, [::1], localhost.
bool isLoopbackListen(std::string_view listen);
// parseFlags, then: the help printed and exit 0, or the message printed to stderr and exit 2
// (a startup failure is fatal by design).
Flags parseFlagsOrDie(int argc, char** argv);
// The effective settings, one flag per line, as printed at start-up.
std::string formatFlags(const Flags& flags);

}  // namespace ringcast
