#include "push/shard.h"

#include <algorithm>
#include <limits>

#include "core/clock.h"
#include "core/log.h"
#include "push/client_protocol.h"
#include "push/engine.h"
#include "ws/close_code.h"
#include "ws/frame_writer.h"

namespace ringcast::push {
namespace {

// Envelopes taken from the ring per peek; the cursor moves once per batch.
constexpr size_t kDrainBatch = 256;
// A pending subscription's minOffset: nothing is delivered to it directly.
constexpr uint64_t kPendingMinOffset = std::numeric_limits<uint64_t>::max();
// Joined frames: at most this many bytes each, and only for channels with at least this many
// local subscribers (a lone subscriber gets the frames as they are: joining would copy them
// for the sake of one socket's iovecs).
constexpr uint64_t kMaxJoinedBytes = 64 << 10;
constexpr size_t kMinJoinedEntries = 2;

// The envelopes from batch[from] on that are channel messages of one channel, in increasing
// offsets, whose frames together stay within kMaxJoinedBytes: how many (at least 1) and the
// bytes of their frames (counted only for a run of channel messages).
struct Run {
  size_t count;
  uint64_t bytes;
};
Run channelRun(Envelope* const* batch, size_t from, size_t n) {
  const Envelope* first = batch[from];
  if (first->kind != Envelope::Kind::kChannel) return {1, 0};
  uint64_t bytes = first->frame->size();
  size_t end = from + 1;
  for (; end < n; ++end) {
    const Envelope* e = batch[end];
    if (e->kind != Envelope::Kind::kChannel || e->offset <= batch[end - 1]->offset ||
        e->key != first->key || bytes + e->frame->size() > kMaxJoinedBytes) {
      break;
    }
    bytes += e->frame->size();
  }
  return {end - from, bytes};
}

}  // namespace

Shard::Shard(Fanout* fanout, net::EventLoop* loop, int index)
    : fanout_(fanout), loop_(loop), index_(index) {}

Shard::~Shard() = default;

void Shard::addSession(Session* s) {
  owner_.assertOwned();
  s->shardIndex = static_cast<uint32_t>(sessions_.size());
  sessions_.push_back(s);
  auto& mine = users_[s->user()];
  s->userIndex = static_cast<uint32_t>(mine.size());
  mine.push_back(s);
  engine_->userChange(s->user(), +1);
}

void Shard::removeSession(Session* s) {
  owner_.assertOwned();
  while (!s->subs().empty()) unlinkSubscription(s, s->subs().size() - 1);
  // Swap-remove from the session array and the user's array, fixing the moved one's index.
  Session* last = sessions_.back();
  sessions_[s->shardIndex] = last;
  last->shardIndex = s->shardIndex;
  sessions_.pop_back();
  auto it = users_.find(s->user());
  auto& mine = it->second;
  Session* lastOfUser = mine.back();
  mine[s->userIndex] = lastOfUser;
  lastOfUser->userIndex = s->userIndex;
  mine.pop_back();
  if (mine.empty()) users_.erase(it);
  engine_->userChange(s->user(), -1);
}

uint64_t Shard::queuedBytes() const {
  uint64_t total = 0;
  for (const Session* s : sessions_) total += s->conn()->queuedBytes();
  return total;
}

SubEntry* Shard::findEntry(Session* s, std::string_view channel, size_t* subIndex) {
  auto ch = channels_.find(channel);
  if (ch == channels_.end()) return nullptr;
  const uint32_t at = s->position(ch->second.get());
  if (at == Session::kNotSubscribed) return nullptr;
  if (subIndex != nullptr) *subIndex = at;
  const Session::Sub& sub = s->subs()[at];
  return &sub.channel->entries[sub.index];
}

bool Shard::isSubscribed(const Session* s, std::string_view channel) const {
  auto ch = channels_.find(channel);
  if (ch == channels_.end()) return false;
  return s->isSubscribed(ch->second.get());
}

bool Shard::addSubscription(Session* s, std::string_view channel, bool presence) {
  owner_.assertOwned();
  if (isSubscribed(s, channel)) return false;
  auto it = channels_.find(channel);
  if (it == channels_.end()) {
    auto local = std::make_unique<LocalChannel>();
    local->name = std::string(channel);
    it = channels_.emplace(local->name, std::move(local)).first;
    engine_->channelInterest(channel, true);
  }
  LocalChannel* ch = it->second.get();
  s->addSub({ch, static_cast<uint32_t>(ch->entries.size())});
  ch->entries.push_back(
      {s, kPendingMinOffset, static_cast<uint32_t>(s->subs().size() - 1), presence, true});
  ++counters_.subscriptions;
  engine_->presenceChange(channel, s->user(), s->name(), +1);
  return true;
}

bool Shard::activateSubscription(Session* s, std::string_view channel, uint64_t offset) {
  owner_.assertOwned();
  SubEntry* e = findEntry(s, channel, nullptr);
  if (e == nullptr || !e->pending) return true;
  e->pending = false;
  e->minOffset = offset;
  auto it = pending_.find({s, s->subs()[e->subIndex].channel});
  if (it == pending_.end()) return true;
  PendingFrames kept = std::move(it->second);
  pending_.erase(it);
  for (auto& [frameOffset, frame] : kept.frames) {
    if (frameOffset <= e->minOffset) continue;  // already among the missed ones
    s->conn()->sendFrame(std::move(frame));
    e->minOffset = frameOffset;
  }
  return !kept.overflowed;
}

bool Shard::removeSubscription(Session* s, std::string_view channel) {
  owner_.assertOwned();
  size_t i = 0;
  if (findEntry(s, channel, &i) == nullptr) return false;
  unlinkSubscription(s, i);
  return true;
}

void Shard::unlinkSubscription(Session* s, size_t subIndex) {
  LocalChannel* ch = s->subs()[subIndex].channel;
  uint32_t entryIndex = s->subs()[subIndex].index;
  if (ch->entries[entryIndex].pending) pending_.erase({s, ch});
  // Swap-remove the channel's entry; the moved entry's session learns its new index.
  SubEntry moved = ch->entries.back();
  ch->entries[entryIndex] = moved;
  moved.session->sub(moved.subIndex).index = entryIndex;
  ch->entries.pop_back();
  // Swap-remove the session's sub; the moved sub's channel entry and the session's index
  // learn its new position. When the removed sub is the last one there is nothing to move:
  // its entry is gone already, and entries[index] now holds another session's entry (or
  // lies past the end).
  Session::Sub movedSub{};
  if (s->removeSub(static_cast<uint32_t>(subIndex), &movedSub)) {
    movedSub.channel->entries[movedSub.index].subIndex = static_cast<uint32_t>(subIndex);
  }
  --counters_.subscriptions;
  engine_->presenceChange(ch->name, s->user(), s->name(), -1);
  if (ch->entries.empty()) {
    engine_->channelInterest(ch->name, false);
    channels_.erase(ch->name);  // frees ch
  }
}

void Shard::park(std::function<bool()> attempt, std::function<void()> refuse) {
  owner_.assertOwned();
  ++counters_.parked;
  parked_.push_back(
      {std::move(attempt), std::move(refuse), loop_->nowMs() + fanout_->options().parkTimeoutMs});
}

void Shard::runOrPark(std::function<bool()> attempt, std::function<void()> refuse) {
  if (parked_.empty() && attempt()) return;
  park(std::move(attempt), std::move(refuse));
}

void Shard::retryParked() {
  const int64_t nowMs = monotonicMs();
  // Only what was parked before this pass: a refusal may park new work (at the back).
  for (size_t n = parked_.size(); n > 0 && !parked_.empty(); --n) {
    Parked p = std::move(parked_.front());
    parked_.pop_front();
    if (p.attempt()) continue;
    if (nowMs < p.deadlineMs) {
      parked_.push_front(std::move(p));  // still waiting for room; keep the order
      return;
    }
    ++counters_.parkRefused;
    p.refuse();
  }
}

bool Shard::hasPendingWork() {
  return fanout_->ring().hasReady(index_);
}

void Shard::runIteration() {
  drain();
  if (parked_.empty()) return;
  retryParked();
  drain();  // what the retried work put into the ring, for this loop's own sockets
}

void Shard::drain() {
  owner_.assertOwned();
  Envelope* batch[kDrainBatch];
  for (;;) {
    size_t n = fanout_->ring().peek(index_, batch, kDrainBatch);
    if (n == 0) return;
    for (size_t i = 0; i < n;) {
      const Run run = channelRun(batch, i, n);
      if (run.count > 1) {
        deliverRun(batch + i, run.count, run.bytes);
      } else {
        deliver(batch[i]);
      }
      i += run.count;
    }
    fanout_->ring().release(index_, n);
    // Completion after release: the envelope may be freed by the last loop.
    for (size_t i = 0; i < n; ++i) fanout_->finished(batch[i]);
  }
}

void Shard::deliverRun(Envelope* const* run, size_t count, uint64_t bytes) {
  auto it = channels_.find(run[0]->key);
  LocalChannel* ch = it == channels_.end() ? nullptr : it->second.get();
  if (ch == nullptr || ch->entries.size() < kMinJoinedEntries) {
    for (size_t m = 0; m < count; ++m) {
      Tally tally;
      if (ch != nullptr) deliverToChannel(ch, run[m], &tally, nullptr);
      report(run[m], tally, monotonicNs());
    }
    return;
  }
  std::vector<SubEntry>& entries = ch->entries;
  // Who takes the joined frame: an open, uncompressed connection that wants every message of
  // the run (its subscription started before the first) and has room for all of them. The
  // slow-consumer policy, pending subscriptions and compression are left to the one-by-one
  // path below, which sees exactly the messages it would have seen without the join.
  joined_.assign(entries.size(), false);
  FrameRef frame;
  uint32_t taken = 0;
  for (size_t k = 0; k < entries.size(); ++k) {
    const SubEntry& e = entries[k];
    ws::WsConnection* conn = e.session->conn();
    if (e.pending || e.minOffset >= run[0]->offset || !conn->isWebSocketOpen() ||
        conn->perMessageDeflate().enabled || overOutbuf(conn, bytes)) {
      continue;
    }
    if (!frame) {
      frame = FrameRef(SharedFrame::create(static_cast<uint32_t>(bytes)));
      uint8_t* out = frame->mutableData();
      for (size_t m = 0; m < count; ++m) {
        __builtin_memcpy(out, run[m]->frame->data(), run[m]->frame->size());
        out += run[m]->frame->size();
      }
      frame->setMessages(static_cast<uint32_t>(count));
    }
    conn->sendFrame(frame.share());
    joined_[k] = true;
    ++taken;
  }
  if (taken != 0) ++counters_.joinedFrames;
  counters_.joinedDeliveries += uint64_t{taken} * count;
  counters_.messagesOut += uint64_t{taken} * count;
  counters_.bytesOut += uint64_t{taken} * bytes;
  const bool allJoined = taken == entries.size();
  // Queued together: one clock read for the run's latencies when nobody is left one by one.
  const int64_t joinedNs = allJoined ? monotonicNs() : 0;
  for (size_t m = 0; m < count; ++m) {
    Tally tally;
    tally.matched = tally.queued = taken;
    if (!allJoined) deliverToChannel(ch, run[m], &tally, taken != 0 ? &joined_ : nullptr);
    report(run[m], tally, allJoined ? joinedNs : monotonicNs());
  }
}

void Shard::deliverToChannel(LocalChannel* ch, Envelope* env, Tally* tally,
                             const std::vector<bool>* joined) {
  const Envelope::Kind kind = env->kind;
  std::vector<SubEntry>& entries = ch->entries;
  // One atomic add for every local reference; the unused ones are given back at the end.
  env->frame->acquireMany(static_cast<uint32_t>(entries.size()));
  for (size_t k = 0; k < entries.size(); ++k) {
    SubEntry& e = entries[k];
    if (joined != nullptr && (*joined)[k]) {
      ++tally->unused;  // had it in the joined frame
      continue;
    }
    bool wanted = kind == Envelope::Kind::kChannel    ? env->offset > e.minOffset
                  : kind == Envelope::Kind::kPresence ? e.presence
                                                      : !e.pending;  // kLost
    if (wanted) {
      // After a loss the channel goes on after env->offset, possibly in a new epoch whose
      // offsets start again: the subscription's duplicate filter starts there too.
      if (kind == Envelope::Kind::kLost) e.minOffset = env->offset;
      queueFrame(e.session, env, tally);
    } else {
      if (e.pending && kind == Envelope::Kind::kChannel) keepPending(e.session, ch, env);
      ++tally->unused;
    }
  }
  env->frame->releaseUnused(tally->unused);
}

void Shard::keepPending(Session* s, const LocalChannel* ch, Envelope* env) {
  PendingFrames& kept = pending_[{s, ch}];
  if (kept.frames.size() >= kMaxPendingFrames) {
    kept.overflowed = true;
    return;
  }
  kept.frames.emplace_back(env->offset, env->frame.share());
}

void Shard::deliver(Envelope* env) {
  // Tallies are kept locally and added to the envelope once: the envelope is shared by every
  // loop, and one atomic add per subscriber would bounce its cache line between cores.
  Tally tally;
  switch (env->kind) {
    case Envelope::Kind::kChannel:
    case Envelope::Kind::kPresence:
    case Envelope::Kind::kLost:
      if (auto it = channels_.find(env->key); it != channels_.end()) {
        deliverToChannel(it->second.get(), env, &tally, nullptr);
      }
      break;
    case Envelope::Kind::kUsers: {
      uint32_t taken = 0;
      for (size_t u = 0; u < env->users.size(); ++u) {
        auto it = users_.find(env->users[u]);
        if (it == users_.end()) continue;
        const uint64_t matchedBefore = tally.matched;
        env->frame->acquireMany(static_cast<uint32_t>(it->second.size()));
        taken += static_cast<uint32_t>(it->second.size());
        for (Session* s : it->second) queueFrame(s, env, &tally);
        if (tally.matched != matchedBefore) {
          env->userMatched[u].fetch_add(tally.matched - matchedBefore, std::memory_order_relaxed);
        }
      }
      if (taken != 0) env->frame->releaseUnused(tally.unused);
      break;
    }
    case Envelope::Kind::kAll: {
      env->frame->acquireMany(static_cast<uint32_t>(sessions_.size()));
      for (Session* s : sessions_) queueFrame(s, env, &tally);
      env->frame->releaseUnused(tally.unused);
      break;
    }
    case Envelope::Kind::kDisconnect: {
      auto it = users_.find(env->key);
      if (it == users_.end()) break;
      tally.matched = it->second.size();
      // close() only queues a close frame: the index is not modified while we walk it.
      for (Session* s : it->second) s->conn()->close(ws::kPolicyViolation, "disconnected");
      break;
    }
  }
  report(env, tally, monotonicNs());
}

void Shard::report(Envelope* env, const Tally& tally, int64_t queuedNs) {
  if (tally.matched != 0) env->matched.fetch_add(tally.matched, std::memory_order_relaxed);
  if (tally.queued != 0) env->queued.fetch_add(tally.queued, std::memory_order_relaxed);
  if (tally.dropped != 0) env->dropped.fetch_add(tally.dropped, std::memory_order_relaxed);
  if (env->publishNs != 0) recordLatency(queuedNs - env->publishNs);
}

void Shard::recordLatency(int64_t ns) {
  const uint64_t us = ns > 0 ? static_cast<uint64_t>(ns / 1000) : 0;
  for (size_t b = 0; b < std::size(kLatencyBucketsUs); ++b) {
    if (us <= kLatencyBucketsUs[b]) ++counters_.latencyBuckets[b];
  }
  ++counters_.latencyCount;
  counters_.latencySumSeconds += static_cast<double>(ns) / 1e9;
}

bool Shard::overOutbuf(const ws::WsConnection* conn, uint64_t bytes) const {
  return conn->writeBlocked() && conn->queuedBytes() + bytes > fanout_->options().maxOutbufBytes;
}

void Shard::queueFrame(Session* s, Envelope* env, Tally* tally) {
  ws::WsConnection* conn = s->conn();
  if (!conn->isWebSocketOpen()) {
    ++tally->unused;  // closing: not a target any more
    return;
  }
  ++tally->matched;
  const uint32_t size = env->frame->size();
  if (overOutbuf(conn, size)) {
    if (!fanout_->options().dropOldest) {
      // Disconnect: what is queued is lost anyway; keep only a partly written frame so the
      // byte stream stays whole, then say why.
      counters_.dropped += 1 + conn->dropQueuedFrames(nullptr, nullptr);
      ++counters_.slowConsumerDisconnects;
      ++tally->dropped;
      ++tally->unused;
      conn->close(ws::kPolicyViolation, "slow consumer");
      return;
    }
    // Drop the oldest queued messages (a partly written one stays), tell the client how
    // many, then queue this one.
    bool noticeDropped = false;
    size_t lost = conn->dropQueuedFrames(s->lastDroppedNotice.get(), &noticeDropped);
    counters_.dropped += lost;
    // A notice that was not dropped has gone out (or is going out): start a new count.
    const uint64_t unreported = (noticeDropped ? s->unreportedDropped : 0) + uint64_t{lost};
    s->unreportedDropped = static_cast<uint32_t>(std::min<uint64_t>(unreported, UINT32_MAX));
    std::string notice;
    frame::dropped(notice, s->unreportedDropped);
    s->lastDroppedNotice = ws::buildFrame(ws::Opcode::kText, notice);
    conn->sendFrame(s->lastDroppedNotice.share());
  }
  conn->sendMessage(FrameRef(env->frame.get()));  // adopts a reference taken above
  ++tally->queued;
  ++counters_.messagesOut;
  counters_.bytesOut += size;
}

}  // namespace ringcast::push
