// PublishImage: the bytes of one published message for one publish target, built once from
// the templates and then copied into a pooled frame per message: an HTTP request (request
// line, head, body), a WebSocket payload, or a TCP `PUB <channel> <n>\r\n<payload>\r\n`
// command. The image holds the marker's place (kMarkerBytes) and, with several channels,
// the places of the channel number in every {channel} of the templates; channel names have
// a fixed width (ChannelSet), so every channel's message has the same size and a publish
// only rewrites those digits and the marker.
//
// Pure; const after construction, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/client/options.h"

namespace ringcast::bench {

class PublishImage {
 public:
  PublishImage() = default;
  // The message of `o` to `target` (a --publish-url, --publish-ws or --publish-tcp).
  PublishImage(const Options& o, const Url& target);

  const std::string& bytes() const { return bytes_; }
  size_t size() const { return bytes_.size(); }
  size_t markerAt() const { return markerAt_; }
  // Writes channel `index`'s number into a copy of bytes() at `out`.
  void setChannel(char* out, uint32_t index) const;

 private:
  // Appends `text` with {channel} (every one), {marker} and {pad} (the first of each) filled.
  void append(std::string_view text, size_t padBytes, bool* markerDone, bool* padDone);

  const ChannelSet* channels_ = nullptr;
  std::string bytes_;
  size_t markerAt_ = 0;
  std::vector<size_t> digitsAt_;  // where each channel number starts
  size_t digits_ = 0;             // its width; 0 with one channel
};

}  // namespace ringcast::bench
