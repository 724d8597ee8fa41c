// Echo mode: each connection keeps `inflight` messages of `size` bytes in flight against an
// echo endpoint and times every round trip. Replies come back in order, so a connection
// keeps only a ring of send times; messages are masked afresh into pooled frames, so the
// steady state allocates nothing.
//
// Thread safety: loop-owned (EchoShard and its clients live on one loop).
#pragma once

#include <memory>
#include <string>

#include "bench/client/shard.h"
#include "bench/client/ws_client.h"

namespace ringcast::bench {

class EchoShard final : public Shard {
 public:
  EchoShard(net::EventLoop* loop, const WorkerContext* ctx, const Plan& plan);

  // Queues one message on `c` (a pooled frame with a fresh mask key).
  void sendOne(WsClient& c);
  const std::string& payload() const { return payload_; }
  ws::Opcode opcode() const { return opcode_; }
  uint32_t inflight() const { return inflight_; }

 private:
  WsClient* createClient(int fd, uint32_t slot, int64_t startNs) override;
  void onGo() override;
  void onClientOpened(WsClient& c) override;

  std::string payload_;  // the plain payload every message carries
  ws::Opcode opcode_;
  uint32_t inflight_;
  FramePool pool_;
};

}  // namespace ringcast::bench
