#include "push/fanout.h"

#include <mutex>

#include "core/clock.h"

#include "push/shard.h"
#include "ws/deflate_counters.h"
#include "ws/frame_writer.h"
#include "ws/permessage_deflate.h"

namespace ringcast::push {
namespace {

thread_local Shard* tCurrentShard = nullptr;

}  // namespace

Fanout::Fanout(std::vector<net::EventLoop*> loops, const FanoutOptions& options)
    : options_(options),
      loops_(std::move(loops)),
      ring_(options.ringCapacity, static_cast<int>(loops_.size())) {
  for (size_t i = 0; i < loops_.size(); ++i) {
    shards_.push_back(std::make_unique<Shard>(this, loops_[i], static_cast<int>(i)));
  }
}

Fanout::~Fanout() = default;

void Fanout::attachLoop(net::EventLoop& loop) {
  Shard& s = shard(loop.id());
  s.adoptByCurrentThread(engine_);  // built on main; the loop owns it from now on
  tCurrentShard = &s;
  loop.setIterationHook(&s);
}

Shard* Fanout::currentShard() {
  return tCurrentShard;
}

int64_t Fanout::stampWallMs() {
  return tCurrentShard != nullptr ? tCurrentShard->loop()->wallNowMs() : wallMs();
}

int64_t Fanout::stampMonotonicNs() {
  return tCurrentShard != nullptr ? tCurrentShard->loop()->nowNs() : monotonicNs();
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

bool Fanout::tryDeliver(Envelope* env) {
  if (options_.compression && env->frame &&
      ws::deflateConnections().load(std::memory_order_relaxed) > 0) {
    // Built now, once: a loop that found it still being built by another would send the
    // plain frame instead (deflatedTwin never waits). A retry finds it built.
    ws::deflatedTwin(env->frame.get(), options_.compressionMinBytes, options_.compressionLevel,
                     ws::DeflateParams{true, ws::kMaxWindowBits});
  }
  if (!ring_.tryPublish(env)) return false;
  for (net::EventLoop* loop : loops_) loop->wakeIfSleeping();
  return true;
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
  // The last loop to deliver hands the receipt back to the loop that asked: at once when it
  // is that loop (no task, no wake-up), through its task queue otherwise. acq_rel above: the
  // other loops' tallies, added before their decrements, are visible here.
  auto answer = [env] {
    Receipt r;
    r.offset = env->offset;
    r.matched = env->matched.load(std::memory_order_relaxed);
    r.queued = env->queued.load(std::memory_order_relaxed);
    r.dropped = env->dropped.load(std::memory_order_relaxed);
    r.online = r.matched > 0;
    if (env->userMatched) {
      r.matchedPerUser.resize(env->users.size());
      for (size_t u = 0; u < env->users.size(); ++u) {
        r.matchedPerUser[u] = env->userMatched[u].load(std::memory_order_relaxed);
      }
    }
    env->done(r);
    delete env;
  };
  if (tCurrentShard != nullptr && tCurrentShard->index() == env->originLoop) {
    answer();
    return;
  }
  loops_[static_cast<size_t>(env->originLoop)]->queueInLoop(answer);
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
      st.parked += c.parked;
      st.parkRefused += c.parkRefused;
      st.joinedFrames += c.joinedFrames;
      st.joinedDeliveries += c.joinedDeliveries;
      st.clientQueuedBytes += s->queuedBytes();
      st.commandsRateLimited += c.commandsRateLimited;
      st.rateLimitDisconnects += c.rateLimitDisconnects;
      const ws::DeflateCounters& d = ws::deflateCounters();  // this loop thread's
      st.framesCompressed += d.framesCompressed;
      st.compressNs += d.compressNs;
      st.messagesSentCompressed += d.messagesSentCompressed;
      st.compressionBytesSaved += d.bytesSaved;
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

}  // namespace ringcast::push
