#include "push/redis_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "core/clock.h"
#include "core/log.h"
#include "push/client_protocol.h"
#include "push/redis_codec.h"
#include "push/shard.h"
#include "ws/frame_writer.h"

namespace ringcast::push {
namespace {

// Live messages kept for one channel while its gap is read from the stream; past this the
// channel's subscribers are told they lost messages.
constexpr size_t kMaxHeldMessages = 65536;

std::string randomEpoch() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

Receipt overloaded() {
  Receipt r;
  r.ok = false;
  r.errorCode = std::string(kOverloadedCode);
  r.errorMessage = std::string(kOverloadedMessage);
  return r;
}

std::string_view str(const redisReply* r) {
  return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
                 r->type == REDIS_REPLY_ERROR
             ? std::string_view(r->str, r->len)
             : std::string_view();
}

// The {offset, epoch, ...} array both scripts answer with.
bool scriptHead(const redisReply* r, uint64_t* offset, std::string* epoch) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
      r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_STRING) {
    return false;
  }
  *offset = static_cast<uint64_t>(r->element[0]->integer);
  *epoch = std::string(str(r->element[1]));
  return true;
}

// A node's name in presence sets: its --node-id and this process's epoch (a restarted node
// with the same id is a new member), without spaces (the sets split members at the first).
std::string instanceName(std::string_view nodeId, std::string_view epoch) {
  std::string name = nodeId.empty() ? std::string("node") : std::string(nodeId);
  for (char& c : name) {
    if (c == ' ') c = '_';
  }
  return name + "/" + std::string(epoch);
}

// Presence updates per script run: a big set is sent in several runs (each one is atomic,
// and Redis serves nobody else while it runs).
constexpr size_t kPresenceUsersPerRun = 500;

}  // namespace

RedisEngine::RedisEngine(Fanout* fanout, const RedisEngineOptions& options)
    : fanout_(fanout),
      options_(options),
      nodeEpoch_(randomEpoch()),
      nodeInstance_(instanceName(options.nodeId, nodeEpoch_)),
      publishScript_{redis::kPublishScript, redis::scriptSha1(redis::kPublishScript)},
      recoverScript_{redis::kRecoverScript, redis::scriptSha1(redis::kRecoverScript)},
      presenceScript_{redis::kPresenceScript, redis::scriptSha1(redis::kPresenceScript)},
      loops_(static_cast<size_t>(fanout->loopCount()), nullptr) {}

RedisEngine::~RedisEngine() {
  for (Envelope* env : fromRedis_) delete env;  // still waiting for room when the node stopped
}

void RedisEngine::attachLoop(net::EventLoop& loop) {
  loops_[static_cast<size_t>(loop.id())] = &loop;
  if (loop.id() != 0) return;
  instances_.resize(options_.addresses.size());
  for (size_t i = 0; i < instances_.size(); ++i) {
    Instance& in = instances_[i];
    net::RedisClient::Options o;
    if (!sockets::parseAddress(options_.addresses[i], &o.address)) {
      RC_LOG_ERROR("--redis: '{}' is not HOST:PORT", options_.addresses[i]);
      std::abort();  // validated by the flags check before the loops start
    }
    in.commandHandler.engine = in.subscriberHandler.engine = this;
    in.commandHandler.instance = in.subscriberHandler.instance = i;
    in.subscriberHandler.subscriber = true;
    in.command = std::make_unique<net::RedisClient>(&loop, o, &in.commandHandler);
    in.subscriber = std::make_unique<net::RedisClient>(&loop, o, &in.subscriberHandler);
    if (i == 0) in.subscriber->subscribe(redis::noticeChannel(options_.prefix));
    in.command->start();
    in.subscriber->start();
  }
  refreshTicker_ = std::make_unique<net::Ticker>(&loop, [this] { refreshPresence(); });
  refreshTicker_->setPeriodUs(std::max<int64_t>(options_.presenceTtlMs / 3, 1) * 1000);
}

void RedisEngine::detachLoop(net::EventLoop& loop) {
  loop.assertInLoopThread();
  if (loop.id() != 0) return;
  refreshTicker_.reset();
  instances_.clear();  // the Redis clients close their sockets on the loop they live on
}

RedisEngine::Instance& RedisEngine::instanceFor(std::string_view key) {
  return instances_[hashKey(key) % instances_.size()];
}

void RedisEngine::onLoop0(std::function<void()> fn) {
  loop0()->runInLoop(std::move(fn));
}

