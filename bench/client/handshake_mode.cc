#include "bench/client/handshake_mode.h"

#include "bench/client/ws_client.h"

namespace ringcast::bench {

void HandshakeShard::onGo() {
  for (uint64_t s = plan().slots; s > 0; --s) queueLaunch(static_cast<uint32_t>(s - 1));
  launchMore();
}

void HandshakeShard::onClientOpened(WsClient& c) {
  c.closeWs(1000);
}

void HandshakeShard::onClientEnded(WsClient& c, Failure f, int64_t nowNs) {
  if (c.openedNs() != 0 && f == Failure::kCount && measuring()) {
    ++counters().cycles;
    liveStats().latency.record(static_cast<uint64_t>(nowNs - c.startNs()));
  }
}

void HandshakeShard::onSlotFree(uint32_t slot, bool, Failure) {
  if (running()) queueLaunch(slot);
}

}  // namespace ringcast::bench
