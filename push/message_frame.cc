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
  text_.append("{\"type\":\"message\",");
  json::appendStringField(text_, "channel", channel);
  text_.append(",\"offset\":");
  headBytes_ = text_.size();  // the offset goes here, written by frame()
  text_.push_back(',');
  json::appendStringField(text_, "from", from);
  text_.push_back(',');
  json::appendIntField(text_, "ts", tsMs);
  text_.push_back(',');
  json::appendKey(text_, "data");
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
