#include "tests/support/failover_traffic.h"

#include <fmt/format.h>

#include <utility>

namespace ringcast::test {
namespace {

using Clock = std::chrono::steady_clock;

// Between two connection attempts of a lost subscriber: a client's back-off, short because
// the survivors are up and the only wait is for the load balancer to notice the dead node.
constexpr Millis kReconnectPause{20};
// How long one read waits before the reader looks at stopping_ again.
constexpr Millis kReadSlice{100};
constexpr Millis kReplyTimeout{5000};

bool hasData(const Json& j, uint64_t m) {
  return j.text().find(fmt::format(R"("data":{{"m":{}}})", m)) != std::string::npos;
}

}  // namespace

// ---- ResumingSubscriber ----

ResumingSubscriber::ResumingSubscriber(std::vector<uint16_t> ports, std::string user,
                                       std::string channel)
    : ports_(std::move(ports)), user_(std::move(user)), channel_(std::move(channel)) {}

ResumingSubscriber::~ResumingSubscriber() {
  stop();
}

::testing::AssertionResult ResumingSubscriber::start() {
  std::string why;
  for (size_t tries = 0; tries < ports_.size(); ++tries, ++turn_) {
    if (connectAndSubscribe(&why)) {
      reader_ = std::thread([this] { readLoop(); });
      return ::testing::AssertionSuccess();
    }
  }
  std::lock_guard lock(mu_);
  return ::testing::AssertionFailure() << user_ << ": " << why << failure_;
}

bool ResumingSubscriber::connectAndSubscribe(std::string* why) {
  const uint16_t port = ports_[turn_ % ports_.size()];
  auto c = std::make_unique<PushClient>();
  if (auto ok = c->connect(port, "/ws?user=" + user_); !ok) {
    *why = fmt::format("connect to {}: {}", port, ok.message());
    return false;
  }
  uint64_t last = 0;
  {
    std::lock_guard lock(mu_);
    if (!offsets_.empty()) last = offsets_.back();
  }
  const int id = nextId_++;
  const bool resume = !epoch_.empty();
  std::string command =
      fmt::format(R"({{"op":"subscribe","channel":{},"id":{}}})", test::quoted(channel_), id);
  if (resume) {
    command.insert(command.size() - 1, fmt::format(R"(,"since":{{"offset":{},"epoch":{}}})", last,
                                                   test::quoted(epoch_)));
  }
  if (!c->send(command)) {
    *why = fmt::format("sending the subscribe to {}: {}", port, c->ws().error());
    return false;
  }
  auto reply = c->until([](const Json& j) { return j.type() == "reply"; }, kReplyTimeout);
  if (!reply) {
    *why = fmt::format("no subscribe reply from {}: {}", port, c->lastRead().describe());
    return false;
  }
  if (reply->boolean("ok") != true) {
    fail(fmt::format("subscribe refused by {}: {}", port, reply->text()));
    return false;
  }
  if (resume && reply->boolean("recovered") != true) {
    fail(fmt::format("resubscribe at {} with since {} not recovered: {}", port, last,
                     reply->text()));
  }
  if (!resume) epoch_ = reply->str("epoch").value_or("");
  client_ = std::move(c);
  std::lock_guard lock(mu_);
  port_ = port;
  return true;
}

void ResumingSubscriber::fail(std::string why) {
  std::lock_guard lock(mu_);
  if (failure_.empty()) failure_ = user_ + ": " + std::move(why);
}

void ResumingSubscriber::readLoop() {
  while (!stopping_.load()) {
    if (auto j = client_->next(kReadSlice)) {
      if (j->type() == "recovery") fail("told of lost messages: " + j->text());
      if (j->type() != "message" || j->str("channel") != channel_) continue;
      const uint64_t offset = j->u64("offset").value_or(0);
      if (!hasData(*j, offset)) fail("offset and data disagree: " + j->text());
      std::lock_guard lock(mu_);
      offsets_.push_back(offset);
      cv_.notify_all();
      continue;
    }
    if (client_->lastRead().status == ReadStatus::kTimeout) continue;
    // The connection is gone: back in through the next port, within the window.
    const auto deadline = Clock::now() + kReconnectWindow;
    std::string why;
    bool back = false;
    {
      std::lock_guard lock(mu_);
      ++reconnects_;
    }
    while (!back && !stopping_.load() && Clock::now() < deadline) {
      ++turn_;
      back = connectAndSubscribe(&why);
      if (!back) std::this_thread::sleep_for(kReconnectPause);
    }
    if (!back) {
      if (!stopping_.load()) fail("could not get back in: " + why);
      std::lock_guard lock(mu_);
      gaveUp_ = true;
      cv_.notify_all();
      return;
    }
  }
}

bool ResumingSubscriber::waitForOffset(uint64_t last, Millis timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    return gaveUp_ || (!offsets_.empty() && offsets_.back() >= last);
  }) && !gaveUp_;
}

