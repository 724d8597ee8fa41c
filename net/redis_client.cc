#include "net/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/log.h"

namespace ringcast::net {
namespace {

// Resolution of the client's own clock: reconnect delays, connect and reply deadlines and
// pings are checked this often (20 wake-ups a second per client: nothing on a busy loop).
constexpr int64_t kTickMs = 50;
// Channels per SUBSCRIBE sent on reconnect (one command per few hundred keeps lines short).
constexpr size_t kChannelsPerSubscribe = 256;

int64_t monotonicUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool isString(const redisReply* r, std::string_view s) {
  return r->type == REDIS_REPLY_STRING && std::string_view(r->str, r->len) == s;
}

}  // namespace

void appendRespCommand(std::string* out, const std::string_view* args, size_t count) {
  out->push_back('*');
  out->append(std::to_string(count));
  out->append("\r\n");
  for (size_t i = 0; i < count; ++i) {
    out->push_back('$');
    out->append(std::to_string(args[i].size()));
    out->append("\r\n");
    out->append(args[i]);
    out->append("\r\n");
  }
}

RedisClient::RedisClient(EventLoop* loop, Options options, Handler* handler)
    : loop_(loop),
      options_(std::move(options)),
      handler_(handler),
      jitter_(static_cast<uint32_t>(monotonicUs())),
      alive_(std::make_shared<bool>(true)) {
  loop_->assertInLoopThread();
  ticker_.owner = this;
}

RedisClient::~RedisClient() {
  loop_->assertInLoopThread();
  *alive_ = false;
  if (link_ != nullptr && link_->fd >= 0) ::close(link_->fd);
  if (ticker_.fd >= 0) ::close(ticker_.fd);
  if (reader_ != nullptr) redisReaderFree(reader_);
}

void RedisClient::start() {
  loop_->assertInLoopThread();
  if (state_ != State::kIdle) return;
  ticker_.fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (ticker_.fd < 0) {
    RC_LOG_ERROR("redis {}: timerfd_create failed: {}", describeAddress(), std::strerror(errno));
    std::abort();
  }
  itimerspec spec{};
  spec.it_interval.tv_nsec = kTickMs * 1000000;
  spec.it_value.tv_nsec = kTickMs * 1000000;
  ::timerfd_settime(ticker_.fd, 0, &spec, nullptr);
  loop_->add(ticker_.fd, &ticker_);
  connectNow();
}

void RedisClient::command(std::initializer_list<std::string_view> args, ReplyFn done) {
  sendArgs(args.begin(), args.size(), std::move(done));
}

void RedisClient::command(const std::vector<std::string>& args, ReplyFn done) {
  std::vector<std::string_view> views(args.begin(), args.end());
  sendArgs(views.data(), views.size(), std::move(done));
}

void RedisClient::sendArgs(const std::string_view* args, size_t count, ReplyFn done) {
  loop_->assertInLoopThread();
  if (state_ != State::kUp || pending_.size() >= options_.maxPendingCommands) {
    ++stats_.failedFast;
    if (done) done(nullptr);
    return;
  }
  appendRespCommand(&out_, args, count);
  pending_.push_back(Pending{std::move(done), monotonicUs()});
  stats_.pending = pending_.size();
  ++stats_.commands;
  lastSendMs_ = loop_->nowMs();
  scheduleFlush();
}

void RedisClient::subscribe(std::string_view channel) {
  loop_->assertInLoopThread();
  if (!channels_.emplace(channel).second || state_ != State::kUp) return;
  std::string_view args[] = {"SUBSCRIBE", channel};
  appendRespCommand(&out_, args, 2);
  subscriberMode_ = true;
  scheduleFlush();
}

void RedisClient::unsubscribe(std::string_view channel) {
  loop_->assertInLoopThread();
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  channels_.erase(it);
  if (state_ != State::kUp) return;
  std::string_view args[] = {"UNSUBSCRIBE", channel};
  appendRespCommand(&out_, args, 2);
  scheduleFlush();
}

void RedisClient::connectNow() {
  const sockaddr* addr = options_.address.get();
  int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    RC_LOG_WARN("redis {}: socket failed: {}", describeAddress(), std::strerror(errno));
    state_ = State::kConnecting;
    fail("socket failed");
    return;
  }
  sockets::setNoDelay(fd);
  link_ = std::make_unique<Link>();
  link_->owner = this;
  link_->fd = fd;
  state_ = State::kConnecting;
  connectDeadlineMs_ = loop_->nowMs() + options_.connectTimeoutMs;
  int rc;
  do {
    rc = ::connect(fd, addr, options_.address.length);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno != EINPROGRESS) {
    fail(std::strerror(errno));
    return;
  }
  // Registered once; the writable edge says the connect finished (or failed: SO_ERROR).
  loop_->add(fd, link_.get());
}

