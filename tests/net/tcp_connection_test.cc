// The reactor with real sockets (socketpairs), without any protocol on top.
#include "net/tcp_connection.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "net/event_loop.h"
#include "tests/support/loop_calls.h"

namespace ringcast::net {
namespace {

// Sends back every byte it reads; records what happened.
class EchoConn final : public TcpConnection {
 public:
  EchoConn(EventLoop* loop, int fd, std::string* log) : TcpConnection(loop, fd), log_(log) {}
  int deadlines = 0;

 protected:
  void onData(uint8_t* data, size_t len) override {
    std::string_view bytes(reinterpret_cast<char*>(data), len);
    if (bytes == "bye") {
      sendCopy("ok");
      closeAfterFlush(1000);
      return;
    }
    sendCopy(bytes);
  }
  void onDeadline(int64_t) override {
    ++deadlines;
    *log_ += "deadline;";
  }
  void onClosed() override { *log_ += "closed;"; }

 private:
  std::string* log_;
};

class ReactorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
    thread_ = std::thread([this] { loop_.run(); });
  }
  void TearDown() override {
    loop_.quit();
    thread_.join();
    if (fds_[1] >= 0) ::close(fds_[1]);
  }
  // Runs fn on the loop thread and waits for it.
  template <class Fn>
  void onLoop(Fn fn) {
    testing::runOnLoop(loop_, fn);
  }
  // Reads from the peer end until `n` bytes or EOF or 5 s.
  std::string readPeer(size_t n) {
    std::string out;
    char buf[65536];
    for (int i = 0; i < 5000 && out.size() < n; ++i) {
      ssize_t r = ::read(fds_[1], buf, sizeof buf);
      if (r > 0) {
        out.append(buf, static_cast<size_t>(r));
      } else if (r == 0) {
        break;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    return out;
  }

  std::string log_;  // declared first: the loop's destructor closes connections that log
  EventLoop loop_{0};
  std::thread thread_;
  int fds_[2] = {-1, -1};
};

TEST_F(ReactorTest, EchoesLargeStreamsInOrderThroughTheSharedReadBuffer) {
  onLoop([&] { new EchoConn(&loop_, fds_[0], &log_); });
  std::string sent;
  for (int i = 0; sent.size() < 3 * EventLoop::kReadBufferBytes; ++i)
    sent += std::to_string(i) + ",";
  // Write and read concurrently: the echo cannot fit in the socket buffers at once.
  std::thread writer([&] {
    size_t off = 0;
    while (off < sent.size()) {
      ssize_t w = ::write(fds_[1], sent.data() + off, sent.size() - off);
      if (w > 0) {
        off += static_cast<size_t>(w);
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
  });
  std::string got = readPeer(sent.size());
  writer.join();
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
}

TEST_F(ReactorTest, CloseAfterFlushDeliversQueuedBytesThenEof) {
  onLoop([&] { new EchoConn(&loop_, fds_[0], &log_); });
  ASSERT_EQ(::write(fds_[1], "bye", 3), 3);
  EXPECT_EQ(readPeer(100), "ok");  // then EOF (readPeer stops at EOF)
  ::shutdown(fds_[1], SHUT_WR);    // our half: the connection may now go away
  for (int i = 0; i < 500 && loop_.connectionCount() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(loop_.connectionCount(), 0u);
  onLoop([] {});
  EXPECT_EQ(log_, "closed;");
}

TEST_F(ReactorTest, PeerEofClosesAndFreesTheConnection) {
  onLoop([&] { new EchoConn(&loop_, fds_[0], &log_); });
  EXPECT_EQ(loop_.connectionCount(), 1u);
  ::close(fds_[1]);
  fds_[1] = -1;
  for (int i = 0; i < 500 && loop_.connectionCount() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(loop_.connectionCount(), 0u);
  onLoop([] {});
  EXPECT_EQ(log_, "closed;");
}

TEST_F(ReactorTest, DeadlineFiresOnTheLoop) {
  EchoConn* conn = nullptr;
  onLoop([&] {
    conn = new EchoConn(&loop_, fds_[0], &log_);
    conn->setDeadline(loop_.nowMs() + 120);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  onLoop([&] { EXPECT_EQ(conn->deadlines, 1); });
  EXPECT_EQ(log_, "deadline;");
}

TEST_F(ReactorTest, TasksFromOtherThreadsRunOnTheLoopInOrder) {
  std::atomic<int> next{0};
  std::atomic<bool> wrongThread{false};
  constexpr int kTasks = 10000;
  for (int i = 0; i < kTasks; ++i) {
    loop_.queueInLoop([&, i] {
      if (!loop_.isInLoopThread()) wrongThread = true;
      if (next.load() == i) next.store(i + 1);
    });
  }
  for (int i = 0; i < 1000 && next.load() != kTasks; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(next.load(), kTasks);
  EXPECT_FALSE(wrongThread.load());
}

// More dirty connections than one iteration flushes: the flush goes on over the following
// iterations in order, and a connection closed while it waits for its chunk is dropped from
// the list before it is freed (under ASan a dangling entry would be a use after free).
TEST_F(ReactorTest, FlushesManyDirtyConnectionsOverSeveralIterations) {
  constexpr size_t kConns = 3 * EventLoop::kFlushBudget + 7;
  std::vector<int> peers(kConns, -1);
  std::vector<EchoConn*> conns(kConns, nullptr);
  for (size_t i = 0; i < kConns; ++i) {
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
    peers[i] = pair[1];
    onLoop([&, i, fd = pair[0]] { conns[i] = new EchoConn(&loop_, fd, &log_); });
  }
  const size_t closedFirst = kConns - 1;                       // closed before any flush
  const size_t closedLater = 2 * EventLoop::kFlushBudget + 1;  // closed between chunks
  uint64_t iterationsBefore = 0;
  onLoop([&] {
    iterationsBefore = loop_.iterations();
    for (size_t i = 0; i < kConns; ++i) conns[i]->sendCopy("c" + std::to_string(i));
    conns[closedFirst]->closeNow();
    // Runs next iteration, after the first chunk was flushed and before the later ones.
    loop_.queueInLoop([&] { conns[closedLater]->closeNow(); });
  });
  for (size_t i = 0; i < kConns; ++i) {
    std::string got;
    char buf[64];
    for (int tries = 0; tries < 5000; ++tries) {
      ssize_t r = ::read(peers[i], buf, sizeof buf);
      if (r > 0) got.append(buf, static_cast<size_t>(r));
      if (r == 0 || (r < 0 && !got.empty())) break;
      if (r < 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (i == closedFirst || i == closedLater) {
      EXPECT_EQ(got, "") << i;  // closed before its flush: EOF, nothing written
    } else {
      EXPECT_EQ(got, "c" + std::to_string(i)) << i;
    }
  }
  onLoop([&] { EXPECT_GE(loop_.iterations() - iterationsBefore, 3u); });
  for (int fd : peers) ::close(fd);
}

// An urgent connection (a publisher waiting for its receipt) made dirty after thousands of
// bulk ones is flushed in the first iteration; the last bulk one waits for a later chunk.
TEST_F(ReactorTest, UrgentConnectionsAreFlushedAheadOfTheBudgetedList) {
  constexpr size_t kBulk = 2 * EventLoop::kFlushBudget + 1;
  std::vector<int> peers;
  std::vector<EchoConn*> conns;
  for (size_t i = 0; i <= kBulk; ++i) {
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
    peers.push_back(pair[1]);
    onLoop([&, fd = pair[0]] { conns.push_back(new EchoConn(&loop_, fd, &log_)); });
  }
  EchoConn* urgent = conns.back();  // the last one, made dirty last
  auto readable = [](int fd) {
    char c;
    return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
  };
  std::promise<std::pair<bool, bool>> seen;  // {urgent peer readable, last bulk peer readable}
  onLoop([&] {
    urgent->setUrgentWrites();
    for (EchoConn* c : conns) c->sendCopy("x");
    // Runs in the next iteration: after exactly one flush.
    loop_.queueInLoop([&] {
      seen.set_value({readable(peers.back()), readable(peers[kBulk - 1])});
    });
  });
  auto [urgentReadable, lastBulkReadable] = seen.get_future().get();
  EXPECT_TRUE(urgentReadable);
  EXPECT_FALSE(lastBulkReadable);
  // Every connection is flushed over the next iterations (and closing a peer earlier would
  // make the loop write to a closed socket).
  for (int fd : peers) {
    bool got = false;
    for (int tries = 0; tries < 5000 && !got; ++tries) {
      got = readable(fd);
      if (!got) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    EXPECT_TRUE(got);
    ::close(fd);
  }
}

// Gathers its answers and queues them in onFlush(), the way the API connections do.
class GatherConn final : public TcpConnection {
 public:
  GatherConn(EventLoop* loop, int fd) : TcpConnection(loop, fd) {}
  void answer(std::string_view bytes) {
    gathered_ += bytes;
    flushSoon();
  }
  void finish() { closeAfterFlush(1000); }
  int onFlushCalls = 0;

 protected:
  void onData(uint8_t*, size_t) override {}
  void onDeadline(int64_t) override {}
  void onFlush() override {
    ++onFlushCalls;
    sendCopy(gathered_);
    gathered_.clear();
  }

 private:
  std::string gathered_;
};

TEST_F(ReactorTest, FlushSoonQueuesTheGatheredBytesOnceRightBeforeTheWrite) {
  GatherConn* conn = nullptr;
  std::promise<uint64_t> queuedBeforeFlush;
  onLoop([&] {
    conn = new GatherConn(&loop_, fds_[0]);
    conn->answer("a");
    conn->answer("bc");
    conn->answer("d");
    queuedBeforeFlush.set_value(conn->queuedBytes());
  });
  EXPECT_EQ(queuedBeforeFlush.get_future().get(), 0u);  // nothing queued until the flush
  EXPECT_EQ(readPeer(4), "abcd");
  int calls = 0;
  onLoop([&] { calls = conn->onFlushCalls; });
  EXPECT_EQ(calls, 1);  // one hand-over, one frame, for the iteration's three answers
}

TEST_F(ReactorTest, CloseAfterFlushWritesWhatFlushSoonGatheredBeforeTheEof) {
  onLoop([&] {
    GatherConn* conn = new GatherConn(&loop_, fds_[0]);
    conn->answer("last answer");
    conn->finish();
  });
  EXPECT_EQ(readPeer(100), "last answer");  // then EOF (readPeer stops at EOF)
}

// Counts, when its input arrives, how many of the given peers can read already.
class InputProbe final : public TcpConnection {
 public:
  InputProbe(EventLoop* loop, int fd, const std::vector<int>* peers,
             std::promise<size_t>* flushedAtInput)
      : TcpConnection(loop, fd), peers_(peers), flushedAtInput_(flushedAtInput) {}

 protected:
  void onData(uint8_t*, size_t) override {
    if (flushedAtInput_ == nullptr) return;
    size_t readable = 0;
    for (int fd : *peers_) {
      char c;
      readable += ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1 ? 1 : 0;
    }
    flushedAtInput_->set_value(readable);
    flushedAtInput_ = nullptr;
  }
  void onDeadline(int64_t) override {}

 private:
  const std::vector<int>* peers_;
  std::promise<size_t>* flushedAtInput_;
};

// Makes kWaiting connections dirty and input readable in the same loop task, holding the
// loop for `holdMs` first (the connections then count as waiting that long); returns how
// many were flushed before the input was read. All of them reach their peers in the end.
size_t flushedBeforeInput(EventLoop& loop, int holdMs) {
  constexpr size_t kWaiting = 300;  // fewer than one flush budget: no chunking by count
  static_assert(kWaiting < EventLoop::kFlushBudget);
  std::vector<int> peers;
  std::vector<EchoConn*> conns;
  std::string log;
  int input[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, input), 0);
  for (size_t i = 0; i < kWaiting; ++i) {
    int pair[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
    peers.push_back(pair[1]);
    testing::runOnLoop(loop, [&, fd = pair[0]] { conns.push_back(new EchoConn(&loop, fd, &log)); });
  }
  std::promise<size_t> flushedAtInput;
  InputProbe* probe = nullptr;
  testing::runOnLoop(loop,
                     [&] { probe = new InputProbe(&loop, input[0], &peers, &flushedAtInput); });
  testing::runOnLoop(loop, [&] {
    for (EchoConn* c : conns) c->sendCopy("x");
    if (holdMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(holdMs));
    EXPECT_EQ(::write(input[1], "in", 2), 2);  // readable before the flush starts
  });
  const size_t flushed = flushedAtInput.get_future().get();
  for (int fd : peers) {
    bool got = false;
    for (int tries = 0; tries < 5000 && !got; ++tries) {
      char c;
      got = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
      if (!got) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    EXPECT_TRUE(got);
  }
  testing::runOnLoop(loop, [&] {
    for (EchoConn* c : conns) c->closeNow();
    probe->closeNow();
  });
  for (int fd : peers) ::close(fd);
  ::close(input[1]);
  return flushed;
}

// Input that becomes readable while a flush is under way is read before the flush ends, so
// what it publishes joins the writes of the connections still waiting. Timing decides where
// the flush stops (the loop thread may be descheduled for longer than the hold bound), so
// the scenario gets three tries; the flush used to finish first every time.
TEST_F(ReactorTest, AFlushYieldsToInputWhileTheWaitingConnectionsAreYoung) {
  size_t fewest = SIZE_MAX;
  for (int attempt = 0; attempt < 3 && fewest >= 300; ++attempt) {
    fewest = std::min(fewest, flushedBeforeInput(loop_, 0));
  }
  EXPECT_LT(fewest, 300u);
}

// Connections that have waited longer than kMaxFlushHoldNs are not passed over: the flush
// finishes before the input is read.
TEST_F(ReactorTest, AFlushDoesNotYieldOnceTheOldestWaitingConnectionIsPastTheHoldBound) {
  constexpr int kHoldMs = static_cast<int>(EventLoop::kMaxFlushHoldNs / 1'000'000) + 2;
  EXPECT_EQ(flushedBeforeInput(loop_, kHoldMs), 300u);
}

// Work a producer makes visible while the loop is on its way to sleep (after its hook ran,
// before epoll_wait) must still wake it: the loop re-checks its hook after announcing that
// it sleeps. No timers here, so a lost wake-up would be a loop asleep for good.
TEST(EventLoopWakeTest, WorkPublishedWhileTheLoopGoesToSleepIsNotLost) {
  struct Hook final : IterationHook {
    std::atomic<int> published{0};
    std::atomic<int> done{0};
    std::atomic<bool> ran{false};
    bool hasPendingWork() override {
      return published.load(std::memory_order_acquire) > done.load(std::memory_order_relaxed);
    }
    void runIteration() override {
      done.store(published.load(std::memory_order_acquire), std::memory_order_release);
      ran.store(true, std::memory_order_release);
    }
  } hook;
  EventLoop loop(0);
  loop.setIterationHook(&hook);
  std::thread thread([&] { loop.run(); });
  constexpr int kRounds = 3000;
  int lost = 0;
  for (int i = 1; i <= kRounds && lost == 0; ++i) {
    // Publish right after the hook ran: the loop is between its hook and epoll_wait.
    while (!hook.ran.exchange(false, std::memory_order_acq_rel)) {
    }
    hook.published.store(i, std::memory_order_release);
    loop.wakeIfSleeping();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (hook.done.load(std::memory_order_acquire) < i) {
      if (std::chrono::steady_clock::now() > deadline) {
        lost = i;
        break;
      }
      std::this_thread::yield();
    }
  }
  EXPECT_EQ(lost, 0) << "round " << lost << ": the loop slept with work pending";
  loop.quit();
  thread.join();
}

}  // namespace
}  // namespace ringcast::net
