// RedisEngine: the Engine of a node joined to others through Redis (--redis). Offsets,
// epochs and history live in Redis (push/redis_codec.h has the keys and scripts); each
// publish is one Lua script run (EVALSHA) that assigns the offset, appends to the channel's
// capped stream and PUBLISHes the message to the nodes. A node SUBSCRIBEs to a channel while
// one of its loops has a subscriber, to a user's channel while the user has a connection on
// it, and to the notice channel always. What arrives is decoded once, encoded once into the
// WebSocket frame and handed to the local fan-out, exactly like a local publish.
//
// Channels (and users) are spread over the Redis instances by xxHash of their name; each
// instance has one command link and one subscriber link (net/redis_client.h), both on loop
// 0. Calls from other loops hop to loop 0 through its task queue and their answers hop back.
//
// Gaps: per channel the node remembers the last offset it handed to the fan-out; a message
// that skips offsets, an epoch change, or a subscriber link that came back makes it read the
// missing messages from the stream (XRANGE) before going on; when the stream no longer holds
// them, the channel's subscribers get a server-initiated recovery:false frame (Envelope::kLost).
//
// Faults: while any link is down healthy() is false and publishes, notices and direct sends
// are refused at once with "overloaded" (counted); clients stay connected, the links
// reconnect with back-off and resubscribe, and the catch-up above runs for every channel.
//
// Presence: each channel's presence list and the cluster's user list are presence sets in
// Redis (redis_codec.h, kPresenceScript), one entry per node and user carrying the node's
// connection count and an expiry. Loop 0 keeps this node's counts, sends the changes once
// per loop iteration (a burst of subscribes makes one script run per channel), and every
// presenceTtlMs/3 refreshes all its entries and sweeps expired ones. A crashed node's users
// therefore leave every list, with a leave event, at most presenceTtlMs + presenceTtlMs/3
// after its last refresh. The script publishes join/leave on the channel's pub/sub channel,
// so every node delivers them in order with the channel's messages. Channel lists stay this
// node's own (the channels it has subscribers for). While Redis is unreachable, presence and
// user queries answer with this node's own part.
//
// Thread safety: the Engine methods are safe from any loop thread; everything else runs on
// loop 0.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/hash.h"
#include "net/redis_client.h"
#include "net/ticker.h"
#include "push/engine.h"
#include "push/fanout.h"

namespace ringcast::push {

struct RedisEngineOptions {
  std::vector<std::string> addresses;  // HOST:PORT of each Redis instance
  std::string prefix = "rc";
  std::string nodeId;
  size_t historySize = 100;
  int64_t historyTtlMs = 0;
  int64_t presenceTtlMs = 10'000;  // a node's presence entries expire this long after a refresh
};

class RedisEngine final : public Engine {
 public:
  RedisEngine(Fanout* fanout, const RedisEngineOptions& options);
  ~RedisEngine() override;

  // Hub
  void publish(std::string_view channel, std::string_view dataJson, std::string_view from,
               ReceiptWait wait, ReceiptFn done) override;
  void broadcast(std::string_view dataJson, ReceiptFn done) override;
  void send(const std::vector<std::string>& users, std::string_view dataJson, std::string_view from,
            ReceiptFn done) override;
  void disconnect(std::string_view user, ReceiptFn done) override;
  void stats(std::function<void(const Stats&)> done) override { fanout_->stats(std::move(done)); }
  void presence(std::string_view channel,
                std::function<void(std::vector<PresenceEntry>)> done) override;
  void presencePage(std::string_view channel, size_t maxEntries,
                    std::function<void(PresencePage)> done) override;
  void users(std::function<void(std::vector<UserInfo>)> done) override;
  void channels(std::function<void(std::vector<ChannelInfo>)> done) override;

  // Engine
  void attachLoop(net::EventLoop& loop) override;
  void detachLoop(net::EventLoop& loop) override;
  std::string nodeEpoch() const override { return nodeEpoch_; }
  void channelInterest(std::string_view channel, bool interested) override;
  void recover(std::string_view channel, const std::optional<StreamPosition>& since,
               RecoveryFn done) override;
  void presenceChange(std::string_view channel, std::string_view user, std::string_view name,
                      int delta) override;
  void userChange(std::string_view user, int delta) override;
  bool healthy() const override { return healthy_.load(std::memory_order_relaxed); }

 private:
  void appendEngineMetrics(std::string& out) const override;
  // Near --max-memory (refusedForMemory) or while a link is down: counts the refusal and
  // answers `done` with overloaded.
  bool refusedWhileDown(ReceiptFn& done);
  struct Instance;
  struct LinkHandler final : net::RedisClient::Handler {
    RedisEngine* engine = nullptr;
    size_t instance = 0;
    bool subscriber = false;
    void onLinkUp() override;
    void onLinkDown() override;
    void onMessage(std::string_view channel, std::string_view payload) override;
    void onSubscribed(std::string_view channel) override;
  };
  struct Instance {
    LinkHandler commandHandler, subscriberHandler;
    std::unique_ptr<net::RedisClient> command, subscriber;
  };
  struct Held {
    uint64_t offset;
    std::string epoch;
    FrameRef frame;
  };
  // Loop 0's view of one channel this node wants.
  struct ChannelState {
    int interest = 0;         // loops with a subscriber
    bool confirmed = false;   // the SUBSCRIBE is in force on the current link
    bool known = false;       // lastOffset/epoch hold a position
    uint64_t lastOffset = 0;  // last offset handed to the fan-out
    std::string epoch;
    bool catchingUp = false;
    std::deque<Held> held;                       // live messages waiting for a catch-up
    std::vector<std::function<void()>> waiting;  // recoveries waiting for the SUBSCRIBE
  };

