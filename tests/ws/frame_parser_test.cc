#include "ws/frame_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ws/frame_writer.h"

namespace ringcast::ws {
namespace {

constexpr uint32_t kKey = 0x37FA213D;

// Records every sink call as one line, e.g. "text:hello" or "error:1002:reserved bits set".
struct Recorder {
  std::vector<std::string> events;
  int stopAfter = -1;  // bool callbacks return false once this many events were recorded

  bool record(std::string e) {
    events.push_back(std::move(e));
    return stopAfter < 0 || static_cast<int>(events.size()) < stopAfter;
  }
  bool onMessage(Opcode op, std::string_view p) {
    return record((op == Opcode::kText ? "text:" : "binary:") + std::string(p));
  }
  bool onPing(std::string_view p) { return record("ping:" + std::string(p)); }
  bool onPong(std::string_view p) { return record("pong:" + std::string(p)); }
  bool onClose(uint16_t code, std::string_view reason) {
    return record("close:" + std::to_string(code) + ":" + std::string(reason));
  }
  void onError(CloseCode code, std::string_view reason) {
    record("error:" + std::to_string(code) + ":" + std::string(reason));
  }
};

std::string clientFrame(Opcode op, std::string_view payload, bool fin = true, uint8_t rsv = 0) {
  std::string out;
  appendClientFrame(out, op, fin, payload, kKey, rsv);
  return out;
}

// A masked frame written by hand: `lengthField` is the 7-bit length and `ext` the bytes of
// the extended length, so tests can send encodings appendClientFrame never produces.
std::string rawFrame(uint8_t b0, uint8_t lengthField, std::string ext, std::string_view payload,
                     bool masked = true) {
  std::string out;
  out += static_cast<char>(b0);
  out += static_cast<char>((masked ? 0x80 : 0) | lengthField);
  out += ext;
  const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
  std::string body(payload);
  if (masked) {
    out.append(reinterpret_cast<const char*>(key), 4);
    applyMask(reinterpret_cast<uint8_t*>(body.data()), body.size(), key, 0);
  }
  return out + body;
}

struct ParseResult {
  std::vector<std::string> events;
  size_t consumed = 0;
  bool failed = false;
  bool closed = false;
  bool idle = false;
};

// Feeds `stream` to a fresh parser in slices that end at `cuts` (increasing offsets).
ParseResult parse(std::string stream, std::vector<size_t> cuts = {}, Role role = Role::kServer,
                  uint64_t maxMessageBytes = 1 << 20) {
  FrameLimits limits{maxMessageBytes};
  FrameParser parser(role, &limits);
  Recorder rec;
  ParseResult run;
  cuts.push_back(stream.size());
  size_t start = 0;
  for (size_t cut : cuts) {
    auto* p = reinterpret_cast<uint8_t*>(stream.data() + start);
    const size_t n = parser.consume(p, cut - start, rec);
    run.consumed += n;
    if (n != cut - start) break;
    start = cut;
  }
  run.events = rec.events;
  run.failed = parser.failed();
  run.closed = parser.closed();
  run.idle = parser.idle();
  return run;
}

std::vector<std::string> events(std::string stream, Role role = Role::kServer) {
  return parse(std::move(stream), {}, role).events;
}

std::string errorEvent(CloseCode code, std::string_view reason) {
  return "error:" + std::to_string(code) + ":" + std::string(reason);
}

using Events = std::vector<std::string>;

TEST(FrameParserTest, SmallTextFrame) {
  const std::string s = clientFrame(Opcode::kText, "hello");
  const ParseResult run = parse(s);
  EXPECT_EQ(run.events, Events{"text:hello"});
  EXPECT_EQ(run.consumed, s.size());
  EXPECT_TRUE(run.idle);
  EXPECT_FALSE(run.failed);
}

TEST(FrameParserTest, SixteenAndSixtyFourBitLengths) {
  const std::string mid(300, 'm');
  const std::string big(70000, 'b');
  const std::string edge(65535, 'e');
  EXPECT_EQ(events(clientFrame(Opcode::kBinary, mid) + clientFrame(Opcode::kBinary, big) +
                   clientFrame(Opcode::kText, edge)),
            (Events{"binary:" + mid, "binary:" + big, "text:" + edge}));
}

TEST(FrameParserTest, NonMinimalLengthEncodingsAreAccepted) {
  // "abc" with a 16-bit length and "xy" with a 64-bit length.
  const std::string s = rawFrame(0x81, 126, std::string("\x00\x03", 2), "abc") +
                        rawFrame(0x82, 127, std::string("\0\0\0\0\0\0\0\x02", 8), "xy") +
                        rawFrame(0x89, 126, std::string("\x00\x04", 2), "ping");
  EXPECT_EQ(events(s), (Events{"text:abc", "binary:xy", "ping:ping"}));
}

TEST(FrameParserTest, FragmentedTextWithControlFramesBetween) {
  const std::string s =
      clientFrame(Opcode::kText, "Hel", false) + clientFrame(Opcode::kPing, "p1") +
      clientFrame(Opcode::kContinuation, "lo ", false) + clientFrame(Opcode::kPong, "p2") +
      clientFrame(Opcode::kContinuation, "world", true);
  EXPECT_EQ(events(s), (Events{"ping:p1", "pong:p2", "text:Hello world"}));
}

TEST(FrameParserTest, EmptyFramesAndMessages) {
  const std::string s = clientFrame(Opcode::kText, "") + clientFrame(Opcode::kBinary, "") +
                        clientFrame(Opcode::kPing, "") + clientFrame(Opcode::kText, "", false) +
                        clientFrame(Opcode::kContinuation, "", false) +
                        clientFrame(Opcode::kContinuation, "", true);
  const ParseResult run = parse(s);
  EXPECT_EQ(run.events, (Events{"text:", "binary:", "ping:", "text:"}));
  EXPECT_TRUE(run.idle);
}

TEST(FrameParserTest, EmptyFinalFragmentIsDeliveredWithoutWaitingForMoreBytes) {
  const std::string s =
      clientFrame(Opcode::kBinary, "ab", false) + clientFrame(Opcode::kContinuation, "");
  const ParseResult run = parse(s);
  EXPECT_EQ(run.events, Events{"binary:ab"});
  EXPECT_TRUE(run.idle);
}

TEST(FrameParserTest, IdleOnlyBetweenMessages) {
  FrameLimits limits;
  FrameParser parser(Role::kServer, &limits);
  Recorder rec;
  EXPECT_TRUE(parser.idle());
  std::string s = clientFrame(Opcode::kText, "ab", false);
  parser.consume(reinterpret_cast<uint8_t*>(s.data()), 1, rec);
  EXPECT_FALSE(parser.idle());  // half a header
  parser.consume(reinterpret_cast<uint8_t*>(s.data()) + 1, s.size() - 1, rec);
  EXPECT_FALSE(parser.idle());  // a message is open
  s = clientFrame(Opcode::kContinuation, "cd");
  parser.consume(reinterpret_cast<uint8_t*>(s.data()), s.size() - 1, rec);
  EXPECT_FALSE(parser.idle());  // half a payload
  parser.consume(reinterpret_cast<uint8_t*>(s.data()) + s.size() - 1, 1, rec);
  EXPECT_TRUE(parser.idle());
  EXPECT_EQ(rec.events, Events{"text:abcd"});
}

TEST(FrameParserTest, UnmasksInPlace) {
  std::string s = clientFrame(Opcode::kBinary, "secret payload");
  FrameLimits limits;
  FrameParser parser(Role::kServer, &limits);
  Recorder rec;
  parser.consume(reinterpret_cast<uint8_t*>(s.data()), s.size(), rec);
  EXPECT_EQ(s.substr(6), "secret payload");
}

// Checks where delivered payloads point: into the caller's buffer or elsewhere.
struct PointerSink : Recorder {
  const char* lo = nullptr;
  const char* hi = nullptr;
  std::vector<bool> inBuffer;
  bool onMessage(Opcode op, std::string_view p) {
    inBuffer.push_back(p.data() >= lo && p.data() + p.size() <= hi);
    return Recorder::onMessage(op, p);
  }
  bool onPing(std::string_view p) {
    inBuffer.push_back(p.data() >= lo && p.data() + p.size() <= hi);
    return Recorder::onPing(p);
  }
};

TEST(FrameParserTest, WholeFramesAreDeliveredFromTheCallersBuffer) {
  std::string s = clientFrame(Opcode::kBinary, std::string(1000, 'x')) +
                  clientFrame(Opcode::kPing, "p") + clientFrame(Opcode::kText, "a", false) +
                  clientFrame(Opcode::kContinuation, "b");
  FrameLimits limits;
  FrameParser parser(Role::kServer, &limits);
  PointerSink sink;
  sink.lo = s.data();
  sink.hi = s.data() + s.size();
  parser.consume(reinterpret_cast<uint8_t*>(s.data()), s.size(), sink);
  EXPECT_EQ(sink.inBuffer, (std::vector<bool>{true, true, false}));  // reassembled: copied
}

TEST(FrameParserTest, SplitFramesAreBufferedAndReleasedAfterDelivery) {
  // A 200014-byte binary frame, then a 106-byte ping frame.
  std::string s = clientFrame(Opcode::kBinary, std::string(200000, 'x')) +
                  clientFrame(Opcode::kPing, std::string(100, 'p'));
  FrameLimits limits;
  FrameParser parser(Role::kServer, &limits);
  Recorder rec;
  auto* p = reinterpret_cast<uint8_t*>(s.data());
  EXPECT_EQ(parser.heapBytes(), 0u);
  parser.consume(p, 100000, rec);
  EXPECT_GE(parser.heapBytes(), 100000u - 14);
  parser.consume(p + 100000, 100014, rec);
  ASSERT_EQ(rec.events.size(), 1u);
  EXPECT_EQ(rec.events[0], "binary:" + std::string(200000, 'x'));
  EXPECT_EQ(parser.heapBytes(), 0u);
  parser.consume(p + 200014, 60, rec);
  EXPECT_GT(parser.heapBytes(), 0u);  // half of the ping
  parser.consume(p + 200074, s.size() - 200074, rec);
  EXPECT_EQ(rec.events.back(), "ping:" + std::string(100, 'p'));
  EXPECT_EQ(parser.heapBytes(), 0u);
  EXPECT_TRUE(parser.idle());
}

TEST(FrameParserTest, FixedPartIsSmall) {
  EXPECT_LE(sizeof(FrameParser) - sizeof(std::string), 64u);
}

TEST(FrameParserTest, ClientRoleReadsUnmaskedServerFrames) {
  const FrameRef a = buildFrame(Opcode::kText, "from server");
  const FrameRef b = buildFrame(Opcode::kBinary, std::string(70000, 'z'));
  const ParseResult run = parse(std::string(a->view()) + std::string(b->view()), {}, Role::kClient);
  EXPECT_EQ(run.events, (Events{"text:from server", "binary:" + std::string(70000, 'z')}));
}

TEST(FrameParserTest, MaskBitMustMatchTheRole) {
  EXPECT_EQ(events(std::string(buildFrame(Opcode::kText, "x")->view())),
            Events{errorEvent(kProtocolError, "unmasked client frame")});
  EXPECT_EQ(events(clientFrame(Opcode::kText, "x"), Role::kClient),
            Events{errorEvent(kProtocolError, "masked server frame")});
}

TEST(FrameParserTest, ReservedBitsAreAProtocolError) {
  for (uint8_t rsv = 1; rsv < 8; ++rsv) {
    const ParseResult run = parse(clientFrame(Opcode::kText, "x", true, rsv));
    // RSV1 alone is permessage-deflate's bit, refused here because it was not negotiated.
    const char* reason = rsv == 4 ? "RSV1 without permessage-deflate" : "reserved bits set";
    EXPECT_EQ(run.events, Events{errorEvent(kProtocolError, reason)}) << int(rsv);
    EXPECT_TRUE(run.failed);
  }
}

TEST(FrameParserTest, ReservedOpcodesAreAProtocolError) {
  for (uint8_t op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    EXPECT_EQ(events(rawFrame(static_cast<uint8_t>(0x80 | op), 0, "", "")),
              Events{errorEvent(kProtocolError, "reserved opcode")})
        << int(op);
  }
}

TEST(FrameParserTest, ControlFramesMustBeFinalAndShort) {
  EXPECT_EQ(events(clientFrame(Opcode::kPing, "x", false)),
            Events{errorEvent(kProtocolError, "fragmented control frame")});
  EXPECT_EQ(events(clientFrame(Opcode::kPong, std::string(126, 'x'))),
            Events{errorEvent(kProtocolError, "control frame too long")});
  EXPECT_EQ(events(clientFrame(Opcode::kClose, std::string("\x03\xE8", 2) + std::string(124, 'r'))),
            Events{errorEvent(kProtocolError, "control frame too long")});
  EXPECT_EQ(events(clientFrame(Opcode::kPing, std::string(125, 'x'))),
            Events{"ping:" + std::string(125, 'x')});
}

TEST(FrameParserTest, ContinuationRules) {
  EXPECT_EQ(events(clientFrame(Opcode::kContinuation, "x")),
            Events{errorEvent(kProtocolError, "continuation frame without a message")});
  EXPECT_EQ(events(clientFrame(Opcode::kText, "a") + clientFrame(Opcode::kContinuation, "b")),
            (Events{"text:a", errorEvent(kProtocolError, "continuation frame without a message")}));
  for (Opcode second : {Opcode::kText, Opcode::kBinary}) {
    EXPECT_EQ(events(clientFrame(Opcode::kBinary, "a", false) + clientFrame(second, "b")),
              Events{errorEvent(kProtocolError, "new message inside a fragmented message")});
  }
}

TEST(FrameParserTest, LengthWithTopBitSetIsAProtocolError) {
  const std::string s = rawFrame(0x82, 127, std::string("\x80\0\0\0\0\0\0\x01", 8), "");
  EXPECT_EQ(events(s), Events{errorEvent(kProtocolError, "invalid frame length")});
}

TEST(FrameParserTest, MessageTooBigIsReportedAtTheHeader) {
  const std::string tooBig = errorEvent(kMessageTooBig, "message too big");
  // Only the 10-byte header of a 101-byte frame arrives: the limit fails it already.
  std::string header = clientFrame(Opcode::kBinary, std::string(101, 'x')).substr(0, 6);
  EXPECT_EQ(parse(header, {}, Role::kServer, 100).events, Events{tooBig});
  EXPECT_EQ(
      parse(clientFrame(Opcode::kBinary, std::string(100, 'x')), {}, Role::kServer, 100).events,
      Events{"binary:" + std::string(100, 'x')});
  // Fragments add up: 60 + 41 > 100, failed at the second header.
  const std::string frag = clientFrame(Opcode::kText, std::string(60, 'a'), false) +
                           clientFrame(Opcode::kContinuation, std::string(41, 'b'));
  EXPECT_EQ(parse(frag.substr(0, 66 + 6), {}, Role::kServer, 100).events, Events{tooBig});
  const std::string fits = clientFrame(Opcode::kText, std::string(60, 'a'), false) +
                           clientFrame(Opcode::kContinuation, std::string(40, 'b'));
  EXPECT_EQ(parse(fits, {}, Role::kServer, 100).events,
            Events{"text:" + std::string(60, 'a') + std::string(40, 'b')});
}

TEST(FrameParserTest, InvalidUtf8FailsFastInsideAFrame) {
  const std::string bad = errorEvent(kInvalidPayload, "invalid UTF-8 in text message");
  std::string payload = std::string(50, 'a') + "\xC0\xAF" + std::string(50, 'b');
  std::string s = clientFrame(Opcode::kText, payload);
  // Only the first 60 payload bytes arrive: the overlong at offset 50 is reported already.
  EXPECT_EQ(parse(s.substr(0, 6 + 60), {6 + 30}).events, Events{bad});
  EXPECT_EQ(events(s), Events{bad});
  // Binary messages are not checked.
  EXPECT_EQ(events(clientFrame(Opcode::kBinary, "\xFF")), Events{"binary:\xFF"});
}

TEST(FrameParserTest, Utf8IsValidatedAcrossFragments) {
  const std::string bad = errorEvent(kInvalidPayload, "invalid UTF-8 in text message");
  // U+20AC (E2 82 AC) split over three fragments is fine.
  EXPECT_EQ(events(clientFrame(Opcode::kText, "\xE2", false) +
                   clientFrame(Opcode::kContinuation, "\x82", false) +
                   clientFrame(Opcode::kContinuation, "\xAC")),
            Events{"text:\xE2\x82\xAC"});
  // A surrogate (ED A0 80) is rejected at the fragment that makes it impossible.
  EXPECT_EQ(events(clientFrame(Opcode::kText, "ok\xED", false) +
                   clientFrame(Opcode::kContinuation, "\xA0", false)),
            Events{bad});
  // A message that ends inside a sequence.
  EXPECT_EQ(events(clientFrame(Opcode::kText, "ok\xE2\x82", false) +
                   clientFrame(Opcode::kContinuation, "")),
            Events{bad});
  EXPECT_EQ(events(clientFrame(Opcode::kText, "ok\xE2\x82")), Events{bad});
}

TEST(FrameParserTest, CloseFrames) {
  const ParseResult empty = parse(clientFrame(Opcode::kClose, ""));
  EXPECT_EQ(empty.events, Events{"close:1005:"});
  EXPECT_TRUE(empty.closed);
  EXPECT_EQ(events(clientFrame(Opcode::kClose, std::string("\x03\xE8", 2) + "bye \xC3\xA9")),
            Events{"close:1000:bye \xC3\xA9"});
  EXPECT_EQ(events(clientFrame(Opcode::kClose, std::string("\x0F\xA0", 2))), Events{"close:4000:"});
  EXPECT_EQ(events(clientFrame(Opcode::kClose, "\x03")),
            Events{errorEvent(kProtocolError, "close frame with 1-byte payload")});
  for (uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    const std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
    EXPECT_EQ(events(clientFrame(Opcode::kClose, p)),
              Events{errorEvent(kProtocolError, "invalid close code")})
        << code;
  }
  EXPECT_EQ(events(clientFrame(Opcode::kClose, std::string("\x03\xE8\xED\xA0\x80", 5))),
            Events{errorEvent(kInvalidPayload, "invalid UTF-8 in close reason")});
}

TEST(FrameParserTest, NothingIsParsedAfterAClose) {
  const std::string close = clientFrame(Opcode::kClose, std::string("\x03\xE9", 2));
  const std::string s =
      clientFrame(Opcode::kText, "a", false) + close + clientFrame(Opcode::kText, "after");
  const ParseResult run = parse(s);
  EXPECT_EQ(run.events, Events{"close:1001:"});
  EXPECT_EQ(run.consumed, s.size() - clientFrame(Opcode::kText, "after").size());
  EXPECT_TRUE(run.closed);

  FrameLimits limits;
  FrameParser parser(Role::kServer, &limits);
  Recorder rec;
  std::string c = close;
  EXPECT_EQ(parser.consume(reinterpret_cast<uint8_t*>(c.data()), c.size(), rec), c.size());
  std::string more = clientFrame(Opcode::kText, "x");
  EXPECT_EQ(parser.consume(reinterpret_cast<uint8_t*>(more.data()), more.size(), rec), 0u);
  EXPECT_EQ(rec.events.size(), 1u);
}

TEST(FrameParserTest, NothingIsParsedAfterAnError) {
  FrameLimits limits;
  FrameParser parser(Role::kServer, &limits);
  Recorder rec;
  std::string bad = clientFrame(Opcode::kText, "x", true, 4);
  parser.consume(reinterpret_cast<uint8_t*>(bad.data()), bad.size(), rec);
  EXPECT_TRUE(parser.failed());
  std::string good = clientFrame(Opcode::kText, "x");
  EXPECT_EQ(parser.consume(reinterpret_cast<uint8_t*>(good.data()), good.size(), rec), 0u);
  EXPECT_EQ(rec.events.size(), 1u);
  EXPECT_EQ(parser.heapBytes(), 0u);
}

TEST(FrameParserTest, FalseFromACallbackStopsAndParsingResumesOnTheRest) {
  const std::string a = clientFrame(Opcode::kText, "one");
  const std::string b = clientFrame(Opcode::kPing, "two");
  const std::string c = clientFrame(Opcode::kBinary, "three");
  std::string s = a + b + c;
  FrameLimits limits;
  FrameParser parser(Role::kServer, &limits);
  Recorder rec;
  rec.stopAfter = 1;
  auto* p = reinterpret_cast<uint8_t*>(s.data());
  EXPECT_EQ(parser.consume(p, s.size(), rec), a.size());
  EXPECT_EQ(rec.events, Events{"text:one"});
  rec.stopAfter = 2;
  EXPECT_EQ(parser.consume(p + a.size(), s.size() - a.size(), rec), b.size());
  rec.stopAfter = -1;
  EXPECT_EQ(parser.consume(p + a.size() + b.size(), c.size(), rec), c.size());
  EXPECT_EQ(rec.events, (Events{"text:one", "ping:two", "binary:three"}));
}

// Streams whose every split must give the same sink calls as the whole.
std::vector<std::string> splitStreams() {
  std::vector<std::string> v;
  // Fragmented text (characters cut between fragments) with control frames between the
  // fragments, 16-bit and (non-minimal) 64-bit lengths, a close and bytes after it.
  v.push_back(clientFrame(Opcode::kText, "Hel\xC3", false) + clientFrame(Opcode::kPing, "p1") +
              clientFrame(Opcode::kContinuation, "\xA9lo \xE2\x82", false) +
              clientFrame(Opcode::kPong, "") + clientFrame(Opcode::kContinuation, "\xAC!") +
              clientFrame(Opcode::kBinary, std::string(300, '\x7F')) +
              rawFrame(0x82, 127, std::string("\0\0\0\0\0\0\0\x05", 8), "sixty") +
              clientFrame(Opcode::kClose, std::string("\x03\xE8", 2) + "done") +
              clientFrame(Opcode::kText, "ignored"));
  // Fails in the middle of a fragmented text message with a bad byte in a 16-bit frame.
  v.push_back(
      clientFrame(Opcode::kText, std::string(130, 'a'), false) + clientFrame(Opcode::kPing, "p") +
      clientFrame(Opcode::kContinuation, std::string(70, 'b') + "\xF4\x90" + std::string(70, 'c')));
  // A binary message, then a close frame with a long reason.
  v.push_back(clientFrame(Opcode::kBinary, "bin") +
              clientFrame(Opcode::kClose, std::string("\x0B\xB8", 2) + std::string(100, 'r')));
  // A real 64-bit length: 66000 bytes of text between two fragments, then a ping.
  v.push_back(clientFrame(Opcode::kText, "\xF0\x9F", false) +
              clientFrame(Opcode::kContinuation, "\x98\x80" + std::string(66000, 'L')) +
              clientFrame(Opcode::kPing, "end"));
  return v;
}

TEST(FrameParserTest, EverySplitGivesTheSameCalls) {
  for (const std::string& s : splitStreams()) {
    const ParseResult whole = parse(s);
    ASSERT_FALSE(whole.events.empty());
    for (size_t cut = 0; cut <= s.size(); ++cut) {
      const ParseResult split = parse(s, {cut});
      ASSERT_EQ(split.events, whole.events) << "cut at " << cut;
      if (!whole.failed) {
        ASSERT_EQ(split.consumed, whole.consumed) << "cut at " << cut;
      }
    }
  }
}

TEST(FrameParserTest, TwoCutsGiveTheSameCalls) {
  const std::string s = splitStreams()[0];
  const ParseResult whole = parse(s);
  for (size_t a = 0; a < s.size(); ++a) {
    for (size_t b = a; b <= s.size(); b += 3) {
      ASSERT_EQ(parse(s, {a, b}).events, whole.events) << a << "," << b;
    }
  }
}

TEST(FrameParserTest, ByteByByteGivesTheSameCalls) {
  for (const std::string& s : splitStreams()) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < s.size(); ++i) cuts.push_back(i);
    const ParseResult whole = parse(s);
    const ParseResult bytes = parse(s, cuts);
    EXPECT_EQ(bytes.events, whole.events);
    if (!whole.failed) {
      EXPECT_EQ(bytes.consumed, whole.consumed);
    }
    EXPECT_EQ(bytes.closed, whole.closed);
    EXPECT_EQ(bytes.failed, whole.failed);
  }
}

}  // namespace
}  // namespace ringcast::ws
