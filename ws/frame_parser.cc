#include "ws/frame_parser.h"

namespace ringcast::ws {

// The parser sits in every idle connection, so its fixed part stays small (56 bytes with
// the inflater pointer and the compressed-size count of permessage-deflate).
static_assert(sizeof(FrameParser) - sizeof(std::string) <= 64);

FrameParser::FrameParser(Role role, const FrameLimits* limits) : limits_(limits), role_(role) {}

size_t FrameParser::heapBytes() const {
  const size_t inlineCapacity = std::string().capacity();
  const size_t message = message_.capacity() > inlineCapacity ? message_.capacity() + 1 : 0;
  return message + (control_ ? sizeof(ControlBuffer) : 0) +
         (inflater_ ? Inflater::approxHeapBytes() : 0);
}

void FrameParser::releaseBuffers() {
  std::string().swap(message_);
  control_.reset();
  inflater_.reset();
}

}  // namespace ringcast::ws