void RedisEngine::updateHealth() {
  bool all = true;
  uint64_t up = 0;
  for (Instance& in : instances_) {
    all = all && in.command->up() && in.subscriber->up();
    up += (in.command->up() ? 1 : 0) + (in.subscriber->up() ? 1 : 0);
  }
  healthy_.store(all, std::memory_order_relaxed);
  linksUp_.store(up, std::memory_order_relaxed);
}

void RedisEngine::LinkHandler::onLinkUp() {
  if (!subscriber) engine->loadScripts(*engine->instances_[instance].command);
  engine->updateHealth();
}

void RedisEngine::loadScripts(net::RedisClient& client) {
  // The first commands on a new connection (onLinkUp runs before anything else can be sent
  // on it), and Redis runs one connection's commands in order: every EVALSHA after them finds
  // its script. Without this, the first publishes to a fresh (or restarted) server were
  // answered NOSCRIPT and sent again with EVAL, while later ones, sent before the first
  // EVAL had loaded the script and arriving after it, succeeded in between: a pipelined burst
  // got its offsets out of order.
  for (const Script* s : {&publishScript_, &recoverScript_, &presenceScript_}) {
    client.command({"SCRIPT", "LOAD", s->text}, nullptr);
  }
}

void RedisEngine::LinkHandler::onLinkDown() {
  engine->reconnects_.fetch_add(1, std::memory_order_relaxed);
  engine->updateHealth();
  if (!subscriber) return;
  // Whatever was published meanwhile is read from the streams once the SUBSCRIBEs are back.
  for (auto& [name, s] : engine->channels_) {
    if (&engine->instanceFor(name) == &engine->instances_[instance]) s.confirmed = false;
  }
}

void RedisEngine::LinkHandler::onSubscribed(std::string_view pubChannel) {
  std::string_view channel;
  if (!redis::channelOfMessageChannel(engine->options_.prefix, pubChannel, &channel)) return;
  auto it = engine->channels_.find(channel);
  if (it == engine->channels_.end()) return;
  ChannelState& s = it->second;
  s.confirmed = true;
  auto waiting = std::move(s.waiting);
  s.waiting.clear();
  if (s.known) engine->catchUp(it->first);  // the link may have been down: read what it missed
  for (auto& run : waiting) run();
  // Presence updates held back until this node hears the channel (its own join included).
  auto set = engine->presence_.find(channel);
  if (set != engine->presence_.end() && !set->second.dirty.empty()) engine->queueFlush(it->first);
}

void RedisEngine::LinkHandler::onMessage(std::string_view pubChannel, std::string_view payload) {
  std::string_view name;
  if (redis::channelOfMessageChannel(engine->options_.prefix, pubChannel, &name)) {
    engine->onChannelMessage(name, payload);
  } else if (redis::userOfUserChannel(engine->options_.prefix, pubChannel, &name)) {
    engine->onUserMessage(name, payload);
  } else if (pubChannel == redis::noticeChannel(engine->options_.prefix)) {
    engine->onNotice(payload);
  }
}

void RedisEngine::evalScript(net::RedisClient& client, const Script& s, int keys,
                             std::vector<std::string> args, net::RedisClient::ReplyFn done) {
  const std::string_view script = s.text;
  args.insert(args.begin(), {"EVALSHA", s.sha, std::to_string(keys)});
  auto retry = [&client, script, args, done = std::move(done)](const redisReply* r) mutable {
    if (r != nullptr && r->type == REDIS_REPLY_ERROR && str(r).substr(0, 8) == "NOSCRIPT") {
      // A restarted server forgot the script: EVAL sends it once more (and caches it).
      args[0] = "EVAL";
      args[1] = std::string(script);
      client.command(args, std::move(done));
      return;
    }
    done(r);
  };
  client.command(args, std::move(retry));
}

// --- publishing -------------------------------------------------------------------------

bool RedisEngine::refusedWhileDown(ReceiptFn& done) {
  if (refusedForMemory(done)) return true;
  if (healthy()) return false;
  refused_.fetch_add(1, std::memory_order_relaxed);
  if (done) done(overloaded());
  return true;
}

