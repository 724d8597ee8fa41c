#include "bench/client/marker.h"

#include <cstring>

namespace ringcast::bench {
namespace {

void writeDigits(char* out, size_t width, uint64_t value) {
  for (size_t i = width; i > 0; --i) {
    out[i - 1] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

bool readDigits(const char* in, size_t width, uint64_t* value) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) {
    const unsigned d = static_cast<unsigned char>(in[i]) - '0';
    if (d > 9) return false;
    v = v * 10 + d;
  }
  *value = v;
  return true;
}

// Where the next "#rcb:" in text[from, end) starts, or npos. By its '#' with memchr: a frame
// has few of them, and memchr over a short frame costs a fraction of a general memmem.
size_t findPrefix(std::string_view text, size_t from) {
  while (from < text.size()) {
    const void* hash = std::memchr(text.data() + from, '#', text.size() - from);
    if (hash == nullptr) break;
    const size_t at = static_cast<size_t>(static_cast<const char*>(hash) - text.data());
    if (text.compare(at, kMarkerPrefix.size(), kMarkerPrefix) == 0) return at;
    from = at + 1;
  }
  return std::string_view::npos;
}

}  // namespace

void writeMarker(char* out, const Marker& m) {
  std::memcpy(out, kMarkerPrefix.data(), kMarkerPrefix.size());
  char* p = out + kMarkerPrefix.size();
  writeDigits(p, kMarkerPublisherDigits, m.publisher);
  p += kMarkerPublisherDigits;
  *p++ = ':';
  writeDigits(p, kMarkerChannelDigits, m.channel);
  p += kMarkerChannelDigits;
  *p++ = ':';
  writeDigits(p, kMarkerSeqDigits, m.seq);
  p += kMarkerSeqDigits;
  *p++ = ':';
  writeDigits(p, kMarkerTimeDigits, static_cast<uint64_t>(m.sentNs));
  p += kMarkerTimeDigits;
  *p = '#';
}

bool findMarker(std::string_view text, size_t* pos, Marker* m, uint64_t* malformed) {
  while (*pos < text.size()) {
    const size_t at = findPrefix(text, *pos);
    if (at == std::string_view::npos) {
      *pos = text.size();
      return false;
    }
    *pos = at + kMarkerPrefix.size();
    if (text.size() - at < kMarkerBytes) {
      ++*malformed;
      continue;
    }
    const char* p = text.data() + at + kMarkerPrefix.size();
    uint64_t publisher, channel, seq, ns;
    const char* channelAt = p + kMarkerPublisherDigits + 1;
    const char* seqAt = channelAt + kMarkerChannelDigits + 1;
    const char* timeAt = seqAt + kMarkerSeqDigits + 1;
    if (!readDigits(p, kMarkerPublisherDigits, &publisher) || channelAt[-1] != ':' ||
        !readDigits(channelAt, kMarkerChannelDigits, &channel) || seqAt[-1] != ':' ||
        !readDigits(seqAt, kMarkerSeqDigits, &seq) || timeAt[-1] != ':' ||
        !readDigits(timeAt, kMarkerTimeDigits, &ns) || timeAt[kMarkerTimeDigits] != '#') {
      ++*malformed;
      continue;
    }
    m->publisher = static_cast<uint32_t>(publisher);
    m->channel = static_cast<uint32_t>(channel);
    m->seq = seq;
    m->sentNs = static_cast<int64_t>(ns);
    *pos = at + kMarkerBytes;
    return true;
  }
  return false;
}

}  // namespace ringcast::bench
