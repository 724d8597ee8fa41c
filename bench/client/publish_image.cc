#include "bench/client/publish_image.h"

#include <fmt/core.h>

#include "bench/client/marker.h"

namespace ringcast::bench {
namespace {

constexpr std::string_view kMarker = "{marker}";
constexpr std::string_view kPad = "{pad}";

}  // namespace

PublishImage::PublishImage(const Options& o, const Url& target) : channels_(&o.channels) {
  const std::string name0 = o.channels.name(0);
  digits_ = o.channels.count() > 1 ? std::to_string(o.channels.count() - 1).size() : 0;
  // The body's size without its padding, to pad it to --size.
  const std::string& t = o.publishBody;
  size_t fixed = t.size();
  if (t.find(kMarker) != std::string::npos) fixed += kMarkerBytes - kMarker.size();
  if (t.find(kPad) != std::string::npos) fixed -= kPad.size();
  for (size_t at = t.find(kChannelPlaceholder); at != std::string::npos;
       at = t.find(kChannelPlaceholder, at + 1)) {
    fixed += name0.size() - kChannelPlaceholder.size();
  }
  const size_t padBytes = o.sizeBytes > fixed ? o.sizeBytes - fixed : 0;
  const size_t bodyBytes = fixed + (t.find(kPad) != std::string::npos ? padBytes : 0);
  bool markerDone = false, padDone = false, none = true;
  switch (o.publishVia) {
    case PublishVia::kWs:
      append(t, padBytes, &markerDone, &padDone);
      break;
    case PublishVia::kTcp:
      append("PUB {channel} ", 0, &none, &none);
      bytes_ += fmt::format("{}\r\n", bodyBytes);
      append(t, padBytes, &markerDone, &padDone);
      bytes_ += "\r\n";
      break;
    case PublishVia::kHttp:
      bytes_ += "POST ";
      append(target.target, 0, &none, &none);
      bytes_ += fmt::format(" HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
                            target.hostHeader, o.contentType, bodyBytes);
      for (const std::string& h : o.publishHeaders) bytes_ += h + "\r\n";
      bytes_ += "\r\n";
      append(t, padBytes, &markerDone, &padDone);
      break;
  }
}

void PublishImage::append(std::string_view text, size_t padBytes, bool* markerDone, bool* padDone) {
  size_t at = 0;
  while (at < text.size()) {
    const size_t brace = text.find('{', at);
    bytes_.append(
        text.substr(at, brace == std::string_view::npos ? std::string_view::npos : brace - at));
    if (brace == std::string_view::npos) return;
    const std::string_view rest = text.substr(brace);
    if (rest.starts_with(kChannelPlaceholder)) {
      const std::string name = channels_->name(0);
      if (digits_ > 0) digitsAt_.push_back(bytes_.size() + name.size() - digits_);
      bytes_ += name;
      at = brace + kChannelPlaceholder.size();
    } else if (!*markerDone && rest.starts_with(kMarker)) {
      *markerDone = true;
      markerAt_ = bytes_.size();
      bytes_.append(kMarkerBytes, '#');
      at = brace + kMarker.size();
    } else if (!*padDone && rest.starts_with(kPad)) {
      *padDone = true;
      bytes_.append(padBytes, 'x');
      at = brace + kPad.size();
    } else {
      bytes_ += '{';
      at = brace + 1;
    }
  }
}

void PublishImage::setChannel(char* out, uint32_t index) const {
  for (const size_t at : digitsAt_) {
    uint32_t v = index;
    for (size_t i = digits_; i > 0; --i) {
      out[at + i - 1] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  }
}

}  // namespace ringcast::bench
