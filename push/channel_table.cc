#include "push/channel_table.h"

namespace ringcast::push {

void Channel::trimHistory(size_t maxEntries, int64_t ttlMs, int64_t nowMs) {
  while (history.size() > maxEntries) history.pop_front();
  if (ttlMs > 0) {
    while (!history.empty() && nowMs - history.front().tsMs > ttlMs) history.pop_front();
  }
}

std::shared_ptr<Channel> ChannelTable::getOrCreate(std::string_view name) {
  {
    std::shared_lock<std::shared_mutex> read(mapMutex_);
    if (auto it = map_.find(name); it != map_.end()) return it->second;
  }
  std::unique_lock<std::shared_mutex> write(mapMutex_);
  auto [it, inserted] = map_.try_emplace(std::string(name), nullptr);
  if (inserted) it->second = std::make_shared<Channel>(std::string(name));
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