void RedisEngine::publish(std::string_view channel, std::string_view dataJson,
                          std::string_view from, ReceiptWait, ReceiptFn done) {
  if (refusedWhileDown(done)) return;
  if (Shard* shard = Fanout::currentShard()) ++shard->counters().messagesIn;
  net::EventLoop* origin = Fanout::currentShard()->loop();
  std::vector<std::string> args = {redis::metaKey(options_.prefix, channel),
                                   redis::historyKey(options_.prefix, channel),
                                   redis::messageChannel(options_.prefix, channel),
                                   std::string(dataJson),
                                   std::string(from),
                                   std::to_string(Fanout::stampWallMs()),
                                   randomEpoch(),
                                   std::to_string(options_.historySize),
                                   std::to_string(options_.historyTtlMs)};
  onLoop0([this, ch = std::string(channel), args = std::move(args), origin,
           done = std::move(done)]() mutable {
    Instance& in = instanceFor(ch);
    const int64_t startUs = monotonicNs() / 1000;
    evalScript(*in.command, publishScript_, 2, std::move(args),
               [this, origin, startUs, done = std::move(done)](const redisReply* r) mutable {
                 publishRttUs_.store(monotonicNs() / 1000 - startUs, std::memory_order_relaxed);
                 Receipt receipt;
                 if (!scriptHead(r, &receipt.offset, &receipt.epoch)) {
                   refused_.fetch_add(1, std::memory_order_relaxed);
                   receipt = overloaded();
                 }
                 receipt.counted = false;  // only Redis knows every node's sockets
                 if (!done) return;
                 origin->runInLoop([done = std::move(done), receipt] { done(receipt); });
               });
  });
}

void RedisEngine::broadcast(std::string_view dataJson, ReceiptFn done) {
  if (refusedWhileDown(done)) return;
  net::EventLoop* origin = Fanout::currentShard()->loop();
  std::string payload = redis::encodeNotice(Fanout::stampWallMs(), dataJson);
  onLoop0([this, payload = std::move(payload), origin, done = std::move(done)]() mutable {
    instances_[0].command->command(
        {"PUBLISH", redis::noticeChannel(options_.prefix), payload},
        [this, origin, done = std::move(done)](const redisReply* r) mutable {
          Receipt receipt =
              r != nullptr && r->type == REDIS_REPLY_INTEGER ? Receipt{} : overloaded();
          if (!receipt.ok) refused_.fetch_add(1, std::memory_order_relaxed);
          receipt.counted = false;
          if (done) origin->runInLoop([done = std::move(done), receipt] { done(receipt); });
        });
  });
}

void RedisEngine::send(const std::vector<std::string>& users, std::string_view dataJson,
                       std::string_view from, ReceiptFn done) {
  if (refusedWhileDown(done)) return;
  std::string payload = redis::encodeDirect(Fanout::stampWallMs(), from, dataJson);
  net::EventLoop* origin = Fanout::currentShard()->loop();
  onLoop0([this, users, payload = std::move(payload), origin, done = std::move(done)]() mutable {
    // One PUBLISH per user; the receipt when all are answered. matchedPerUser counts the
    // nodes where the user has a connection (only they subscribe to the user's channel).
    struct Gather {
      Receipt receipt;
      size_t left;
      ReceiptFn done;
    };
    auto g = std::make_shared<Gather>();
    g->receipt.counted = false;
    g->receipt.matchedPerUser.assign(users.size(), 0);
    g->left = users.size();
    g->done = std::move(done);
    for (size_t i = 0; i < users.size(); ++i) {
      instanceFor("u:" + users[i])
          .command->command({"PUBLISH", redis::userChannel(options_.prefix, users[i]), payload},
                            [this, g, i, origin](const redisReply* r) {
                              if (r != nullptr && r->type == REDIS_REPLY_INTEGER) {
                                g->receipt.matchedPerUser[i] = static_cast<uint64_t>(r->integer);
                                if (r->integer > 0) g->receipt.online = true;
                              } else if (g->receipt.ok) {
                                refused_.fetch_add(1, std::memory_order_relaxed);
                                g->receipt = overloaded();
                                g->receipt.counted = false;
                              }
                              if (--g->left > 0 || !g->done) return;
                              origin->runInLoop([g] { g->done(g->receipt); });
                            });
    }
  });
}

void RedisEngine::disconnect(std::string_view user, ReceiptFn done) {
  if (refusedWhileDown(done)) return;
  net::EventLoop* origin = Fanout::currentShard()->loop();
  onLoop0([this, u = std::string(user), origin, done = std::move(done)]() mutable {
    instanceFor("u:" + u).command->command(
        {"PUBLISH", redis::userChannel(options_.prefix, u), redis::kDisconnectPayload},
        [origin, done = std::move(done)](const redisReply* r) mutable {
          Receipt receipt =
              r != nullptr && r->type == REDIS_REPLY_INTEGER ? Receipt{} : overloaded();
          receipt.online = receipt.ok && r->integer > 0;
          receipt.counted = false;
          if (done) origin->runInLoop([done = std::move(done), receipt] { done(receipt); });
        });
  });
}

// --- interest and recovery --------------------------------------------------------------

