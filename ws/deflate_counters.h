// DeflateCounters: what permessage-deflate did on this thread (a loop), plain counters
// owned by the thread and summed on scrape by a task posted to each loop (STYLE 15).
#pragma once

#include <atomic>
#include <cstdint>

namespace ringcast::ws {

struct DeflateCounters {
  uint64_t framesCompressed = 0;        // compressed twins built (once per message)
  uint64_t compressNs = 0;              // CPU time spent building them (thread CPU clock)
  uint64_t messagesSentCompressed = 0;  // deliveries that went out compressed
  uint64_t bytesSaved = 0;              // wire bytes those deliveries saved against the plain frame
};

// This thread's counters.
inline DeflateCounters& deflateCounters() {
  thread_local DeflateCounters counters;
  return counters;
}

// Open connections of this process that negotiated permessage-deflate (a level, changed on
// upgrade and close). A publisher compresses a message before it enters the fan-out only
// while someone can use it.
inline std::atomic<int64_t>& deflateConnections() {
  static std::atomic<int64_t> count{0};
  return count;
}

}  // namespace ringcast::ws
