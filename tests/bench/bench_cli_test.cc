// ringcast-bench as a user runs it: help, failure reports and the echo and idle modes
// against a real `ringcast --echo` on loopback.
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/bench/bench_process.h"
#include "tests/support/test_certificate.h"
#include "tests/support/test_server.h"

namespace ringcast::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Every listener on a free port, so tests may run side by side.
const std::vector<std::string> kEchoServerArgs = {"--echo",           "--dev",
                                                  "--listen",         "127.0.0.1:0",
                                                  "--api-listen",     "127.0.0.1:0",
                                                  "--publish-listen", "127.0.0.1:0",
                                                  "--threads",        "1"};

std::unique_ptr<TestServer> startEchoServer() {
  std::string error;
  auto server = TestServer::start(RINGCAST_BIN, kEchoServerArgs, &error);
  EXPECT_NE(server, nullptr) << error;
  return server;
}

std::string echoUrl(const TestServer& s, const char* path = "/echo") {
  return "ws://127.0.0.1:" + std::to_string(s.port()) + path;
}

TEST(BenchCliTest, HelpExplainsEveryMode) {
  BenchRun top = runBench({"--help"});
  EXPECT_EQ(top.exitCode, 0);
  for (const char* mode : {"echo", "idle", "handshake", "fanout"}) {
    EXPECT_NE(top.out.find(mode), std::string::npos) << mode;
    BenchRun sub = runBench({mode, "--help"});
    EXPECT_EQ(sub.exitCode, 0) << mode;
    for (const char* common :
         {"--url", "--src", "--procs", "--threads", "--json", "--server-pid"}) {
      EXPECT_NE(sub.out.find(common), std::string::npos) << mode << " lacks " << common;
    }
  }
  BenchRun fanout = runBench({"fanout", "--help"});
  for (const char* opt : {"--first-message", "--publish-url", "--publish-ws", "--publish-body",
                          "--publish-conns", "--publish-inflight", "--rate", "{marker}"}) {
    EXPECT_NE(fanout.out.find(opt), std::string::npos) << opt;
  }
}

TEST(BenchCliTest, BadCommandLinesExitTwoWithAReason) {
  BenchRun noMode = runBench({});
  EXPECT_EQ(noMode.exitCode, 2);
  BenchRun badUrl = runBench({"echo", "--url", "http://127.0.0.1:1/echo"});
  EXPECT_EQ(badUrl.exitCode, 2);
  EXPECT_NE(badUrl.err.find("ws://"), std::string::npos) << badUrl.err;
  BenchRun badSize = runBench({"echo", "--url", "ws://127.0.0.1:1/", "--size", "lots"});
  EXPECT_EQ(badSize.exitCode, 2);
  EXPECT_NE(badSize.err.find("--size"), std::string::npos) << badSize.err;
  BenchRun badNice = runBench({"fanout", "--url", "ws://127.0.0.1:1/", "--publish-url",
                               "http://127.0.0.1:1/api/publish", "--reader-nice", "20"});
  EXPECT_EQ(badNice.exitCode, 2);
  EXPECT_NE(badNice.err.find("--reader-nice"), std::string::npos) << badNice.err;
  BenchRun noPublisher = runBench({"fanout", "--url", "ws://127.0.0.1:1/"});
  EXPECT_EQ(noPublisher.exitCode, 2);
  EXPECT_NE(noPublisher.err.find("--publish-url"), std::string::npos) << noPublisher.err;
}

TEST(BenchCliTest, RefusedConnectionsEndTheRunQuicklyWithAClearMessage) {
  BenchRun run = runBench({"echo", "--url", "ws://127.0.0.1:1/echo", "--conns", "50"}, seconds(20));
  EXPECT_EQ(run.exitCode, 1) << run.out << run.err;
  EXPECT_LT(run.elapsed, seconds(5));
  EXPECT_NE(run.err.find("connection refused"), std::string::npos) << run.err;
  EXPECT_NE(run.out.find("refused"), std::string::npos) << run.out;
}

