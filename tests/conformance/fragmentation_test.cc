// Autobahn section 5 (fragmentation), RFC 6455 sections 5.4 and 5.5: control frames must
// not be fragmented, control frames may arrive between the fragments of a message and are
// answered at once, a continuation needs a message to continue, and a new text or binary
// frame may not start inside a fragmented message. Fragmented messages are echoed as one
// frame with the joined payload.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/conformance_fixture.h"

namespace ringcast::test {
namespace {

constexpr uint16_t kProtocolError = close_code::kProtocolError;

ScriptCase fails(std::string id, std::vector<FrameSpec> send, Delivery delivery,
                 std::vector<FrameSpec> expect = {}) {
  return {std::move(id),     std::move(send), delivery,
          std::move(expect), Outcome::kFails, kProtocolError};
}

std::vector<ScriptCase> fragmentationCases() {
  const FrameSpec frag1{op::kText, "fragment1", false};
  const FrameSpec frag2End{op::kContinuation, "fragment2", true};
  const std::vector<FrameSpec> joined{{op::kText, "fragment1fragment2"}};
  // 5.9-5.11: a final continuation with nothing to continue, then a valid message.
  const std::vector<FrameSpec> danglingFinal{{op::kContinuation, "non-continuation payload", true},
                                             {op::kText, "Hello, world!"}};
  // 5.12-5.14: the same with FIN=0 on the stray continuation.
  const std::vector<FrameSpec> danglingOpen{{op::kContinuation, "non-continuation payload", false},
                                            {op::kText, "Hello, world!"}};
  // 5.16/5.17: twice [stray continuation, text FIN=0, continuation FIN=1].
  auto strayTwice = [](bool firstFin) {
    std::vector<FrameSpec> v;
    for (int i = 0; i < 2; ++i) {
      v.push_back({op::kContinuation, "fragment1", firstFin});
      v.push_back({op::kText, "fragment2", false});
      v.push_back({op::kContinuation, "fragment3", true});
    }
    return v;
  };
  std::vector<ScriptCase> cases = {
      fails("Autobahn 5.1", {{op::kPing, "fragment1", false}, {op::kContinuation, "fragment2"}},
            Delivery::kOneWrite),
      fails("Autobahn 5.2", {{op::kPong, "fragment1", false}, {op::kContinuation, "fragment2"}},
            Delivery::kOneWrite),
      fails("RFC6455 5.5 fragmented close",
            {{op::kClose, closePayload(close_code::kNormal), false},
             {op::kContinuation, "fragment2"}},
            Delivery::kOneWrite),
      {"Autobahn 5.3", {frag1, frag2End}, Delivery::kOneWrite, joined},
      {"Autobahn 5.4", {frag1, frag2End}, Delivery::kPerFrame, joined},
      {"Autobahn 5.5", {frag1, frag2End}, Delivery::kByteWise, joined},
      {"Autobahn 5.6",
       {frag1, {op::kPing, "ping payload"}, frag2End},
       Delivery::kOneWrite,
       {{op::kPong, "ping payload"}, joined[0]}},
      {"Autobahn 5.7",
       {frag1, {op::kPing, "ping payload"}, frag2End},
       Delivery::kPerFrame,
       {{op::kPong, "ping payload"}, joined[0]}},
      {"Autobahn 5.8",
       {frag1, {op::kPing, "ping payload"}, frag2End},
       Delivery::kByteWise,
       {{op::kPong, "ping payload"}, joined[0]}},
      // An unsolicited pong between fragments is ignored and does not disturb the message.
      {"RFC6455 5.4 pong between fragments",
       {frag1, {op::kPong, "unsolicited"}, frag2End},
       Delivery::kOneWrite,
       joined},
      {"RFC6455 5.4 binary with ping between fragments",
       {{op::kBinary, std::string("\x00\x01", 2), false},
        {op::kPing, ""},
        {op::kContinuation, std::string("\x02\xff", 2), false},
        {op::kContinuation, std::string("\xfe", 1), true}},
       Delivery::kByteWise,
       {{op::kPong, ""}, {op::kBinary, std::string("\x00\x01\x02\xff\xfe", 5)}}},
      {"RFC6455 5.4 empty fragments",
       {{op::kBinary, "", false}, {op::kContinuation, "", false}, {op::kContinuation, "", true}},
       Delivery::kOneWrite,
       {{op::kBinary, ""}}},
      fails("Autobahn 5.9", danglingFinal, Delivery::kOneWrite),
      fails("Autobahn 5.10", danglingFinal, Delivery::kPerFrame),
      fails("Autobahn 5.11", danglingFinal, Delivery::kByteWise),
      fails("Autobahn 5.12", danglingOpen, Delivery::kOneWrite),
      fails("Autobahn 5.13", danglingOpen, Delivery::kPerFrame),
      fails("Autobahn 5.14", danglingOpen, Delivery::kByteWise),
      fails("Autobahn 5.15",
            {frag1, frag2End, {op::kContinuation, "fragment3", false}, {op::kText, "fragment4"}},
            Delivery::kOneWrite, joined),
      fails("Autobahn 5.16", strayTwice(false), Delivery::kOneWrite),
      fails("Autobahn 5.17", strayTwice(true), Delivery::kOneWrite),
      fails("Autobahn 5.18", {frag1, {op::kText, "fragment2"}}, Delivery::kOneWrite),
      fails("Autobahn 5.18 binary inside text", {frag1, {op::kBinary, "fragment2"}},
            Delivery::kOneWrite),
      fails("Autobahn 5.18 text inside binary",
            {{op::kBinary, "fragment1", false}, {op::kText, "fragment2", false}},
            Delivery::kPerFrame),
  };
  return cases;
}

class ConformanceFragmentation : public ConformanceParamTest<ScriptCase> {};

TEST_P(ConformanceFragmentation, Script) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  EXPECT_TRUE(runScript(*client, GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Rfc6455, ConformanceFragmentation,
                         ::testing::ValuesIn(fragmentationCases()), scriptCaseName);

// 5.19/5.20: a message in five fragments with a ping after the 2nd and the 4th. Each pong
// must arrive while the message is still open: the client waits for it before it sends the
// next fragment, so a server that holds control replies until the message ends fails here.
struct InterleavedCase {
  std::string id;
  Delivery delivery;
};

void PrintTo(const InterleavedCase& c, std::ostream* os) {
  *os << c.id;
}

class ConformanceFragmentationPings : public ConformanceParamTest<InterleavedCase> {};

TEST_P(ConformanceFragmentationPings, PongArrivesBeforeMessageEnds) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  auto frame = [&](uint8_t opcode, std::string_view payload, bool fin) {
    return encodeFrame(opcode, payload, fin, 0, true, client->nextMaskKey());
  };
  const Delivery how = GetParam().delivery;
  ASSERT_TRUE(
      deliver(*client,
              {frame(op::kText, "fragment1", false), frame(op::kContinuation, "fragment2", false),
               frame(op::kPing, "pongme 1!", true)},
              how));
  EXPECT_TRUE(isFrame(client->readFrame(), op::kPong, "pongme 1!"));
  ASSERT_TRUE(
      deliver(*client,
              {frame(op::kContinuation, "fragment3", false),
               frame(op::kContinuation, "fragment4", false), frame(op::kPing, "pongme 2!", true)},
              how));
  EXPECT_TRUE(isFrame(client->readFrame(), op::kPong, "pongme 2!"));
  ASSERT_TRUE(deliver(*client, {frame(op::kContinuation, "fragment5", true)}, how));
  EXPECT_TRUE(
      isFrame(client->readFrame(), op::kText, "fragment1fragment2fragment3fragment4fragment5"));
  EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
}

INSTANTIATE_TEST_SUITE_P(Rfc6455, ConformanceFragmentationPings,
                         ::testing::Values(InterleavedCase{"Autobahn 5.19", Delivery::kOneWrite},
                                           InterleavedCase{"Autobahn 5.20", Delivery::kPerFrame},
                                           InterleavedCase{"Autobahn 5.20 bytewise",
                                                           Delivery::kByteWise}),
                         [](const auto& info) { return caseName(info.param.id); });

}  // namespace
}  // namespace ringcast::test
