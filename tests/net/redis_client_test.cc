// RedisClient against a real redis-server: pipelining, pub/sub, failing fast while down,
// reconnecting (and resubscribing) after the server restarts, and the back-off bound.
#include "net/redis_client.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/event_loop.h"
#include "tests/support/redis_server.h"

namespace ringcast::net {
namespace {

using namespace std::chrono_literals;

TEST(RespCommandTest, EncodesBulkStrings) {
  std::string out;
  std::string_view args[] = {"SET", "k", ""};
  appendRespCommand(&out, args, 3);
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

// Records what the client reports; read from the test thread under mu.
struct Recorder final : RedisClient::Handler {
  std::mutex mu;
  std::vector<std::string> messages;
  std::vector<std::string> subscribed;
  std::atomic<int> ups{0};
  std::atomic<int> downs{0};
  void onLinkUp() override { ups.fetch_add(1); }
  void onLinkDown() override { downs.fetch_add(1); }
  void onMessage(std::string_view channel, std::string_view payload) override {
    std::lock_guard lock(mu);
    messages.push_back(std::string(channel) + "=" + std::string(payload));
  }
  void onSubscribed(std::string_view channel) override {
    std::lock_guard lock(mu);
    subscribed.emplace_back(channel);
  }
  size_t messageCount() {
    std::lock_guard lock(mu);
    return messages.size();
  }
  size_t subscribedCount() {
    std::lock_guard lock(mu);
    return subscribed.size();
  }
};

template <class Pred>
bool waitFor(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    redis_ = test::RedisServer::start(&error);
    ASSERT_NE(redis_, nullptr) << error;
    thread_ = std::thread([this] { loop_.run(); });
  }
  template <class Fn>
  auto onLoop(Fn fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    loop_.queueInLoop([&task] { task(); });
    return result.get();
  }
  void TearDown() override {
    onLoop([this] { clients_.clear(); });
    loop_.quit();
    thread_.join();
  }
  // A started client on the loop; owned by the fixture.
  RedisClient* makeClient(RedisClient::Handler* handler, uint16_t port,
                          RedisClient::Options options = {}) {
    std::string text = "127.0.0.1:" + std::to_string(port);
    EXPECT_TRUE(sockets::parseAddress(text, &options.address));
    return onLoop([&] {
      clients_.push_back(std::make_unique<RedisClient>(&loop_, options, handler));
      clients_.back()->start();
      return clients_.back().get();
    });
  }
  bool isUp(RedisClient* c) {
    return onLoop([c] { return c->up(); });
  }

  std::unique_ptr<test::RedisServer> redis_;
  EventLoop loop_{0};
  std::thread thread_;
  std::vector<std::unique_ptr<RedisClient>> clients_;  // loop thread only
};

TEST_F(RedisClientTest, PipelinedRepliesMatchCommandsInOrder) {
  RedisClient* c = makeClient(nullptr, redis_->port());
  ASSERT_TRUE(waitFor([&] { return isUp(c); }));
  constexpr int kCommands = 2000;
  std::vector<long long> got;
  std::promise<void> done;
  onLoop([&] {
    // All in one batch: written together, answered in order.
    for (int i = 0; i < kCommands; ++i) {
      c->command({"INCR", "counter"}, [&, i](const redisReply* r) {
        got.push_back(r != nullptr && r->type == REDIS_REPLY_INTEGER ? r->integer : -1);
        if (i == kCommands - 1) done.set_value();
      });
    }
  });
  ASSERT_EQ(done.get_future().wait_for(5s), std::future_status::ready);
  ASSERT_EQ(got.size(), static_cast<size_t>(kCommands));
  for (int i = 0; i < kCommands; ++i) ASSERT_EQ(got[static_cast<size_t>(i)], i + 1);
  EXPECT_EQ(onLoop([c] { return c->stats().commands; }), static_cast<uint64_t>(kCommands));
  EXPECT_GT(redis_->infoNumber("stats", "total_commands_processed"), kCommands - 1);
}

TEST_F(RedisClientTest, ErrorRepliesArriveAsErrors) {
  RedisClient* c = makeClient(nullptr, redis_->port());
  ASSERT_TRUE(waitFor([&] { return isUp(c); }));
  std::promise<std::string> reply;
  onLoop([&] {
    c->command({"NOSUCHCOMMAND"}, [&](const redisReply* r) {
      reply.set_value(r != nullptr && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len)
                                                                   : "not an error");
    });
  });
  EXPECT_NE(reply.get_future().get().find("ERR"), std::string::npos);
}

TEST_F(RedisClientTest, SubscriberGetsMessagesInOrder) {
  Recorder rec;
  RedisClient* sub = makeClient(&rec, redis_->port());
  ASSERT_TRUE(waitFor([&] { return isUp(sub); }));
  onLoop([&] {
    sub->subscribe("news");
    sub->subscribe("other");
  });
  ASSERT_TRUE(waitFor([&] { return rec.subscribedCount() == 2; }));
  RedisClient* pub = makeClient(nullptr, redis_->port());
  ASSERT_TRUE(waitFor([&] { return isUp(pub); }));
  constexpr int kMessages = 500;
  onLoop([&] {
    for (int i = 0; i < kMessages; ++i) pub->command({"PUBLISH", "news", std::to_string(i)}, {});
  });
  ASSERT_TRUE(waitFor([&] { return rec.messageCount() == kMessages; }));
  std::lock_guard lock(rec.mu);
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(rec.messages[static_cast<size_t>(i)], "news=" + std::to_string(i));
  }
}