TEST(BenchCliTest, RefusedHandshakeReportsItsStatus) {
  auto server = startEchoServer();
  ASSERT_NE(server, nullptr);
  // No endpoint at this path: 404.
  BenchRun notFound = runBench({"echo", "--url", echoUrl(*server, "/nowhere"), "--conns", "4"});
  EXPECT_EQ(notFound.exitCode, 1) << notFound.out << notFound.err;
  EXPECT_LT(notFound.elapsed, seconds(5));
  EXPECT_NE(notFound.err.find("HTTP 404"), std::string::npos) << notFound.err;
  EXPECT_NE(notFound.out.find("HTTP 404 x4"), std::string::npos) << notFound.out;
  // A repeated Sec-WebSocket-Version is refused with 426.
  BenchRun upgradeRequired = runBench({"idle", "--url", echoUrl(*server), "--conns", "2",
                                       "--header", "Sec-WebSocket-Version: 12", "--hold", "1s"});
  EXPECT_EQ(upgradeRequired.exitCode, 1) << upgradeRequired.out << upgradeRequired.err;
  EXPECT_NE(upgradeRequired.err.find("HTTP 426"), std::string::npos) << upgradeRequired.err;
  // The handshake mode gives up as quickly.
  BenchRun handshake = runBench(
      {"handshake", "--url", echoUrl(*server, "/nowhere"), "--duration", "30s"}, seconds(20));
  EXPECT_EQ(handshake.exitCode, 1) << handshake.out << handshake.err;
  EXPECT_LT(handshake.elapsed, seconds(5));
  EXPECT_NE(handshake.err.find("HTTP 404"), std::string::npos) << handshake.err;
}

TEST(BenchCliTest, EchoMeasuresRoundTripsAgainstRingcast) {
  auto server = startEchoServer();
  ASSERT_NE(server, nullptr);
  const std::string json = ::testing::TempDir() + "bench_echo.json";
  BenchRun run =
      runBench({"echo", "--url", echoUrl(*server), "--conns", "8", "--inflight", "2", "--size",
                "1KiB", "--duration", "1s", "--threads", "2", "--server-pid",
                // The server, and this test's own process: several pids are each
                // reported, and summed.
                std::to_string(server->pid()) + "," + std::to_string(::getpid()), "--json", json});
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("round-trip latency: p50"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("server pid"), std::string::npos) << run.out;
  const std::string j = readFile(json);
  EXPECT_EQ(jsonNumber(j, "opened"), 8) << j;
  EXPECT_GT(jsonNumber(j, "round_trips"), 100) << j;
  EXPECT_EQ(jsonNumber(j, "bad_echoes"), 0) << j;
  EXPECT_EQ(jsonNumber(j, "failed"), 0) << j;
  EXPECT_NE(j.find("\"p99.9\":"), std::string::npos) << j;
  EXPECT_NE(j.find("\"server_window\":"), std::string::npos) << j;
  EXPECT_NE(j.find("\"servers\":[{\"pid\":" + std::to_string(server->pid())), std::string::npos)
      << j;
  EXPECT_NE(j.find("{\"pid\":" + std::to_string(::getpid()) + ","), std::string::npos) << j;
  EXPECT_NE(run.out.find("servers together"), std::string::npos) << run.out;
  EXPECT_TRUE(server->running());
}

TEST(BenchCliTest, EchoSplitsConnectionsOverProcessesAndSources) {
  auto server = startEchoServer();
  ASSERT_NE(server, nullptr);
  const std::string json = ::testing::TempDir() + "bench_echo_procs.json";
  BenchRun run =
      runBench({"echo", "--url", echoUrl(*server), "--conns", "9", "--procs", "3", "--src",
                "127.0.0.1-127.0.0.3", "--ramp", "200", "--duration", "500ms", "--json", json});
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  const std::string j = readFile(json);
  EXPECT_EQ(jsonNumber(j, "opened"), 9) << j;
  EXPECT_GT(jsonNumber(j, "round_trips"), 0) << j;
}

