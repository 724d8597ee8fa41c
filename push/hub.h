// Hub: the gateway's one door for everything that sends to clients — channel publishes,
// system notices, direct messages, disconnects — and for the queries about who is where.
// The HTTP API, the TCP publish protocol, client commands and the cluster bridge all call it.
//
// A send encodes the outgoing frame ONCE on the calling thread, stamps the channel offset
// (and keeps it in the channel's history), and pushes it into the broadcast ring; every loop
// then delivers it to its own local subscribers with batched writes. The receipt, summed
// over all loops, comes back to the caller's loop.
//
// Every string argument is copied (encoded into the frame or the envelope) before the call
// returns, so callers may pass views into buffers they are about to reuse. A send that
// cannot enter the fan-out now (a full ring, a backend link that is down) is parked and
// retried; its receipt then comes later, or says "overloaded" after a bound. Callers bound
// how many receipts they wait for per connection and stop reading past that bound.
//
// Thread safety: every method is called on a loop thread (an API or client connection's);
// `done` callbacks run later (or inline) on that same loop, exactly once.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::push {

// What happened to one send, summed over every loop.
struct Receipt {
  bool ok = true;
  std::string errorCode;     // when !ok: "overloaded" (ring full), "bad_request", ...
  std::string errorMessage;  // short, human
  uint64_t offset = 0;       // publish: the channel offset the message got
  std::string epoch;         // publish: the channel's epoch (empty where not known)
  // matched/queued/dropped cover every socket that got the message. In a cluster only the
  // local node's sockets are known to the node: counted is false and they are not reported.
  bool counted = true;
  uint64_t matched = 0;  // sockets that should get it
  uint64_t queued = 0;   // of those, sockets that had it queued
  uint64_t dropped = 0;  // of those, sockets skipped by the slow-consumer policy
  bool online = false;   // send/disconnect: the user had at least one connection
  // send: sockets matched per recipient, in the order of the `users` given to send().
  std::vector<uint64_t> matchedPerUser;
};
using ReceiptFn = std::function<void(const Receipt&)>;

struct PresenceEntry {
  std::string user;
  std::string name;
  uint32_t conns = 0;  // the user's connections subscribed to the channel
};

struct ChannelInfo {
  std::string channel;
  uint64_t subscribers = 0;
  uint64_t offset = 0;  // last assigned offset
};

struct UserInfo {
  std::string user;
  uint32_t conns = 0;  // open connections of the user
};

// Counters summed over loops (each loop owns plain counters; stats() collects them).
struct Stats {
  uint64_t connections = 0;
  uint64_t subscriptions = 0;
  uint64_t messagesIn = 0;   // accepted sends (publish, notice, direct) from any source
  uint64_t messagesOut = 0;  // frames queued to sockets
  uint64_t bytesOut = 0;
  uint64_t dropped = 0;  // deliveries skipped or cut by the slow-consumer policy
  uint64_t slowConsumerDisconnects = 0;
  uint64_t parked = 0;             // sends that found no room at once and waited
  uint64_t parkRefused = 0;        // of those, refused with "overloaded" after the bound
  uint64_t joinedFrames = 0;       // frames that carried several messages of a channel to a socket
  uint64_t joinedDeliveries = 0;   // deliveries made through them
  uint64_t clientQueuedBytes = 0;  // bytes queued for client connections right now
  uint64_t commandsRateLimited = 0;   // client commands refused with rate_limited
  uint64_t rateLimitDisconnects = 0;  // connections closed for sustained flooding
  // permessage-deflate (ws/deflate_counters.h), summed over loops.
  uint64_t framesCompressed = 0;        // messages compressed (once each)
  uint64_t compressNs = 0;              // CPU time spent compressing them
  uint64_t messagesSentCompressed = 0;  // deliveries that went out compressed
  uint64_t compressionBytesSaved = 0;   // wire bytes saved by those deliveries
  uint64_t ringOccupancy = 0;
  uint64_t ringCapacity = 0;
  std::vector<uint64_t> loopConnections;  // per loop
  std::vector<uint64_t> loopIterations;   // per loop (load indicator)
  // Publish-to-write latency histogram: bucket i counts deliveries written within
  // kLatencyBucketsUs[i] microseconds of the publish (cumulative, Prometheus style).
  std::vector<uint64_t> latencyBuckets;
  uint64_t latencyCount = 0;
  double latencySumSeconds = 0;
};
inline constexpr uint64_t kLatencyBucketsUs[] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000};

// When a publish's receipt comes back: once every local socket had the message queued
// (matched/queued/dropped are then known), or as soon as the message has its offset and is
// on its way (a client's publish, a feeder that wants no counts: no wait for the loops).
enum class ReceiptWait : uint8_t { kDelivered, kAccepted };

class Hub {
 public:
  virtual ~Hub() = default;

  // Publishes `dataJson` (a valid JSON value, carried byte for byte) on `channel` as
  // {"type":"message",...,"from":from}. REQUIRES: loop thread.
  virtual void publish(std::string_view channel, std::string_view dataJson, std::string_view from,
                       ReceiptWait wait, ReceiptFn done) = 0;
  // A system notice to every connection. REQUIRES: loop thread.
  virtual void broadcast(std::string_view dataJson, ReceiptFn done) = 0;
  // A direct message to every connection of each of `users`, encoded once: one shared frame
  // for every recipient (it names the recipient in "to" only when there is one). REQUIRES:
  // loop thread; `users` not empty and without duplicates (dedupeUsers()).
  virtual void send(const std::vector<std::string>& users, std::string_view dataJson,
                    std::string_view from, ReceiptFn done) = 0;
  // Closes every connection of `user` with 1008 "disconnected". REQUIRES: loop thread.
  virtual void disconnect(std::string_view user, ReceiptFn done) = 0;
  // Gathers every loop's counters. REQUIRES: loop thread; done runs on it.
  virtual void stats(std::function<void(const Stats&)> done) = 0;

  // Who is subscribed to `channel` (every node), sorted by user. REQUIRES: loop thread.
  virtual void presence(std::string_view channel,
                        std::function<void(std::vector<PresenceEntry>)> done) = 0;
  // Users with open connections (every node), sorted. REQUIRES: loop thread.
  virtual void users(std::function<void(std::vector<UserInfo>)> done) = 0;
  // Channels known to this node, sorted. REQUIRES: loop thread.
  virtual void channels(std::function<void(std::vector<ChannelInfo>)> done) = 0;
  // False while the gateway drains (healthz answers 503).
  virtual bool serving() const = 0;
  // False while a backend the node needs (Redis) is unreachable: healthz answers 503
  // "backend down". Safe from any thread.
  virtual bool healthy() const { return true; }
  // True while the process is near --max-memory: new connections and sends are refused
  // (healthz answers 503 "memory high"). Safe from any thread.
  virtual bool memoryHigh() const { return false; }
  // Appends Prometheus text about memory and the backend to /metrics. Safe from any loop
  // thread.
  virtual void appendMetrics(std::string& out) const { (void)out; }
};

}  // namespace ringcast::push