void RedisEngine::channelInterest(std::string_view channel, bool interested) {
  onLoop0([this, ch = std::string(channel), interested] {
    if (interested) {
      ChannelState& s = channels_[ch];
      if (s.interest++ == 0)
        instanceFor(ch).subscriber->subscribe(redis::messageChannel(options_.prefix, ch));
      return;
    }
    auto it = channels_.find(ch);
    if (it == channels_.end() || --it->second.interest > 0) return;
    instanceFor(ch).subscriber->unsubscribe(redis::messageChannel(options_.prefix, ch));
    auto waiting = std::move(it->second.waiting);
    channels_.erase(it);
    for (auto& run : waiting) run();
  });
}

void RedisEngine::userChange(std::string_view user, int delta) {
  onLoop0([this, u = std::string(user), delta] {
    changePresence(std::string(), u, u, delta);
    int& conns = localUsers_[u];
    const bool was = conns > 0;
    conns += delta;
    const bool is = conns > 0;
    if (!is) localUsers_.erase(u);
    if (was == is) return;
    net::RedisClient& sub = *instanceFor("u:" + u).subscriber;
    if (is) {
      sub.subscribe(redis::userChannel(options_.prefix, u));
    } else {
      sub.unsubscribe(redis::userChannel(options_.prefix, u));
    }
  });
}

void RedisEngine::recover(std::string_view channel, const std::optional<StreamPosition>& since,
                          RecoveryFn done) {
  net::EventLoop* origin = Fanout::currentShard()->loop();
  onLoop0([this, ch = std::string(channel), since, origin, done = std::move(done)]() mutable {
    auto it = channels_.find(ch);
    Instance& in = instanceFor(ch);
    if (it != channels_.end() && !it->second.confirmed && in.subscriber->up()) {
      // Read the position only once the SUBSCRIBE is in force: nothing falls between.
      it->second.waiting.push_back([this, ch, since, origin, done = std::move(done)]() mutable {
        recoverInLoop0(std::move(ch), std::move(since), origin, std::move(done));
      });
      return;
    }
    recoverInLoop0(std::move(ch), std::move(since), origin, std::move(done));
  });
}

void RedisEngine::recoverInLoop0(std::string channel, std::optional<StreamPosition> since,
                                 net::EventLoop* origin, RecoveryFn done) {
  std::vector<std::string> args = {redis::metaKey(options_.prefix, channel),
                                   redis::historyKey(options_.prefix, channel), randomEpoch(),
                                   since ? std::to_string(since->offset) : std::string(),
                                   std::to_string(options_.historySize + 1)};
  evalScript(*instanceFor(channel).command, recoverScript_, 2, std::move(args),
             [this, channel, since, origin, done = std::move(done)](const redisReply* r) mutable {
               Recovery rec;
               if (!scriptHead(r, &rec.offset, &rec.epoch)) {
                 rec.ok = false;
                 rec.errorCode = std::string(kOverloadedCode);
                 rec.errorMessage = std::string(kOverloadedMessage);
               } else {
                 auto it = channels_.find(channel);
                 if (it != channels_.end() && !it->second.known) {
                   it->second.known = true;
                   it->second.lastOffset = rec.offset;
                   it->second.epoch = rec.epoch;
                 }
                 std::vector<Held> read;
                 if (since && since->epoch == rec.epoch && since->offset <= rec.offset &&
                     readAfter(r, channel, since->offset, rec.offset, &read)) {
                   rec.recovered = true;
                   for (Held& h : read) rec.missed.push_back(std::move(h.frame));
                 }
               }
               // Shared: a queued task must be copyable, and the frames are not.
               auto shared = std::make_shared<Recovery>(std::move(rec));
               origin->runInLoop([done = std::move(done), shared] { done(std::move(*shared)); });
             });
}

// --- what arrives from Redis ------------------------------------------------------------

FrameRef RedisEngine::messageFrame(std::string_view channel, uint64_t offset, int64_t tsMs,
                                   std::string_view from, std::string_view data) {
  std::string json;
  json.reserve(data.size() + channel.size() + from.size() + 96);
  frame::message(json, channel, offset, from, tsMs, data);
  return ws::buildFrame(ws::Opcode::kText, json);
}

void RedisEngine::onChannelMessage(std::string_view channel, std::string_view payload) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;  // unsubscribed meanwhile
  bool join = false;
  std::string_view user;
  if (redis::decodePresenceEvent(payload, &join, &user)) {
    onPresenceEvent(channel, join, user);
    return;
  }
  redis::ChannelMessage m;
  if (!redis::decodeChannelMessage(payload, &m)) {
    RC_LOG_WARN("redis: malformed message on {}", channel);
    return;
  }
  acceptLive(it->second, it->first,
             Held{m.offset, std::string(m.epoch),
                  messageFrame(channel, m.offset, m.tsMs, m.from, m.data)});
}

