// TLS on the reactor: a TLS client and a TLS server TcpConnection on one loop, over a
// socketpair with small socket buffers (so writes block mid-record and reads come in pieces),
// with a certificate made by the openssl command.
#include "net/tls_session.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "net/event_loop.h"
#include "net/tcp_connection.h"
#include "net/tls_context.h"
#include "tests/support/loop_calls.h"
#include "tests/support/test_certificate.h"

namespace ringcast::net {
namespace {

// Sends back every byte it reads.
class EchoConn final : public TcpConnection {
 public:
  using TcpConnection::TcpConnection;

 protected:
  void onData(uint8_t* data, size_t len) override {
    sendCopy(std::string_view(reinterpret_cast<char*>(data), len));
  }
  void onDeadline(int64_t) override {}
};

// Keeps what it reads; says when it closed.
class Collector final : public TcpConnection {
 public:
  Collector(EventLoop* loop, int fd, std::string* got, bool* closed)
      : TcpConnection(loop, fd), got_(got), closed_(closed) {}

 protected:
  void onData(uint8_t* data, size_t len) override {
    got_->append(reinterpret_cast<char*>(data), len);
  }
  void onDeadline(int64_t) override {}
  void onClosed() override { *closed_ = true; }

 private:
  std::string* got_;
  bool* closed_;
};

class TlsReactorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
    // Small buffers: a 16 KiB record does not fit, so writes block inside OpenSSL.
    const int small = 4096;
    for (int fd : fds_) {
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    std::string error;
    const test::TestCertificate& cert = test::testCertificate();
    server_ = TlsContext::loadServer({cert.certFile, cert.keyFile, false}, &error);
    ASSERT_NE(server_, nullptr) << error;
    client_ = TlsContext::insecureClient(false);
    thread_ = std::thread([this] { loop_.run(); });
  }
  void TearDown() override {
    loop_.quit();
    thread_.join();
  }
  template <class Fn>
  void onLoop(Fn fn) {
    testing::runOnLoop(loop_, fn);
  }
  template <class Pred>
  bool waitFor(Pred pred) {
    return testing::waitOnLoop(loop_, pred, 10'000);
  }

  std::shared_ptr<const TlsContext> server_;
  std::shared_ptr<const TlsContext> client_;
  std::string got_;  // declared before the loop: connections freed by it write here
  bool closed_ = false;
  EventLoop loop_{0};
  std::thread thread_;
  int fds_[2] = {-1, -1};
};

TEST_F(TlsReactorTest, ManySmallFramesAndLargeOnesEchoIntactThroughBlockingWrites) {
  std::string sent;
  Collector* client = nullptr;
  onLoop([&] {
    auto* server = new EchoConn(&loop_, fds_[0]);
    ASSERT_TRUE(server->startTls(*server_, TlsSession::Role::kServer));
    client = new Collector(&loop_, fds_[1], &got_, &closed_);
    ASSERT_TRUE(client->startTls(*client_, TlsSession::Role::kClient));
    // Queued before the handshake ends: flushed when it does.
    for (int i = 0; i < 5000; ++i) {
      std::string piece = std::to_string(i) + ";";
      sent += piece;
      client->sendCopy(piece);
    }
    std::string big(300 * 1024, 'b');
    for (size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
    sent += big;
    client->sendCopy(big);
  });
  ASSERT_TRUE(waitFor([&] { return got_.size() >= sent.size() || closed_; }))
      << "echoed " << got_.size() << " of " << sent.size();
  EXPECT_FALSE(closed_);
  EXPECT_EQ(got_.size(), sent.size());
  EXPECT_TRUE(got_ == sent);
  onLoop([&] {
    ASSERT_NE(client->tls(), nullptr);
    EXPECT_TRUE(client->tls()->established());
    EXPECT_NE(client->tls()->describe().find("alpn=http/1.1"), std::string::npos)
        << client->tls()->describe();
  });
}

TEST_F(TlsReactorTest, CloseAfterFlushSendsEverythingThenCloseNotify) {
  onLoop([&] {
    auto* server = new EchoConn(&loop_, fds_[0]);
    ASSERT_TRUE(server->startTls(*server_, TlsSession::Role::kServer));
    auto* client = new Collector(&loop_, fds_[1], &got_, &closed_);
    ASSERT_TRUE(client->startTls(*client_, TlsSession::Role::kClient));
    client->sendCopy(std::string(100 * 1024, 'x'));
  });
  ASSERT_TRUE(waitFor([&] { return got_.size() == 100 * 1024; }));
  // The server side ends: the client reads close_notify and EOF, and both are freed.
  onLoop([&] {
    loop_.forEachConnection([](TcpConnection& c) {
      if (dynamic_cast<EchoConn*>(&c) != nullptr) c.closeAfterFlush(1000);
    });
  });
  ASSERT_TRUE(waitFor([&] { return closed_ && loop_.connectionCount() == 0; }));
}

TEST_F(TlsReactorTest, PlainBytesOnTheTlsSideCloseIt) {
  onLoop([&] {
    auto* server = new EchoConn(&loop_, fds_[0]);
    ASSERT_TRUE(server->startTls(*server_, TlsSession::Role::kServer));
  });
  // Not a ClientHello: the handshake fails and the connection goes away.
  ASSERT_EQ(::write(fds_[1], "\x16\x03\x01\x00\x05hello garbage", 18), 18);
  ASSERT_TRUE(waitFor([&] { return loop_.connectionCount() == 0; }));
  ::close(fds_[1]);
}

TEST(TlsContextTest, MissingOrMismatchedFilesAreRefusedWithAReason) {
  std::string error;
  EXPECT_EQ(TlsContext::loadServer({"/nonexistent.pem", "/nonexistent.key", false}, &error),
            nullptr);
  EXPECT_NE(error.find("certificate /nonexistent.pem"), std::string::npos) << error;
}

}  // namespace
}  // namespace ringcast::net
