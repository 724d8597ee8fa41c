// Handshake mode: each slot opens a connection, completes the upgrade, closes it with a
// close handshake and starts over, for as long as the run lasts; `rate` paces new
// connections (0: as many as the slots allow). Latency: `connect` histogram = connect +
// upgrade, `latency` histogram = the whole cycle up to the server's FIN.
//
// Thread safety: loop-owned.
#pragma once

#include "bench/client/shard.h"

namespace ringcast::bench {

class HandshakeShard final : public Shard {
 public:
  using Shard::Shard;

 private:
  void onGo() override;
  void onClientOpened(WsClient& c) override;
  void onClientEnded(WsClient& c, Failure f, int64_t nowNs) override;
  void onSlotFree(uint32_t slot, bool wasOpen, Failure f) override;
};

}  // namespace ringcast::bench
