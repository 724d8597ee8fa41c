// Publisher: the fanout mode's publishers, on one loop of the parent process. Each publisher
// connection is one publisher; connection p goes to publish target p mod T (--publish-url,
// --publish-tcp: round robin). Every publish goes to one channel, drawn by a ZipfSampler
// (uniform, or --zipf), and carries a marker with the publisher, the channel and a sequence
// number of its own per publisher and channel, so subscribers check order and loss per
// channel. Three ways in:
//   HTTP       POSTs pipelined on a keep-alive connection, at most --publish-inflight
//              unanswered; 2xx answers are what subscribers expect.
//   WebSocket  text frames, at most kWsWindowBytes unwritten.
//   TCP        ringcast's `PUB <channel> <n>` commands, pipelined, with a PING after every
//              quarter of --publish-inflight commands: at most --publish-inflight commands
//              not yet confirmed by the PONG of a later PING. At stop a last PING confirms
//              the rest (the end-of-run sync point). -ERR lines are counted as errors.
// --delivery-window bounds all publishers together by what the subscribers have not received
// yet (counted through the DeliveryLedger), checked again every kWindowTickUs while full.
// --rate paces all publishers together; 0 publishes as fast as the windows allow, i.e. as
// fast as the server absorbs. Every message is its target's PublishImage copied into a
// pooled frame with the channel and the marker written in (and masked, over WebSocket).
//
// Thread safety: loop-owned (a Shard); expected() and stats() after the loop ended.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "bench/client/publish_image.h"
#include "bench/client/shard.h"
#include "bench/client/zipf.h"

namespace ringcast::bench {

class PublishConnection;

class PublisherShard final : public Shard {
 public:
  PublisherShard(net::EventLoop* loop, const WorkerContext* ctx, const Plan& plan);
  ~PublisherShard() override;

  // Messages each publisher got accepted on each channel, at [publisher * K + channel]:
  // HTTP 2xx answers, or messages written (WebSocket, TCP).
  std::vector<uint64_t> expected() const;

  // For publisher connections, on the loop thread.
  void onAnswer(uint32_t publisher, int status, int64_t nowNs);  // HTTP
  void onPong(uint32_t publisher, int64_t nowNs);                // TCP
  void onRefused(uint32_t publisher);                            // TCP: an -ERR line
  void onConnectionEnded(PublishConnection& c, Failure f, int32_t detail);
  void fill(uint32_t publisher);  // publish what the window and the rate allow

 private:
  struct Pub {
    net::TcpConnection* conn = nullptr;       // PublishConnection or WsClient; null when down
    uint32_t target = 0;                      // index in Options::publishTargets
    uint32_t inflight = 0;                    // HTTP: unanswered; TCP: unconfirmed
    std::unique_ptr<int64_t[]> sentNs;        // HTTP: ring of send times, for answer latency
    std::unique_ptr<uint32_t[]> sentChannel;  // HTTP: ring of the channels in flight
    uint32_t head = 0;
    uint32_t unpinged = 0;  // TCP: commands since the last PING
    struct Ping {
      uint32_t commands;
      int64_t sentNs;
    };
    std::deque<Ping> pings;  // TCP: PINGs not answered yet
  };

  void onDialed(int fd, uint32_t slot, int64_t startNs) override;
  WsClient* createClient(int fd, uint32_t slot, int64_t startNs) override;
  const sockets::Address& addressOf(uint32_t slot) const override;
  void onClientOpened(WsClient& c) override;
  void onClientEnded(WsClient& c, Failure f, int64_t nowNs) override;
  void onGo() override;
  void onStop() override;
  void onTick(int64_t nowNs) override;
  bool hasRoom(const Pub& p) const;
  bool windowed() const { return context().ledger != nullptr; }  // --delivery-window
  void fillAll();
  void publishOne(uint32_t publisher, int64_t nowNs);
  void sendPing(uint32_t publisher, int64_t nowNs);

  // WebSocket publishers keep at most this much unwritten (enough for a burst of small
  // messages, small enough that a slow server pushes back within milliseconds).
  static constexpr uint64_t kWsWindowBytes = 64 * 1024;
  // How often a full --delivery-window is looked at again (nothing wakes the publishers'
  // loop when subscribers in other processes read).
  static constexpr int64_t kWindowTickUs = 100;

  const PublishVia via_;
  const uint32_t channelCount_;
  std::vector<PublishImage> images_;               // per publish target
  std::vector<std::unique_ptr<FramePool>> pools_;  // per publish target
  std::vector<Pub> pubs_;
  std::vector<uint64_t> seq_;      // [publisher * K + channel]: last sequence number used
  std::vector<uint64_t> acked_;    // [publisher * K + channel]: HTTP 2xx answers
  std::vector<uint64_t> readers_;  // --delivery-window: per channel, the subscribers reading it
  uint64_t due_ = 0;               // --delivery-window: deliveries of everything published
  uint64_t delivered_ = 0;         // --delivery-window: the ledger's total, as last read
  ZipfSampler picker_;
  RateBudget budget_;
  uint32_t nextPub_ = 0;    // round robin for paced publishing
  uint32_t pingEvery_ = 1;  // TCP: commands per PING
};

}  // namespace ringcast::bench
