// Options: every setting of ringcast-bench, with its default and help text, parsed once by
// main (parseOptionsOrExit) and then passed down as const. Sizes accept units (64, 4KiB,
// 1MiB), durations too (500ms, 10s, 2m), as in the server's flags.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/client/channels.h"
#include "bench/client/url.h"
#include "net/socket_ops.h"

namespace ringcast::bench {

enum class Mode { kEcho, kIdle, kHandshake, kFanout };
enum class PublishVia : uint8_t { kHttp, kWs, kTcp };
const char* modeName(Mode mode);

struct Options {
  Mode mode = Mode::kEcho;
  // Every mode.
  Url url;                                // the WebSocket URL (fanout: the first subscribe URL)
  std::vector<Url> urls;                  // fanout: every --url, subscribers round robin
  uint64_t conns = 0;                     // connections (fanout: subscribers)
  int procs = 1;                          // worker processes
  int threads = 1;                        // loops per worker process
  double rampPerSec = 0;                  // new connections per second, all procs; 0 = no pacing
  uint32_t concurrency = 256;             // connects in progress at once, per process
  std::vector<sockets::Address> sources;  // --src: local addresses, round robin
  int64_t timeoutMs = 5000;               // connect + upgrade, per attempt
  std::vector<std::string> headers;       // extra upgrade request fields
  bool ktls = false;                      // wss://: ask for kernel TLS on the client side too
  bool compression = false;               // --compression: offer permessage-deflate
  std::string jsonPath;                   // --json
  std::vector<int> serverPids;            // --server-pid (several: a cluster and its Redis)
  bool progress = false;                  // live line on stderr (when it is a terminal)
  // echo
  uint32_t inflight = 1;
  uint64_t sizeBytes = 64;
  bool binary = false;
  int64_t durationMs = 10'000;  // echo, handshake, fanout
  // idle
  int64_t holdMs = 30'000;  // 0 = until SIGINT, SIGTERM or SIGUSR1
  std::string readyFile;
  // handshake (and fanout's publishing rate)
  double ratePerSec = 0;
  // fanout
  std::string firstMessage;
  std::string readyMatch;
  Url publishUrl;  // HTTP publisher (the first --publish-url), or
  Url publishWs;   // WebSocket publisher
  bool publishOverWs = false;
  PublishVia publishVia = PublishVia::kHttp;
  std::vector<Url> publishTargets;  // every --publish-url / --publish-ws / --publish-tcp
  ChannelSet channels;              // --channel / --channels
  double zipf = 0;                  // 0 = publishes spread uniformly over the channels
  uint64_t seed = 1;
  bool reconnect = false;          // a lost subscriber reconnects (next URL) and resubscribes
  std::string resubscribeMessage;  // with {offset} and {epoch}; ringcast preset
  std::string publishBody = "{marker}{pad}";
  std::string contentType;
  std::vector<std::string> publishHeaders;
  uint32_t publishConns = 1;
  uint32_t publishInflight = 8;
  // Deliveries due to this run's subscribers and not yet received; 0 = no bound.
  uint64_t deliveryWindow = 0;
  int readerNice = 0;  // the subscriber worker processes' nice value; 0 = unchanged
  int64_t settleMs = 300;
  int64_t drainTimeoutMs = 3000;
  uint64_t messages = 0;  // publish this many in total, then stop; 0 = until --duration
  uint64_t stalled = 0;   // of the subscribers: stop reading once subscribed
};

// Parses argv. Prints help and exits 0 for --help; prints a clear message and exits 2 for a
// bad command line.
Options parseOptionsOrExit(int argc, char** argv);

// "127.0.0.1-127.0.0.16", "127.0.0.1,127.0.0.2", or one address. False with *error on a
// malformed list.
bool parseSourceList(const std::string& text, std::vector<sockets::Address>* out,
                     std::string* error);

}  // namespace ringcast::bench
