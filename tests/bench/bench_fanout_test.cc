// ringcast-bench fanout against a real ringcast gateway (the push endpoint /ws and the HTTP
// publish API): a fixed message count is delivered exactly once to every subscriber across
// two loops, and stalled subscribers meet the server's slow-consumer policy without costing
// the others a message.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/bench/bench_process.h"
#include "tests/support/push_client.h"
#include "tests/support/test_certificate.h"
#include "tests/support/test_server.h"

namespace ringcast::test {
namespace {

using std::chrono::seconds;

// tls: the public listener speaks TLS (wss://) with the test certificate.
std::unique_ptr<TestServer> startGateway(std::vector<std::string> extra, bool tls = false) {
  std::vector<std::string> args = {
      "--listen",  "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--publish-listen", "127.0.0.1:0",
      "--threads", "2",           "--dev"};
  if (tls) {
    args.insert(args.end(),
                {"--tls-cert", testCertificate().certFile, "--tls-key", testCertificate().keyFile});
  }
  args.insert(args.end(), extra.begin(), extra.end());
  std::string error;
  auto server = TestServer::start(RINGCAST_BIN, args, &error);
  EXPECT_NE(server, nullptr) << error;
  return server;
}

// The part of the JSON report from `key` on, so that a key that also appears earlier
// (e.g. "subscribed") is read where it belongs.
std::string section(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\":");
  return at == std::string::npos ? std::string() : json.substr(at);
}

BenchRun runFanout(TestServer& server, std::vector<std::string> extra, const std::string& json,
                   bool tls = false) {
  std::vector<std::string> args = {
      "fanout",
      "--url",
      (tls ? "wss://127.0.0.1:" : "ws://127.0.0.1:") + std::to_string(server.port()) +
          "/ws?user=bench",
      "--channel",
      "news",
      "--publish-url",
      "http://127.0.0.1:" + std::to_string(server.apiPort()) + "/api/publish",
      "--threads",
      "2",
      "--duration",
      "20s",
      "--json",
      json,
      "--server-pid",
      std::to_string(server.pid())};
  args.insert(args.end(), extra.begin(), extra.end());
  return runBench(args, seconds(60));
}

TEST(BenchFanoutTest, EveryMessageOfAFixedCountReachesEverySubscriberOnceInOrder) {
  auto server = startGateway({});
  ASSERT_NE(server, nullptr);
  const std::string json = ::testing::TempDir() + "bench_fanout_count.json";
  BenchRun run = runFanout(*server, {"--conns", "40", "--messages", "500"}, json);
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  const std::string j = readFile(json);
  EXPECT_EQ(jsonNumber(j, "published"), 500) << j;
  EXPECT_EQ(jsonNumber(j, "acked"), 500) << j;
  EXPECT_EQ(jsonNumber(j, "subscribers"), 40) << j;
  EXPECT_EQ(jsonNumber(j, "expected"), 40 * 500) << j;
  EXPECT_EQ(jsonNumber(j, "unique"), 40 * 500) << j;
  EXPECT_EQ(jsonNumber(j, "lost"), 0) << j;
  EXPECT_EQ(jsonNumber(j, "duplicated"), 0) << j;
  EXPECT_EQ(jsonNumber(j, "out_of_order"), 0) << j;
  EXPECT_TRUE(server->running());
}

// --compression: every subscriber negotiates permessage-deflate, inflates what the server
// compressed once per message, loses nothing, and far fewer bytes cross the wire than
// without it (2 KiB messages whose padding compresses well); against a server with
// --compression off nobody negotiates and the bytes are the plain ones.
TEST(BenchFanoutTest, CompressionIsNegotiatedInflatedAndShrinksTheWire) {
  constexpr int kConns = 20, kMessages = 200, kSize = 2048;
  uint64_t wire[2] = {};
  for (int on = 0; on < 2; ++on) {
    // Two loops: the publisher compresses before the message enters the ring, so neither
    // loop finds it half built (and sends it plain).
    auto server = startGateway({"--compression", on ? "on" : "off"});
    ASSERT_NE(server, nullptr);
    const std::string json = ::testing::TempDir() + "bench_fanout_deflate.json";
    BenchRun run = runFanout(*server,
                             {"--conns", std::to_string(kConns), "--messages",
                              std::to_string(kMessages), "--size", "2KiB", "--compression"},
                             json);
    ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
    const std::string j = readFile(json);
    EXPECT_EQ(jsonNumber(j, "compressed"), on ? kConns : 0) << j;
    EXPECT_EQ(jsonNumber(j, "unique"), kConns * kMessages) << j;
    EXPECT_EQ(jsonNumber(j, "lost"), 0) << j;
    EXPECT_EQ(jsonNumber(j, "duplicated"), 0) << j;
    wire[on] = static_cast<uint64_t>(jsonNumber(j, "bytes_received"));
    // Each message was compressed once, and every delivery went out compressed.
    const std::string metrics = ApiClient(server->apiPort()).get("/metrics").body;
    auto metric = [&metrics](const std::string& name) {
      const size_t at = metrics.find("\nringcast_" + name + " ");
      return at == std::string::npos ? -1 : std::atoll(metrics.c_str() + at + name.size() + 11);
    };
    EXPECT_EQ(metric("deflate_messages_compressed_total"), on ? kMessages : 0) << metrics;
    EXPECT_EQ(metric("deflate_deliveries_total"), on ? kConns * kMessages : 0) << metrics;
  }
  EXPECT_GT(wire[0], uint64_t{kConns} * kMessages * kSize) << "plain messages come whole";
  EXPECT_LT(wire[1] * 4, wire[0]) << "compressed: " << wire[1] << " B, plain: " << wire[0] << " B";
}

// 3,000 messages of 4 KiB (12 MiB) for each subscriber, a 64 KiB bound: a subscriber that
// never reads passes the bound once the socket buffers (a few MiB on loopback) are full.
TEST(BenchFanoutTest, StalledSubscribersAreCutOffAndTheOthersLoseNothing) {
  auto server = startGateway(
      {"--max-outbuf", "64KiB", "--max-message-size", "64KiB", "--slow-consumer", "disconnect"});
  ASSERT_NE(server, nullptr);
  const std::string json = ::testing::TempDir() + "bench_fanout_stalled.json";
  BenchRun run = runFanout(
      *server, {"--conns", "12", "--stalled", "2", "--messages", "3000", "--size", "4KiB"}, json);
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  const std::string j = readFile(json);
  EXPECT_EQ(jsonNumber(j, "subscribers"), 10) << j;
  EXPECT_EQ(jsonNumber(j, "expected"), 10 * 3000) << j;
  EXPECT_EQ(jsonNumber(j, "lost"), 0) << j;
  EXPECT_EQ(jsonNumber(j, "duplicated"), 0) << j;
  const std::string stalled = section(j, "stalled");
  EXPECT_EQ(jsonNumber(stalled, "subscribed"), 2) << j;
  EXPECT_EQ(jsonNumber(stalled, "cut_off_with_close_frame") +
                jsonNumber(stalled, "cut_off_without_close_frame"),
            2)
      << j;
  EXPECT_EQ(jsonNumber(stalled, "still_subscribed"), 0) << j;
  // They read at most what fitted in the socket buffers and the bound, never all 3,000.
  EXPECT_LT(jsonNumber(stalled, "messages_read"), 2 * 3000) << j;
  EXPECT_NE(run.out.find("cut off by the server: "), std::string::npos) << run.out;
  EXPECT_TRUE(server->running());
}

TEST(BenchFanoutTest, DropOldestKeepsStalledSubscribersAndTheOthersLoseNothing) {
  auto server = startGateway(
      {"--max-outbuf", "64KiB", "--max-message-size", "64KiB", "--slow-consumer", "drop-oldest"});
  ASSERT_NE(server, nullptr);
  const std::string json = ::testing::TempDir() + "bench_fanout_drop_oldest.json";
  BenchRun run = runFanout(
      *server, {"--conns", "12", "--stalled", "2", "--messages", "3000", "--size", "4KiB"}, json);
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  const std::string j = readFile(json);
  EXPECT_EQ(jsonNumber(j, "expected"), 10 * 3000) << j;
  EXPECT_EQ(jsonNumber(j, "lost"), 0) << j;
  const std::string stalled = section(j, "stalled");
  EXPECT_EQ(jsonNumber(stalled, "still_subscribed"), 2) << j;
  // What reached them is what the bound let through, not every message.
  const long long read = jsonNumber(stalled, "messages_read");
  EXPECT_GT(read, 0) << j;
  EXPECT_LT(read, 2 * 3000) << j;
}

// Over wss://: each subscriber's batch is gathered into TLS records; a stalled subscriber's
// socket fills while OpenSSL holds a sealed record, and dropping its oldest queued messages
// must not cut the TLS stream (the others, and the stalled ones, read valid frames).
TEST(BenchFanoutTest, OverTlsEveryMessageArrivesAndDropOldestKeepsTheStreamIntact) {
  auto server = startGateway(
      {"--max-outbuf", "64KiB", "--max-message-size", "64KiB", "--slow-consumer", "drop-oldest"},
      true);
  ASSERT_NE(server, nullptr);
  const std::string json = ::testing::TempDir() + "bench_fanout_tls.json";
  BenchRun run = runFanout(
      *server, {"--conns", "12", "--stalled", "2", "--messages", "3000", "--size", "4KiB"}, json,
      true);
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  const std::string j = readFile(json);
  EXPECT_EQ(jsonNumber(j, "expected"), 10 * 3000) << j;
  EXPECT_EQ(jsonNumber(j, "unique"), 10 * 3000) << j;
  EXPECT_EQ(jsonNumber(j, "lost"), 0) << j;
  EXPECT_EQ(jsonNumber(j, "out_of_order"), 0) << j;
  const std::string stalled = section(j, "stalled");
  EXPECT_EQ(jsonNumber(stalled, "still_subscribed"), 2) << j;
  EXPECT_GT(jsonNumber(stalled, "messages_read"), 0) << j;
  EXPECT_TRUE(server->running());
}

TEST(BenchFanoutTest, StalledMustLeaveSomeoneReading) {
  BenchRun run = runBench({"fanout", "--url", "ws://127.0.0.1:1/ws", "--channel", "news", "--conns",
                           "3", "--stalled", "3"});
  EXPECT_EQ(run.exitCode, 2);
  EXPECT_NE(run.err.find("--stalled must be less than --conns"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace ringcast::test
