// Shard: everything one bench loop does for one mode: its share of the connections (slots),
// the connects in progress (Dialer), pacing (Ticker, RateBudget), the clients that are open,
// and the loop's Stats. The mode subclasses (echo, idle, handshake, fanout subscribers) add
// their client type and what happens at go() and stop().
//
// Life of a run: start() opens the connections of the connect phase (none in handshake
// mode), go() begins the measured phase, stop() ends it and closes every connection; the
// worker then stops the loop and reads stats().
//
// Thread safety: built, started and driven on its loop's thread. requestSnapshot() and
// snapshot() are safe from any thread (the loop publishes copies of its counters, summed
// by message rather than shared); stats() and finish() are for after the loop ended.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "bench/client/client_frames.h"
#include "bench/client/dialer.h"
#include "bench/client/options.h"
#include "bench/client/rate_budget.h"
#include "bench/client/stats.h"
#include "net/event_loop.h"
#include "net/ticker.h"
#include "net/tls_context.h"
#include "ws/frame_parser.h"

namespace ringcast::bench {

class DeliveryLedger;
class WsClient;

// What every shard of one worker process shares; built before the loops start, then const.
struct WorkerContext {
  const Options* options = nullptr;
  const Url* target = nullptr;  // where the shard connects (--url, or a publish URL)
  int procIndex = 0;
  std::string upgradeHead;                // the upgrade request up to the Sec-WebSocket-Key field
  std::vector<std::string> upgradeHeads;  // the same for each --url (fanout subscribers)
  ws::FrameLimits frameLimits;
  std::shared_ptr<const net::TlsContext> tls;  // set for wss:// and https:// targets
  DeliveryLedger* ledger = nullptr;            // --delivery-window: shared with the publishers
};

class Shard : public Dialer::Sink {
 public:
  struct Plan {
    uint64_t slots = 0;        // connections (handshake mode: attempts in flight)
    double ratePerSec = 0;     // connects per second; 0 = unpaced
    uint32_t concurrency = 1;  // connects + upgrades in progress at once
    size_t firstSource = 0;    // where this loop starts in the --src list
    uint64_t stalled = 0;      // fanout: slots [0, stalled) stop reading once subscribed
    uint64_t firstGlobal = 0;  // the run-wide number of slot 0 (over every process and loop)
  };

  Shard(net::EventLoop* loop, const WorkerContext* ctx, const Plan& plan);
  virtual ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Loop thread.
  void start();
  void go();
  void stop();

  // Any thread: the loop publishes a copy of its counters at its next iteration.
  void requestSnapshot();
  // The latest published copy; false until the loop published one.
  bool snapshot(Counters* out) const;

  // After the loop thread ended. `expected` (fanout): messages published per publisher.
  virtual void finish(std::span<const uint64_t> /*expected*/) {}
  Stats& stats() { return stats_; }
  const Stats& stats() const { return stats_; }

  // For clients, on the loop thread.
  Counters& counters() { return stats_.c; }
  Stats& liveStats() { return stats_; }
  FastRandom& random() { return random_; }
  const WorkerContext& context() const { return *ctx_; }
  bool measuring() const { return measuring_; }
  // The complete upgrade request of `slot` with a fresh key, and that key.
  std::string upgradeRequest(uint32_t slot, std::string* key);
  void clientOpened(WsClient& c, int64_t nowNs);
  // `f` is Failure::kCount for a close by the bench; `detail` is a status, errno or code.
  void clientEnded(WsClient& c, Failure f, int32_t detail, int64_t nowNs);

 protected:
  virtual WsClient* createClient(int fd, uint32_t slot, int64_t startNs);
  // Where `slot` connects, and its upgrade request up to the key; the defaults are the
  // context's target and head.
  virtual const sockets::Address& addressOf(uint32_t /*slot*/) const {
    return ctx_->target->address;
  }
  virtual std::string upgradeHeadOf(uint32_t /*slot*/) const { return ctx_->upgradeHead; }
  // A connect completed; the default makes a client (createClient) and starts its upgrade.
  void onDialed(int fd, uint32_t slot, int64_t startNs) override;
  // Puts TLS under a new connection when the target is wss:// or https:// (the handshake
  // then runs before the first queued byte goes out).
  void startTransport(net::TcpConnection* conn) const;
  // Every tick of the loop's ticker (see setTickUs).
  virtual void onTick(int64_t /*nowNs*/) {}
  void setTickUs(int64_t periodUs);
  virtual void onGo() {}
  virtual void onStop() {}
  virtual void onClientOpened(WsClient& /*c*/) {}
  // A client ended (opened or not), after its end was counted.
  virtual void onClientEnded(WsClient& /*c*/, Failure /*f*/, int64_t /*nowNs*/) {}
  // After the end of a connection or a failed attempt was counted: the slot may be reused.
  virtual void onSlotFree(uint32_t /*slot*/, bool /*wasOpen*/, Failure /*f*/) {}

  // A slot waiting for a connect; counted in Counters::pending until it is resolved.
  void countFailure(Failure f, int32_t detail);
  void queueLaunch(uint32_t slot) {
    toLaunch_.push_back(slot);
    ++stats_.c.pending;
  }
  void launchMore();
  bool running() const { return running_; }
  bool stopped() const { return stopped_; }
  const Plan& plan() const { return plan_; }
  // Open clients by slot (null where none is open).
  std::span<WsClient* const> clients() const { return clients_; }
  net::EventLoop* loop() const { return loop_; }

  net::EventLoop* const loop_;
  const WorkerContext* const ctx_;

 private:
  void onDialFailed(uint32_t slot, int err, int64_t startNs) override;
  void maybeGiveUp();
  void tick();
  void publishSnapshot();

  const Plan plan_;
  Stats stats_;
  FastRandom random_;
  Dialer dialer_;
  net::Ticker ticker_;
  RateBudget connectBudget_;
  std::vector<uint32_t> toLaunch_;  // slots waiting for a connect
  std::vector<WsClient*> clients_;  // by slot
  uint32_t handshaking_ = 0;        // connected, upgrade not answered yet
  bool running_ = false;            // between go() and stop()
  bool stopped_ = false;
  bool measuring_ = false;
  int64_t minTickUs_ = 0;  // a subclass's wish (setTickUs); 0 = none

  mutable std::mutex snapshotMutex_;
  Counters snapshot_;       // guarded by snapshotMutex_
  bool published_ = false;  // guarded by snapshotMutex_
};

// Failures as the kernel names them: the Failure kind of a connect errno.
Failure failureOfErrno(int err);

}  // namespace ringcast::bench