void RedisClient::Link::handleEvents(uint32_t events) {
  if (owner->link_.get() != this) return;  // an event for a socket already given up
  owner->onLinkEvents(events);
}

void RedisClient::onLinkEvents(uint32_t events) {
  if (state_ == State::kConnecting) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(link_->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      fail(err != 0 ? std::strerror(err) : "connect failed");
      return;
    }
    onConnected();
  }
  if (state_ == State::kUp && (events & EPOLLOUT)) {
    writeBlocked_ = false;
    flushOut();
  }
  if (state_ == State::kUp && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
    readAll();
  }
}

void RedisClient::onConnected() {
  state_ = State::kUp;
  stats_.up = true;
  ++stats_.connects;
  failedAttempts_ = 0;
  reader_ = redisReaderCreate();
  lastSendMs_ = loop_->nowMs();
  subscriberMode_ = false;
  std::vector<std::string_view> args;
  for (auto it = channels_.begin(); it != channels_.end();) {
    args.assign(1, "SUBSCRIBE");
    for (; it != channels_.end() && args.size() <= kChannelsPerSubscribe; ++it) {
      args.push_back(*it);
    }
    appendRespCommand(&out_, args.data(), args.size());
    subscriberMode_ = true;
  }
  RC_LOG_INFO("redis {}: link up", describeAddress());
  if (!out_.empty()) scheduleFlush();
  if (handler_ != nullptr) handler_->onLinkUp();
}

void RedisClient::readAll() {
  // Read until EAGAIN: the peer is one trusted server, and a reply left unread would wait
  // for an edge that never comes.
  uint8_t* buffer = loop_->readBuffer();
  while (state_ == State::kUp) {
    ssize_t n = ::read(link_->fd, buffer, EventLoop::kReadBufferBytes);
    if (n > 0) {
      if (redisReaderFeed(reader_, reinterpret_cast<const char*>(buffer), static_cast<size_t>(n)) !=
          REDIS_OK) {
        fail("reader refused input");
        return;
      }
      while (state_ == State::kUp) {
        void* reply = nullptr;
        if (redisReaderGetReply(reader_, &reply) != REDIS_OK) {
          fail(reader_->errstr);
          return;
        }
        if (reply == nullptr) break;
        dispatchReply(static_cast<redisReply*>(reply));
      }
    } else if (n == 0) {
      fail("closed by the server");
      return;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN) {
      return;
    } else {
      fail(std::strerror(errno));
      return;
    }
  }
}

void RedisClient::dispatchReply(redisReply* reply) {
  if (subscriberMode_ && dispatchPush(reply)) {
    freeReplyObject(reply);
    return;
  }
  if (pending_.empty()) {
    freeReplyObject(reply);
    fail("reply without a command");
    return;
  }
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  stats_.pending = pending_.size();
  stats_.lastRttUs = monotonicUs() - p.sentUs;
  if (stats_.lastRttUs > stats_.maxRttUs) stats_.maxRttUs = stats_.lastRttUs;
  if (p.done) p.done(reply);
  freeReplyObject(reply);
}

