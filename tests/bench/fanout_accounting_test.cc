// Proves the fanout mode's loss accounting end to end: a small fake push server, run on
// threads inside the test, takes publishes (HTTP POST on a keep-alive connection, or text
// frames on a WebSocket) and pushes them to WebSocket subscribers, while deliberately
// dropping, duplicating and reordering known sequence numbers. ringcast-bench, driven only
// through its generic options, must report exactly those counts.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/client/marker.h"
#include "tests/bench/bench_process.h"
#include "ws/handshake.h"

namespace ringcast::test {
namespace {

// What the fake server does to publisher 0's sequence numbers.
constexpr uint64_t kDropped[] = {5, 17};
constexpr uint64_t kDuplicated[] = {8, 30};
constexpr uint64_t kHeldBack[] = {10, 40};  // each sent after its successor
constexpr int kSubscribers = 3;

bool contains(const uint64_t* begin, const uint64_t* end, uint64_t v) {
  return std::find(begin, end, v) != end;
}

bool sendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string serverFrame(uint8_t opcode, std::string_view payload) {
  std::string f;
  f.push_back(static_cast<char>(0x80 | opcode));
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(payload.size()));
  } else {
    f.push_back(126);
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size() & 0xFF));
  }
  return f.append(payload);
}

// A blocking reader of one socket, with a buffer for what came beyond the last request.
class Conn {
 public:
  explicit Conn(int fd) : fd_(fd) {}
  // Reads until `n` bytes are buffered. False on EOF or error.
  bool fill(size_t n) {
    char chunk[4096];
    while (buf_.size() < n) {
      const ssize_t r = ::recv(fd_, chunk, sizeof chunk, 0);
      if (r <= 0) return false;
      buf_.append(chunk, static_cast<size_t>(r));
    }
    return true;
  }
  std::optional<std::string> readHead() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(buf_.size() + 1)) return std::nullopt;
    }
    std::string head = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    return head;
  }
  std::optional<std::string> readBytes(size_t n) {
    if (!fill(n)) return std::nullopt;
    std::string out = buf_.substr(0, n);
    buf_.erase(0, n);
    return out;
  }
  // One masked client frame: opcode and unmasked payload.
  std::optional<std::pair<uint8_t, std::string>> readFrame() {
    if (!fill(2)) return std::nullopt;
    const uint8_t op = static_cast<uint8_t>(buf_[0]) & 0x0F;
    uint64_t len = static_cast<uint8_t>(buf_[1]) & 0x7F;
    size_t header = 2;
    if (len == 126) {
      if (!fill(4)) return std::nullopt;
      len = uint64_t(uint8_t(buf_[2])) << 8 | uint8_t(buf_[3]);
      header = 4;
    } else if (len == 127) {
      return std::nullopt;  // not used by these tests
    }
    if (!fill(header + 4 + len)) return std::nullopt;
    std::string payload = buf_.substr(header + 4, len);
    for (size_t i = 0; i < len; ++i) payload[i] ^= buf_[header + i % 4];
    buf_.erase(0, header + 4 + len);
    return std::make_pair(op, payload);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
  std::string buf_;
};

class FakePushServer {
 public:
  FakePushServer() {
    listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    EXPECT_EQ(::bind(listenFd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listenFd_, 64), 0);
    socklen_t len = sizeof a;
    ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~FakePushServer() {
    stop_ = true;
    acceptor_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : handlers_) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(listenFd_);
  }
  uint16_t port() const { return port_; }
  std::string base(const char* scheme) const {
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(port_);
  }

