#include "push/message_frame.h"

#include <charconv>

#include "core/json.h"
#include "ws/frame_writer.h"

namespace ringcast::push {

MessageFrame& MessageFrame::local() {
  thread_local MessageFrame builder;
  return builder;
}

void MessageFrame::prepare(std::string_view channel, std::string_view from, int64_t tsMs,
                           std::string_view dataJson) {
  text_.clear();  // keeps its capacity: no allocation once the thread's first message is built
  text_.append("{\"type\":\"message\",\"channel\":");
  json::appendString(text_, channel);
  text_.append(",\"offset\":");
  headBytes_ = text_.size();
  text_.append(",\"from\":");
  json::appendString(text_, from);
  text_.append(",\"ts\":");
  char digits[24];
  text_.append(digits, std::to_chars(digits, digits + sizeof digits, tsMs).ptr);
  text_.append(",\"data\":");
  data_ = dataJson;
}

FrameRef MessageFrame::frame(uint64_t offset) const {
  char digits[24];
  const char* end = std::to_chars(digits, digits + sizeof digits, offset).ptr;
  const std::string_view text(text_);
  return ws::buildFrame(ws::Opcode::kText,
                        {text.substr(0, headBytes_), std::string_view(digits, end - digits),
                         text.substr(headBytes_), data_, "}"});
}

}  // namespace ringcast::push
