// RedisClient: one non-blocking connection to a Redis server on the caller's EventLoop, with
// hiredis's reply reader (redisReader) for RESP under the loop's own socket handling.
//
// Commands are pipelined: each is appended to an output buffer that is written once per batch
// (after the current events), and replies are matched first-in first-out to their callbacks.
// Pub/sub: subscribe()/unsubscribe() keep a set of channels that is sent again on every
// reconnect; messages go to Handler::onMessage. A link with subscriptions is in Redis's
// subscriber mode and accepts only SUBSCRIBE, UNSUBSCRIBE and PING (use a second client for
// other commands).
//
// Faults: while the link is down every command fails at once (its callback gets nullptr); a
// link that fails (connect refused or timed out, EOF, a reply overdue by commandTimeoutMs, a
// protocol error) fails every pending callback, reports onLinkDown and reconnects after an
// exponential back-off with jitter, bounded by backoffMaxMs. Nothing here blocks: connect is
// non-blocking and completes on the writable edge, and time is kept by a timerfd on the loop.
//
// Thread safety: everything, construction and destruction included, on the loop's thread
// (asserted in debug builds). Callbacks run on that thread and may issue commands; they must
// not destroy the client.
#pragma once

#include <hiredis/hiredis.h>  // redisReply, redisReader

#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "net/event_loop.h"
#include "net/socket_ops.h"

namespace ringcast::net {

// Appends one command in RESP (an array of bulk strings) to *out. Pure.
void appendRespCommand(std::string* out, const std::string_view* args, size_t count);

class RedisClient {
 public:
  struct Options {
    sockets::Address address;
    int64_t connectTimeoutMs = 1000;
    int64_t commandTimeoutMs = 2000;     // the oldest reply this late: the link is declared down
    int64_t backoffMinMs = 50;           // first reconnect delay; doubles per failed attempt
    int64_t backoffMaxMs = 2000;         // bound of the delay (before jitter)
    int64_t pingIntervalMs = 1000;       // an idle link is PINGed this often (liveness and RTT)
    size_t maxPendingCommands = 100000;  // more unanswered than this: fail fast (overload)
  };

  // A reply, or nullptr when the command failed without one (link down or lost). Error
  // replies (-ERR ...) arrive as a reply of type REDIS_REPLY_ERROR.
  using ReplyFn = std::function<void(const redisReply* reply)>;

  class Handler {
   public:
    virtual void onLinkUp() {}    // connected (and subscriptions sent again)
    virtual void onLinkDown() {}  // lost; pending commands have failed
    virtual void onMessage(std::string_view channel, std::string_view payload) {
      (void)channel;
      (void)payload;
    }
    virtual void onSubscribed(std::string_view channel) { (void)channel; }

   protected:
    ~Handler() = default;
  };

  struct Stats {
    bool up = false;
    uint64_t connects = 0;         // successful connections
    uint64_t connectFailures = 0;  // attempts that failed
    uint64_t linkLosses = 0;       // established links that were lost
    uint64_t commands = 0;         // commands sent
    uint64_t failedFast = 0;       // commands refused at once (down or overloaded)
    uint64_t failedPending = 0;    // commands failed because the link was lost
    uint64_t messages = 0;         // pub/sub messages received
    int64_t lastRttUs = 0;         // round-trip time of the last answered command
    int64_t maxRttUs = 0;          // largest round-trip time since start
    size_t pending = 0;            // commands awaiting a reply
  };

  // `handler` may be null; it must outlive the client. REQUIRES: loop thread.
  RedisClient(EventLoop* loop, Options options, Handler* handler);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Starts connecting (and reconnecting for as long as the client lives).
  void start();
  bool up() const { return state_ == State::kUp; }

  // Sends a command; `done` (may be empty) runs with its reply, or with nullptr at once when
  // the link is down or overloaded, or later when the link is lost before the reply.
  void command(std::initializer_list<std::string_view> args, ReplyFn done);
  void command(const std::vector<std::string>& args, ReplyFn done);

  // Adds or removes a channel from the subscription set (sent now when up, and again after
  // every reconnect). onSubscribed(channel) follows each confirmation from the server.
  void subscribe(std::string_view channel);
  void unsubscribe(std::string_view channel);
  size_t subscriptionCount() const { return channels_.size(); }

  const Stats& stats() const { return stats_; }
  std::string describeAddress() const { return options_.address.toString(); }

 private:
  enum class State : uint8_t { kIdle, kWaiting, kConnecting, kUp };
  struct Pending {
    ReplyFn done;
    int64_t sentUs;
  };
  // One connection attempt's socket. A fresh object per attempt, so an event still queued
  // for the previous socket in the same epoll batch can never reach the new one.
  struct Link final : Pollable {
    RedisClient* owner = nullptr;
    int fd = -1;
    void handleEvents(uint32_t events) override;
  };
  struct Ticker final : Pollable {
    RedisClient* owner = nullptr;
    int fd = -1;
    void handleEvents(uint32_t events) override;
  };

  void sendArgs(const std::string_view* args, size_t count, ReplyFn done);
  void connectNow();
  void onLinkEvents(uint32_t events);
  void onConnected();
  void readAll();
  void dispatchReply(redisReply* reply);
  bool dispatchPush(const redisReply* reply);
  void scheduleFlush();
  void flushOut();
  void fail(const char* why);
  void onTick();
  void retireLink();
  int64_t nextBackoffMs();

  EventLoop* const loop_;
  const Options options_;
  Handler* const handler_;
  State state_ = State::kIdle;
  std::unique_ptr<Link> link_;
  std::vector<std::unique_ptr<Link>> retired_;  // freed after the iteration
  Ticker ticker_;
  redisReader* reader_ = nullptr;
  std::string out_;       // bytes not yet written
  size_t outOffset_ = 0;  // written prefix of out_
  bool writeBlocked_ = false;
  bool subscriberMode_ = false;  // a SUBSCRIBE went out on this link: pushes may arrive
  bool flushQueued_ = false;
  std::deque<Pending> pending_;
  std::set<std::string, std::less<>> channels_;
  int64_t connectDeadlineMs_ = 0;
  int64_t nextAttemptMs_ = 0;
  int64_t lastSendMs_ = 0;
  int failedAttempts_ = 0;
  std::minstd_rand jitter_;
  Stats stats_;
  std::shared_ptr<bool> alive_;  // queued tasks check it: the client may be gone
};

}  // namespace ringcast::net