 private:
  void acceptLoop() {
    while (!stop_) {
      pollfd p{listenFd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard<std::mutex> lock(mu_);
      fds_.push_back(fd);
      handlers_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    Conn c(fd);
    auto head = c.readHead();
    if (!head) return;
    if (head->find("Upgrade: websocket") != std::string::npos) {
      const size_t k = head->find("Sec-WebSocket-Key: ");
      const std::string key = head->substr(k + 19, 24);
      sendAll(fd,
              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
                  ws::acceptKey(key) + "\r\n\r\n");
      serveWebSocket(c, head->rfind("GET /pub", 0) == 0);
      return;
    }
    // HTTP publisher: pipelined POSTs, answered in order.
    while (head) {
      const size_t cl = head->find("Content-Length: ");
      const size_t length = cl == std::string::npos ? 0 : std::stoul(head->substr(cl + 16));
      auto body = c.readBytes(length);
      if (!body) return;
      publish(*body);
      if (!sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")) return;
      head = c.readHead();
    }
  }

  void serveWebSocket(Conn& c, bool publisher) {
    while (auto frame = c.readFrame()) {
      const auto& [op, payload] = *frame;
      if (op == 0x8) {
        sendAll(c.fd(), serverFrame(0x8, payload));
        return;
      }
      if (op != 0x1) continue;
      if (publisher) {
        publish(payload);
      } else if (payload == "SUB") {
        std::lock_guard<std::mutex> lock(mu_);
        subscribers_.push_back(c.fd());
        sendAll(c.fd(), serverFrame(0x1, R"({"type":"ready"})"));
      }
    }
  }

  // Forwards one published body to every subscriber, misbehaving on purpose for publisher 0.
  void publish(const std::string& body) {
    size_t pos = 0;
    bench::Marker m;
    uint64_t malformed = 0;
    if (!bench::findMarker(body, &pos, &m, &malformed)) return;
    std::lock_guard<std::mutex> lock(mu_);
    const std::string frame = serverFrame(0x1, "{\"data\":\"" + body + "\"}");
    const bool mine = m.publisher == 0;
    if (mine && contains(std::begin(kDropped), std::end(kDropped), m.seq)) return;
    if (mine && contains(std::begin(kHeldBack), std::end(kHeldBack), m.seq)) {
      held_ = frame;
      return;
    }
    for (int fd : subscribers_) {
      sendAll(fd, frame);
      if (mine && contains(std::begin(kDuplicated), std::end(kDuplicated), m.seq)) {
        sendAll(fd, frame);
      }
      if (!held_.empty()) sendAll(fd, held_);
    }
    held_.clear();
  }

  int listenFd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mu_;  // guards everything below
  std::vector<int> fds_;
  std::vector<std::thread> handlers_;
  std::vector<int> subscribers_;
  std::string held_;  // a frame held back until its successor was sent
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void expectExactAccounting(const std::string& j, const BenchRun& run, long long published) {
  ASSERT_EQ(run.exitCode, 0) << run.out << run.err;
  ASSERT_GT(published, 45) << j;  // every misbehaving number was published
  EXPECT_EQ(jsonNumber(j, "subscribers"), kSubscribers) << j;
  EXPECT_EQ(jsonNumber(j, "expected"), kSubscribers * published) << j;
  EXPECT_EQ(jsonNumber(j, "lost"), kSubscribers * 2) << j;
  EXPECT_EQ(jsonNumber(j, "duplicated"), kSubscribers * 2) << j;
  EXPECT_EQ(jsonNumber(j, "out_of_order"), kSubscribers * 2) << j;
  EXPECT_EQ(jsonNumber(j, "delivered"), kSubscribers * published) << j;  // -2 lost, +2 dups
  EXPECT_EQ(jsonNumber(j, "unique"), kSubscribers * (published - 2)) << j;
  EXPECT_EQ(jsonNumber(j, "malformed"), 0) << j;
  // Every delivery was timed.
  const size_t latency = j.find("\"delivery\":");
  ASSERT_NE(latency, std::string::npos) << j;
  EXPECT_EQ(jsonNumber(j.substr(latency), "count"), kSubscribers * published) << j;
}

TEST(FanoutAccountingTest, HttpPublisherLossDuplicatesAndOrderAreCountedExactly) {
  FakePushServer server;
  const std::string json = ::testing::TempDir() + "bench_fanout_http.json";
  BenchRun run = runBench({"fanout",
                           "--url",
                           server.base("ws") + "/sub",
                           "--conns",
                           std::to_string(kSubscribers),
                           "--first-message",
                           "SUB",
                           "--ready-match",
                           "\"ready\"",
                           "--publish-url",
                           server.base("http") + "/publish",
                           "--publish-inflight",
                           "4",
                           "--rate",
                           "150",
                           "--duration",
                           "600ms",
                           "--size",
                           "100",
                           "--settle",
                           "50ms",
                           "--drain-timeout",
                           "1s",
                           "--json",
                           json});
  const std::string j = readFile(json);
  EXPECT_EQ(jsonNumber(j, "publish_errors"), 0) << j;
  EXPECT_EQ(jsonNumber(j, "acked"), jsonNumber(j, "published")) << j;
  expectExactAccounting(j, run, jsonNumber(j, "acked"));
}

TEST(FanoutAccountingTest, WebSocketPublisherLossDuplicatesAndOrderAreCountedExactly) {
  FakePushServer server;
  const std::string json = ::testing::TempDir() + "bench_fanout_ws.json";
  BenchRun run = runBench({"fanout",
                           "--url",
                           server.base("ws") + "/sub",
                           "--conns",
                           std::to_string(kSubscribers),
                           "--first-message",
                           "SUB",
                           "--ready-match",
                           "\"ready\"",
                           "--publish-ws",
                           server.base("ws") + "/pub",
                           "--rate",
                           "150",
                           "--duration",
                           "600ms",
                           "--settle",
                           "50ms",
                           "--drain-timeout",
                           "1s",
                           "--json",
                           json});
  const std::string j = readFile(json);
  expectExactAccounting(j, run, jsonNumber(j, "published"));
}

}  // namespace
}  // namespace ringcast::test
