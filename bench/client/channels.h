// ChannelSet: the channels of a fanout run (--channel NAME --channels K) and the templates
// that name them. With one channel its name is NAME; with K > 1, channel i is NAME followed
// by i in fixed-width decimal (room000 .. room999 for --channel room --channels 1000), so
// every channel's messages have the same size. Subscriber g (numbered over every process
// and loop) joins channel g mod K: the subscribers are dealt over the channels round robin.
//
// expand() replaces every {channel} in a template (subscribe message, URL, publish URL or
// body) by a channel's name, for servers other than ringcast.
//
// Pure; const after construction, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::bench {

inline constexpr std::string_view kChannelPlaceholder = "{channel}";

class ChannelSet {
 public:
  ChannelSet() = default;
  ChannelSet(std::string base, uint32_t count);

  uint32_t count() const { return count_; }
  std::string name(uint32_t index) const;
  std::string expand(std::string_view text, uint32_t index) const;
  uint32_t ofSubscriber(uint64_t globalIndex) const {
    return static_cast<uint32_t>(globalIndex % count_);
  }
  static bool hasPlaceholder(std::string_view text) {
    return text.find(kChannelPlaceholder) != std::string_view::npos;
  }

 private:
  std::string base_ = "bench";
  uint32_t count_ = 1;
  int digits_ = 0;  // 0 with one channel
};

}  // namespace ringcast::bench
