#include "bench/client/options.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "bench/client/marker.h"
#include "core/flags.h"

namespace ringcast::bench {
namespace {

// The documented default port of ringcast's HTTP API (--api-listen), for --channel.
constexpr int kRingcastApiPort = 8081;

[[noreturn]] void usageError(const std::string& message) {
  fmt::print(stderr, "ringcast-bench: {}\n(see ringcast-bench --help)\n", message);
  std::exit(2);
}

struct RawOptions {
  std::vector<std::string> urls, publishUrls, publishTcp;
  std::string src, timeout = "5s", size = "64", duration = "10s", hold = "30s";
  std::string publishWs, settle = "300ms", drainTimeout = "3s", channel;
  uint32_t channels = 1;
  bool quiet = false;
  bool insecure = false;  // the default anyway
};

// The ringcast presets of --channel.
constexpr std::string_view kPresetSubscribe = R"({"op":"subscribe","channel":"{channel}"})";
constexpr std::string_view kPresetResubscribe =
    R"({"op":"subscribe","channel":"{channel}","since":{"offset":{offset},"epoch":"{epoch}"}})";
constexpr std::string_view kPresetBodyHttp = R"({"channel":"{channel}","data":"{marker}{pad}"})";
constexpr std::string_view kPresetBodyTcp = R"("{marker}{pad}")";
constexpr std::string_view kDefaultBody = "{marker}{pad}";

int64_t durationOrExit(const std::string& name, const std::string& text) {
  auto v = parseDurationMs(text);
  if (!v)
    usageError(fmt::format("{}: '{}' is not a duration (examples: 500ms, 10s, 2m)", name, text));
  return *v;
}

// defaultConns 0: a mode without a fixed connection count (handshake), so no --conns/--ramp.
void addCommon(CLI::App* app, Options* o, RawOptions* raw, uint64_t defaultConns) {
  o->conns = defaultConns;
  app->add_option("--url", raw->urls,
                  "WebSocket URL, ws://HOST:PORT/PATH?QUERY or wss:// (TLS; the server's "
                  "certificate is not verified: the bench measures, it does not authenticate); "
                  "fanout: repeatable or a comma list; "
                  "the subscribers of each channel are dealt over the URLs round robin, and "
                  "{channel} is replaced by the subscriber's channel)")
      ->required()
      ->delimiter(',');
  if (defaultConns > 0) {
    app->add_option("--conns", o->conns, "connections to open (split over --procs and --threads)")
        ->capture_default_str();
    app->add_option("--ramp", o->rampPerSec,
                    "new connections per second over all processes; 0 = as fast as "
                    "--concurrency allows")
        ->capture_default_str();
  }
  app->add_option("--src", raw->src,
                  "local source addresses, round robin (bind before connect), to get past the "
                  "ephemeral-port limit of one address: 127.0.0.1-127.0.0.16 or a,b,c");
  app->add_option("--procs", o->procs,
                  "worker processes (fork); connections are split between them, to get past the "
                  "per-process open-file limit; the parent merges their results")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app->add_option("--threads", o->threads, "event loops (threads) per worker process")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app->add_option("--concurrency", o->concurrency,
                  "connects in progress at once per process (handshake mode: attempts in flight)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app->add_option("--timeout", raw->timeout, "limit for one connect + upgrade")
      ->capture_default_str();
  app->add_option("--header", o->headers,
                  "extra header for the upgrade request, 'Name: value' (repeatable)");
  app->add_option("--json", o->jsonPath, "also write all results as JSON to this file");
  app->add_option("--server-pid", o->serverPids,
                  "the server's pid: report its CPU time (utime+stime from /proc) next to the "
                  "client's, so a reader sees which side was the bottleneck; repeat it (or "
                  "give a comma-separated list) for several processes, e.g. cluster nodes and "
                  "their Redis: each is reported, and their sum")
      ->delimiter(',');
  app->add_flag("--insecure", raw->insecure,
                "accepted for clarity: wss:// and https:// never verify the certificate");
  app->add_flag("--ktls", o->ktls,
                "wss:// and https://: ask OpenSSL for kernel TLS on the client side as well");
  app->add_flag("--compression", o->compression,
                "offer permessage-deflate (RFC 7692, client_no_context_takeover); where the "
                "server accepts, compressed messages are inflated (the client sends "
                "uncompressed); the report counts the connections that negotiated it and the "
                "bytes received on the wire");
  app->add_flag("--quiet", raw->quiet, "no live progress line (shown only when stderr is a TTY)");
}

void addDuration(CLI::App* app, RawOptions* raw, const char* what) {
  app->add_option("--duration", raw->duration, what)->capture_default_str();
}

// The fanout mode's channels, presets and publish targets (after the common options).
void parseFanoutTargets(const CLI::App& f, RawOptions& raw, Options* out) {
  Options& o = *out;
  std::string error;
  const bool preset = !raw.channel.empty();
  if (preset && raw.channel.find_first_of("\"\\{}") != std::string::npos) {
    usageError("--channel: the name must not contain quotes, backslashes or braces");
  }
  o.channels = ChannelSet(preset ? raw.channel : "bench", raw.channels);
  const int ways = (raw.publishUrls.empty() ? 0 : 1) + (raw.publishWs.empty() ? 0 : 1) +
                   (raw.publishTcp.empty() ? 0 : 1);
  if (ways > 1) usageError("fanout takes one of --publish-url, --publish-ws and --publish-tcp");
  if (!raw.publishTcp.empty()) o.publishVia = PublishVia::kTcp;
  if (!raw.publishWs.empty()) o.publishVia = PublishVia::kWs;
  const bool bodyGiven = f.count("--publish-body") > 0;
  if (preset) {
    if (f.count("--first-message") == 0) {
      o.firstMessage = std::string(kPresetSubscribe);
      if (o.readyMatch.empty()) o.readyMatch = R"("type":"reply")";
      o.resubscribeMessage = std::string(kPresetResubscribe);
    }
    if (!bodyGiven) {
      if (o.publishVia == PublishVia::kTcp) {
        // The same data as the HTTP preset's body carries, so that both deliver alike.
        o.publishBody = std::string(kPresetBodyTcp);
        const size_t envelope = kPresetBodyHttp.size() - kPresetBodyTcp.size() -
                                kChannelPlaceholder.size() + o.channels.name(0).size();
        o.sizeBytes = o.sizeBytes > envelope ? o.sizeBytes - envelope : 0;
      } else {
        o.publishBody = std::string(kPresetBodyHttp);
      }
    }
    if (ways == 0) {
      std::string host =
          o.url.host.find(':') != std::string::npos ? "[" + o.url.host + "]" : o.url.host;
      raw.publishUrls.push_back(fmt::format("http://{}:{}/api/publish", host, kRingcastApiPort));
    }
  } else if (ways == 0) {
    usageError("fanout needs one of --publish-url, --publish-ws and --publish-tcp (or --channel)");
  }
  for (const std::string& text : raw.publishUrls) {
    Url u;
    if (!parseUrl(text, "http", &u, &error)) usageError("--publish-url: " + error);
    o.publishTargets.push_back(std::move(u));
  }
  for (const std::string& text : raw.publishTcp) {
    Url u;
    if (text.find("://") != std::string::npos || !parseUrl("tcp://" + text, "tcp", &u, &error)) {
      usageError(fmt::format("--publish-tcp: '{}' is not HOST:PORT{}", text,
                             error.empty() ? "" : " (" + error + ")"));
    }
    o.publishTargets.push_back(std::move(u));
  }
  if (!raw.publishWs.empty()) {
    if (!parseUrl(raw.publishWs, "ws", &o.publishWs, &error)) usageError("--publish-ws: " + error);
    o.publishOverWs = true;
    o.publishTargets.push_back(o.publishWs);
  }
  if (o.publishVia == PublishVia::kHttp) o.publishUrl = o.publishTargets.front();
  if (o.publishVia == PublishVia::kTcp && f.count("--publish-inflight") == 0) {
    o.publishInflight = 1024;
  }
  if (o.stalled >= o.conns) usageError("--stalled must be less than --conns");
  if (o.publishBody.find("{marker}") == std::string::npos) {
    usageError("--publish-body must contain {marker}");
  }
  if (o.reconnect && o.resubscribeMessage.empty()) {
    usageError("--reconnect needs the ringcast preset (--channel, without --first-message)");
  }
  if (o.reconnect && o.stalled > 0) usageError("--reconnect and --stalled do not go together");
  if (o.contentType.empty()) {
    const char c = o.publishBody.empty() ? ' ' : o.publishBody.front();
    o.contentType = c == '{' || c == '[' ? "application/json" : "text/plain; charset=utf-8";
  }
}

}  // namespace

const char* modeName(Mode mode) {
  switch (mode) {
    case Mode::kEcho:
      return "echo";
    case Mode::kIdle:
      return "idle";
    case Mode::kHandshake:
      return "handshake";
    case Mode::kFanout:
      return "fanout";
  }
  return "?";
}

bool parseSourceList(const std::string& text, std::vector<sockets::Address>* out,
                     std::string* error) {
  out->clear();
  auto parseOne = [&](const std::string& s, in_addr* a) {
    if (inet_pton(AF_INET, s.c_str(), a) != 1) {
      *error = fmt::format("--src: '{}' is not an IPv4 address", s);
      return false;
    }
    return true;
  };
  auto push = [&](in_addr a) {
    sockets::Address addr;
    auto* sin = reinterpret_cast<sockaddr_in*>(&addr.storage);
    sin->sin_family = AF_INET;
    sin->sin_addr = a;
    addr.length = sizeof(sockaddr_in);
    out->push_back(addr);
  };
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t dash = item.find('-');
    in_addr first, last;
    if (dash == std::string::npos) {
      if (!parseOne(item, &first)) return false;
      push(first);
    } else {
      if (!parseOne(item.substr(0, dash), &first) || !parseOne(item.substr(dash + 1), &last)) {
        return false;
      }
      uint32_t a = ntohl(first.s_addr), b = ntohl(last.s_addr);
      if (b < a || b - a >= 65536) {
        *error = fmt::format("--src: '{}' is not an ascending range of at most 65536", item);
        return false;
      }
      for (uint32_t x = a; x <= b; ++x) push(in_addr{htonl(x)});
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return true;
}

Options parseOptionsOrExit(int argc, char** argv) {
  Options o;
  RawOptions raw;
  CLI::App app{
      "ringcast-bench: load-test client for WebSocket servers (ringcast or any other), on\n"
      "ringcast's own reactor. Every mode reports counts, rates, latency percentiles (p50,\n"
      "p90, p99, p99.9, max), failures by kind, and the client's CPU time (and the server's,\n"
      "with --server-pid). Exit status: 0 the run was measured, 1 it could not be (server\n"
      "down, every upgrade refused, publisher unusable), 2 bad command line.",
      "ringcast-bench"};
  app.require_subcommand(1);

  Options echo, idle, handshake, fanout;
  RawOptions rawEcho, rawIdle, rawHandshake, rawFanout;
  CLI::App* e = app.add_subcommand(
      "echo",
      "N connections each keep K messages of B bytes in flight against an echo endpoint for S "
      "seconds; reports round trips per second and round-trip latency.");
  addCommon(e, &echo, &rawEcho, 10);
  e->add_option("--inflight", echo.inflight, "messages in flight per connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  e->add_option("--size", rawEcho.size, "payload bytes per message (64, 4KiB, ...)")
      ->capture_default_str();
  e->add_flag("--binary", echo.binary, "send binary frames (default: text)");
  addDuration(e, &rawEcho, "measured time, after every connection is open");

  CLI::App* i = app.add_subcommand(
      "idle",
      "Open N connections and hold them (answering pings); reports how many stayed up and for "
      "how long, with failures by kind. While they are held, stdout has the line\n"
      "'holding N connections' and --ready-file exists, so a script can read the server's "
      "memory then.");
  addCommon(i, &idle, &rawIdle, 1000);
  i->add_option("--hold", rawIdle.hold,
                "how long to hold every connection once all are open; 0 = until SIGINT, SIGTERM "
                "or SIGUSR1")
      ->capture_default_str();
  i->add_option("--ready-file", idle.readyFile,
                "created (with the count of open connections) once every connection is open");

  CLI::App* h = app.add_subcommand(
      "handshake",
      "Open, upgrade and close connections for S seconds; reports new connections per second "
      "and the latency of connect + upgrade and of the whole cycle.");
  addCommon(h, &handshake, &rawHandshake, 0);
  h->add_option("--rate", handshake.ratePerSec,
                "new connections per second; 0 = as fast as possible with --concurrency attempts "
                "in flight")
      ->capture_default_str();
  addDuration(h, &rawHandshake, "how long to keep opening connections");

  CLI::App* f = app.add_subcommand(
      "fanout",
      "N subscribers receive what publishers publish. Every published message carries a marker "
      "(publisher, sequence number, send time) that subscribers find anywhere in a frame and "
      "check for loss, duplicates and order, and time (publish-to-delivery latency). Works "
      "against any server through --first-message, --publish-url / --publish-ws and "
      "--publish-body. For ringcast:\n"
      "  fanout --url 'ws://H:8080/ws?user=bench' --channel news "
      "--publish-url http://H:8081/api/publish");
  addCommon(f, &fanout, &rawFanout, 100);
  f->add_option("--channel", rawFanout.channel,
                "the channel name (with --channels: the prefix of the names), and the ringcast "
                "preset: subscribe to it ({\"op\":\"subscribe\",...} as first message, ready on "
                "its reply) and publish {\"channel\":C,\"data\":\"{marker}{pad}\"} to "
                "--publish-url (default http://HOST:8081/api/publish); options given explicitly "
                "win over the preset");
  f->add_option("--first-message", fanout.firstMessage,
                "text frame each subscriber sends once open (e.g. a subscribe command)");
  f->add_option("--ready-match", fanout.readyMatch,
                "a subscriber is ready once a frame containing this text arrived (default: "
                "ready when open and the first message is sent, plus --settle)");
  f->add_option("--settle", rawFanout.settle,
                "wait this long after every subscriber is ready before publishing")
      ->capture_default_str();
  f->add_option("--channels", rawFanout.channels,
                "spread the subscribers over this many channels, round robin (subscriber g joins "
                "channel g mod K); with K > 1 channel i is named --channel's name followed by i "
                "in fixed-width decimal (room000..room999). Every publish goes to one channel; "
                "loss, duplicates and order are checked per channel and publisher")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxChannels));
  f->add_option("--zipf", fanout.zipf,
                "spread publishes over the channels by a Zipf law of exponent S: channel i gets "
                "a share proportional to 1/(i+1)^S (a few hot rooms); 0 = uniformly at random")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  f->add_option("--seed", fanout.seed,
                "seed of the channel choice of publishes (the same seed repeats the pattern)")
      ->capture_default_str();
  f->add_option("--publish-url", rawFanout.publishUrls,
                "publish by HTTP POST to http://HOST:PORT/PATH over keep-alive connections; "
                "repeatable or a comma list: publisher connections are dealt over the URLs "
                "round robin. {channel} in the path is replaced by the publish's channel")
      ->delimiter(',');
  f->add_option("--publish-tcp", rawFanout.publishTcp,
                "publish with ringcast's TCP protocol (PUB <channel> <n>) to HOST:PORT, "
                "pipelined, with a PING every quarter of --publish-inflight commands as the "
                "point where the gateway confirms them; repeatable or a comma list (round robin "
                "over the publisher connections). The payload is the --publish-body (preset: "
                "the same data as the HTTP body's)")
      ->delimiter(',');
  f->add_flag("--reconnect", fanout.reconnect,
              "a subscriber that lost its connection reconnects to the next --url of the list "
              "and resubscribes with since (its last offset and the channel's epoch), so loss "
              "and duplicates across a node failure or a disconnect are counted end to end; "
              "needs the ringcast preset (--channel)");
  f->add_option("--ready-file", fanout.readyFile,
                "created (with the count of ready subscribers) once every subscriber is ready, "
                "when publishing starts");
  f->add_option("--publish-ws", rawFanout.publishWs,
                "publish by sending the body as a text frame over WebSocket connections to this "
                "ws:// URL");
  f->add_option("--publish-body", fanout.publishBody,
                "body template: {channel} is replaced by the publish's channel, {marker} by the "
                "marker (#rcb:PUB:CHANNEL:SEQ:NS#, " +
                    std::to_string(kMarkerBytes) +
                    " bytes), {pad} by 'x' bytes that bring the body to --size")
      ->capture_default_str();
  f->add_option("--content-type", fanout.contentType,
                "Content-Type of HTTP publishes (default: application/json when the body starts "
                "with { or [, else text/plain)");
  f->add_option("--publish-header", fanout.publishHeaders,
                "extra header for publish requests, 'Name: value' (repeatable)");
  f->add_option("--publish-conns", fanout.publishConns,
                "publisher connections; each is one publisher with its own sequence")
      ->capture_default_str()
      ->check(CLI::Range(1u, kMaxPublishers));
  f->add_option("--publish-inflight", fanout.publishInflight,
                "HTTP requests in flight per publisher connection (pipelined); with "
                "--publish-tcp: commands not yet confirmed by a PONG (default then 1024)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  f->add_option("--delivery-window", fanout.deliveryWindow,
                "at most this many deliveries due to this run's subscribers and not yet "
                "received (0 = no bound): publishing as fast as the subscribers absorb, for "
                "a way in without an answer per message (--publish-tcp)")
      ->capture_default_str();
  f->add_option("--rate", fanout.ratePerSec,
                "messages per second over all publishers; 0 = as fast as the server absorbs "
                "(bounded by the in-flight window)")
      ->capture_default_str();
  f->add_option("--size", rawFanout.size, "published body bytes (padded by {pad})")
      ->capture_default_str();
  addDuration(f, &rawFanout, "how long to publish");
  f->add_option("--messages", fanout.messages,
                "publish this many messages over all publishers, then stop (--duration still "
                "caps the run); 0 = publish until --duration ends")
      ->capture_default_str();
  f->add_option("--stalled", fanout.stalled,
                "this many of the --conns subscribers subscribe and then never read (a small "
                "receive buffer, reading paused): the slow-consumer scenario. They are not in "
                "the loss accounting; at the end they read what reached them and the report "
                "says how the server treated them (closed with a code, dropped, or kept)")
      ->capture_default_str();
  f->add_option("--reader-nice", fanout.readerNice,
                "the subscriber worker processes run at this nice value (0-19); the publishers "
                "keep the parent's. On a CPU the publishers share with the readers, a publisher "
                "whose answers arrived then runs at once, as a backend on a machine of its own "
                "would, instead of waiting until the readers have read what the same pass sent")
      ->capture_default_str()
      ->check(CLI::Range(0, 19));
  f->add_option("--drain-timeout", rawFanout.drainTimeout,
                "after publishing: wait up to this long for deliveries that are still due")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& err) {
    // --help prints and exits 0; every other parse error is a bad command line.
    std::exit(app.exit(err) == 0 ? 0 : 2);
  }

