#include "push/fanout.h"

#include <fmt/format.h>

#include <random>
#include <thread>

#include "core/clock.h"
#include "core/log.h"
#include "push/client_protocol.h"
#include "push/shard.h"
#include "ws/frame_writer.h"

namespace ringcast::push {
namespace {

thread_local Shard* tCurrentShard = nullptr;

FrameRef textFrame(const std::string& json) {
  return ws::buildFrame(ws::Opcode::kText, json);
}

std::string newEpoch() {
  std::random_device rd;
  return fmt::format("{:08x}", static_cast<uint32_t>(rd()));
}

}  // namespace

Fanout::Fanout(std::vector<net::EventLoop*> loops, const FanoutOptions& options)
    : options_(options),
      loops_(std::move(loops)),
      ring_(options.ringCapacity, static_cast<int>(loops_.size())),
      epoch_(newEpoch()) {
  for (size_t i = 0; i < loops_.size(); ++i) {
    shards_.push_back(std::make_unique<Shard>(this, loops_[i], static_cast<int>(i)));
  }
}

Fanout::~Fanout() = default;

void Fanout::attachLoop(net::EventLoop& loop) {
  Shard& s = shard(loop.id());
  s.adoptByCurrentThread();  // built on main; the loop owns it from now on
  tCurrentShard = &s;
  loop.setIterationHook(&s);
}

Shard& Fanout::currentShard() {
  return *tCurrentShard;
}

Envelope* Fanout::newEnvelope(Envelope::Kind kind, std::string_view key, ReceiptFn done) {
  auto* env = new Envelope;
  env->kind = kind;
  env->key = std::string(key);
  env->originLoop = tCurrentShard != nullptr ? tCurrentShard->index() : -1;
  env->done = std::move(done);
  env->loopsLeft.store(static_cast<int>(loops_.size()), std::memory_order_relaxed);
  return env;
}

bool Fanout::tryPush(Envelope* env) {
  if (!ring_.tryPublish(env)) return false;
  for (net::EventLoop* loop : loops_) loop->wakeIfSleeping();
  return true;
}

bool Fanout::push(Envelope* env) {
  if (tryPush(env)) return true;
  // Full: the slowest cursor may be our own loop's, which is busy right here. Deliver what
  // this loop owes, then wait (boundedly) for the other loops.
  const int64_t deadline = monotonicMs() + options_.ringWaitMs;
  for (;;) {
    if (tCurrentShard != nullptr) tCurrentShard->drain();
    if (tryPush(env)) return true;
    if (monotonicMs() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

void Fanout::fail(Envelope* env, std::string_view code, std::string_view message) {
  if (env->done) {
    Receipt r;
    r.ok = false;
    r.errorCode = std::string(code);
    r.errorMessage = std::string(message);
    env->done(r);
  }
  delete env;
}

void Fanout::finished(Envelope* env) {
  if (env->loopsLeft.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (!env->done || env->originLoop < 0) {
    delete env;
    return;
  }
  // The last loop to deliver hands the receipt back to the loop that asked.
  loops_[static_cast<size_t>(env->originLoop)]->queueInLoop([env] {
    Receipt r;
    r.offset = env->offset;
    r.matched = env->matched.load(std::memory_order_relaxed);
    r.queued = env->queued.load(std::memory_order_relaxed);
    r.dropped = env->dropped.load(std::memory_order_relaxed);
    r.online = r.matched > 0;
    env->done(r);
    delete env;
  });
}

bool Fanout::publishWithOffset(std::string_view channel, std::string_view dataJson,
                               std::string_view from, ReceiptFn done, uint64_t* offset) {
  Envelope* env = newEnvelope(Envelope::Kind::kChannel, channel, std::move(done));
  const int64_t nowMs = wallMs();
  bool ok = channels_.withChannel(channel, [&](Channel& ch) {
    // Offset, ring order and history are decided together under the channel's lock.
    env->offset = ch.offset + 1;
    std::string json;
    json.reserve(dataJson.size() + channel.size() + from.size() + 96);
    frame::message(json, channel, env->offset, from, nowMs, dataJson);
    env->frame = textFrame(json);
    FrameRef kept = env->frame.share();
    env->publishNs = monotonicNs();
    if (!push(env)) return false;
    // env may be delivered and freed from here on: use only what we kept.
    ch.offset += 1;
    *offset = ch.offset;
    if (options_.historySize > 0) {
      ch.history.push_back({ch.offset, nowMs, std::move(kept)});
      ch.trimHistory(options_.historySize, options_.historyTtlMs, nowMs);
    }
    return true;
  });
  if (!ok) {
    fail(env, "overloaded", "the gateway is overloaded; try again later");
    return false;
  }
  if (tCurrentShard != nullptr) ++tCurrentShard->counters().messagesIn;
  return true;
}

void Fanout::publish(std::string_view channel, std::string_view dataJson, std::string_view from,
                     ReceiptFn done) {
  uint64_t offset = 0;
  publishWithOffset(channel, dataJson, from, std::move(done), &offset);
}

void Fanout::pushPresenceLocked(const Channel& channel, bool join, std::string_view user) {
  Envelope* env = newEnvelope(Envelope::Kind::kPresence, channel.name, nullptr);
  std::string json;
  if (join) {
    frame::join(json, channel.name, user);
  } else {
    frame::leave(json, channel.name, user);
  }
  env->frame = textFrame(json);
  if (!push(env)) {
    RC_LOG_WARN("presence event for {} lost: the ring stayed full", channel.name);
    delete env;
  }
}

void Fanout::broadcast(std::string_view dataJson, ReceiptFn done) {
  Envelope* env = newEnvelope(Envelope::Kind::kAll, {}, std::move(done));
  std::string json;
  frame::notice(json, wallMs(), dataJson);
  env->frame = textFrame(json);
  env->publishNs = monotonicNs();
  if (!push(env)) return fail(env, "overloaded", "the gateway is overloaded; try again later");
  if (tCurrentShard != nullptr) ++tCurrentShard->counters().messagesIn;
}

void Fanout::send(std::string_view user, std::string_view dataJson, std::string_view from,
                  ReceiptFn done) {
  Envelope* env = newEnvelope(Envelope::Kind::kUser, user, std::move(done));
  std::string json;
  frame::direct(json, from, user, wallMs(), dataJson);
  env->frame = textFrame(json);
  env->publishNs = monotonicNs();
  if (!push(env)) return fail(env, "overloaded", "the gateway is overloaded; try again later");
  if (tCurrentShard != nullptr) ++tCurrentShard->counters().messagesIn;
}

void Fanout::disconnect(std::string_view user, ReceiptFn done) {
  Envelope* env = newEnvelope(Envelope::Kind::kDisconnect, user, std::move(done));
  if (!push(env)) fail(env, "overloaded", "the gateway is overloaded; try again later");
}

void Fanout::stats(std::function<void(const Stats&)> done) {
  struct Gather {
    std::mutex mutex;
    Stats stats;
    int left;
  };
  auto gather = std::make_shared<Gather>();
  gather->left = static_cast<int>(loops_.size());
  gather->stats.loopConnections.assign(loops_.size(), 0);
  gather->stats.loopIterations.assign(loops_.size(), 0);
  gather->stats.latencyBuckets.assign(std::size(kLatencyBucketsUs), 0);
  gather->stats.ringCapacity = ring_.capacity();
  gather->stats.ringOccupancy = ring_.occupancy();
  net::EventLoop* origin = tCurrentShard != nullptr ? tCurrentShard->loop() : loops_[0];
  for (size_t i = 0; i < loops_.size(); ++i) {
    Shard* s = shards_[i].get();
    loops_[i]->queueInLoop([gather, s, i, origin, done] {
      const ShardCounters& c = s->counters();
      std::lock_guard<std::mutex> lock(gather->mutex);
      Stats& st = gather->stats;
      st.connections += s->sessionCount();
      st.subscriptions += c.subscriptions;
      st.messagesIn += c.messagesIn;
      st.messagesOut += c.messagesOut;
      st.bytesOut += c.bytesOut;
      st.dropped += c.dropped;
      st.slowConsumerDisconnects += c.slowConsumerDisconnects;
      st.loopConnections[i] = s->loop()->connectionCount();
      st.loopIterations[i] = s->loop()->iterations();
      for (size_t b = 0; b < c.latencyBuckets.size(); ++b) {
        st.latencyBuckets[b] += c.latencyBuckets[b];
      }
      st.latencyCount += c.latencyCount;
      st.latencySumSeconds += c.latencySumSeconds;
      if (--gather->left == 0) origin->queueInLoop([gather, done] { done(gather->stats); });
    });
  }
}

std::vector<PresenceEntry> Fanout::presence(std::string_view channel) const {
  std::vector<PresenceEntry> out;
  channels_.withExisting(channel, [&](Channel& ch) {
    for (const auto& [user, p] : ch.presence) out.push_back({user, p.name, p.conns});
  });
  std::sort(out.begin(), out.end(),
            [](const PresenceEntry& a, const PresenceEntry& b) { return a.user < b.user; });
  return out;
}

void Fanout::userConnected(std::string_view user) {
  std::lock_guard<std::mutex> lock(usersMutex_);
  auto [it, inserted] = users_.try_emplace(std::string(user), 0);
  ++it->second;
}

void Fanout::userDisconnected(std::string_view user) {
  std::lock_guard<std::mutex> lock(usersMutex_);
  auto it = users_.find(user);
  if (it != users_.end() && --it->second == 0) users_.erase(it);
}

std::vector<UserInfo> Fanout::users() const {
  std::vector<UserInfo> out;
  {
    std::lock_guard<std::mutex> lock(usersMutex_);
    out.reserve(users_.size());
    for (const auto& [user, conns] : users_) out.push_back({user, conns});
  }
  std::sort(out.begin(), out.end(),
            [](const UserInfo& a, const UserInfo& b) { return a.user < b.user; });
  return out;
}

std::vector<ChannelInfo> Fanout::channels() const {
  auto out = channels_.list();
  std::sort(out.begin(), out.end(),
            [](const ChannelInfo& a, const ChannelInfo& b) { return a.channel < b.channel; });
  return out;
}

}  // namespace ringcast::push
