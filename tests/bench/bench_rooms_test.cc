// ringcast-bench fanout's chat workload against a real ringcast gateway: subscribers spread
// over many channels (--channels), publishes spread uniformly or by Zipf (--zipf), the TCP
// publish protocol (--publish-tcp) held to what subscribers read (--delivery-window), and
// --reconnect across a server-side disconnect of every subscriber (POST /api/disconnect), recovered
// with since: loss, duplicates and order are checked per channel end to end.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/bench/bench_process.h"
#include "tests/support/push_client.h"
#include "tests/support/test_server.h"

namespace ringcast::test {
namespace {

using std::chrono::seconds;

std::unique_ptr<TestServer> startGateway() {
  std::string error;
  auto server = TestServer::start(RINGCAST_BIN,
                                  {"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
                                   "--publish-listen", "127.0.0.1:0", "--threads", "2", "--dev"},
                                  &error);
  EXPECT_NE(server, nullptr) << error;
  return server;
}

std::vector<std::string> roomsArgs(TestServer& server, const std::string& json) {
  return {
      "fanout",    "--url",  "ws://127.0.0.1:" + std::to_string(server.port()) + "/ws?user=bench",
      "--channel", "room:",  "--threads",
      "2",         "--json", json};
}

std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string httpPublish(TestServer& server) {
  return "--publish-url=http://127.0.0.1:" + std::to_string(server.apiPort()) + "/api/publish";
}

void expectExact(const std::string& j, long long subscribersPerChannel, long long messages) {
  EXPECT_EQ(jsonNumber(j, "expected"), subscribersPerChannel * messages) << j;
  EXPECT_EQ(jsonNumber(j, "unique"), subscribersPerChannel * messages) << j;
  EXPECT_EQ(jsonNumber(j, "delivered"), subscribersPerChannel * messages) << j;
  EXPECT_EQ(jsonNumber(j, "lost"), 0) << j;
  EXPECT_EQ(jsonNumber(j, "duplicated"), 0) << j;
  EXPECT_EQ(jsonNumber(j, "out_of_order"), 0) << j;
  EXPECT_EQ(jsonNumber(j, "wrong_channel"), 0) << j;
}

// 60 subscribers in 6 rooms of 10, 600 messages over 2 publishers: each message reaches
// exactly the 10 subscribers of its room, once, in order per room and publisher.
TEST(BenchRoomsTest, ChannelsSpreadSubscribersAndEachRoomGetsOnlyItsOwnMessages) {
  auto server = startGateway();
  ASSERT_NE(server, nullptr);
  const std::string json = ::testing::TempDir() + "bench_rooms_uniform.json";
  BenchRun run = runBench(plus(roomsArgs(*server, json),
                               {"--conns", "60", "--channels", "6", "--messages", "600",
                                "--duration", "20s", "--publish-conns", "2", httpPublish(*server)}),
                          seconds(60));
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  const std::string j = readFile(json);
  EXPECT_EQ(jsonNumber(j, "channels"), 6) << j;
  EXPECT_EQ(jsonNumber(j, "acked"), 600) << j;
  expectExact(j, 10, 600);
  EXPECT_NE(run.out.find("over 6 channels (room:0 .. room:5)"), std::string::npos) << run.out;
}

// --reader-nice: the subscriber worker processes run at that nice value (read back from the
// workers, not echoed from the option, and named in the text report); a default run leaves
// them alone. Nothing is lost either way.
TEST(BenchRoomsTest, ReaderNiceReachesTheWorkersAndIsReadBack) {
  auto server = startGateway();
  ASSERT_NE(server, nullptr);
  auto runWith = [&](const std::vector<std::string>& extra, const std::string& name) {
    const std::string json = ::testing::TempDir() + name;
    BenchRun run = runBench(plus(plus(roomsArgs(*server, json),
                                      {"--conns", "20", "--channels", "2", "--messages", "400",
                                       "--duration", "20s", "--procs", "2", httpPublish(*server)}),
                                 extra),
                            seconds(60));
    EXPECT_EQ(run.exitCode, 0) << run.out << run.err;
    return std::make_pair(readFile(json), run.out);
  };
  const auto [niced, nicedOut] = runWith({"--reader-nice", "7"}, "bench_rooms_nice.json");
  EXPECT_EQ(jsonNumber(niced, "reader_nice"), 7) << niced;
  EXPECT_NE(nicedOut.find("readers at nice 7"), std::string::npos) << nicedOut;
  expectExact(niced, 10, 400);
  const auto [plain, plainOut] = runWith({}, "bench_rooms_not_niced.json");
  EXPECT_EQ(jsonNumber(plain, "reader_nice"), 0) << plain;
  EXPECT_EQ(plainOut.find("readers at nice"), std::string::npos) << plainOut;
  expectExact(plain, 10, 400);
}

TEST(BenchRoomsTest, ZipfPublishesAreCheckedPerRoomToo) {
  auto server = startGateway();
  ASSERT_NE(server, nullptr);
  const std::string json = ::testing::TempDir() + "bench_rooms_zipf.json";
  BenchRun run =
      runBench(plus(roomsArgs(*server, json),
                    {"--conns", "120", "--channels", "12", "--zipf", "1.2", "--duration", "20s",
                     "--messages", "800", "--publish-conns", "3", httpPublish(*server)}),
               seconds(60));
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  const std::string j = readFile(json);
  expectExact(j, 10, 800);
  EXPECT_NE(run.out.find("by Zipf s=1.2"), std::string::npos) << run.out;
}

// The TCP protocol: pipelined PUBs, PING as the end-of-run sync point; nothing is refused,
// every command is confirmed, and every room receives its messages.
TEST(BenchRoomsTest, TcpPublisherIsPipelinedAndConfirmedByPong) {
  auto server = startGateway();
  ASSERT_NE(server, nullptr);
  const std::string json = ::testing::TempDir() + "bench_rooms_tcp.json";
  BenchRun run =
      runBench(plus(roomsArgs(*server, json),
                    {"--conns", "20", "--channels", "4", "--messages", "3000", "--duration", "20s",
                     "--publish-conns", "2", "--publish-inflight", "64", "--publish-tcp",
                     "127.0.0.1:" + std::to_string(server->publishPort())}),
               seconds(60));
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  const std::string j = readFile(json);
  EXPECT_NE(j.find("\"publish_via\":\"tcp\""), std::string::npos) << j;
  EXPECT_EQ(jsonNumber(j, "published"), 3000) << j;
  EXPECT_EQ(jsonNumber(j, "acked"), 3000) << j;  // confirmed by PONG
  EXPECT_EQ(jsonNumber(j, "publish_errors"), 0) << j;
  expectExact(j, 5, 3000);
}

// The TCP protocol answers nothing per message, so its publishers can outrun the subscribers:
// against a gateway that holds only 16 KiB per socket, 50,000 pipelined publishes to readers
// held back (--reader-nice 19: they yield the CPU to the publishers) cut subscribers off as
// slow consumers; with --delivery-window 64 the same run is held to what the subscribers read
// and loses nothing.
TEST(BenchRoomsTest, DeliveryWindowHoldsTcpPublishersToWhatSubscribersRead) {
  std::string error;
  auto server = TestServer::start(
      RINGCAST_BIN,
      {"--listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--publish-listen", "127.0.0.1:0",
       "--threads", "1", "--dev", "--max-outbuf", "16KiB", "--max-message-size", "4KiB"},
      &error);
  ASSERT_NE(server, nullptr) << error;
  auto runWith = [&](const std::string& window, const std::string& json) {
    BenchRun run =
        runBench(plus(roomsArgs(*server, json),
                      {"--conns", "4", "--messages", "50000", "--duration", "60s",
                       "--publish-conns", "2", "--delivery-window", window, "--reader-nice", "19",
                       "--publish-tcp", "127.0.0.1:" + std::to_string(server->publishPort())}),
                 seconds(150));
    EXPECT_EQ(run.exitCode, 0) << run.out << run.err;
    return readFile(json);
  };
  const std::string unbounded = runWith("0", ::testing::TempDir() + "bench_rooms_nowindow.json");
  if (jsonNumber(unbounded, "lost") == 0)
    GTEST_SKIP() << "the subscribers kept up without a window here; nothing to hold back";
  const std::string j = runWith("64", ::testing::TempDir() + "bench_rooms_window.json");
  EXPECT_EQ(jsonNumber(j, "published"), 50000) << j;
  expectExact(j, 4, 50000);
}

// Every subscriber is disconnected by the server while messages flow at a steady rate; with
// --reconnect each one comes back, resubscribes with since and ends with zero loss and zero
// duplicates (what it missed came from the channel's history).
TEST(BenchRoomsTest, ReconnectResubscribesWithSinceAndLosesNothingAcrossADisconnect) {
  auto server = startGateway();
  ASSERT_NE(server, nullptr);
  const std::string json = ::testing::TempDir() + "bench_rooms_reconnect.json";
  const std::string ready = ::testing::TempDir() + "bench_rooms_reconnect.ready";
  ::unlink(ready.c_str());
  BenchRun run;
  std::atomic<bool> done{false};
  std::thread bench([&] {
    run = runBench(plus(roomsArgs(*server, json),
                        {"--conns", "30", "--channels", "3", "--rate", "300", "--duration", "3s",
                         "--reconnect", "--ready-file", ready, httpPublish(*server)}),
                   seconds(60));
    done = true;
  });
  // Publishing starts once the ready file exists; then the server closes every subscriber.
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (::access(ready.c_str(), F_OK) != 0 && !done &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ApiClient api(server->apiPort());
  // Let a few messages reach the rooms first, so the disconnect cuts a live stream.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto answer = api.postOk("/api/disconnect", R"({"user":"bench"})");
  bench.join();
  ASSERT_TRUE(answer.has_value());
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  const std::string j = readFile(json);
  EXPECT_EQ(jsonNumber(j, "server_closed"), 30) << j;
  EXPECT_GE(jsonNumber(j, "reconnects"), 30) << j;
  EXPECT_EQ(jsonNumber(j, "resubscribed"), 30) << j;
  EXPECT_EQ(jsonNumber(j, "not_recovered"), 0) << j;
  EXPECT_GT(jsonNumber(j, "expected"), 0) << j;
  EXPECT_EQ(jsonNumber(j, "lost"), 0) << j;
  EXPECT_EQ(jsonNumber(j, "duplicated"), 0) << j;
  EXPECT_EQ(jsonNumber(j, "wrong_channel"), 0) << j;
}

// Without --reconnect the same disconnect is counted as loss: the check can fail.
TEST(BenchRoomsTest, ReconnectNeedsTheRingcastPreset) {
  BenchRun run = runBench({"fanout", "--url", "ws://127.0.0.1:1/ws", "--first-message", "hi",
                           "--publish-url", "http://127.0.0.1:1/p", "--reconnect"});
  EXPECT_EQ(run.exitCode, 2);
  EXPECT_NE(run.err.find("--reconnect needs the ringcast preset"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace ringcast::test
