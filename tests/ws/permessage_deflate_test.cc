// negotiateDeflate (RFC 7692 7.1) and the frame parser's compressed messages: offers with
// each parameter, bad parameters declined, several offers in order, the upgrade request
// split at every byte, and inflation with its bound and close codes.
#include "ws/permessage_deflate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/http_parser.h"
#include "ws/deflate.h"
#include "ws/frame_parser.h"
#include "ws/frame_writer.h"
#include "ws/handshake.h"

namespace ringcast::ws {
namespace {

std::string negotiate(std::vector<std::string_view> lines, DeflateParams* out = nullptr) {
  std::string response;
  DeflateParams p = negotiateDeflate(lines, &response);
  if (out) *out = p;
  EXPECT_EQ(p.enabled, !response.empty());
  return response;
}

constexpr std::string_view kBase =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

TEST(PerMessageDeflateTest, EachParameterAccepted) {
  EXPECT_EQ(negotiate({"permessage-deflate"}), kBase);
  EXPECT_EQ(negotiate({"permessage-deflate; client_max_window_bits"}), kBase);
  EXPECT_EQ(negotiate({"permessage-deflate; client_max_window_bits=10"}), kBase);
  EXPECT_EQ(negotiate({"permessage-deflate; client_max_window_bits=\"12\""}), kBase);
  EXPECT_EQ(negotiate({"permessage-deflate; server_no_context_takeover"}), kBase);
  EXPECT_EQ(negotiate({"permessage-deflate;client_no_context_takeover"}), kBase);
  DeflateParams p;
  EXPECT_EQ(negotiate({"permessage-deflate; server_max_window_bits=10"}, &p),
            std::string(kBase) + "; server_max_window_bits=10");
  EXPECT_EQ(p.serverMaxWindowBits, 10);
  EXPECT_TRUE(windowAllows(p, 1024));
  EXPECT_FALSE(windowAllows(p, 1025));
  // The default 15-bit window (and server_max_window_bits=15) bounds no message length.
  EXPECT_TRUE(windowAllows(DeflateParams{true}, uint64_t{16} << 20));
  EXPECT_EQ(negotiate({"permessage-deflate; server_max_window_bits=15"}, &p),
            std::string(kBase) + "; server_max_window_bits=15");
  EXPECT_TRUE(windowAllows(p, (uint64_t{1} << 15) + 1));
}

TEST(PerMessageDeflateTest, BadParametersDeclined) {
  for (std::string_view bad : {
           "permessage-deflate; server_max_window_bits",      // value required
           "permessage-deflate; server_max_window_bits=7",    // out of range
           "permessage-deflate; server_max_window_bits=16",   // out of range
           "permessage-deflate; server_max_window_bits=010",  // leading zero
           "permessage-deflate; client_max_window_bits=abc",
           "permessage-deflate; server_no_context_takeover=1",  // no value allowed
           "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
           "permessage-deflate; unknown_param",
           "permessage-deflate; client_max_window_bits=\"10",  // unterminated quote
           "x-webkit-deflate-frame",
       }) {
    EXPECT_EQ(negotiate({bad}), "") << bad;
  }
}

TEST(PerMessageDeflateTest, OffersInPreferenceOrder) {
  DeflateParams p;
  EXPECT_EQ(negotiate({"permessage-deflate; server_max_window_bits=7, permessage-deflate; "
                       "server_max_window_bits=12, permessage-deflate"},
                      &p),
            std::string(kBase) + "; server_max_window_bits=12");
  EXPECT_EQ(p.serverMaxWindowBits, 12);
  EXPECT_EQ(negotiate({"foo; a=\"x, y\"", "permessage-deflate; bogus", "permessage-deflate"}),
            kBase);
}

// The whole upgrade request, split at every byte, gives the same answer.
TEST(PerMessageDeflateTest, UpgradeRequestSplitAtEveryByte) {
  const std::string request =
      "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
  http::Limits limits;
  limits.maxBodyBytes = 0;
  HandshakeOptions opts;
  opts.perMessageDeflate = true;
  for (size_t split = 1; split < request.size(); ++split) {
    http::RequestParser parser(&limits);
    http::Request req;
    std::string buf = request.substr(0, split);
    http::ParseResult r = parser.parse(buf, &req);
    ASSERT_EQ(r.status, http::ParseResult::kIncomplete) << split;
    buf = request;
    r = parser.parse(buf, &req);
    ASSERT_EQ(r.status, http::ParseResult::kComplete) << split;
    HandshakeResult h = acceptUpgrade(req, opts);
    ASSERT_EQ(h.status, 101);
    EXPECT_TRUE(h.deflate.enabled);
    EXPECT_NE(h.response.find(std::string("Sec-WebSocket-Extensions: ") + std::string(kBase)),
              std::string::npos);
  }
}

struct Recorder {
  std::vector<std::string> messages;
  int error = 0;
  bool onMessage(Opcode, std::string_view p) {
    messages.emplace_back(p);
    return true;
  }
  bool onPing(std::string_view) { return true; }
  bool onPong(std::string_view) { return true; }
  bool onClose(uint16_t, std::string_view) { return false; }
  void onError(CloseCode c, std::string_view) { error = c; }
};

std::string compressed(std::string_view payload) {
  std::string out;
  deflateMessage(payload, 6, &out);
  return out;
}

// Parses `wire` split at `split` with permessage-deflate on.
Recorder parse(std::string wire, size_t split, uint64_t maxBytes = 1 << 20) {
  FrameLimits limits{maxBytes};
  FrameParser parser(Role::kServer, &limits);
  parser.enablePerMessageDeflate();
  Recorder r;
  auto* p = reinterpret_cast<uint8_t*>(wire.data());
  size_t used = parser.consume(p, split, r);
  if (used == split && r.error == 0) parser.consume(p + split, wire.size() - split, r);
  EXPECT_EQ(parser.heapBytes(), 0u);
  return r;
}

TEST(PerMessageDeflateTest, FragmentedCompressedMessageSplitAtEveryByte) {
  std::string text(3000, 'a');
  for (size_t i = 0; i < text.size(); i += 7) text[i] = char('a' + i % 26);
  const std::string z = compressed(text);
  std::string wire;
  appendClientFrame(wire, Opcode::kText, false, z.substr(0, z.size() / 2), 0x11223344, 4);
  appendClientFrame(wire, Opcode::kContinuation, true, z.substr(z.size() / 2), 0x55667788);
  for (size_t split = 0; split <= wire.size(); ++split) {
    Recorder r = parse(wire, split);
    ASSERT_EQ(r.error, 0) << split;
    ASSERT_EQ(r.messages.size(), 1u) << split;
    EXPECT_EQ(r.messages[0], text) << split;
  }
}

// A compressed message that inflates to nothing is delivered empty, and leaves no heap
// behind (parse() checks heapBytes()), whole or split at any byte (found by
// fuzz_frame_parser: the output buffer grown for the inflater stayed allocated).
TEST(PerMessageDeflateTest, EmptyCompressedMessageLeavesNoHeap) {
  for (std::string_view payload : {std::string_view(), std::string_view("\x00", 1)}) {
    std::string wire;
    appendClientFrame(wire, Opcode::kBinary, true, payload, 0x01020304, 4);
    for (size_t split = 0; split <= wire.size(); ++split) {
      Recorder r = parse(wire, split);
      ASSERT_EQ(r.error, 0) << split;
      ASSERT_EQ(r.messages.size(), 1u) << split;
      EXPECT_EQ(r.messages[0], "") << split;
    }
  }
}

TEST(PerMessageDeflateTest, CloseCodes) {
  std::string wire;
  appendClientFrame(wire, Opcode::kPing, true, "", 1, 4);
  EXPECT_EQ(parse(wire, 0).error, kProtocolError);  // RSV1 on a control frame
  wire.clear();
  appendClientFrame(wire, Opcode::kText, false, compressed("ab"), 1, 4);
  appendClientFrame(wire, Opcode::kContinuation, true, "", 1, 4);
  EXPECT_EQ(parse(wire, 0).error, kProtocolError);  // RSV1 on a continuation frame
  wire.clear();
  appendClientFrame(wire, Opcode::kText, true, "\xff\xff\xff\xff", 1, 4);
  EXPECT_EQ(parse(wire, 0).error, kInvalidPayload);  // invalid deflate data
  wire.clear();
  appendClientFrame(wire, Opcode::kText, true, compressed(std::string(1 << 20, 'z')), 1, 4);
  EXPECT_EQ(parse(wire, 0, 1 << 16).error, kMessageTooBig);  // bomb past the bound
  wire.clear();
  appendClientFrame(wire, Opcode::kText, true, compressed("\xc3\x28"), 1, 4);
  EXPECT_EQ(parse(wire, 0).error, kInvalidPayload);  // invalid UTF-8 once inflated
  // Without negotiation RSV1 is a protocol error.
  FrameLimits limits;
  FrameParser plain(Role::kServer, &limits);
  Recorder r;
  wire.clear();
  appendClientFrame(wire, Opcode::kText, true, compressed("hi"), 1, 4);
  plain.consume(reinterpret_cast<uint8_t*>(wire.data()), wire.size(), r);
  EXPECT_EQ(r.error, kProtocolError);
}

// Output past the bound is kTooBig even when the data turns invalid right after it: the
// result must not depend on how the input is cut (found by fuzz_inflater).
TEST(PerMessageDeflateTest, InflaterBoundWinsOverCorruptDataAtEveryCut) {
  // A fixed-Huffman final block: a literal, then a match reaching before the start.
  const std::string data =
      std::string("\x0b\x00", 2) + std::string(126, '\xff') + std::string(4, '\0') + "\x04";
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  for (size_t cut = 1; cut <= data.size(); ++cut) {
    Inflater inflater;
    std::string out;
    Inflater::Result r = Inflater::Result::kOk;
    for (size_t pos = 0; pos < data.size() && r == Inflater::Result::kOk; pos += cut) {
      r = inflater.feed(p + pos, std::min(cut, data.size() - pos), &out, 0);
    }
    EXPECT_EQ(r, Inflater::Result::kTooBig) << "cut " << cut;
    EXPECT_EQ(out.size(), 1u);
  }
}

TEST(PerMessageDeflateTest, TwinBuiltOnceAndOnlyWhenWorthIt) {
  const std::string json(1024, 'x');
  FrameRef plain = buildFrame(Opcode::kText, json);
  DeflateParams peer{true, 15};
  SharedFrame* a = deflatedTwin(plain.get(), 256, 1, peer);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(deflatedTwin(plain.get(), 256, 1, peer), a);  // the same twin
  EXPECT_EQ(a->data()[0], 0xC1);                          // FIN | RSV1 | text
  EXPECT_LT(a->size(), plain->size());
  EXPECT_EQ(deflatedTwin(plain.get(), 2048, 1, peer), nullptr);  // below the minimum
  DeflateParams small{true, 9};
  EXPECT_EQ(deflatedTwin(plain.get(), 256, 1, small), nullptr);  // past the peer's window
}

}  // namespace
}  // namespace ringcast::ws
