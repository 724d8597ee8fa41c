#include "push/message_frame.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "push/client_protocol.h"
#include "ws/frame_writer.h"

namespace ringcast::push {
namespace {

// The frame the publish path built before: the JSON text in a string, then copied.
std::string viaString(std::string_view channel, uint64_t offset, std::string_view from,
                      int64_t tsMs, std::string_view data) {
  std::string json;
  frame::message(json, channel, offset, from, tsMs, data);
  return std::string(ws::buildFrame(ws::Opcode::kText, json)->view());
}

TEST(MessageFrame, SameBytesAsTheStringPath) {
  const uint64_t offsets[] = {0,  1,   9,         10,
                              99, 100, 123456789, std::numeric_limits<uint64_t>::max()};
  // Payload sizes around the 7-bit / 16-bit / 64-bit length encodings.
  const size_t dataSizes[] = {0,   1,   60,  61,    62,    63,    64,   65,
                              100, 125, 126, 65400, 65535, 65536, 70000};
  MessageFrame& builder = MessageFrame::local();
  for (std::string_view channel : {"news", "room:7", "a\"b\\c"}) {
    for (std::string_view from : {"api", "", "caf\xc3\xa9\n"}) {
      for (size_t size : dataSizes) {
        std::string data = size == 0 ? std::string("null") : "\"" + std::string(size, 'x') + "\"";
        builder.prepare(channel, from, 1764633600123, data);
        for (uint64_t offset : offsets) {
          FrameRef f = builder.frame(offset);
          ASSERT_EQ(f->view(), viaString(channel, offset, from, 1764633600123, data))
              << channel << " " << from << " " << size << " " << offset;
          EXPECT_EQ(f->refCount(), 1u);
        }
      }
    }
  }
}

TEST(MessageFrame, PrepareReplacesThePreviousMessage) {
  MessageFrame& builder = MessageFrame::local();
  builder.prepare(std::string(300, 'c'), "someone", -5, "{\"long\":true}");
  builder.prepare("b", "u", 7, "1");
  EXPECT_EQ(builder.frame(3)->view(), viaString("b", 3, "u", 7, "1"));
}

TEST(FrameWriter, PartsAreConcatenatedIntoOneFrame) {
  EXPECT_EQ(ws::buildFrame(ws::Opcode::kText, {"ab", "", "cde"})->view(),
            ws::buildFrame(ws::Opcode::kText, "abcde")->view());
  EXPECT_EQ(ws::buildFrame(ws::Opcode::kBinary, {})->view(),
            ws::buildFrame(ws::Opcode::kBinary, std::string_view())->view());
  std::string big(70000, 'z');
  EXPECT_EQ(ws::buildFrame(ws::Opcode::kText,
                           {std::string_view(big).substr(0, 1), std::string_view(big).substr(1)})
                ->view(),
            ws::buildFrame(ws::Opcode::kText, big)->view());
}

}  // namespace
}  // namespace ringcast::push
