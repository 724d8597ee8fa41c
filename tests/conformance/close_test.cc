// Autobahn section 7 (close handling), RFC 6455 sections 5.5.1, 7 and 7.4: the server
// answers a close with a close carrying the same code and then closes TCP, processes
// nothing after the client's close, and fails the connection (1002) on close payloads that
// are malformed or carry a code that must not be sent, or with 1007 when the reason is not
// UTF-8.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/conformance_fixture.h"

namespace ringcast::test {
namespace {

constexpr uint16_t kNormal = close_code::kNormal;

ScriptCase repliesToClose(std::string id, std::vector<FrameSpec> send,
                          std::vector<FrameSpec> expect, uint16_t code = kNormal) {
  return {std::move(id),     std::move(send),          Delivery::kOneWrite,
          std::move(expect), Outcome::kRepliesToClose, code};
}

std::vector<ScriptCase> closeCases() {
  const FrameSpec close1000{op::kClose, closePayload(kNormal)};
  const std::string big = textOf(256 << 10);
  std::vector<ScriptCase> cases = {
      repliesToClose("Autobahn 7.1.1", {{op::kText, "Hello World!"}, close1000},
                     {{op::kText, "Hello World!"}}),
      // A second close is not answered: one close reply, then EOF.
      repliesToClose("Autobahn 7.1.2", {close1000, close1000}, {}),
      repliesToClose("Autobahn 7.1.3", {close1000, {op::kPing, "Hello World!"}}, {}),
      repliesToClose("Autobahn 7.1.4", {close1000, {op::kText, "Hello World!"}}, {}),
      repliesToClose("Autobahn 7.1.5",
                     {{op::kText, "fragment1", false}, close1000, {op::kContinuation, "fragment2"}},
                     {}),
      repliesToClose("Autobahn 7.1.6", {{op::kText, big}, close1000, {op::kPing, "Hello World!"}},
                     {{op::kText, big}}),
      {"Autobahn 7.3.2",
       {{op::kClose, "a"}},
       Delivery::kOneWrite,
       {},
       Outcome::kFails,
       close_code::kProtocolError},
      repliesToClose("Autobahn 7.3.3", {close1000}, {}),
      repliesToClose("Autobahn 7.3.4", {{op::kClose, closePayload(kNormal, "Hello World!")}}, {}),
      repliesToClose("Autobahn 7.3.5", {{op::kClose, closePayload(kNormal, std::string(123, '*'))}},
                     {}),
      // 124 reason bytes make a 126-byte control payload (section 5.5).
      {"Autobahn 7.3.6",
       {{op::kClose, closePayload(kNormal, std::string(124, '*'))}},
       Delivery::kOneWrite,
       {},
       Outcome::kFails,
       close_code::kProtocolError},
      {"Autobahn 7.5.1",
       {{op::kClose, closePayload(kNormal,
                                  "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
                                  "edited")}},
       Delivery::kOneWrite,
       {},
       Outcome::kFails,
       close_code::kInvalidPayload},
      // The close written one byte per write.
      repliesToClose("Autobahn 7.3.4 bytewise",
                     {{op::kClose, closePayload(kNormal, "Hello World!")}}, {}),
  };
  cases.back().delivery = Delivery::kByteWise;
  return cases;
}

class ConformanceClose : public ConformanceParamTest<ScriptCase> {};

TEST_P(ConformanceClose, Script) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  EXPECT_TRUE(runScript(*client, GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Rfc6455, ConformanceClose, ::testing::ValuesIn(closeCases()),
                         scriptCaseName);

// 7.3.1: a close without payload is answered by a close without payload or with 1000.
class ConformanceCloseEmpty : public ConformanceTest {};

TEST_F(ConformanceCloseEmpty, Autobahn7_3_1_EmptyCloseIsAnswered) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->sendFrame(op::kClose, ""));
  ReadResult r = client->readFrame();
  ASSERT_TRUE(r.ok() && r.frame.isClose()) << r.describe();
  EXPECT_TRUE(r.frame.payload.empty() || r.frame.closeCode() == kNormal) << r.describe();
  EXPECT_LE(r.frame.payload.size(), 125u);
  EXPECT_TRUE(client->waitEof(kCloseTcpWithin));
}

struct CodeCase {
  std::string id;
  uint16_t code;
};

void PrintTo(const CodeCase& c, std::ostream* os) {
  *os << c.id << " (" << c.code << ")";
}

std::string codeCaseName(const ::testing::TestParamInfo<CodeCase>& info) {
  return caseName(info.param.id) + "_code_" + std::to_string(info.param.code);
}

// 7.7.x: codes a peer may send are answered with the same code.
class ConformanceCloseValidCode : public ConformanceParamTest<CodeCase> {};

TEST_P(ConformanceCloseValidCode, IsEchoed) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  EXPECT_TRUE(closeIsEchoed(*client, GetParam().code));
}

INSTANTIATE_TEST_SUITE_P(
    Rfc6455, ConformanceCloseValidCode,
    ::testing::Values(CodeCase{"Autobahn 7.7.1", 1000}, CodeCase{"Autobahn 7.7.2", 1001},
                      CodeCase{"Autobahn 7.7.3", 1002}, CodeCase{"Autobahn 7.7.4", 1003},
                      CodeCase{"Autobahn 7.7.5", 1007}, CodeCase{"Autobahn 7.7.6", 1008},
                      CodeCase{"Autobahn 7.7.7", 1009}, CodeCase{"Autobahn 7.7.8", 1010},
                      CodeCase{"Autobahn 7.7.9", 1011}, CodeCase{"Autobahn 7.7.10", 3000},
                      CodeCase{"Autobahn 7.7.11", 3999}, CodeCase{"Autobahn 7.7.12", 4000},
                      CodeCase{"Autobahn 7.7.13", 4999}),
    codeCaseName);

// 7.9.x and 7.13.x: codes that are reserved, unassigned or out of range fail with 1002.
class ConformanceCloseInvalidCode : public ConformanceParamTest<CodeCase> {};

TEST_P(ConformanceCloseInvalidCode, FailsWithProtocolError) {
  auto client = openEcho();
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->sendClose(GetParam().code, "bad code"));
  EXPECT_TRUE(failsWith(*client, close_code::kProtocolError));
}

INSTANTIATE_TEST_SUITE_P(
    Rfc6455, ConformanceCloseInvalidCode,
    ::testing::Values(CodeCase{"Autobahn 7.9.1", 0}, CodeCase{"Autobahn 7.9.2", 999},
                      CodeCase{"Autobahn 7.9.3", 1004}, CodeCase{"Autobahn 7.9.4", 1005},
                      CodeCase{"Autobahn 7.9.5", 1006}, CodeCase{"Autobahn 7.9.6", 1016},
                      CodeCase{"Autobahn 7.9.7", 1100}, CodeCase{"Autobahn 7.9.8", 2000},
                      CodeCase{"Autobahn 7.9.9", 2999}, CodeCase{"Autobahn 7.13.1", 5000},
                      CodeCase{"Autobahn 7.13.2", 65535}),
    codeCaseName);

}  // namespace
}  // namespace ringcast::test