bool RedisClient::dispatchPush(const redisReply* r) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) return false;
  const redisReply* kind = r->element[0];
  const redisReply* channel = r->element[1];
  if (channel->type != REDIS_REPLY_STRING) return false;
  std::string_view name(channel->str, channel->len);
  if (isString(kind, "message")) {
    ++stats_.messages;
    const redisReply* payload = r->element[2];
    if (handler_ != nullptr && payload->type == REDIS_REPLY_STRING) {
      handler_->onMessage(name, std::string_view(payload->str, payload->len));
    }
    return true;
  }
  if (isString(kind, "subscribe")) {
    if (handler_ != nullptr && channels_.count(name) != 0) handler_->onSubscribed(name);
    return true;
  }
  return isString(kind, "unsubscribe");
}

void RedisClient::scheduleFlush() {
  if (flushQueued_) return;
  flushQueued_ = true;
  loop_->queueInLoop([this, alive = alive_] {
    if (!*alive) return;
    flushQueued_ = false;
    if (state_ == State::kUp && !writeBlocked_) flushOut();
  });
}

void RedisClient::flushOut() {
  while (outOffset_ < out_.size()) {
    ssize_t n = ::send(link_->fd, out_.data() + outOffset_, out_.size() - outOffset_, MSG_NOSIGNAL);
    if (n >= 0) {
      outOffset_ += static_cast<size_t>(n);
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN) {
      writeBlocked_ = true;  // the writable edge resumes us
      return;
    } else {
      fail(std::strerror(errno));
      return;
    }
  }
  out_.clear();
  outOffset_ = 0;
}

void RedisClient::fail(const char* why) {
  const bool wasUp = state_ == State::kUp;
  if (wasUp) {
    ++stats_.linkLosses;
    RC_LOG_WARN("redis {}: link lost: {}", describeAddress(), why);
  } else {
    ++stats_.connectFailures;
    RC_LOG_DEBUG("redis {}: connect failed: {}", describeAddress(), why);
  }
  retireLink();
  if (reader_ != nullptr) {
    redisReaderFree(reader_);
    reader_ = nullptr;
  }
  out_.clear();
  outOffset_ = 0;
  writeBlocked_ = false;
  subscriberMode_ = false;
  state_ = State::kWaiting;
  stats_.up = false;
  nextAttemptMs_ = loop_->nowMs() + nextBackoffMs();
  std::deque<Pending> failed;
  failed.swap(pending_);
  stats_.pending = 0;
  stats_.failedPending += failed.size();
  for (Pending& p : failed) {
    if (p.done) p.done(nullptr);
  }
  if (wasUp && handler_ != nullptr) handler_->onLinkDown();
}

void RedisClient::retireLink() {
  if (link_ == nullptr) return;
  if (link_->fd >= 0) ::close(link_->fd);  // also leaves epoll
  link_->fd = -1;
  retired_.push_back(std::move(link_));
  // Freed after this iteration's events: one may still point at the old Link.
  loop_->queueInLoop([this, alive = alive_] {
    if (*alive) retired_.clear();
  });
}

int64_t RedisClient::nextBackoffMs() {
  int64_t base = options_.backoffMinMs;
  for (int i = 0; i < failedAttempts_ && base < options_.backoffMaxMs; ++i) base *= 2;
  if (base > options_.backoffMaxMs) base = options_.backoffMaxMs;
  ++failedAttempts_;
  // Jitter over the upper half, so nodes that lost the same server do not return in step.
  int64_t half = base / 2;
  return half + static_cast<int64_t>(jitter_() % static_cast<uint64_t>(half + 1));
}

void RedisClient::Ticker::handleEvents(uint32_t) {
  uint64_t expirations;
  while (::read(fd, &expirations, sizeof expirations) > 0) {
  }
  owner->onTick();
}

void RedisClient::onTick() {
  const int64_t now = loop_->nowMs();
  switch (state_) {
    case State::kWaiting:
      if (now >= nextAttemptMs_) connectNow();
      break;
    case State::kConnecting:
      if (now >= connectDeadlineMs_) fail("connect timed out");
      break;
    case State::kUp:
      if (!pending_.empty() &&
          monotonicUs() - pending_.front().sentUs > options_.commandTimeoutMs * 1000) {
        fail("reply overdue");
      } else if (pending_.empty() && now - lastSendMs_ >= options_.pingIntervalMs) {
        command({"PING"}, {});
      }
      break;
    case State::kIdle:
      break;
  }
}

}  // namespace ringcast::net
