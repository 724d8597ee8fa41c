// Publisher: the fanout mode's publishers, on one loop of the parent process. Each publisher
// connection is one publisher with its own sequence; it publishes the --publish-body template
// with a fresh marker, either as HTTP POSTs pipelined on a keep-alive connection (at most
// --publish-inflight unanswered) or as text frames on a WebSocket (at most kWsWindowBytes
// unwritten). --rate paces all publishers together; 0 publishes as fast as the windows
// allow, i.e. as fast as the server absorbs. Every message is the template's fixed-size
// image copied into a pooled frame with the marker written in (and masked, over WebSocket).
//
// Thread safety: loop-owned (a Shard); expected() and stats() after the loop ended.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bench/client/shard.h"

namespace ringcast::bench {

class HttpPublishConnection;

class PublisherShard final : public Shard {
 public:
  PublisherShard(net::EventLoop* loop, const WorkerContext* ctx, const Plan& plan);
  ~PublisherShard() override;

  // Messages each publisher got accepted: HTTP 2xx answers, or frames written over WebSocket.
  std::vector<uint64_t> expected() const;

  // For publisher connections, on the loop thread.
  void onAnswer(uint32_t publisher, int status, int64_t nowNs);
  void onHttpEnded(HttpPublishConnection& c, Failure f, int32_t detail);
  void fill(uint32_t publisher);  // publish what the window and the rate allow

  // The image of one message and where its marker goes.
  static std::string buildImage(const Options& o, size_t* markerAt);

 private:
  struct Pub {
    net::TcpConnection* conn = nullptr;  // HttpPublishConnection or WsClient; null when down
    uint64_t seq = 0;
    uint64_t acked = 0;
    uint32_t inflight = 0;
    std::unique_ptr<int64_t[]> sentNs;  // HTTP: ring of send times, for answer latency
    uint32_t head = 0;
  };

  void onDialed(int fd, uint32_t slot, int64_t startNs) override;
  WsClient* createClient(int fd, uint32_t slot, int64_t startNs) override;
  void onClientOpened(WsClient& c) override;
  void onClientEnded(WsClient& c, Failure f, int64_t nowNs) override;
  void onGo() override;
  void onStop() override;
  void onTick(int64_t nowNs) override;
  bool hasRoom(const Pub& p) const;
  void publishOne(uint32_t publisher, int64_t nowNs);

  // WebSocket publishers keep at most this much unwritten (enough for a burst of small
  // messages, small enough that a slow server pushes back within milliseconds).
  static constexpr uint64_t kWsWindowBytes = 64 * 1024;

  const bool overWs_;
  size_t markerAt_;    // where the marker goes in image_ (set by buildImage, declared first)
  std::string image_;  // one message: HTTP request, or WebSocket payload
  FramePool pool_;
  std::vector<Pub> pubs_;
  RateBudget budget_;
  uint32_t nextPub_ = 0;  // round robin for paced publishing
};

}  // namespace ringcast::bench