TEST(BenchCliTest, IdleHoldsConnectionsAndAnswersPings) {
  std::string error;
  // Ping every 300 ms; drop a client that has not answered within 2 s.
  std::vector<std::string> args = kEchoServerArgs;
  args.insert(args.end(), {"--ping-interval", "300ms", "--pong-timeout", "2s"});
  auto server = TestServer::start(RINGCAST_BIN, args, &error);
  ASSERT_NE(server, nullptr) << error;
  const std::string json = ::testing::TempDir() + "bench_idle.json";
  const std::string ready = ::testing::TempDir() + "bench_idle.ready";
  std::remove(ready.c_str());
  BenchRun run = runBench({"idle", "--url", echoUrl(*server), "--conns", "200", "--hold", "1500ms",
                           "--ready-file", ready, "--json", json});
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("holding 200 connections"), std::string::npos) << run.out;
  EXPECT_EQ(readFile(ready), "200\n");
  const std::string j = readFile(json);
  EXPECT_EQ(jsonNumber(j, "held"), 200) << j;
  EXPECT_EQ(jsonNumber(j, "lost"), 0) << j;
  EXPECT_GE(jsonNumber(j, "pings_answered"), 200) << j;
}

TEST(BenchCliTest, HandshakeModeCountsCycles) {
  auto server = startEchoServer();
  ASSERT_NE(server, nullptr);
  const std::string json = ::testing::TempDir() + "bench_handshake.json";
  BenchRun run = runBench({"handshake", "--url", echoUrl(*server), "--rate", "200", "--duration",
                           "1s", "--json", json});
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  const std::string j = readFile(json);
  const long long cycles = jsonNumber(j, "cycles");
  // Paced: never above the rate (a loaded machine may fall short of it).
  EXPECT_GT(cycles, 50) << j;
  const double window = std::stod(j.substr(j.find("\"window_seconds\":") + 17));
  EXPECT_LE(cycles, 200 * window + 5) << j;  // + phase messages crossing the pipes
  EXPECT_EQ(jsonNumber(j, "failed"), 0) << j;
}

TEST(BenchCliTest, EchoAndHandshakeOverTls) {
  std::vector<std::string> args = kEchoServerArgs;
  args.insert(args.end(),
              {"--tls-cert", testCertificate().certFile, "--tls-key", testCertificate().keyFile});
  std::string error;
  auto server = TestServer::start(RINGCAST_BIN, args, &error);
  ASSERT_NE(server, nullptr) << error;
  const std::string url = "wss://127.0.0.1:" + std::to_string(server->port()) + "/echo";
  const std::string json = ::testing::TempDir() + "bench_echo_tls.json";
  BenchRun echo = runBench({"echo", "--url", url, "--conns", "8", "--inflight", "4", "--size",
                            "20KiB", "--duration", "1s", "--threads", "2", "--json", json});
  ASSERT_EQ(echo.exitCode, 0) << echo.out << echo.err;
  std::string j = readFile(json);
  EXPECT_EQ(jsonNumber(j, "opened"), 8) << j;
  EXPECT_GT(jsonNumber(j, "round_trips"), 50) << j;
  EXPECT_EQ(jsonNumber(j, "bad_echoes"), 0) << j;
  EXPECT_EQ(jsonNumber(j, "failed"), 0) << j;
  BenchRun handshake = runBench({"handshake", "--url", url, "--rate", "100", "--duration", "1s",
                                 "--insecure", "--json", json});
  ASSERT_EQ(handshake.exitCode, 0) << handshake.out << handshake.err;
  j = readFile(json);
  EXPECT_GT(jsonNumber(j, "cycles"), 20) << j;
  EXPECT_EQ(jsonNumber(j, "failed"), 0) << j;
  // The same server refuses a plain ws:// client at the TLS handshake.
  BenchRun plain =
      runBench({"echo", "--url", "ws://127.0.0.1:" + std::to_string(server->port()) + "/echo",
                "--conns", "2", "--duration", "1s"});
  EXPECT_NE(plain.exitCode, 0) << plain.out << plain.err;
  EXPECT_TRUE(server->running());
}

}  // namespace
}  // namespace ringcast::test
