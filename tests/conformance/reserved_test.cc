// Autobahn sections 3 (reserved bits) and 4 (reserved opcodes), RFC 6455 section 5.2: with
// no extension negotiated, a non-zero RSV bit or an unknown opcode must fail the connection
// with 1002. A valid message sent first is still echoed; a ping sent after the bad frame is
// not answered (the close must be the next frame and TCP closes after it).
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/conformance_fixture.h"

namespace ringcast::test {
namespace {

constexpr std::string_view kHello = "Hello, world!";

// [text "Hello, world!"] + bad + [ping]: the shape of 3.2-3.4 and 4.1.3-4.2.5.
ScriptCase afterValidMessage(std::string id, FrameSpec bad, Delivery delivery) {
  return {std::move(id),
          {{op::kText, std::string(kHello)}, std::move(bad), {op::kPing, std::string(kHello)}},
          delivery,
          {{op::kText, std::string(kHello)}},
          Outcome::kFails,
          close_code::kProtocolError};
}

ScriptCase alone(std::string id, FrameSpec bad) {
  return {std::move(id),   {std::move(bad)},          Delivery::kOneWrite, {},
          Outcome::kFails, close_code::kProtocolError};
}

std::vector<ScriptCase> rsvCases() {
  const std::string binary("\x00\xff\xfe\xfd\xfc\xfb\x00\xff", 8);
  return {
      alone("Autobahn 3.1", {op::kText, std::string(kHello), true, 1}),
      afterValidMessage("Autobahn 3.2", {op::kText, std::string(kHello), true, 2},
                        Delivery::kOneWrite),
      afterValidMessage("Autobahn 3.3", {op::kText, std::string(kHello), true, 3},
                        Delivery::kByteWise),
      afterValidMessage("Autobahn 3.4", {op::kText, std::string(kHello), true, 4},
                        Delivery::kPerFrame),
      alone("Autobahn 3.5", {op::kBinary, binary, true, 5}),
      alone("Autobahn 3.6", {op::kPing, std::string(kHello), true, 6}),
      alone("Autobahn 3.7", {op::kClose, closePayload(close_code::kNormal), true, 7}),
      // RSV1 (the bit permessage-deflate would use) on a continuation frame.
      {"RFC6455 5.2 rsv1 on continuation",
       {{op::kText, "frag", false}, {op::kContinuation, "ment", true, 4}},
       Delivery::kOneWrite,
       {},
       Outcome::kFails,
       close_code::kProtocolError},
  };
}

std::vector<ScriptCase> opcodeCases() {
  const std::string payload = "reserved opcode payload";
  return {
      alone("Autobahn 4.1.1", {3, ""}),
      alone("Autobahn 4.1.2", {4, payload}),
      afterValidMessage("Autobahn 4.1.3", {5, ""}, Delivery::kOneWrite),
      afterValidMessage("Autobahn 4.1.4", {6, payload}, Delivery::kPerFrame),
      afterValidMessage("Autobahn 4.1.5", {7, payload}, Delivery::kByteWise),
      alone("Autobahn 4.2.1", {11, ""}),
      alone("Autobahn 4.2.2", {12, payload}),
      afterValidMessage("Autobahn 4.2.3", {13, ""}, Delivery::kOneWrite),
      afterValidMessage("Autobahn 4.2.4", {14, payload}, Delivery::kPerFrame),
      afterValidMessage("Autobahn 4.2.5", {15, payload}, Delivery::kByteWise),
  };
}

class ConformanceReservedBits : public ConformanceParamTest<ScriptCase> {};

TEST_P(ConformanceReservedBits, Script) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  EXPECT_TRUE(runScript(*client, GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Rfc6455, ConformanceReservedBits, ::testing::ValuesIn(rsvCases()),
                         scriptCaseName);

class ConformanceReservedOpcodes : public ConformanceParamTest<ScriptCase> {};

TEST_P(ConformanceReservedOpcodes, Script) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  EXPECT_TRUE(runScript(*client, GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Rfc6455, ConformanceReservedOpcodes, ::testing::ValuesIn(opcodeCases()),
                         scriptCaseName);

}  // namespace
}  // namespace ringcast::test