void RedisEngine::acceptLive(ChannelState& s, const std::string& channel, Held m) {
  if (s.catchingUp) {
    if (s.held.size() >= kMaxHeldMessages) return;  // catchUp() tells them (offset skip)
    s.held.push_back(std::move(m));
    return;
  }
  if (!s.known) {
    s.known = true;
    s.lastOffset = m.offset - 1;
    s.epoch = m.epoch;
  }
  if (m.epoch != s.epoch) {
    // The channel's history was lost in Redis: offsets start again in a new epoch.
    gapsFound_.fetch_add(1, std::memory_order_relaxed);
    gapsLost_.fetch_add(1, std::memory_order_relaxed);
    s.epoch = m.epoch;
    s.lastOffset = m.offset - 1;
    deliverLost(channel, s.lastOffset, s.epoch);
  }
  if (m.offset <= s.lastOffset) return;  // already handed over (a catch-up read it)
  if (m.offset > s.lastOffset + 1) {
    gapsFound_.fetch_add(1, std::memory_order_relaxed);
    s.held.push_back(std::move(m));
    catchUp(channel);
    return;
  }
  deliverMessage(s, channel, std::move(m));
}

void RedisEngine::deliverMessage(ChannelState& s, const std::string& channel, Held m) {
  s.lastOffset = m.offset;
  Envelope* env = fanout_->newEnvelope(Envelope::Kind::kChannel, channel, nullptr);
  env->offset = m.offset;
  env->frame = std::move(m.frame);
  env->publishNs = Fanout::stampMonotonicNs();
  deliverInOrder(env);
}

bool RedisEngine::readAfter(const redisReply* r, std::string_view channel, uint64_t after,
                            uint64_t last, std::vector<Held>* out) {
  uint64_t expect = after + 1;
  for (size_t i = 2; i < r->elements; ++i) {
    redis::ChannelMessage m;
    if (!redis::decodeChannelMessage(str(r->element[i]), &m) || m.offset != expect) return false;
    out->push_back(Held{m.offset, std::string(m.epoch),
                        messageFrame(channel, m.offset, m.tsMs, m.from, m.data)});
    ++expect;
  }
  return expect == last + 1;
}

void RedisEngine::catchUp(const std::string& channel) {
  auto it = channels_.find(channel);
  if (it == channels_.end() || it->second.catchingUp) return;
  ChannelState& s = it->second;
  s.catchingUp = true;
  std::vector<std::string> args = {
      redis::metaKey(options_.prefix, channel), redis::historyKey(options_.prefix, channel),
      randomEpoch(), std::to_string(s.lastOffset), std::to_string(options_.historySize + 1)};
  evalScript(*instanceFor(channel).command, recoverScript_, 2, std::move(args),
             [this, channel](const redisReply* r) {
               auto it = channels_.find(channel);
               if (it == channels_.end()) return;
               ChannelState& s = it->second;
               s.catchingUp = false;
               uint64_t offset = 0;
               std::string epoch;
               if (!scriptHead(r, &offset, &epoch)) return;  // link lost: again when it is back
               std::vector<Held> read;
               const bool newEpoch = epoch != s.epoch;
               if (!newEpoch && offset >= s.lastOffset &&
                   readAfter(r, channel, s.lastOffset, offset, &read)) {
                 if (!read.empty()) gapsFilled_.fetch_add(1, std::memory_order_relaxed);
                 for (Held& h : read) deliverMessage(s, channel, std::move(h));
               } else {
                 gapsLost_.fetch_add(1, std::memory_order_relaxed);
                 s.epoch = epoch;
                 // A new epoch (the history was lost in Redis, say by a restart) is new from
                 // its first offset: what it already holds was published after the loss (a
                 // publish that beat this read, its live copy held meanwhile) and comes next.
                 // In the same epoch the gap is simply gone.
                 s.lastOffset = newEpoch ? 0 : offset;
                 deliverLost(channel, s.lastOffset, epoch);
               }
               auto held = std::move(s.held);
               s.held.clear();
               for (Held& h : held) {
                 auto again = channels_.find(channel);
                 if (again == channels_.end()) return;
                 acceptLive(again->second, channel, std::move(h));
               }
               // The new epoch's messages that no live copy brought: read from its history.
               auto again = channels_.find(channel);
               if (newEpoch && again != channels_.end() && again->second.lastOffset < offset) {
                 catchUp(channel);
               }
             });
}

