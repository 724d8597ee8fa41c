// MessageFrame: the WebSocket text frame of one channel message ({"type":"message",...},
// push/client_protocol.h frame::message), built straight into its SharedFrame. Everything
// but the offset is prepared before the channel's lock is taken (prepare); under the lock,
// frame(offset) writes the header, the prepared text, the offset's digits and the data in
// one allocation, with no intermediate string holding the payload.
//
// Thread safety: one object per thread (the scratch text is reused; MessageFrame::local()
// gives the calling thread's). The views passed to prepare() must outlive frame().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/shared_frame.h"

namespace ringcast::push {

class MessageFrame {
 public:
  // The calling thread's builder.
  static MessageFrame& local();

  void prepare(std::string_view channel, std::string_view from, int64_t tsMs,
               std::string_view dataJson);
  // The frame for `offset`: byte for byte ws::buildFrame(kText, frame::message(...)).
  FrameRef frame(uint64_t offset) const;

 private:
  std::string text_;      // head (up to "offset":) then tail (,"from":..,"data":)
  size_t headBytes_ = 0;  // where the tail starts in text_
  std::string_view data_;
};

}  // namespace ringcast::push
