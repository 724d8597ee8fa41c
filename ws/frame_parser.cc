#include "ws/frame_parser.h"

namespace ringcast::ws {

// The parser sits in every idle connection, so it stays small: what only a split or
// compressed message needs is on the heap while there is one.
static_assert(sizeof(FrameParser) <= 64);

FrameParser::FrameParser(Role role, const FrameLimits* limits) : limits_(limits), role_(role) {}

size_t FrameParser::heapBytes() const {
  const size_t message = message_ ? sizeof(std::string) + message_->capacity() + 1 : 0;
  return message + (control_ ? sizeof(ControlBuffer) : 0) +
         (inflater_ ? Inflater::approxHeapBytes() : 0);
}

void FrameParser::releaseBuffers() {
  message_.reset();
  control_.reset();
  inflater_.reset();
}

}  // namespace ringcast::ws