TEST_F(RedisClientTest, UnsubscribedChannelStopsArriving) {
  Recorder rec;
  RedisClient* sub = makeClient(&rec, redis_->port());
  ASSERT_TRUE(waitFor([&] { return isUp(sub); }));
  onLoop([&] { sub->subscribe("a"); });
  ASSERT_TRUE(waitFor([&] { return rec.subscribedCount() == 1; }));
  onLoop([&] { sub->unsubscribe("a"); });
  // The server counts the subscribers of a channel: wait until it has none.
  ASSERT_TRUE(waitFor([&] { return redis_->command({"PUBSUB", "NUMSUB", "a"}) == "a\n0"; }));
  EXPECT_EQ(redis_->command({"PUBLISH", "a", "x"}), "0");
  // A PING round trip on the subscriber link orders after any message that might come.
  std::promise<void> pong;
  onLoop([&] { sub->command({"PING"}, [&](const redisReply*) { pong.set_value(); }); });
  pong.get_future().get();
  EXPECT_EQ(rec.messageCount(), 0u);
}

TEST_F(RedisClientTest, FailsFastWhileDown) {
  redis_->kill();
  RedisClient* c = makeClient(nullptr, redis_->port());
  auto start = std::chrono::steady_clock::now();
  bool failed = onLoop([&] {
    bool gotNull = false;
    c->command({"PING"}, [&](const redisReply* r) { gotNull = r == nullptr; });
    return gotNull;  // the callback ran before command() returned
  });
  EXPECT_TRUE(failed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 100ms);
  EXPECT_EQ(onLoop([c] { return c->stats().failedFast; }), 1u);
}

