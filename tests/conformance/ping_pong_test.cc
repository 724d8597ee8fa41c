// Autobahn section 2 (pings and pongs), RFC 6455 sections 5.5.2 and 5.5.3: a ping is
// answered by a pong with the same payload, control payloads are at most 125 bytes, and an
// unsolicited pong gets no reply. "Nothing is received" is checked without sleeping: a probe
// ping follows, and its pong must be the very next frame.
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/conformance_fixture.h"

namespace ringcast::test {
namespace {

std::vector<ScriptCase> pingCases() {
  const std::string binary("\x00\xff\xfe\xfd\xfc\xfb\x00\xff", 8);
  const std::string max125(125, '\xfe');
  const std::string over125(126, '\xfe');
  std::vector<FrameSpec> tenPings, tenPongs;
  for (int i = 0; i < 10; ++i) {
    tenPings.push_back({op::kPing, "payload-" + std::to_string(i)});
    tenPongs.push_back({op::kPong, "payload-" + std::to_string(i)});
  }
  return {
      {"Autobahn 2.1", {{op::kPing, ""}}, Delivery::kOneWrite, {{op::kPong, ""}}},
      {"Autobahn 2.2",
       {{op::kPing, "Hello, world!"}},
       Delivery::kOneWrite,
       {{op::kPong, "Hello, world!"}}},
      {"Autobahn 2.3", {{op::kPing, binary}}, Delivery::kOneWrite, {{op::kPong, binary}}},
      {"Autobahn 2.4", {{op::kPing, max125}}, Delivery::kOneWrite, {{op::kPong, max125}}},
      {"Autobahn 2.5",
       {{op::kPing, over125}},
       Delivery::kOneWrite,
       {},
       Outcome::kFails,
       close_code::kProtocolError},
      {"Autobahn 2.6", {{op::kPing, max125}}, Delivery::kByteWise, {{op::kPong, max125}}},
      {"Autobahn 2.7",
       {{op::kPong, ""}, {op::kPing, "probe"}},
       Delivery::kOneWrite,
       {{op::kPong, "probe"}}},
      {"Autobahn 2.8",
       {{op::kPong, "unsolicited pong payload"}, {op::kPing, "probe"}},
       Delivery::kOneWrite,
       {{op::kPong, "probe"}}},
      {"Autobahn 2.9",
       {{op::kPong, "unsolicited pong payload"}, {op::kPing, "ping payload"}},
       Delivery::kOneWrite,
       {{op::kPong, "ping payload"}}},
      {"Autobahn 2.10", tenPings, Delivery::kOneWrite, tenPongs},
      {"Autobahn 2.11", tenPings, Delivery::kByteWise, tenPongs},
      {"Autobahn 2.11 per frame", tenPings, Delivery::kPerFrame, tenPongs},
      // 2.5 one byte per write: the 126 in the 7-bit length field arrives on its own.
      {"Autobahn 2.5 bytewise",
       {{op::kPing, over125}},
       Delivery::kByteWise,
       {},
       Outcome::kFails,
       close_code::kProtocolError},
  };
}

class ConformancePingPong : public ConformanceParamTest<ScriptCase> {};

TEST_P(ConformancePingPong, Script) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  EXPECT_TRUE(runScript(*client, GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Rfc6455, ConformancePingPong, ::testing::ValuesIn(pingCases()),
                         scriptCaseName);

// A ping that arrives right behind a 1 MiB message is answered and the echo is intact: the
// two frames come back whole (a pong is never spliced into a data frame), in either order.
class ConformancePingPongOrder : public ConformanceTest {};

TEST_F(ConformancePingPongOrder, Autobahn2_PingBehindLargeMessageIsAnswered) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  const std::string big = binaryOf(1 << 20);
  const std::string probe = "after the megabyte";
  ASSERT_TRUE(client->sendBinary(big));
  ASSERT_TRUE(client->sendFrame(op::kPing, probe));
  ReadResult first = client->readFrame(WsClient::kBulkTimeout);
  ReadResult second = client->readFrame(WsClient::kBulkTimeout);
  if (first.ok() && first.frame.opcode == op::kPong) std::swap(first, second);
  EXPECT_TRUE(isFrame(first, op::kBinary, big));
  EXPECT_TRUE(isFrame(second, op::kPong, probe));
  EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
}

}  // namespace
}  // namespace ringcast::test