void RedisEngine::deliverLost(std::string_view channel, uint64_t offset, std::string_view epoch) {
  Envelope* env = fanout_->newEnvelope(Envelope::Kind::kLost, channel, nullptr);
  env->offset = offset;
  std::string json;
  frame::lost(json, channel, offset, epoch);
  env->frame = ws::buildFrame(ws::Opcode::kText, json);
  env->publishNs = Fanout::stampMonotonicNs();
  deliverInOrder(env);
}

void RedisEngine::onUserMessage(std::string_view user, std::string_view payload) {
  redis::UserMessage m;
  if (!redis::decodeUserMessage(payload, &m)) return;
  Envelope* env = nullptr;
  if (m.disconnect) {
    env = fanout_->newEnvelope(Envelope::Kind::kDisconnect, user, nullptr);
  } else {
    env = fanout_->newEnvelope(Envelope::Kind::kUsers, {}, nullptr);
    env->users = {std::string(user)};
    env->userMatched = std::make_unique<std::atomic<uint64_t>[]>(1);
    std::string json;
    frame::direct(json, m.from, user, m.tsMs, m.data);
    env->frame = ws::buildFrame(ws::Opcode::kText, json);
  }
  env->publishNs = Fanout::stampMonotonicNs();
  deliverInOrder(env);
}

void RedisEngine::onNotice(std::string_view payload) {
  redis::Notice n;
  if (!redis::decodeNotice(payload, &n)) return;
  Envelope* env = fanout_->newEnvelope(Envelope::Kind::kAll, {}, nullptr);
  std::string json;
  frame::notice(json, n.tsMs, n.data);
  env->frame = ws::buildFrame(ws::Opcode::kText, json);
  env->publishNs = Fanout::stampMonotonicNs();
  deliverInOrder(env);
}

void RedisEngine::deliverInOrder(Envelope* env) {
  fromRedis_.push_back(env);
  if (!flushParked_) flushFromRedis();
}

void RedisEngine::flushFromRedis() {
  auto attempt = [this] {
    while (!fromRedis_.empty()) {
      if (!fanout_->tryDeliver(fromRedis_.front())) return false;
      fromRedis_.pop_front();
    }
    flushParked_ = false;
    return true;
  };
  // What came from Redis was accepted by the cluster: past the park bound the flush parks
  // again rather than dropping anything, and the queue keeps the order it arrived in.
  flushParked_ = true;
  fanout_->shard(0).runOrPark(attempt, [this] {
    flushParked_ = false;
    flushFromRedis();
  });
}

// --- presence -------------------------------------------------------------------------

void RedisEngine::presenceChange(std::string_view channel, std::string_view user,
                                 std::string_view name, int delta) {
  onLoop0([this, ch = std::string(channel), u = std::string(user), n = std::string(name), delta] {
    changePresence(ch, u, n, delta);
  });
}

void RedisEngine::changePresence(const std::string& set, std::string_view user,
                                 std::string_view name, int delta) {
  PresenceSet& ps = presenceSet(set);
  auto [it, inserted] = ps.users.try_emplace(std::string(user));
  LocalPresence& p = it->second;
  if (delta > 0) {
    if (p.conns == 0) p.name = std::string(name);
    p.conns += static_cast<uint32_t>(delta);
  } else {
    p.conns -= std::min(p.conns, static_cast<uint32_t>(-delta));
  }
  if (!p.dirty) {
    p.dirty = true;
    ps.dirty.push_back(it->first);
  }
  queueFlush(set);
}

void RedisEngine::queueFlush(const std::string& set) {
  PresenceSet& ps = presenceSet(set);
  if (ps.queued) return;
  ps.queued = true;
  dirtySets_.push_back(set);
  if (flushScheduled_) return;
  flushScheduled_ = true;
  // After the tasks and events of this iteration: a burst of changes makes one update.
  loop0()->queueInLoop([this] { flushPresence(); });
}

void RedisEngine::flushPresence() {
  flushScheduled_ = false;
  auto sets = std::move(dirtySets_);
  dirtySets_.clear();
  for (const std::string& set : sets) {
    PresenceSet& ps = presenceSet(set);
    ps.queued = false;
    auto ch = set.empty() ? channels_.end() : channels_.find(set);
    // A channel's update waits until this node hears the channel: its join comes back to it.
    if (ch != channels_.end() && !ch->second.confirmed && instanceFor(set).subscriber->up()) {
      continue;  // onSubscribed() queues it again
    }
    sendPresence(set, false);
  }
}