  if (e->parsed()) {
    o = echo, raw = rawEcho, o.mode = Mode::kEcho;
  } else if (i->parsed()) {
    o = idle, raw = rawIdle, o.mode = Mode::kIdle;
  } else if (h->parsed()) {
    o = handshake, raw = rawHandshake, o.mode = Mode::kHandshake;
  } else {
    o = fanout, raw = rawFanout, o.mode = Mode::kFanout;
  }

  std::string error;
  for (const std::string& text : raw.urls) {
    Url u;
    if (!parseUrl(text, "ws", &u, &error)) usageError("--url: " + error);
    o.urls.push_back(std::move(u));
  }
  if (o.urls.empty()) usageError("--url is required");
  if (o.urls.size() > 1 && o.mode != Mode::kFanout) usageError("several --url only in fanout");
  for (const Url& u : o.urls) {
    if (u.tls != o.urls.front().tls) usageError("--url: all ws:// or all wss://");
  }
  o.url = o.urls.front();
  if (!raw.src.empty() && !parseSourceList(raw.src, &o.sources, &error)) usageError(error);
  o.timeoutMs = durationOrExit("--timeout", raw.timeout);
  if (o.timeoutMs <= 0) usageError("--timeout must be positive");
  o.durationMs = durationOrExit("--duration", raw.duration);
  o.holdMs = durationOrExit("--hold", raw.hold);
  o.settleMs = durationOrExit("--settle", raw.settle);
  o.drainTimeoutMs = durationOrExit("--drain-timeout", raw.drainTimeout);
  auto size = parseSize(raw.size);
  if (!size || *size > (64u << 20)) {
    usageError(
        fmt::format("--size: '{}' is not a size up to 64MiB (examples: 64, 4KiB)", raw.size));
  }
  o.sizeBytes = *size;
  if (o.rampPerSec < 0 || o.ratePerSec < 0) usageError("--ramp and --rate cannot be negative");
  if (o.mode != Mode::kHandshake && o.conns == 0) usageError("--conns must be at least 1");
  if (o.mode != Mode::kHandshake && o.conns < static_cast<uint64_t>(o.procs)) {
    usageError("--conns must be at least --procs");
  }
  if ((o.mode == Mode::kEcho || o.mode == Mode::kHandshake || o.mode == Mode::kFanout) &&
      o.durationMs <= 0) {
    usageError("--duration must be positive");
  }
  for (const auto& list : {o.headers, o.publishHeaders}) {
    for (const std::string& hdr : list) {
      if (hdr.find(':') == std::string::npos || hdr.find_first_of("\r\n") != std::string::npos) {
        usageError(fmt::format("header '{}' is not 'Name: value'", hdr));
      }
    }
  }

  if (o.mode == Mode::kFanout) parseFanoutTargets(*f, raw, &o);
  o.progress = !raw.quiet && ::isatty(STDERR_FILENO) == 1;
  return o;
}

}  // namespace ringcast::bench