  // This node's part of one presence set (loop 0).
  struct LocalPresence {
    uint32_t conns = 0;
    bool dirty = false;  // changed since the last update sent
    std::string name;
  };
  struct PresenceSet {
    std::unordered_map<std::string, LocalPresence, StringHash, std::equal_to<>> users;
    std::vector<std::string> dirty;  // users with LocalPresence::dirty
    bool queued = false;             // in dirtySets_
  };
  // What a presence read answers: user -> {connections over every node, name}.
  using PresenceRead = std::vector<PresenceEntry>;

  Instance& instanceFor(std::string_view key);
  net::EventLoop* loop0() const { return loops_[0]; }
  // Runs fn on loop 0 (now when already there).
  void onLoop0(std::function<void()> fn);
  void updateHealth();
  struct Script {
    std::string_view text;
    std::string sha;
  };
  // SCRIPT LOAD of every script, first thing on a new command link.
  void loadScripts(net::RedisClient& client);
  // Runs a script with two or four keys (the first args); a NOSCRIPT answer is retried once
  // with EVAL (a server whose scripts were flushed while the link stayed up; the retried
  // command then runs after others sent meanwhile).
  void evalScript(net::RedisClient& client, const Script& script, int keys,
                  std::vector<std::string> args, net::RedisClient::ReplyFn done);
  // Presence sets (loop 0). `set` is a channel name, or empty for the user list.
  void changePresence(const std::string& set, std::string_view user, std::string_view name,
                      int delta);
  void queueFlush(const std::string& set);
  void flushPresence();
  // Sends the set's dirty users (or all of them: a refresh), then forgets users at 0.
  void sendPresence(const std::string& set, bool all);
  void refreshPresence();
  // The keys and the head of kPresenceScript's arguments for `set` (no users yet).
  std::vector<std::string> presenceArgs(const std::string& set, int64_t nowMs, int64_t expiryMs,
                                        int64_t keyTtlMs, bool read) const;
  void readPresence(const std::string& set, std::function<void(bool ok, PresenceRead)> done);
  PresenceSet& presenceSet(const std::string& set) {
    return set.empty() ? online_ : presence_[set];
  }
  // The command link of the set's instance: the channel's, or the first for the user list.
  net::RedisClient& presenceClient(const std::string& set) {
    return set.empty() ? *instances_[0].command : *instanceFor(set).command;
  }
  void onPresenceEvent(std::string_view channel, bool join, std::string_view user);
  void recoverInLoop0(std::string channel, std::optional<StreamPosition> since,
                      net::EventLoop* origin, RecoveryFn done);
  void onChannelMessage(std::string_view channel, std::string_view payload);
  void onUserMessage(std::string_view user, std::string_view payload);
  void onNotice(std::string_view payload);
  void acceptLive(ChannelState& s, const std::string& channel, Held m);
  // Hands the channel's next message to the fan-out and records its offset.
  void deliverMessage(ChannelState& s, const std::string& channel, Held m);
  // The messages of a recover-script answer `r` (elements 2..), which must be exactly the
  // offsets after+1 .. last; false (with *out partly filled) when any is missing or malformed.
  static bool readAfter(const redisReply* r, std::string_view channel, uint64_t after,
                        uint64_t last, std::vector<Held>* out);
  void catchUp(const std::string& channel);
  void deliverLost(std::string_view channel, uint64_t offset, std::string_view epoch);
  // Hands an envelope to the fan-out after every earlier one from Redis; never drops it.
  void deliverInOrder(Envelope* env);
  // Delivers fromRedis_ front first while the ring has room; parks itself for the rest.
  void flushFromRedis();
  static FrameRef messageFrame(std::string_view channel, uint64_t offset, int64_t tsMs,
                               std::string_view from, std::string_view data);

  Fanout* const fanout_;
  const RedisEngineOptions options_;
  const std::string nodeEpoch_;
  const std::string nodeInstance_;  // "NODE-ID/EPOCH": this process in presence sets
  const Script publishScript_, recoverScript_, presenceScript_;
  std::vector<net::EventLoop*> loops_;
  std::vector<Instance> instances_;  // loop 0 only
  std::unordered_map<std::string, ChannelState, StringHash, std::equal_to<>> channels_;  // loop 0
  std::unordered_map<std::string, int, StringHash, std::equal_to<>> localUsers_;         // loop 0
  std::unordered_map<std::string, PresenceSet, StringHash, std::equal_to<>> presence_;   // loop 0
  PresenceSet online_;                                                                   // loop 0
  std::vector<std::string> dirtySets_;  // loop 0; "" is the user list
  bool flushScheduled_ = false;         // loop 0
  std::deque<Envelope*> fromRedis_;     // loop 0: from Redis, waiting for ring room, in order
  bool flushParked_ = false;            // loop 0: a flushFromRedis() is parked
  std::unique_ptr<net::Ticker> refreshTicker_;

  std::atomic<bool> healthy_{false};
  // Counters written on loop 0 (or with fetch_add from any loop), read by appendMetrics.
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> gapsFound_{0};
  std::atomic<uint64_t> gapsFilled_{0};
  std::atomic<uint64_t> gapsLost_{0};
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<int64_t> publishRttUs_{0};
  std::atomic<uint64_t> linksUp_{0};
};

}  // namespace ringcast::push
