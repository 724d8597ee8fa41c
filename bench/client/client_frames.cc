#include "bench/client/client_frames.h"

#include <cstring>

#include "ws/frame_writer.h"
#include "ws/mask.h"

namespace ringcast::bench {

size_t maskedFrameBytes(size_t payloadBytes) {
  return ws::frameHeaderSize(payloadBytes, true) + payloadBytes;
}

size_t writeMaskedFrame(uint8_t* out, ws::Opcode op, std::string_view payload, uint32_t maskKey) {
  const uint8_t key[4] = {static_cast<uint8_t>(maskKey >> 24), static_cast<uint8_t>(maskKey >> 16),
                          static_cast<uint8_t>(maskKey >> 8), static_cast<uint8_t>(maskKey)};
  const size_t header = ws::encodeFrameHeader(out, op, true, payload.size(), key);
  if (!payload.empty()) std::memcpy(out + header, payload.data(), payload.size());
  ws::applyMask(out + header, payload.size(), key, 0);
  return header + payload.size();
}

SharedFrame* FramePool::take() {
  for (int i = 0; i < kProbes && !frames_.empty(); ++i) {
    SharedFrame* f = frames_[next_].get();
    next_ = next_ + 1 == frames_.size() ? 0 : next_ + 1;
    if (f->refCount() == 1) return f;
  }
  frames_.emplace_back(SharedFrame::create(frameBytes_));
  return frames_.back().get();
}

}  // namespace ringcast::bench
