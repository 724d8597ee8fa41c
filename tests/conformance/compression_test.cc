// RFC 7692 sections 6 and 7.2 over a negotiated permessage-deflate connection (the Autobahn
// 12/13 ground, without their timings): compressed messages of 0 B to 1 MiB in both
// directions, fragmented compressed messages (RSV1 on the first frame only), the RSV rules
// (RSV1 on a control or continuation frame, RSV1 without negotiation: 1002), invalid deflate
// data (1007, docs/PROTOCOL.md) and decompression bombs (1009 once the inflated size passes
// --max-message-size, with the server's memory checked in /proc).
//
// The client compresses with zlib directly (tests/support/raw_deflate.h). Server messages
// are inflated here and compared; a text message of at least --compression-min-size (256 B)
// must come back compressed, a shorter one or one that compression would not shrink plain.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/conformance_fixture.h"
#include "tests/support/raw_deflate.h"

namespace ringcast::test {
namespace {

constexpr uint8_t kRsv1 = 4;  // RSV1..RSV3 in bits 2..0
constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * kKiB;
constexpr size_t kMinCompressedBytes = 256;  // the server's default --compression-min-size

// A client on `port` whose /echo upgrade negotiated permessage-deflate; nullptr plus a test
// failure otherwise.
std::unique_ptr<WsClient> openDeflate(uint16_t port) {
  auto client = ConformanceTest::connectTo(port);
  if (!client) return nullptr;
  HttpResponse r = client->handshake(
      "/echo", {{"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"}});
  auto upgraded = isUpgrade(r, client->key());
  if (!upgraded) {
    ADD_FAILURE() << "opening handshake: " << upgraded.message();
    return nullptr;
  }
  if (r.header("Sec-WebSocket-Extensions").value_or("").rfind("permessage-deflate", 0) != 0) {
    ADD_FAILURE() << "permessage-deflate was not negotiated";
    return nullptr;
  }
  return client;
}

// r is one whole message with this opcode and payload, compressed (RSV1, inflating to
// payload) or plain as `compressed` says.
::testing::AssertionResult isMessage(const ReadResult& r, uint8_t opcode, std::string_view payload,
                                     bool compressed) {
  if (!r.ok()) return ::testing::AssertionFailure() << "expected a message, got " << r.describe();
  if (r.frame.opcode != opcode || !r.frame.fin) {
    return ::testing::AssertionFailure() << "expected one unfragmented frame with opcode "
                                         << int{opcode} << ", got " << r.describe();
  }
  if (!compressed) return isFrame(r, opcode, payload);
  if (r.frame.rsv != kRsv1) {
    return ::testing::AssertionFailure() << "expected a compressed frame, got " << r.describe();
  }
  std::optional<std::string> inflated = inflateMessage(r.frame.payload);
  if (!inflated) return ::testing::AssertionFailure() << "the server's frame does not inflate";
  return samePayload(payload, *inflated);
}

std::string randomBytes(size_t n) {
  std::mt19937 rng(static_cast<uint32_t>(n));
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// ASCII text of random letters and spaces: it compresses to about 60 %, so the compressed
// payload of a large message still spans many fragments.
std::string lettersOf(size_t n) {
  std::mt19937 rng(static_cast<uint32_t>(n) + 1);
  std::string s(n, ' ');
  for (char& c : s) {
    const uint32_t r = rng() % 28;
    c = r < 26 ? static_cast<char>('a' + r) : ' ';
  }
  return s;
}

// Compressed message frames: the first one with RSV1, the continuations without.
std::vector<std::string> compressedFragments(WsClient& client, uint8_t opcode,
                                             std::string_view compressed, size_t fragmentBytes) {
  std::vector<std::string> frames;
  size_t off = 0;
  do {
    const size_t n = std::min(fragmentBytes, compressed.size() - off);
    const bool first = off == 0;
    frames.push_back(encodeFrame(first ? opcode : op::kContinuation, compressed.substr(off, n),
                                 off + n == compressed.size(), first ? kRsv1 : 0, true,
                                 client.nextMaskKey()));
    off += n;
  } while (off < compressed.size());
  return frames;
}

// Round trips -------------------------------------------------------------------------

enum class Payload { kText, kBinaryPattern, kBinaryRandom };

struct SizeCase {
  Payload kind;
  size_t bytes;
  bool clientCompresses;
};

void PrintTo(const SizeCase& c, std::ostream* os) {
  *os << int(c.kind) << "/" << c.bytes << "/" << c.clientCompresses;
}

std::vector<SizeCase> sizeCases() {
  std::vector<SizeCase> cases;
  for (bool compresses : {true, false}) {
    for (Payload kind : {Payload::kText, Payload::kBinaryPattern}) {
      for (size_t n : {size_t{0}, size_t{1}, size_t{125}, size_t{126}, size_t{255}, size_t{256},
                       size_t{4 * kKiB}, size_t{65535}, size_t{65536}, size_t{1 * kMiB}}) {
        cases.push_back({kind, n, compresses});
      }
    }
    cases.push_back({Payload::kBinaryRandom, 64 * kKiB, compresses});
    cases.push_back({Payload::kBinaryRandom, 1 * kMiB, compresses});
  }
  return cases;
}

std::string sizeCaseName(const ::testing::TestParamInfo<SizeCase>& info) {
  const SizeCase& c = info.param;
  const char* kind = c.kind == Payload::kText            ? "text"
                     : c.kind == Payload::kBinaryPattern ? "binary"
                                                         : "random";
  return std::string(c.clientCompresses ? "compressed_" : "plain_") + kind + "_" +
         std::to_string(c.bytes);
}

class ConformanceDeflateRoundTrip : public ConformanceParamTest<SizeCase> {};

// The client sends the message compressed (or plain on a compressed connection, which RFC
// 7692 6 allows); the echo is compressed whenever the server's rules say so.
TEST_P(ConformanceDeflateRoundTrip, Echo) {
  const SizeCase& c = GetParam();
  auto client = openDeflate(port());
  ASSERT_TRUE(client);
  const uint8_t opcode = c.kind == Payload::kText ? op::kText : op::kBinary;
  const std::string payload = c.kind == Payload::kText            ? textOf(c.bytes)
                              : c.kind == Payload::kBinaryPattern ? binaryOf(c.bytes)
                                                                  : randomBytes(c.bytes);
  const std::string wire = c.clientCompresses ? compressMessage(payload) : payload;
  ASSERT_TRUE(client->sendFrame(opcode, wire, true, c.clientCompresses ? kRsv1 : 0));
  ReadResult r = client->readFrame(WsClient::kBulkTimeout);
  if (c.kind == Payload::kText) {
    EXPECT_TRUE(isMessage(r, opcode, payload, c.bytes >= kMinCompressedBytes));
  } else if (c.kind == Payload::kBinaryRandom) {
    EXPECT_TRUE(isMessage(r, opcode, payload, false));  // deflate would not shrink it
  } else {
    EXPECT_TRUE(isMessage(r, opcode, payload, r.ok() && r.frame.rsv == kRsv1));
    if (c.bytes < kMinCompressedBytes) {
      EXPECT_EQ(r.frame.rsv, 0) << "below the minimum size";
    }
  }
  EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
}

INSTANTIATE_TEST_SUITE_P(Rfc7692, ConformanceDeflateRoundTrip, ::testing::ValuesIn(sizeCases()),
                         sizeCaseName);

// Each message is compressed on its own (no context takeover on either side), so a run of
// them, compressed and plain mixed, all come back intact and in order.
TEST_F(ConformanceDeflateRoundTrip, ManyMessagesInOneWrite) {
  auto client = openDeflate(port());
  ASSERT_TRUE(client);
  std::vector<std::string> texts;
  std::string all;
  for (size_t i = 0; i < 200; ++i) {
    texts.push_back(textOf(100 + i * 37));
    const bool compress = i % 3 != 0;
    all += encodeFrame(op::kText, compress ? compressMessage(texts.back()) : texts.back(), true,
                       compress ? kRsv1 : 0, true, client->nextMaskKey());
  }
  ASSERT_TRUE(client->sendRaw(all));
  for (const std::string& text : texts) {
    ASSERT_TRUE(
        isMessage(client->readFrame(), op::kText, text, text.size() >= kMinCompressedBytes));
  }
  EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
}

// Fragmentation --------------------------------------------------------------------------

struct FragmentCase {
  size_t messageBytes;
  size_t fragmentBytes;  // of the compressed payload
  Delivery delivery;
};

void PrintTo(const FragmentCase& c, std::ostream* os) {
  *os << c.messageBytes << "/" << c.fragmentBytes << "/" << int(c.delivery);
}

class ConformanceDeflateFragments : public ConformanceParamTest<FragmentCase> {};

// RFC 7692 6.1: the compressed payload of a message may be split anywhere; only the first
// frame carries RSV1.
TEST_P(ConformanceDeflateFragments, EchoedAsOneMessage) {
  const FragmentCase& c = GetParam();
  auto client = openDeflate(port());
  ASSERT_TRUE(client);
  const std::string text = lettersOf(c.messageBytes);
  auto frames = compressedFragments(*client, op::kText, compressMessage(text), c.fragmentBytes);
  ASSERT_GT(frames.size(), 1u);
  ASSERT_TRUE(deliver(*client, frames, c.delivery)) << client->error();
  EXPECT_TRUE(isMessage(client->readFrame(WsClient::kBulkTimeout), op::kText, text, true));
  EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
}

INSTANTIATE_TEST_SUITE_P(Rfc7692, ConformanceDeflateFragments,
                         ::testing::Values(FragmentCase{4 * kKiB, 1, Delivery::kOneWrite},
                                           FragmentCase{4 * kKiB, 7, Delivery::kByteWise},
                                           FragmentCase{64 * kKiB, 100, Delivery::kOneWrite},
                                           FragmentCase{64 * kKiB, 1000, Delivery::kPerFrame},
                                           FragmentCase{1 * kMiB, 1000, Delivery::kOneWrite},
                                           FragmentCase{1 * kMiB, 64 * kKiB, Delivery::kOneWrite}),
                         [](const auto& info) {
                           return std::to_string(info.param.messageBytes) + "_in_" +
                                  std::to_string(info.param.fragmentBytes) + "_byte_fragments_" +
                                  std::to_string(int(info.param.delivery));
                         });

// Empty fragments, and a ping between fragments answered before the message ends.
TEST_F(ConformanceDeflateFragments, EmptyFragmentsAndPingBetween) {
  auto client = openDeflate(port());
  ASSERT_TRUE(client);
  const std::string text = textOf(10 * kKiB);
  const std::string compressed = compressMessage(text);
  const size_t half = compressed.size() / 2;
  const uint32_t k = client->nextMaskKey();
  ASSERT_TRUE(client->sendRaw(
      encodeFrame(op::kText, "", false, kRsv1, true, k) +
      encodeFrame(op::kContinuation, compressed.substr(0, half), false, 0, true, k) +
      encodeFrame(op::kContinuation, "", false, 0, true, k) +
      encodeFrame(op::kPing, "between", true, 0, true, k)));
  EXPECT_TRUE(isFrame(client->readFrame(), op::kPong, "between"));
  ASSERT_TRUE(
      client->sendRaw(encodeFrame(op::kContinuation, compressed.substr(half), false, 0, true, k) +
                      encodeFrame(op::kContinuation, "", true, 0, true, k)));
  EXPECT_TRUE(isMessage(client->readFrame(), op::kText, text, true));
  // The next message starts with a fresh inflater: a plain one and a compressed one.
  ASSERT_TRUE(client->sendText("plain after"));
  EXPECT_TRUE(isFrame(client->readFrame(), op::kText, "plain after"));
  ASSERT_TRUE(client->sendFrame(op::kBinary, compressMessage(binaryOf(300)), true, kRsv1));
  ReadResult r = client->readFrame();
  EXPECT_TRUE(isMessage(r, op::kBinary, binaryOf(300), r.ok() && r.frame.rsv == kRsv1));
  EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
}

// RSV rules (RFC 7692 6.1, RFC 6455 5.2) ---------------------------------------------------

std::vector<ScriptCase> rsvCases() {
  const std::string hello = "Hello, world!";
  const std::string compressed = compressMessage(textOf(1000));
  const std::string head = compressed.substr(0, compressed.size() / 2);
  const std::string tail = compressed.substr(compressed.size() / 2);
  auto fails = [&](std::string id, std::vector<FrameSpec> send) {
    // The plain message before the violation is still echoed.
    send.insert(send.begin(), {op::kText, hello});
    send.push_back({op::kPing, "after"});
    return ScriptCase{std::move(id),        std::move(send), Delivery::kOneWrite,
                      {{op::kText, hello}}, Outcome::kFails, close_code::kProtocolError};
  };
  return {
      fails("RFC7692 6.1 rsv1 on ping", {{op::kPing, "ping", true, kRsv1}}),
      fails("RFC7692 6.1 rsv1 on pong", {{op::kPong, "pong", true, kRsv1}}),
      fails("RFC7692 6.1 rsv1 on close",
            {{op::kClose, closePayload(close_code::kNormal), true, kRsv1}}),
      fails("RFC7692 6.1 rsv1 on ping inside a compressed message",
            {{op::kText, head, false, kRsv1}, {op::kPing, "ping", true, kRsv1}}),
      fails("RFC7692 6.1 rsv1 on continuation of compressed message",
            {{op::kText, head, false, kRsv1}, {op::kContinuation, tail, true, kRsv1}}),
      fails("RFC7692 6.1 rsv1 on continuation of plain message",
            {{op::kText, "frag", false}, {op::kContinuation, "ment", true, kRsv1}}),
      fails("RFC6455 5.2 rsv2 with deflate negotiated", {{op::kText, hello, true, 2}}),
      fails("RFC6455 5.2 rsv3 with deflate negotiated", {{op::kText, hello, true, 1}}),
      fails("RFC6455 5.2 rsv1 and rsv2 with deflate negotiated",
            {{op::kText, compressed, true, kRsv1 | 2}}),
  };
}

class ConformanceDeflateRsv : public ConformanceParamTest<ScriptCase> {};

TEST_P(ConformanceDeflateRsv, Script) {
  auto client = openDeflate(port());
  ASSERT_TRUE(client);
  EXPECT_TRUE(runScript(*client, GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Rfc7692, ConformanceDeflateRsv, ::testing::ValuesIn(rsvCases()),
                         scriptCaseName);

// Without negotiation a compressed message is a protocol error, whatever its payload.
TEST_F(ConformanceDeflateRsv, Rsv1WithoutNegotiation) {
  for (uint8_t opcode : {op::kText, op::kBinary}) {
    auto client = openEcho();  // no offer made
    ASSERT_TRUE(client);
    ASSERT_TRUE(client->sendFrame(opcode, compressMessage(textOf(1000)), true, kRsv1));
    EXPECT_TRUE(failsWith(*client, close_code::kProtocolError));
  }
}

// Invalid deflate data (RFC 7692 7.2.2: the endpoint fails the connection; ringcast names
// 1007, the payload is inconsistent with the message) -----------------------------------

struct InvalidCase {
  std::string id;
  uint8_t opcode;
  std::string payload;   // the compressed payload, RSV1 set
  size_t fragmentBytes;  // 0: one frame
};

void PrintTo(const InvalidCase& c, std::ostream* os) {
  *os << c.id;
}

std::vector<InvalidCase> invalidCases() {
  const std::string dictionary = "ringcast ringcast ringcast compressed with a dictionary ";
  // A stored block whose LEN and NLEN disagree, then bytes.
  const std::string badStored("\x00\x05\x00\x00\x00hello", 10);
  std::string goodThenBad = compressMessage(textOf(8 * kKiB));
  goodThenBad += "\xff\xff\xff\xff";
  return {
      {"reserved block type", op::kBinary, "\xff", 0},
      {"bytes after the sync flush", op::kText, compressMessage(textOf(300)).append("\x07", 1), 0},
      {"stored block lengths disagree", op::kBinary, badStored, 0},
      // Back-references into a preset dictionary the receiver does not have.
      {"distance too far back", op::kText, compressMessage(dictionary, 6, 15, dictionary), 0},
      {"invalid data in a later fragment", op::kText, goodThenBad, 1000},
      {"inflates to invalid UTF-8", op::kText, compressMessage("valid \xc3\x28 invalid"), 0},
      {"inflates to a truncated UTF-8 sequence", op::kText,
       compressMessage(textOf(500) + "\xe2\x82"), 0},
  };
}

class ConformanceDeflateInvalid : public ConformanceParamTest<InvalidCase> {};

TEST_P(ConformanceDeflateInvalid, FailsWith1007) {
  const InvalidCase& c = GetParam();
  auto client = openDeflate(port());
  ASSERT_TRUE(client);
  if (c.fragmentBytes == 0) {
    ASSERT_TRUE(client->sendFrame(c.opcode, c.payload, true, kRsv1));
  } else {
    deliver(*client, compressedFragments(*client, c.opcode, c.payload, c.fragmentBytes),
            Delivery::kOneWrite);  // the server may close before the last frame
  }
  EXPECT_TRUE(failsWith(*client, close_code::kInvalidPayload));
}

INSTANTIATE_TEST_SUITE_P(Rfc7692, ConformanceDeflateInvalid, ::testing::ValuesIn(invalidCases()),
                         [](const auto& info) { return caseName(info.param.id); });

// Decompression bombs ----------------------------------------------------------------------

// Bytes of a /proc/PID/status field given in kB ("VmRSS", "VmHWM"); 0 if missing.
size_t procStatusBytes(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1)) * kKiB;
  }
  return 0;
}

constexpr size_t kBombLimitBytes = 1 * kMiB;      // the bomb server's --max-message-size
constexpr size_t kBombInflatedMiB = 256;          // what each bomb would inflate to
constexpr size_t kBombRssBoundBytes = 48 * kMiB;  // peak RSS growth allowed over all bombs

class ConformanceDeflateBomb : public ConformanceTest {};

// A bomb of ~256 KiB inflates to 256 MiB: the server stops at --max-message-size (1 MiB
// here) with 1009, in one frame or across fragments, and its peak RSS (VmHWM) stays within
// kBombRssBoundBytes of where it started (inflating even one bomb would need 256 MiB).
TEST_F(ConformanceDeflateBomb, ClosedWith1009WithinBoundedMemory) {
  std::string error;
  auto server = TestServer::start(RINGCAST_BIN,
                                  {"--echo", "--dev", "--listen", "127.0.0.1:0", "--threads", "1",
                                   "--max-message-size", "1MiB"},
                                  &error);
  ASSERT_TRUE(server) << error;
  const std::string bomb = zeroBomb(kBombInflatedMiB);
  ASSERT_LT(bomb.size(), kBombLimitBytes);  // passes the compressed-size check
  // A message at the limit still passes, compressed.
  {
    auto client = openDeflate(server->port());
    ASSERT_TRUE(client);
    const std::string text = textOf(kBombLimitBytes);
    ASSERT_TRUE(client->sendFrame(op::kText, compressMessage(text), true, kRsv1));
    ASSERT_TRUE(isMessage(client->readFrame(WsClient::kBulkTimeout), op::kText, text, true));
    ASSERT_TRUE(closeIsEchoed(*client, close_code::kNormal));
  }
  const size_t rssBefore = procStatusBytes(server->pid(), "VmRSS");
  ASSERT_GT(rssBefore, 0u);
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto whole = openDeflate(server->port());
    auto fragmented = openDeflate(server->port());
    ASSERT_TRUE(whole && fragmented);
    sendUntilAnswered(*whole,
                      encodeFrame(op::kBinary, bomb, true, kRsv1, true, whole->nextMaskKey()));
    std::string frames;
    for (const std::string& f : compressedFragments(*fragmented, op::kBinary, bomb, 4 * kKiB)) {
      frames += f;
    }
    sendUntilAnswered(*fragmented, frames);
    EXPECT_TRUE(failsWith(*whole, close_code::kMessageTooBig));
    EXPECT_TRUE(failsWith(*fragmented, close_code::kMessageTooBig));
  }
  const size_t peak = procStatusBytes(server->pid(), "VmHWM");
  EXPECT_LE(peak, rssBefore + kBombRssBoundBytes)
      << "RSS before " << rssBefore / kKiB << " KiB, peak " << peak / kKiB << " KiB";
  // Still serving.
  auto client = openDeflate(server->port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->sendFrame(op::kText, compressMessage(textOf(1000)), true, kRsv1));
  EXPECT_TRUE(isMessage(client->readFrame(), op::kText, textOf(1000), true));
  EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
  client.reset();  // its FIN, so the server has nothing left to drain
  EXPECT_EQ(server->stop().kind, ExitStatus::Kind::kExited);
}

}  // namespace
}  // namespace ringcast::test
