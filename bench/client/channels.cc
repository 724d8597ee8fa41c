#include "bench/client/channels.h"

#include <fmt/core.h>

namespace ringcast::bench {

ChannelSet::ChannelSet(std::string base, uint32_t count)
    : base_(std::move(base)), count_(count < 1 ? 1 : count) {
  if (count_ > 1) digits_ = static_cast<int>(std::to_string(count_ - 1).size());
}

std::string ChannelSet::name(uint32_t index) const {
  if (digits_ == 0) return base_;
  return fmt::format("{}{:0{}}", base_, index, digits_);
}

std::string ChannelSet::expand(std::string_view text, uint32_t index) const {
  std::string out;
  size_t at = 0;
  while (true) {
    const size_t hit = text.find(kChannelPlaceholder, at);
    out.append(text.substr(at, hit == std::string_view::npos ? std::string_view::npos : hit - at));
    if (hit == std::string_view::npos) return out;
    out += name(index);
    at = hit + kChannelPlaceholder.size();
  }
}

}  // namespace ringcast::bench