void RedisEngine::sendPresence(const std::string& set, bool all) {
  PresenceSet& ps = presenceSet(set);
  std::vector<std::string> users;
  if (all) {
    users.reserve(ps.users.size());
    for (auto& [user, p] : ps.users) users.push_back(user);
  } else {
    users = std::move(ps.dirty);
  }
  ps.dirty.clear();
  net::RedisClient& client = presenceClient(set);
  const int64_t now = wallMs();
  for (size_t first = 0; first < users.size(); first += kPresenceUsersPerRun) {
    std::vector<std::string> args =
        presenceArgs(set, now, now + options_.presenceTtlMs, 2 * options_.presenceTtlMs, false);
    const size_t last = std::min(users.size(), first + kPresenceUsersPerRun);
    for (size_t i = first; i < last; ++i) {
      const LocalPresence& p = ps.users[users[i]];
      args.push_back(users[i]);
      args.push_back(std::to_string(p.conns));
      args.push_back(p.name);
    }
    // A failed update is sent again by the next refresh (or expires: the users leave).
    evalScript(client, presenceScript_, 4, std::move(args), [](const redisReply*) {});
  }
  for (const std::string& user : users) {
    auto it = ps.users.find(user);
    if (it == ps.users.end()) continue;
    it->second.dirty = false;
    if (it->second.conns == 0) ps.users.erase(it);
  }
  if (!set.empty() && ps.users.empty() && ps.dirty.empty() && !ps.queued) presence_.erase(set);
}

std::vector<std::string> RedisEngine::presenceArgs(const std::string& set, int64_t nowMs,
                                                   int64_t expiryMs, int64_t keyTtlMs,
                                                   bool read) const {
  const redis::PresenceKeys keys = set.empty() ? redis::onlinePresenceKeys(options_.prefix)
                                               : redis::channelPresenceKeys(options_.prefix, set);
  return {keys.conns,
          keys.expiry,
          keys.nodes,
          keys.names,
          nodeInstance_,
          std::to_string(nowMs),
          std::to_string(expiryMs),
          std::to_string(keyTtlMs),
          set.empty() ? std::string() : redis::messageChannel(options_.prefix, set),
          read ? "1" : "0"};
}

void RedisEngine::refreshPresence() {
  if (!healthy()) return;  // the updates would fail at once; the link's return refreshes
  sendPresence(std::string(), true);
  std::vector<std::string> sets;
  sets.reserve(presence_.size());
  for (const auto& [set, ps] : presence_) sets.push_back(set);
  for (const std::string& set : sets) {
    if (presence_.find(set) != presence_.end()) sendPresence(set, true);
  }
}

void RedisEngine::readPresence(const std::string& set,
                               std::function<void(bool ok, PresenceRead)> done) {
  std::vector<std::string> args = presenceArgs(set, wallMs(), 0, 0, true);
  net::RedisClient& client = presenceClient(set);
  evalScript(
      client, presenceScript_, 4, std::move(args), [done = std::move(done)](const redisReply* r) {
        if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_ARRAY || r->element[1]->type != REDIS_REPLY_ARRAY) {
          done(false, {});
          return;
        }
        std::unordered_map<std::string, PresenceEntry, StringHash, std::equal_to<>> byUser;
        const redisReply* conns = r->element[0];
        for (size_t i = 0; i + 1 < conns->elements; i += 2) {
          std::string_view member = str(conns->element[i]);
          const size_t sp = member.find(' ');
          if (sp == std::string_view::npos) continue;
          std::string_view user = member.substr(sp + 1);
          PresenceEntry& e = byUser[std::string(user)];
          e.user = std::string(user);
          if (conns->element[i + 1]->type == REDIS_REPLY_STRING) {
            e.conns += static_cast<uint32_t>(std::atoi(conns->element[i + 1]->str));
          }
        }
        const redisReply* names = r->element[1];
        for (size_t i = 0; i + 1 < names->elements; i += 2) {
          auto it = byUser.find(str(names->element[i]));
          if (it != byUser.end()) it->second.name = std::string(str(names->element[i + 1]));
        }
        PresenceRead out;
        out.reserve(byUser.size());
        for (auto& [user, e] : byUser) {
          if (e.name.empty()) e.name = e.user;
          out.push_back(std::move(e));
        }
        std::sort(out.begin(), out.end(),
                  [](const PresenceEntry& a, const PresenceEntry& b) { return a.user < b.user; });
        done(true, std::move(out));
      });
}

void RedisEngine::presence(std::string_view channel,
                           std::function<void(std::vector<PresenceEntry>)> done) {
  net::EventLoop* origin = Fanout::currentShard()->loop();
  onLoop0([this, ch = std::string(channel), origin, done = std::move(done)]() mutable {
    auto answer = [this, ch, origin, done = std::move(done)](bool ok, PresenceRead read) mutable {
      if (!ok) {
        // Redis unreachable: this node's own part of the list.
        read.clear();
        auto it = presence_.find(ch);
        if (it != presence_.end()) {
          for (const auto& [user, p] : it->second.users) {
            if (p.conns > 0) read.push_back({user, p.name, p.conns});
          }
        }
        std::sort(read.begin(), read.end(),
                  [](const PresenceEntry& a, const PresenceEntry& b) { return a.user < b.user; });
      }
      auto shared = std::make_shared<PresenceRead>(std::move(read));
      origin->runInLoop([done = std::move(done), shared] { done(std::move(*shared)); });
    };
    readPresence(ch, std::move(answer));
  });
}

