#include "ws/frame_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ws/frame_parser.h"
#include "ws/utf8.h"

namespace ringcast::ws {
namespace {

std::vector<uint8_t> header(Opcode op, bool fin, uint64_t len, const uint8_t* key) {
  uint8_t out[kMaxFrameHeaderBytes];
  const size_t n = encodeFrameHeader(out, op, fin, len, key);
  return {out, out + n};
}

using Bytes = std::vector<uint8_t>;

TEST(FrameWriterTest, HeaderLengthEncodings) {
  EXPECT_EQ(header(Opcode::kText, true, 0, nullptr), (Bytes{0x81, 0x00}));
  EXPECT_EQ(header(Opcode::kBinary, true, 125, nullptr), (Bytes{0x82, 125}));
  EXPECT_EQ(header(Opcode::kBinary, false, 126, nullptr), (Bytes{0x02, 126, 0x00, 126}));
  EXPECT_EQ(header(Opcode::kContinuation, true, 65535, nullptr), (Bytes{0x80, 126, 0xFF, 0xFF}));
  EXPECT_EQ(header(Opcode::kText, true, 65536, nullptr),
            (Bytes{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(header(Opcode::kBinary, true, 0x0102030405060708ull, nullptr),
            (Bytes{0x82, 127, 1, 2, 3, 4, 5, 6, 7, 8}));
  for (uint64_t len : {0ull, 125ull, 126ull, 65535ull, 65536ull, 1ull << 40}) {
    EXPECT_EQ(header(Opcode::kText, true, len, nullptr).size(), frameHeaderSize(len, false));
  }
}

TEST(FrameWriterTest, MaskedHeaderCarriesTheKey) {
  const uint8_t key[4] = {0xA, 0xB, 0xC, 0xD};
  EXPECT_EQ(header(Opcode::kPing, true, 3, key), (Bytes{0x89, 0x83, 0xA, 0xB, 0xC, 0xD}));
  EXPECT_EQ(header(Opcode::kBinary, true, 70000, key).size(), kMaxFrameHeaderBytes);
  EXPECT_EQ(frameHeaderSize(70000, true), kMaxFrameHeaderBytes);
}

TEST(FrameWriterTest, BuildFrameIsHeaderPlusPayload) {
  const std::string payload(300, 'p');
  const FrameRef f = buildFrame(Opcode::kText, payload);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->size(), 4 + payload.size());
  EXPECT_EQ(f->refCount(), 1u);
  EXPECT_EQ(f->view().substr(0, 4), std::string("\x81\x7E\x01\x2C", 4));
  EXPECT_EQ(f->view().substr(4), payload);
  const FrameRef empty = buildFrame(Opcode::kPong, "");
  EXPECT_EQ(empty->view(), std::string("\x8A\x00", 2));
}

// Parses `bytes` with a parser of `role` and returns the recorded calls.
struct Recorder {
  std::vector<std::string> events;
  bool onMessage(Opcode op, std::string_view p) {
    events.push_back((op == Opcode::kText ? "text:" : "binary:") + std::string(p));
    return true;
  }
  bool onPing(std::string_view p) {
    events.push_back("ping:" + std::string(p));
    return true;
  }
  bool onPong(std::string_view p) {
    events.push_back("pong:" + std::string(p));
    return true;
  }
  bool onClose(uint16_t code, std::string_view reason) {
    events.push_back("close:" + std::to_string(code) + ":" + std::string(reason));
    return true;
  }
  void onError(CloseCode code, std::string_view reason) {
    events.push_back("error:" + std::to_string(code) + ":" + std::string(reason));
  }
};

std::vector<std::string> parse(std::string bytes, Role role) {
  FrameLimits limits;
  FrameParser parser(role, &limits);
  Recorder rec;
  parser.consume(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size(), rec);
  return rec.events;
}

TEST(FrameWriterTest, ServerFramesRoundTripThroughAClientParser) {
  const std::string big(70000, 'b');
  std::string wire;
  wire += buildFrame(Opcode::kText, "hi \xE2\x82\xAC")->view();
  wire += buildFrame(Opcode::kBinary, big)->view();
  wire += buildFrame(Opcode::kPing, "p")->view();
  wire += buildCloseFrame(kGoingAway, "bye")->view();
  EXPECT_EQ(parse(wire, Role::kClient),
            (std::vector<std::string>{"text:hi \xE2\x82\xAC", "binary:" + big, "ping:p",
                                      "close:1001:bye"}));
}

TEST(FrameWriterTest, ClientFramesRoundTripThroughAServerParser) {
  std::string wire;
  appendClientFrame(wire, Opcode::kText, false, "frag", 0x01020304);
  appendClientFrame(wire, Opcode::kContinuation, true, std::string(200, 'c'), 0xFFFFFFFF);
  appendClientFrame(wire, Opcode::kPong, true, "", 0);
  EXPECT_EQ(static_cast<uint8_t>(wire[1]), 0x84);  // masked, length 4
  EXPECT_EQ(wire.substr(2, 4), std::string("\x01\x02\x03\x04", 4));
  EXPECT_NE(wire.substr(6, 4), "frag");  // the payload is masked on the wire
  EXPECT_EQ(parse(wire, Role::kServer),
            (std::vector<std::string>{"text:frag" + std::string(200, 'c'), "pong:"}));
}

TEST(FrameWriterTest, ClientFrameReservedBits) {
  std::string wire;
  appendClientFrame(wire, Opcode::kBinary, true, "x", 7, 0x4);
  EXPECT_EQ(static_cast<uint8_t>(wire[0]), 0xC2);  // FIN | RSV1 | binary
  EXPECT_EQ(parse(wire, Role::kServer),
            std::vector<std::string>{"error:1002:RSV1 without permessage-deflate"});
}

TEST(FrameWriterTest, CloseFrameLayout) {
  const FrameRef f = buildCloseFrame(kNormal, "done");
  EXPECT_EQ(f->view(), std::string("\x88\x06\x03\xE8", 4) + "done");
  EXPECT_EQ(buildCloseFrame(kNoStatus, "ignored")->view(), std::string("\x88\x00", 2));
  EXPECT_EQ(buildCloseFrame(kPolicyViolation, "")->view(), std::string("\x88\x02\x03\xF0", 4));
}

TEST(FrameWriterTest, LongCloseReasonIsCutOnACharacterBoundary) {
  // 2-byte characters: 123 reason bytes would end in the middle of one.
  std::string reason;
  for (int i = 0; i < 100; ++i) reason += "\xC3\xA9";
  const FrameRef f = buildCloseFrame(kMessageTooBig, reason);
  const std::string_view payload = f->view().substr(2);
  EXPECT_EQ(static_cast<uint8_t>(f->view()[1]), payload.size());
  EXPECT_EQ(payload.size(), 2u + 122u);
  EXPECT_TRUE(isValidUtf8(payload.substr(2)));
  EXPECT_EQ(payload.substr(2), reason.substr(0, 122));
  // ASCII is cut at exactly 123 bytes, and 4-byte characters on their boundary.
  EXPECT_EQ(buildCloseFrame(kNormal, std::string(200, 'a'))->size(), 2u + 125u);
  std::string emoji;
  for (int i = 0; i < 40; ++i) emoji += "\xF0\x9F\x98\x80";
  const FrameRef e = buildCloseFrame(kNormal, emoji);
  EXPECT_EQ(e->size(), 2u + 2u + 120u);
  EXPECT_EQ(parse(std::string(e->view()), Role::kClient).front(),
            "close:1000:" + emoji.substr(0, 120));
}

}  // namespace
}  // namespace ringcast::ws
