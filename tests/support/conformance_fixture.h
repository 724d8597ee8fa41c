// ConformanceTest: the fixture of the RFC 6455 conformance suite (tests/conformance). Each
// test suite starts one echo server (SetUpTestSuite) and every test opens its own
// connections with WsClient. The helpers below phrase the checks the suite repeats: "the
// next frame is this echo", "the server fails the connection with this code", "a close with
// this code is answered in kind". All of them return AssertionResult so a test can wrap
// them in EXPECT_TRUE/ASSERT_TRUE and failures name what the server actually did.
//
// Thread safety: gtest's main thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_server.h"
#include "tests/support/ws_client.h"

namespace ringcast::test {

// The largest message the shared echo server accepts; section 9 goes right up to it.
inline constexpr size_t kMaxMessageBytes = size_t{16} << 20;
// How long the server may take to close TCP once the close handshake is over or it has failed
// the connection. Far below the server's 5 s close timeout, so waiting for that timeout
// (instead of closing) fails the test.
inline constexpr Millis kCloseTcpWithin{2000};

// The arguments every suite's echo server runs with.
std::vector<std::string> echoServerArgs();

class ConformanceTest : public ::testing::Test {
 public:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  // A connected client before any handshake; nullptr plus a test failure if it fails.
  static std::unique_ptr<WsClient> connectTo(uint16_t port);

 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts a server with extra arguments appended to echoServerArgs(), for tests that need
  // their own (shutdown, handshake timeout). nullptr plus a test failure if it does not start.
  static std::unique_ptr<TestServer> startServer(const std::vector<std::string>& extraArgs);
  // A connected client that completed the /echo handshake with a checked 101 response;
  // nullptr plus a test failure otherwise.
  static std::unique_ptr<WsClient> openEcho();
  static uint16_t port() { return server_ ? server_->port() : 0; }

  static std::unique_ptr<TestServer> server_;  // this suite's echo server
};

template <class Param>
class ConformanceParamTest : public ConformanceTest, public ::testing::WithParamInterface<Param> {};

// The 101 response is a correct acceptance of the client's key (RFC 6455 section 4.2.2).
::testing::AssertionResult isUpgrade(const HttpResponse& response, const std::string& key);
// r is one unfragmented frame with this opcode, no RSV bits and exactly this payload.
::testing::AssertionResult isFrame(const ReadResult& r, uint8_t opcode, std::string_view payload);
// The next frame is a close with `code`; the client answers with a close and the server then
// closes TCP within kCloseTcpWithin without sending anything else.
::testing::AssertionResult failsWith(WsClient& client, uint16_t code);
// The client sends close(code, reason); the server answers with a close carrying the same
// code and closes TCP within kCloseTcpWithin.
::testing::AssertionResult closeIsEchoed(WsClient& client, uint16_t code,
                                         std::string_view reason = {});
// After a close frame the client sent: the next frame is the server's close reply with
// `code`, then TCP EOF, and nothing in between.
::testing::AssertionResult closeReplyThenEof(WsClient& client, uint16_t code);

// One frame of a scripted exchange.
struct FrameSpec {
  uint8_t opcode = op::kText;
  std::string payload;
  bool fin = true;
  uint8_t rsv = 0;
};

// How the client writes a script: all frames in one write, one write per frame with a short
// pause between, or one byte per write (so every header field arrives in its own read).
enum class Delivery { kOneWrite, kPerFrame, kByteWise };

// What the server must do after sending the expected frames.
enum class Outcome {
  kStaysOpen,       // nothing more; the test then runs a clean 1000 close handshake
  kFails,           // close with closeCode, then TCP close after the client's reply
  kRepliesToClose,  // the script ended with the client's close: reply closeCode, then TCP close
};

// A table row for TEST_P: Autobahn case id (or RFC section), what to send, what must come back.
struct ScriptCase {
  std::string id;  // "Autobahn 5.15" or "RFC6455 5.1 unmasked"; becomes the test name
  std::vector<FrameSpec> send;
  Delivery delivery = Delivery::kOneWrite;
  std::vector<FrameSpec> expect;  // frames the server sends first, in this order
  Outcome outcome = Outcome::kStaysOpen;
  uint16_t closeCode = 0;  // for kFails and kRepliesToClose
};
void PrintTo(const ScriptCase& c, std::ostream* os);
// Test name for a ScriptCase: its id with every other character than [A-Za-z0-9] as '_'.
std::string scriptCaseName(const ::testing::TestParamInfo<ScriptCase>& info);
// Sends the script over client and checks the expected frames and the outcome.
::testing::AssertionResult runScript(WsClient& client, const ScriptCase& c);
// Writes already encoded frames as `how` says. False if a write failed (see client.error()).
bool deliver(WsClient& client, const std::vector<std::string>& frames, Delivery how);

// Writes bytes in 64 KiB pieces and stops early once the server has sent something (or
// closed), so a server that fails the connection mid-upload and stops reading never leaves
// the client blocked in a write. For uploads the server is expected to reject.
void sendUntilAnswered(WsClient& client, std::string_view bytes);

// Deterministic payloads. textOf(n) is valid UTF-8 of exactly n bytes mixing 1- to 4-byte
// characters, so fragment and chop boundaries fall inside characters; binaryOf(n) uses every
// byte value.
std::string textOf(size_t n);
std::string binaryOf(size_t n);
// Splits payload into fragments of fragmentSize bytes and encodes them as one message
// (first frame `opcode`, then continuations, FIN on the last).
std::string encodeFragmented(WsClient& client, uint8_t opcode, std::string_view payload,
                             size_t fragmentSize);
// A gtest-safe name: "Autobahn 6.4.1" -> "Autobahn_6_4_1".
std::string caseName(std::string_view id);

}  // namespace ringcast::test