void RedisEngine::presencePage(std::string_view channel, size_t maxEntries,
                               std::function<void(PresencePage)> done) {
  // Redis answers with the whole set: the page bounds what the client is sent.
  presence(channel, [maxEntries, done = std::move(done)](std::vector<PresenceEntry> entries) {
    PresencePage page;
    page.total = entries.size();
    if (entries.size() > maxEntries) entries.resize(maxEntries);
    page.entries = std::move(entries);
    done(std::move(page));
  });
}

void RedisEngine::users(std::function<void(std::vector<UserInfo>)> done) {
  net::EventLoop* origin = Fanout::currentShard()->loop();
  onLoop0([this, origin, done = std::move(done)]() mutable {
    readPresence(
        std::string(), [this, origin, done = std::move(done)](bool ok, PresenceRead read) mutable {
          auto out = std::make_shared<std::vector<UserInfo>>();
          if (ok) {
            for (const PresenceEntry& e : read) out->push_back({e.user, e.conns});
          } else {
            for (const auto& [user, conns] : localUsers_) {
              out->push_back({user, static_cast<uint32_t>(conns)});
            }
            std::sort(out->begin(), out->end(),
                      [](const UserInfo& a, const UserInfo& b) { return a.user < b.user; });
          }
          origin->runInLoop([done = std::move(done), out] { done(std::move(*out)); });
        });
  });
}

void RedisEngine::channels(std::function<void(std::vector<ChannelInfo>)> done) {
  net::EventLoop* origin = Fanout::currentShard()->loop();
  onLoop0([this, origin, done = std::move(done)]() mutable {
    auto out = std::make_shared<std::vector<ChannelInfo>>();
    for (const auto& [channel, ps] : presence_) {
      ChannelInfo info{channel, 0, 0};
      for (const auto& [user, p] : ps.users) info.subscribers += p.conns;
      if (info.subscribers == 0) continue;
      auto it = channels_.find(channel);
      if (it != channels_.end()) info.offset = it->second.lastOffset;
      out->push_back(std::move(info));
    }
    std::sort(out->begin(), out->end(),
              [](const ChannelInfo& a, const ChannelInfo& b) { return a.channel < b.channel; });
    origin->runInLoop([done = std::move(done), out] { done(std::move(*out)); });
  });
}

void RedisEngine::onPresenceEvent(std::string_view channel, bool join, std::string_view user) {
  Envelope* env = fanout_->newEnvelope(Envelope::Kind::kPresence, channel, nullptr);
  std::string json;
  if (join) {
    frame::join(json, channel, user);
  } else {
    frame::leave(json, channel, user);
  }
  env->frame = ws::buildFrame(ws::Opcode::kText, json);
  env->publishNs = Fanout::stampMonotonicNs();
  deliverInOrder(env);
}

void RedisEngine::appendEngineMetrics(std::string& out) const {
  auto line = [&out](std::string_view name, std::string_view help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
  };
  line("ringcast_redis_up", "1 while every Redis link is up", healthy() ? 1 : 0);
  line("ringcast_redis_links_up", "Redis links (command and subscriber) up",
       linksUp_.load(std::memory_order_relaxed));
  line("ringcast_redis_link_losses_total", "Redis links lost (each reconnects with back-off)",
       reconnects_.load(std::memory_order_relaxed));
  line("ringcast_redis_publish_rtt_seconds", "round trip of the last publish script",
       static_cast<double>(publishRttUs_.load(std::memory_order_relaxed)) / 1e6);
  line("ringcast_redis_refused_total", "sends refused with overloaded: Redis unreachable",
       refused_.load(std::memory_order_relaxed));
  line("ringcast_redis_gaps_found_total", "offset skips or epoch changes seen from Redis",
       gapsFound_.load(std::memory_order_relaxed));
  line("ringcast_redis_gaps_filled_total", "gaps filled from the channel's stream",
       gapsFilled_.load(std::memory_order_relaxed));
  line("ringcast_redis_gaps_lost_total", "gaps the stream no longer held (subscribers told)",
       gapsLost_.load(std::memory_order_relaxed));
}

}  // namespace ringcast::push
