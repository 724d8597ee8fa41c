#include "tests/support/conformance_fixture.h"

#include <algorithm>
#include <cctype>
#include <thread>

namespace ringcast::test {
namespace {

// Filled into textOf() payloads in turn: 1-, 2-, 3- and 4-byte UTF-8 characters.
constexpr std::string_view kTextPieces[] = {"ringcast ",
                                            "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 ",
                                            "\xe2\x82\xac ", "\xf0\x9d\x84\x9e ", "\xef\xbf\xbd|"};

// Pause between frames for Delivery::kPerFrame: long enough that the server reads each frame
// in its own wakeup, short enough for scripts of a dozen frames.
constexpr Millis kPerFramePause{5};
// Piece size for sendUntilAnswered(): small enough to notice an early close promptly.
constexpr size_t kUploadPieceBytes = 64 << 10;

}  // namespace

std::unique_ptr<TestServer> ConformanceTest::server_;

std::vector<std::string> echoServerArgs() {
  return {"--echo",       "--dev", "--listen",           "127.0.0.1:0",
          "--threads",    "1",     "--max-message-size", "16MiB",
          "--max-outbuf", "16MiB"};
}

void ConformanceTest::SetUpTestSuite() {
  server_ = startServer({});
}

void ConformanceTest::TearDownTestSuite() {
  if (!server_) return;
  ExitStatus st = server_->stop();
  EXPECT_TRUE(st.cleanExit()) << "echo server on SIGTERM: " << st.describe();
  server_.reset();
}

void ConformanceTest::SetUp() {
  // A server that died in an earlier test is replaced, so one crash fails one test only. A
  // server that never started is not retried: SetUpTestSuite already reported why.
  ASSERT_NE(server_, nullptr) << "this suite's echo server did not start";
  if (!server_->running()) {
    ADD_FAILURE() << "the echo server had exited before this test: " << server_->stop().describe();
    server_ = startServer({});
    ASSERT_NE(server_, nullptr);
  }
}

void ConformanceTest::TearDown() {
  if (server_) {
    EXPECT_TRUE(server_->running()) << "the echo server exited during this test";
  }
}

std::unique_ptr<TestServer> ConformanceTest::startServer(
    const std::vector<std::string>& extraArgs) {
  std::vector<std::string> args = echoServerArgs();
  args.insert(args.end(), extraArgs.begin(), extraArgs.end());
  std::string error;
  auto server = TestServer::start(RINGCAST_BIN, args, &error);
  if (!server) ADD_FAILURE() << "starting the server failed: " << error;
  return server;
}

std::unique_ptr<WsClient> ConformanceTest::connectTo(uint16_t port) {
  auto client = std::make_unique<WsClient>();
  if (!client->connect(port)) {
    ADD_FAILURE() << "connecting to port " << port << ": " << client->error();
    return nullptr;
  }
  return client;
}

std::unique_ptr<WsClient> ConformanceTest::openEcho() {
  auto client = connectTo(port());
  if (!client) return nullptr;
  HttpResponse response = client->handshake("/echo");
  auto upgraded = isUpgrade(response, client->key());
  if (!upgraded) {
    ADD_FAILURE() << "opening handshake: " << upgraded.message();
    return nullptr;
  }
  return client;
}

::testing::AssertionResult isUpgrade(const HttpResponse& response, const std::string& key) {
  if (!response.complete) {
    return ::testing::AssertionFailure() << "no complete HTTP response: " << response.error;
  }
  if (response.status != 101) {
    return ::testing::AssertionFailure()
           << "status " << response.status << " " << response.reason << " instead of 101";
  }
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  auto upgrade = response.header("Upgrade");
  if (!upgrade || lower(*upgrade) != "websocket") {
    return ::testing::AssertionFailure() << "101 without `Upgrade: websocket`";
  }
  auto connection = response.header("Connection");
  if (!connection || lower(*connection).find("upgrade") == std::string::npos) {
    return ::testing::AssertionFailure() << "101 without the `Upgrade` token in Connection";
  }
  auto accept = response.header("Sec-WebSocket-Accept");
  if (!accept || *accept != acceptKeyFor(key)) {
    return ::testing::AssertionFailure()
           << "Sec-WebSocket-Accept is \"" << accept.value_or("(missing)") << "\", expected \""
           << acceptKeyFor(key) << "\" for key \"" << key << "\"";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult isFrame(const ReadResult& r, uint8_t opcode, std::string_view payload) {
  if (!r.ok()) {
    return ::testing::AssertionFailure()
           << "expected a frame with opcode " << int{opcode} << " and " << payload.size()
           << " bytes, got " << r.describe();
  }
  if (r.frame.opcode != opcode || !r.frame.fin || r.frame.rsv != 0) {
    return ::testing::AssertionFailure() << "expected one unfragmented frame with opcode "
                                         << int{opcode} << ", got " << r.describe();
  }
  return samePayload(payload, r.frame.payload);
}

::testing::AssertionResult failsWith(WsClient& client, uint16_t code) {
  auto closed = client.expectClose(code);
  if (!closed) return closed;
  // The peer may already have closed TCP; a failed send changes nothing below.
  client.sendClose(close_code::kNormal);
  auto eof = client.waitEof(kCloseTcpWithin);
  if (!eof) return ::testing::AssertionFailure() << "after close " << code << ": " << eof.message();
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult closeReplyThenEof(WsClient& client, uint16_t code) {
  auto replied = client.expectClose(code);
  if (!replied) return ::testing::AssertionFailure() << "close reply: " << replied.message();
  auto eof = client.waitEof(kCloseTcpWithin);
  if (!eof) return ::testing::AssertionFailure() << "after the close reply: " << eof.message();
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult closeIsEchoed(WsClient& client, uint16_t code, std::string_view reason) {
  if (!client.sendClose(code, reason)) {
    return ::testing::AssertionFailure() << "sending close " << code << ": " << client.error();
  }
  return closeReplyThenEof(client, code);
}

void sendUntilAnswered(WsClient& client, std::string_view bytes) {
  for (size_t off = 0; off < bytes.size() && !client.readable(); off += kUploadPieceBytes) {
    if (!client.sendRaw(bytes.substr(off, kUploadPieceBytes), 0, Millis{0}, WsClient::kIoTimeout)) {
      return;
    }
  }
}

std::string textOf(size_t n) {
  std::string s;
  s.reserve(n);
  for (size_t i = 0;; ++i) {
    std::string_view piece = kTextPieces[i % std::size(kTextPieces)];
    if (s.size() + piece.size() > n) break;
    s.append(piece);
  }
  s.append(n - s.size(), '.');
  return s;
}

std::string binaryOf(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + (i >> 8) + 7) & 0xFF);
  return s;
}

std::string encodeFragmented(WsClient& client, uint8_t opcode, std::string_view payload,
                             size_t fragmentSize) {
  std::string out;
  out.reserve(payload.size() + (payload.size() / fragmentSize + 1) * 14);
  size_t off = 0;
  do {
    size_t n = std::min(fragmentSize, payload.size() - off);
    bool last = off + n == payload.size();
    out += encodeFrame(off == 0 ? opcode : op::kContinuation, payload.substr(off, n), last, 0, true,
                       client.nextMaskKey());
    off += n;
  } while (off < payload.size());
  return out;
}

std::string caseName(std::string_view id) {
  std::string s(id);
  for (char& ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return s;
}

void PrintTo(const ScriptCase& c, std::ostream* os) {
  *os << c.id;
}

std::string scriptCaseName(const ::testing::TestParamInfo<ScriptCase>& info) {
  return caseName(info.param.id);
}

bool deliver(WsClient& client, const std::vector<std::string>& frames, Delivery how) {
  switch (how) {
    case Delivery::kOneWrite: {
      std::string all;
      for (const auto& f : frames) all += f;
      return client.sendRaw(all);
    }
    case Delivery::kPerFrame:
      for (size_t i = 0; i < frames.size(); ++i) {
        if (i > 0) std::this_thread::sleep_for(kPerFramePause);
        if (!client.sendRaw(frames[i])) return false;
      }
      return true;
    case Delivery::kByteWise:
      for (const auto& f : frames) {
        if (!client.sendRaw(f, 1)) return false;
      }
      return true;
  }
  return false;
}

::testing::AssertionResult runScript(WsClient& client, const ScriptCase& c) {
  std::vector<std::string> frames;
  for (const auto& f : c.send) {
    frames.push_back(encodeFrame(f.opcode, f.payload, f.fin, f.rsv, true, client.nextMaskKey()));
  }
  // After a violation the server may close while the rest is still being written, so a
  // failed write only matters when the server is meant to read everything.
  if (!deliver(client, frames, c.delivery) && c.outcome != Outcome::kFails) {
    return ::testing::AssertionFailure() << "sending the frames failed: " << client.error();
  }
  for (size_t i = 0; i < c.expect.size(); ++i) {
    const FrameSpec& want = c.expect[i];
    auto got = isFrame(client.readFrame(WsClient::kBulkTimeout), want.opcode, want.payload);
    if (!got) {
      return ::testing::AssertionFailure()
             << "expected server frame #" << i + 1 << ": " << got.message();
    }
  }
  switch (c.outcome) {
    case Outcome::kStaysOpen:
      return closeIsEchoed(client, close_code::kNormal);
    case Outcome::kFails:
      return failsWith(client, c.closeCode);
    case Outcome::kRepliesToClose:
      return closeReplyThenEof(client, c.closeCode);
  }
  return ::testing::AssertionFailure() << "unknown outcome";
}

}  // namespace ringcast::test
