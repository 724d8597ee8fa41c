// Graceful shutdown on SIGTERM: every open WebSocket gets close 1001 (going away, RFC 6455
// section 7.4.1), whether it is idle or in the middle of a fragmented message, and the
// process exits with status 0 within a few seconds, also when a client never answers the
// close (the close timeout bounds the wait).
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/conformance_fixture.h"

namespace ringcast::test {
namespace {

// Short, so the client that never replies costs the test about one second.
constexpr const char* kCloseTimeoutFlag = "1s";
constexpr Millis kExitWithin{10000};

class ConformanceShutdown : public ConformanceTest {
 protected:
  static std::unique_ptr<WsClient> openOn(const TestServer& server) {
    auto client = connectTo(server.port());
    if (!client) return nullptr;
    auto upgraded = isUpgrade(client->handshake(), client->key());
    if (!upgraded) {
      ADD_FAILURE() << upgraded.message();
      return nullptr;
    }
    return client;
  }
};

TEST_F(ConformanceShutdown, SigtermSendsGoingAwayToEveryConnectionAndExitsZero) {
  auto server = startServer({"--close-timeout", kCloseTimeoutFlag});
  ASSERT_TRUE(server);
  auto idle = openOn(*server);
  auto midMessage = openOn(*server);
  auto silent = openOn(*server);
  ASSERT_TRUE(idle && midMessage && silent);
  // Each connection has been served once, so all three are fully registered before SIGTERM.
  for (WsClient* c : {idle.get(), midMessage.get(), silent.get()}) {
    ASSERT_TRUE(c->sendFrame(op::kPing, "ready"));
    ASSERT_TRUE(isFrame(c->readFrame(), op::kPong, "ready"));
  }
  ASSERT_TRUE(midMessage->sendFrame(op::kText, "first half", /*fin=*/false));

  ASSERT_TRUE(server->terminate());
  for (WsClient* c : {idle.get(), midMessage.get(), silent.get()}) {
    EXPECT_TRUE(c->expectClose(close_code::kGoingAway));
  }
  // Two clients complete the close handshake; the third never answers.
  for (WsClient* c : {idle.get(), midMessage.get()}) {
    c->sendClose(close_code::kGoingAway);
    EXPECT_TRUE(c->waitEof(kCloseTcpWithin));
  }
  idle.reset();
  midMessage.reset();
  ExitStatus st = server->waitExit(kExitWithin);
  EXPECT_TRUE(st.cleanExit()) << st.describe();
  EXPECT_TRUE(silent->waitEof(kCloseTcpWithin));
}

// The close is queued behind an echo that is still being written: the client first gets the
// whole 8 MiB frame, then the close (a close spliced into the frame or a dropped queue would
// break the stream).
TEST_F(ConformanceShutdown, SigtermDuringLargeEchoSendsCloseAfterTheFrame) {
  auto server = startServer({"--close-timeout", kCloseTimeoutFlag});
  ASSERT_TRUE(server);
  auto client = openOn(*server);
  ASSERT_TRUE(client);
  const std::string big = binaryOf(8 << 20);
  ASSERT_TRUE(client->sendBinary(big));
  ASSERT_TRUE(client->readable(WsClient::kIoTimeout)) << "the echo did not start";
  ASSERT_TRUE(server->terminate());
  EXPECT_TRUE(isFrame(client->readFrame(WsClient::kBulkTimeout), op::kBinary, big));
  EXPECT_TRUE(client->expectClose(close_code::kGoingAway));
  client->sendClose(close_code::kGoingAway);
  EXPECT_TRUE(client->waitEof(kCloseTcpWithin));
  client.reset();  // the server need not wait for this side's FIN
  ExitStatus st = server->waitExit(kExitWithin);
  EXPECT_TRUE(st.cleanExit()) << st.describe();
}

// A connection still in its opening handshake is not a WebSocket yet; SIGTERM closes it
// (with or without an HTTP error first) and the process still exits 0.
TEST_F(ConformanceShutdown, SigtermClosesConnectionsStillInHandshake) {
  auto server = startServer({"--close-timeout", kCloseTimeoutFlag});
  ASSERT_TRUE(server);
  auto partial = connectTo(server->port());
  ASSERT_TRUE(partial);
  ASSERT_TRUE(partial->sendRaw("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  // A served WebSocket proves the server is in its loop and has read the partial request.
  auto ws = openOn(*server);
  ASSERT_TRUE(ws);
  ASSERT_TRUE(server->terminate());
  EXPECT_TRUE(ws->expectClose(close_code::kGoingAway));
  ws->sendClose(close_code::kGoingAway);
  EXPECT_TRUE(ws->waitEof(kCloseTcpWithin));
  ws.reset();
  HttpResponse r = partial->readHttpResponse(kExitWithin);
  if (r.complete) {
    EXPECT_NE(r.status, 101);
    EXPECT_TRUE(partial->waitEof(kCloseTcpWithin));
  } else {
    EXPECT_TRUE(r.closedEarly) << r.error;
  }
  ExitStatus st = server->waitExit(kExitWithin);
  EXPECT_TRUE(st.cleanExit()) << st.describe();
}

TEST_F(ConformanceShutdown, SigtermWithoutConnectionsExitsZero) {
  auto server = startServer({});
  ASSERT_TRUE(server);
  ASSERT_TRUE(server->terminate());
  ExitStatus st = server->waitExit(kExitWithin);
  EXPECT_TRUE(st.cleanExit()) << st.describe();
}

}  // namespace
}  // namespace ringcast::test
