#include "push/channel_table.h"

namespace ringcast::push {
namespace {

uint64_t entryBytes(const HistoryEntry& e) {
  return (e.frame ? e.frame->size() : 0) + kHistoryEntryOverheadBytes;
}

}  // namespace

std::shared_ptr<Channel> ChannelTable::getOrCreate(std::string_view name) {
  {
    std::shared_lock<std::shared_mutex> read(mapMutex_);
    if (auto it = map_.find(name); it != map_.end()) return it->second;
  }
  std::unique_lock<std::shared_mutex> write(mapMutex_);
  auto [it, inserted] = map_.try_emplace(std::string(name), nullptr);
  // Any forget since an earlier incarnation of this name raised forgotten_: a new number.
  if (inserted) it->second = std::make_shared<Channel>(std::string(name), forgotten_);
  return it->second;
}

bool ChannelTable::withExisting(std::string_view name, const std::function<void(Channel&)>& fn) {
  std::shared_ptr<Channel> ch;
  {
    std::shared_lock<std::shared_mutex> read(mapMutex_);
    auto it = map_.find(name);
    if (it == map_.end()) return false;
    ch = it->second;
  }
  std::lock_guard<std::mutex> lock(ch->mutex);
  if (ch->removed) return false;
  fn(*ch);
  return true;
}

void ChannelTable::removeIfUnused(std::string_view name) {
  std::unique_lock<std::shared_mutex> write(mapMutex_);
  auto it = map_.find(name);
  if (it == map_.end()) return;
  std::shared_ptr<Channel> keep = it->second;  // outlives the lock below
  std::lock_guard<std::mutex> lock(keep->mutex);
  if (keep->subscribers == 0 && keep->offset == 0 && keep->pendingEvents.empty()) {
    keep->removed = true;  // a thread that got it before the erase will look again
    map_.erase(it);
  }
}

void ChannelTable::relist(Channel& ch, int64_t keyMs) {
  if (ch.budgetKeyMs == keyMs) return;
  std::lock_guard<std::mutex> lock(indexMutex_);
  std::shared_ptr<Channel> self;
  if (ch.budgetKeyMs >= 0) {
    auto it = index_.find({ch.budgetKeyMs, &ch});
    self = std::move(it->second);
    index_.erase(it);
  }
  ch.budgetKeyMs = keyMs;
  if (keyMs < 0) return;
  if (!self) self = ch.shared_from_this();  // the index keeps it alive while listed
  index_.emplace(std::pair<int64_t, const Channel*>{keyMs, &ch}, std::move(self));
}

void ChannelTable::keep(Channel& ch, uint64_t offset, int64_t tsMs, FrameRef frame) {
  ch.history.push_back({offset, tsMs, std::move(frame)});
  const uint64_t bytes = entryBytes(ch.history.back());
  ch.historyBytes += bytes;
  historyBytes_.fetch_add(bytes, std::memory_order_relaxed);
  if (ch.budgetKeyMs < 0) relist(ch, ch.history.front().tsMs);
}

void ChannelTable::popFront(Channel& ch) {
  const uint64_t bytes = entryBytes(ch.history.front());
  ch.history.pop_front();
  ch.historyBytes -= bytes;
  historyBytes_.fetch_sub(bytes, std::memory_order_relaxed);
  freedBytes_.fetch_add(bytes, std::memory_order_relaxed);
  // A younger front keeps its older key (a lower bound) until trimToBudget looks at it.
  if (ch.history.empty()) relist(ch, -1);
}

void ChannelTable::trimHistory(Channel& ch, size_t maxEntries, int64_t ttlMs, int64_t nowMs) {
  while (ch.history.size() > maxEntries) popFront(ch);
  if (ttlMs > 0) {
    while (!ch.history.empty() && nowMs - ch.history.front().tsMs > ttlMs) popFront(ch);
  }
}

size_t ChannelTable::trimToBudget(uint64_t budgetBytes, size_t maxSteps) {
  size_t dropped = 0;
  for (size_t step = 0; step < maxSteps && historyBytes() > budgetBytes; ++step) {
    std::shared_ptr<Channel> ch;
    int64_t keyMs;
    {
      std::lock_guard<std::mutex> lock(indexMutex_);
      if (index_.empty()) break;
      keyMs = index_.begin()->first.first;
      ch = index_.begin()->second;
    }
    std::lock_guard<std::mutex> lock(ch->mutex);
    // Another trimmer got there first: the index's front is another one now.
    if (ch->budgetKeyMs != keyMs || ch->history.empty()) continue;
    const int64_t frontMs = ch->history.front().tsMs;
    if (frontMs > keyMs) {
      relist(*ch, frontMs);  // the key was a lower bound; the channel moves back in line
      continue;
    }
    popFront(*ch);
    ++dropped;
    if (!ch->history.empty()) relist(*ch, ch->history.front().tsMs);
  }
  budgetTrimmed_.fetch_add(dropped, std::memory_order_relaxed);
  return dropped;
}

SweepResult ChannelTable::sweep(size_t maxVisits, int64_t ttlMs, int64_t nowMs) {
  SweepResult result;
  std::vector<std::shared_ptr<Channel>> forget;  // freed after the locks are given back
  std::unique_lock<std::shared_mutex> write(mapMutex_);
  const size_t buckets = map_.bucket_count();
  size_t visits = 0;
  for (size_t b = 0; b < buckets && visits < maxVisits; ++b) {
    const size_t bucket = sweepBucket_++ % buckets;
    ++visits;
    for (auto it = map_.begin(bucket); it != map_.end(bucket); ++it) {
      Channel& ch = *it->second;
      ++visits;
      ++result.visited;
      std::lock_guard<std::mutex> lock(ch.mutex);
      if (ttlMs > 0) trimHistory(ch, ch.history.size(), ttlMs, nowMs);
      if (ch.subscribers == 0 && ch.history.empty() && ch.pendingEvents.empty()) {
        ch.removed = true;  // a thread that got it before the erase will look again
        forget.push_back(it->second);
      }
    }
  }
  for (const std::shared_ptr<Channel>& ch : forget) map_.erase(ch->name);
  forgotten_ += forget.size();
  result.forgotten = forget.size();
  write.unlock();
  return result;
}

uint64_t ChannelTable::forgotten() const {
  std::shared_lock<std::shared_mutex> read(mapMutex_);
  return forgotten_;
}

std::vector<ChannelInfo> ChannelTable::list() {
  std::vector<ChannelInfo> out;
  std::shared_lock<std::shared_mutex> read(mapMutex_);
  out.reserve(map_.size());
  for (auto& [name, ch] : map_) {
    std::lock_guard<std::mutex> lock(ch->mutex);
    out.push_back({name, ch->subscribers, ch->offset});
  }
  return out;
}

size_t ChannelTable::size() const {
  std::shared_lock<std::shared_mutex> read(mapMutex_);
  return map_.size();
}

}  // namespace ringcast::push
