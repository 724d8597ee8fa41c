#include "push/memory_engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "core/clock.h"
#include "core/log.h"
#include "push/client_protocol.h"
#include "push/message_frame.h"
#include "push/shard.h"
#include "ws/frame_writer.h"

namespace ringcast::push {
namespace {

std::string newEpoch() {
  std::random_device rd;
  return fmt::format("{:08x}", static_cast<uint32_t>(rd()));
}

FrameRef textFrame(const std::string& json) {
  return ws::buildFrame(ws::Opcode::kText, json);
}

void refuse(ReceiptFn& done) {
  if (!done) return;
  Receipt r;
  r.ok = false;
  r.errorCode = std::string(kOverloadedCode);
  r.errorMessage = std::string(kOverloadedMessage);
  done(r);
}

}  // namespace

MemoryEngine::MemoryEngine(Fanout* fanout, const MemoryEngineOptions& options)
    : fanout_(fanout), options_(options), epoch_(newEpoch()) {}

MemoryEngine::~MemoryEngine() {
  // Events still waiting for room when the gateway stops are freed with their channels.
  for (const ChannelInfo& info : channels_.list()) {
    channels_.withExisting(info.channel, [](Channel& ch) {
      for (Envelope* env : ch.pendingEvents) delete env;
      ch.pendingEvents.clear();
    });
  }
}

bool MemoryEngine::flushEventsLocked(Channel& ch) {
  while (!ch.pendingEvents.empty()) {
    if (!fanout_->tryDeliver(ch.pendingEvents.front())) return false;
    ch.pendingEvents.pop_front();
  }
  return true;
}

void MemoryEngine::attachLoop(net::EventLoop& loop) {
  if (loop.id() != 0) return;
  sweepLoop_ = &loop;
  sweeper_ = std::make_unique<net::Ticker>(&loop, [this] { sweepTick(); });
  sweeper_->setPeriodUs(kSweepPeriodMs * 1000);
}

void MemoryEngine::detachLoop(net::EventLoop& loop) {
  loop.assertInLoopThread();
  if (&loop == sweepLoop_) sweeper_.reset();
}

void MemoryEngine::sweepTick() {
  sweepLoop_->assertInLoopThread();
  channels_.sweep(kSweepVisitsPerTick, options_.historyTtlMs, wallMs());
  if (options_.historyBudgetBytes > 0) {
    channels_.trimToBudget(options_.historyBudgetBytes, kTrimStepsPerTick);
  }
  const uint64_t freed = channels_.takeFreedBytes();
  if (MemoryGuard* guard = memoryGuard(); guard != nullptr && freed > 0) guard->noteFreed(freed);
}

std::string MemoryEngine::epochOf(const Channel& ch) const {
  return ch.incarnation == 0 ? epoch_ : fmt::format("{}-{:x}", epoch_, ch.incarnation);
}

void MemoryEngine::appendEngineMetrics(std::string& out) const {
  auto metric = [&out](std::string_view name, std::string_view type, std::string_view help,
                       uint64_t value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  metric("ringcast_channels", "gauge", "Channels the node keeps (offset, history, presence).",
         channels_.size());
  metric("ringcast_channels_forgotten_total", "counter",
         "Channels forgotten: no subscriber, no history left.", channels_.forgotten());
  metric("ringcast_history_bytes", "gauge", "Bytes all channels' history holds.",
         channels_.historyBytes());
  metric("ringcast_history_budget_bytes", "gauge", "--max-history-memory (0: none).",
         options_.historyBudgetBytes);
  metric("ringcast_history_budget_trimmed_total", "counter",
         "History entries dropped, oldest first, to stay within the budget.",
         channels_.budgetTrimmed());
}

bool MemoryEngine::tryPublish(std::string_view channel, std::string_view dataJson,
                              std::string_view from, ReceiptWait wait, ReceiptFn& done) {
  const int64_t nowMs = Fanout::stampWallMs();
  uint64_t offset = 0;
  std::string epoch;
  // Everything of the frame but the offset is written before the lock is taken.
  MessageFrame& builder = MessageFrame::local();
  builder.prepare(channel, from, nowMs, dataJson);
  bool in = channels_.withChannel(channel, [&](Channel& ch) {
    if (!flushEventsLocked(ch)) return false;
    // Offset, ring order and history are decided together under the channel's lock.
    Envelope* env =
        fanout_->newEnvelope(Envelope::Kind::kChannel, channel,
                             wait == ReceiptWait::kDelivered ? std::move(done) : ReceiptFn());
    env->offset = ch.offset + 1;
    env->frame = builder.frame(env->offset);
    FrameRef kept = env->frame.share();
    env->publishNs = Fanout::stampMonotonicNs();
    if (!fanout_->tryDeliver(env)) {
      if (wait == ReceiptWait::kDelivered) done = std::move(env->done);
      delete env;
      return false;
    }
    // env may be delivered and freed from here on: use only what we kept.
    offset = ++ch.offset;
    if (options_.historySize > 0) {
      channels_.keep(ch, ch.offset, nowMs, std::move(kept));
      channels_.trimHistory(ch, options_.historySize, options_.historyTtlMs, nowMs);
    }
    if (wait == ReceiptWait::kAccepted && done) epoch = epochOf(ch);
    return true;
  });
  if (!in) return false;
  // Over the budget: the publisher that went over pays for a bounded part of the trim.
  if (options_.historyBudgetBytes > 0 && channels_.historyBytes() > options_.historyBudgetBytes) {
    channels_.trimToBudget(options_.historyBudgetBytes, kTrimStepsPerPublish);
  }
  if (Shard* shard = Fanout::currentShard()) ++shard->counters().messagesIn;
  if (wait == ReceiptWait::kAccepted && done) {
    Receipt r;
    r.offset = offset;
    r.epoch = std::move(epoch);
    r.counted = false;
    done(r);
  }
  return true;
}

void MemoryEngine::publish(std::string_view channel, std::string_view dataJson,
                           std::string_view from, ReceiptWait wait, ReceiptFn done) {
  if (refusedForMemory(done)) return;
  Shard* shard = Fanout::currentShard();
  if (!shard->hasParked() && tryPublish(channel, dataJson, from, wait, done)) return;
  // No room now: keep copies (the caller's views may not outlive this call) and retry.
  struct Job {
    std::string channel, data, from;
    ReceiptWait wait;
    ReceiptFn done;
  };
  auto job = std::make_shared<Job>(
      Job{std::string(channel), std::string(dataJson), std::string(from), wait, std::move(done)});
  shard->park(
      [this, job] { return tryPublish(job->channel, job->data, job->from, job->wait, job->done); },
      [job] { refuse(job->done); });
}

void MemoryEngine::deliverOrPark(Envelope* env, bool countIn) {
  Shard* shard = Fanout::currentShard();
  auto attempt = [this, env, countIn, shard] {
    if (!fanout_->tryDeliver(env)) return false;
    if (countIn) ++shard->counters().messagesIn;
    return true;
  };
  shard->runOrPark(attempt,
                   [this, env] { fanout_->fail(env, kOverloadedCode, kOverloadedMessage); });
}

void MemoryEngine::broadcast(std::string_view dataJson, ReceiptFn done) {
  if (refusedForMemory(done)) return;
  Envelope* env = fanout_->newEnvelope(Envelope::Kind::kAll, {}, std::move(done));
  std::string json;
  frame::notice(json, Fanout::stampWallMs(), dataJson);
  env->frame = textFrame(json);
  env->publishNs = Fanout::stampMonotonicNs();
  deliverOrPark(env, true);
}

void MemoryEngine::send(const std::vector<std::string>& users, std::string_view dataJson,
                        std::string_view from, ReceiptFn done) {
  if (refusedForMemory(done)) return;
  Envelope* env = fanout_->newEnvelope(Envelope::Kind::kUsers, {}, std::move(done));
  env->users = users;
  env->userMatched = std::make_unique<std::atomic<uint64_t>[]>(users.size());
  std::string json;
  frame::direct(json, from, users.size() == 1 ? std::string_view(users[0]) : std::string_view(),
                Fanout::stampWallMs(), dataJson);
  env->frame = textFrame(json);  // one frame for every recipient
  env->publishNs = Fanout::stampMonotonicNs();
  deliverOrPark(env, true);
}

void MemoryEngine::disconnect(std::string_view user, ReceiptFn done) {
  deliverOrPark(fanout_->newEnvelope(Envelope::Kind::kDisconnect, user, std::move(done)), false);
}

void MemoryEngine::recover(std::string_view channel, const std::optional<StreamPosition>& since,
                           RecoveryFn done) {
  Recovery r;
  channels_.withChannel(channel, [&](Channel& ch) {
    channels_.trimHistory(ch, options_.historySize, options_.historyTtlMs, wallMs());
    r.offset = ch.offset;
    r.epoch = epochOf(ch);
    if (!since) return;
    const uint64_t from = since->offset;
    r.recovered =
        since->epoch == r.epoch && from <= ch.offset &&
        (from == ch.offset || (!ch.history.empty() && ch.history.front().offset <= from + 1));
    if (!r.recovered) return;
    for (const HistoryEntry& h : ch.history) {
      if (h.offset > from) r.missed.push_back(h.frame.share());
    }
  });
  done(std::move(r));
}

void MemoryEngine::parkEventFlush(std::string channel) {
  Shard* shard = Fanout::currentShard();
  auto attempt = [this, channel] {
    bool flushed = true;
    channels_.withExisting(channel, [&](Channel& ch) { flushed = flushEventsLocked(ch); });
    return flushed;
  };
  // Presence events are never dropped: past the bound, the retry is parked again.
  shard->park(attempt, [this, channel] { parkEventFlush(channel); });
}

void MemoryEngine::presenceChange(std::string_view channel, std::string_view user,
                                  std::string_view name, int delta) {
  bool parkFlush = false;
  bool unused = false;
  channels_.withChannel(channel, [&](Channel& ch) {
    Envelope* event = nullptr;
    if (delta > 0) {
      ++ch.subscribers;
      PresenceUser& p = ch.presence.try_emplace(std::string(user)).first->second;
      if (p.conns++ == 0) {
        p.name = std::string(name);
        event = fanout_->newEnvelope(Envelope::Kind::kPresence, channel, nullptr);
        std::string json;
        frame::join(json, channel, user);
        event->frame = textFrame(json);
      }
    } else {
      --ch.subscribers;
      auto it = ch.presence.find(user);
      if (it != ch.presence.end() && --it->second.conns == 0) {
        ch.presence.erase(it);
        event = fanout_->newEnvelope(Envelope::Kind::kPresence, channel, nullptr);
        std::string json;
        frame::leave(json, channel, user);
        event->frame = textFrame(json);
      }
    }
    if (event != nullptr) {
      const bool waiting = !ch.pendingEvents.empty();
      if (waiting || !fanout_->tryDeliver(event)) {
        ch.pendingEvents.push_back(event);
        parkFlush = !waiting;  // the first waiting event starts the retries
      }
    }
    unused = ch.subscribers == 0 && ch.offset == 0 && ch.pendingEvents.empty();
  });
  if (parkFlush) parkEventFlush(std::string(channel));
  if (unused) channels_.removeIfUnused(channel);
}

void MemoryEngine::userChange(std::string_view user, int delta) {
  std::lock_guard<std::mutex> lock(usersMutex_);
  if (delta > 0) {
    auto [it, inserted] = users_.try_emplace(std::string(user), 0);
    it->second += static_cast<uint32_t>(delta);
    return;
  }
  auto it = users_.find(user);
  if (it != users_.end() && (it->second -= static_cast<uint32_t>(-delta)) == 0) users_.erase(it);
}

void MemoryEngine::presence(std::string_view channel,
                            std::function<void(std::vector<PresenceEntry>)> done) {
  presencePage(channel, SIZE_MAX, [&done](PresencePage page) { done(std::move(page.entries)); });
}

void MemoryEngine::presencePage(std::string_view channel, size_t maxEntries,
                                std::function<void(PresencePage)> done) {
  PresencePage page;
  channels_.withExisting(channel, [&](Channel& ch) {
    page.total = ch.presence.size();
    page.entries.reserve(std::min(ch.presence.size(), maxEntries));
    for (const auto& [user, p] : ch.presence) {
      if (page.entries.size() == maxEntries) break;
      page.entries.push_back({user, p.name, p.conns});
    }
  });
  // Sorted after the lock is given back: a big channel's sort holds up nobody.
  std::sort(page.entries.begin(), page.entries.end(),
            [](const PresenceEntry& a, const PresenceEntry& b) { return a.user < b.user; });
  done(std::move(page));
}

void MemoryEngine::users(std::function<void(std::vector<UserInfo>)> done) {
  std::vector<UserInfo> out;
  {
    std::lock_guard<std::mutex> lock(usersMutex_);
    out.reserve(users_.size());
    for (const auto& [user, conns] : users_) out.push_back({user, conns});
  }
  std::sort(out.begin(), out.end(),
            [](const UserInfo& a, const UserInfo& b) { return a.user < b.user; });
  done(std::move(out));
}

void MemoryEngine::channels(std::function<void(std::vector<ChannelInfo>)> done) {
  auto out = channels_.list();
  std::sort(out.begin(), out.end(),
            [](const ChannelInfo& a, const ChannelInfo& b) { return a.channel < b.channel; });
  done(std::move(out));
}

}  // namespace ringcast::push