TEST_F(RedisClientTest, ReconnectsAndResubscribesAfterRestart) {
  Recorder rec;
  RedisClient::Options options;
  options.backoffMinMs = 20;
  options.backoffMaxMs = 200;
  RedisClient* sub = makeClient(&rec, redis_->port(), options);
  ASSERT_TRUE(waitFor([&] { return isUp(sub); }));
  onLoop([&] { sub->subscribe("live"); });
  ASSERT_TRUE(waitFor([&] { return rec.subscribedCount() == 1; }));

  RedisClient* cmd = makeClient(nullptr, redis_->port(), options);
  ASSERT_TRUE(waitFor([&] { return isUp(cmd); }));
  redis_->kill();
  ASSERT_TRUE(waitFor([&] { return rec.downs.load() == 1; }));
  ASSERT_TRUE(waitFor([&] { return !isUp(cmd); }));
  // Down: refused at once, never queued.
  EXPECT_TRUE(onLoop([&] {
    bool gotNull = false;
    cmd->command({"PING"}, [&](const redisReply* r) { gotNull = r == nullptr; });
    return gotNull;
  }));

  std::string error;
  ASSERT_TRUE(redis_->restart(&error)) << error;
  ASSERT_TRUE(waitFor([&] { return rec.ups.load() == 2; }));
  ASSERT_TRUE(waitFor([&] { return rec.subscribedCount() == 2; }));  // resubscribed
  ASSERT_TRUE(waitFor([&] { return isUp(cmd); }));
  onLoop([&] { cmd->command({"PUBLISH", "live", "after"}, {}); });
  ASSERT_TRUE(waitFor([&] { return rec.messageCount() == 1; }));
  EXPECT_EQ(rec.messages[0], "live=after");
  auto stats = onLoop([sub] { return sub->stats(); });
  EXPECT_EQ(stats.connects, 2u);
  EXPECT_EQ(stats.linkLosses, 1u);
  EXPECT_TRUE(stats.up);
}

TEST_F(RedisClientTest, PendingCommandsFailWhenTheLinkIsLost) {
  RedisClient* c = makeClient(nullptr, redis_->port());
  ASSERT_TRUE(waitFor([&] { return isUp(c); }));
  std::promise<bool> result;
  // The server sleeps in DEBUG SLEEP while we kill it: the reply never comes.
  onLoop([&] {
    c->command({"DEBUG", "SLEEP", "5"},
               [&](const redisReply* r) { result.set_value(r == nullptr); });
  });
  ASSERT_TRUE(waitFor([&] { return onLoop([c] { return c->stats().pending; }) == 1; }));
  redis_->kill();
  auto f = result.get_future();
  ASSERT_EQ(f.wait_for(3s), std::future_status::ready);
  EXPECT_TRUE(f.get());
}

TEST_F(RedisClientTest, OverdueReplyTakesTheLinkDown) {
  RedisClient::Options options;
  options.commandTimeoutMs = 200;
  RedisClient* c = makeClient(nullptr, redis_->port(), options);
  ASSERT_TRUE(waitFor([&] { return isUp(c); }));
  std::promise<bool> result;
  auto start = std::chrono::steady_clock::now();
  onLoop([&] {
    c->command({"DEBUG", "SLEEP", "1"},
               [&](const redisReply* r) { result.set_value(r == nullptr); });
  });
  auto f = result.get_future();
  ASSERT_EQ(f.wait_for(3s), std::future_status::ready);
  EXPECT_TRUE(f.get());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 900ms);  // before the server answered
  EXPECT_TRUE(waitFor([&] { return isUp(c); }));               // and back afterwards
}

TEST_F(RedisClientTest, BackOffGrowsAndIsBounded) {
  redis_->kill();
  RedisClient::Options options;
  options.backoffMinMs = 50;
  options.backoffMaxMs = 400;
  RedisClient* c = makeClient(nullptr, redis_->port(), options);
  std::this_thread::sleep_for(2000ms);  // the measured interval, not a synchronisation
  uint64_t attempts = onLoop([c] { return c->stats().connectFailures; });
  // Delays drawn from [25,50], [50,100], [100,200], [200,400], then [200,400] each: in 2 s
  // about 8 to 13 attempts; without back-off (one per 50 ms tick) it would be 40.
  EXPECT_GE(attempts, 5u);
  EXPECT_LE(attempts, 14u);
}

}  // namespace
}  // namespace ringcast::net