void ResumingSubscriber::stop() {
  stopping_.store(true);
  if (reader_.joinable()) reader_.join();
}

int ResumingSubscriber::reconnects() const {
  std::lock_guard lock(mu_);
  return reconnects_;
}

uint16_t ResumingSubscriber::port() const {
  std::lock_guard lock(mu_);
  return port_;
}

::testing::AssertionResult ResumingSubscriber::gotExactlyInOrder(uint64_t last) const {
  std::lock_guard lock(mu_);
  if (!failure_.empty()) return ::testing::AssertionFailure() << failure_;
  uint64_t lost = 0, duplicates = 0, outOfOrder = 0, want = 1;
  for (uint64_t offset : offsets_) {
    if (offset < want) {
      ++duplicates;
    } else {
      if (offset > want) {
        lost += offset - want;
        ++outOfOrder;
      }
      want = offset + 1;
    }
  }
  if (want <= last) lost += last + 1 - want;
  if (lost == 0 && duplicates == 0 && offsets_.size() == last) {
    return ::testing::AssertionSuccess();
  }
  std::string tail;
  for (size_t i = offsets_.size() > 12 ? offsets_.size() - 12 : 0; i < offsets_.size(); ++i) {
    tail += " " + std::to_string(offsets_[i]);
  }
  return ::testing::AssertionFailure()
         << user_ << ": " << offsets_.size() << " messages for offsets 1.." << last << ", " << lost
         << " lost, " << duplicates << " duplicates, " << outOfOrder << " jumps ahead, after "
         << reconnects_ << " reconnects; last offsets:" << tail;
}

// ---- SteadyPublisher ----

SteadyPublisher::SteadyPublisher(std::vector<uint16_t> apiPorts, std::string channel,
                                 uint64_t count, Millis interval)
    : apiPorts_(std::move(apiPorts)),
      channel_(std::move(channel)),
      count_(count),
      interval_(interval) {}

SteadyPublisher::~SteadyPublisher() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
}

void SteadyPublisher::start() {
  thread_ = std::thread([this] { run(); });
}

void SteadyPublisher::run() {
  std::vector<std::unique_ptr<ApiClient>> apis;
  for (uint16_t port : apiPorts_) apis.push_back(std::make_unique<ApiClient>(port));
  auto due = Clock::now();
  for (uint64_t k = 1; k <= count_ && !stopping_.load(); ++k) {
    std::this_thread::sleep_until(due);  // the rate, not a wait for anything
    due += interval_;
    const std::string body =
        fmt::format(R"({{"channel":{},"data":{{"m":{}}}}})", test::quoted(channel_), k);
    HttpResponse r = apis[k % apis.size()]->post("/api/publish", body);
    auto receipt = Json::parse(r.body);
    if (r.status != 200 || !receipt || receipt->u64("offset") != k) {
      std::lock_guard lock(mu_);
      failure_ = fmt::format("publish {} through API port {}: status {} {}{}", k,
                             apiPorts_[k % apis.size()], r.status, r.body, r.error);
      break;
    }
    published_.store(k);
  }
  done_.store(true);
}

bool SteadyPublisher::waitPublished(uint64_t k, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  while (published_.load() < k) {
    if (done_.load() || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(Millis{2});
  }
  return true;
}

::testing::AssertionResult SteadyPublisher::finish(Millis timeout) {
  waitPublished(count_, timeout);
  if (thread_.joinable() && done_.load()) thread_.join();
  std::lock_guard lock(mu_);
  if (!failure_.empty()) return ::testing::AssertionFailure() << failure_;
  if (published_.load() != count_) {
    return ::testing::AssertionFailure()
           << "published " << published_.load() << " of " << count_ << " in time";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace ringcast::test
