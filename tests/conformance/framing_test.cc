// Autobahn section 1 (framing): text and binary messages around every payload-length
// encoding boundary of RFC 6455 section 5.2 (7-bit, 16-bit and 64-bit lengths), written in
// one piece, in 997-byte chops (1.x.8) and one byte per write, each echoed as one frame.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/conformance_fixture.h"

namespace ringcast::test {
namespace {

struct FramingCase {
  std::string id;
  uint8_t opcode;
  size_t length;
  size_t chopBytes;  // 0: the frame goes out in one write
};

void PrintTo(const FramingCase& c, std::ostream* os) {
  *os << c.id;
}

std::vector<FramingCase> framingCases() {
  // 1.1.1-1.1.7 and 1.2.1-1.2.7: lengths at the edges of the three length encodings.
  const size_t lengths[] = {0, 125, 126, 127, 128, 65535, 65536};
  std::vector<FramingCase> cases;
  for (uint8_t opcode : {op::kText, op::kBinary}) {
    const std::string section = opcode == op::kText ? "1.1" : "1.2";
    for (size_t i = 0; i < std::size(lengths); ++i) {
      cases.push_back({"Autobahn " + section + "." + std::to_string(i + 1), opcode, lengths[i], 0});
    }
    cases.push_back({"Autobahn " + section + ".8", opcode, 65536, 997});
    // The same lengths one byte per write: the server sees every header byte on its own.
    for (size_t length : lengths) {
      cases.push_back(
          {"Autobahn " + section + " bytewise len " + std::to_string(length), opcode, length, 1});
    }
  }
  return cases;
}

class ConformanceFraming : public ConformanceParamTest<FramingCase> {};

TEST_P(ConformanceFraming, MessageIsEchoedAsOneFrame) {
  const FramingCase& c = GetParam();
  auto client = openEcho();
  ASSERT_TRUE(client);
  const std::string payload = c.opcode == op::kText ? textOf(c.length) : binaryOf(c.length);
  ASSERT_TRUE(client->sendFrame(c.opcode, payload, true, 0, true, c.chopBytes)) << client->error();
  EXPECT_TRUE(isFrame(client->readFrame(WsClient::kBulkTimeout), c.opcode, payload));
  EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
}

INSTANTIATE_TEST_SUITE_P(Rfc6455, ConformanceFraming, ::testing::ValuesIn(framingCases()),
                         [](const auto& info) { return caseName(info.param.id); });

// RFC 6455 section 5.1: "The server MUST close the connection upon receiving a frame that
// is not masked" (status 1002).
class ConformanceFramingMask : public ConformanceTest {};

TEST_F(ConformanceFramingMask, RFC6455_5_1_UnmaskedTextFrameFails) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  client->sendFrame(op::kText, "not masked", true, 0, /*mask=*/false);
  EXPECT_TRUE(failsWith(*client, close_code::kProtocolError));
}

TEST_F(ConformanceFramingMask, RFC6455_5_1_UnmaskedFrameAfterValidMessageFails) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->sendText("masked"));
  EXPECT_TRUE(isFrame(client->readFrame(), op::kText, "masked"));
  client->sendFrame(op::kPing, "not masked", true, 0, /*mask=*/false);
  EXPECT_TRUE(failsWith(*client, close_code::kProtocolError));
}

// RFC 6455 section 5.2: the most significant bit of a 64-bit length MUST be 0. Such a frame
// is a protocol error (1002) and also far beyond the message limit (1009); either code is
// a correct failure, carrying on is not.
TEST_F(ConformanceFramingMask, RFC6455_5_2_LengthWithTopBitSetFails) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  std::string bytes =
      encodeFrameHeader(op::kBinary, (uint64_t{1} << 63) | 5, true, 0, client->nextMaskKey());
  bytes += "12345";
  ASSERT_TRUE(client->sendRaw(bytes));
  ReadResult r = client->readFrame();
  ASSERT_TRUE(r.ok() && r.frame.isClose()) << r.describe();
  const auto code = r.frame.closeCode();
  EXPECT_TRUE(code == close_code::kProtocolError || code == close_code::kMessageTooBig)
      << r.describe();
  client->sendClose(close_code::kNormal);
  EXPECT_TRUE(client->waitEof(kCloseTcpWithin));
}

}  // namespace
}  // namespace ringcast::test
