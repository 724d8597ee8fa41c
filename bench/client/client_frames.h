// Client-side frame building for the bench: masked frames written straight into reusable
// buffers (no allocation per message), and FramePool, the per-loop set of those buffers.
//
// FramePool hands out SharedFrames of one fixed size that only the pool references, so the
// caller may rewrite their bytes, then send a second reference; once the socket has written
// the frame and the write queue dropped its reference, the frame is free again. Loop-owned
// (reference counts are read without synchronisation because only this loop holds them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/shared_frame.h"
#include "ws/frame_parser.h"

namespace ringcast::bench {

// Writes one masked, final frame of `payload` with `maskKey` at `out` (room for
// maskedFrameBytes(payload.size())). Returns the bytes written.
size_t writeMaskedFrame(uint8_t* out, ws::Opcode op, std::string_view payload, uint32_t maskKey);
size_t maskedFrameBytes(size_t payloadBytes);

// xorshift64*: cheap per-loop randomness for mask keys and handshake keys.
class FastRandom {
 public:
  explicit FastRandom(uint64_t seed) : state_(seed | 1) {}
  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1DULL;
  }

 private:
  uint64_t state_;
};

class FramePool {
 public:
  explicit FramePool(uint32_t frameBytes) : frameBytes_(frameBytes) {}
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;

  // A frame of frameBytes() that nobody else references: fill it, then send share(f).
  SharedFrame* take();
  static FrameRef share(SharedFrame* f) {
    f->acquire();
    return FrameRef(f);
  }
  uint32_t frameBytes() const { return frameBytes_; }
  size_t size() const { return frames_.size(); }

 private:
  // Frames checked for reuse per take() before a new one is allocated: frames are freed in
  // about the order they were sent, so the oldest is nearly always free.
  static constexpr int kProbes = 4;
  uint32_t frameBytes_;
  std::vector<FrameRef> frames_;  // the pool's own reference to each frame
  size_t next_ = 0;               // the oldest frame handed out
};

}  // namespace ringcast::bench
