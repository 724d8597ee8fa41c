// Marker: the tag every published message carries,
// `#rcb:PPP:CCCCCCC:SSSSSSSSSSSS:NNNNNNNNNNNNNNNNNNN#` (publisher number, channel number,
// sequence number within that publisher and channel, CLOCK_MONOTONIC send time in ns; fixed
// width, so every
// message of a run has the same size and its buffers can be reused). Subscribers look for it
// anywhere in a frame, so it survives any envelope a server wraps around the published data
// (JSON strings included: it uses no character JSON escapes).
//
// Pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringcast::bench {

struct Marker {
  uint32_t publisher = 0;
  uint32_t channel = 0;  // index of the channel in the run (0 with one channel)
  uint64_t seq = 0;
  int64_t sentNs = 0;
};

inline constexpr std::string_view kMarkerPrefix = "#rcb:";
inline constexpr size_t kMarkerPublisherDigits = 3;
inline constexpr size_t kMarkerChannelDigits = 7;
inline constexpr size_t kMarkerSeqDigits = 12;
inline constexpr size_t kMarkerTimeDigits = 19;
inline constexpr size_t kMarkerBytes = kMarkerPrefix.size() + kMarkerPublisherDigits + 1 +
                                       kMarkerChannelDigits + 1 + kMarkerSeqDigits + 1 +
                                       kMarkerTimeDigits + 1;
inline constexpr uint32_t kMaxPublishers = 999;
inline constexpr uint32_t kMaxChannels = 9'999'999;

// Writes the kMarkerBytes bytes of `m` at `out`. REQUIRES: m.publisher <= kMaxPublishers,
// m.channel <= kMaxChannels.
void writeMarker(char* out, const Marker& m);

// Finds the next marker in text[*pos, end), stores it in *m and moves *pos past it. Returns
// false when there is none. A "#rcb:" that is not followed by a well-formed marker is
// skipped and counted in *malformed.
bool findMarker(std::string_view text, size_t* pos, Marker* m, uint64_t* malformed);

}  // namespace ringcast::bench
