// DeflateCounters: what permessage-deflate did on this thread (a loop), plain counters
// owned by the thread and summed on scrape by a task posted to each loop (STYLE 15).
#pragma once

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

}  // namespace ringcast::ws
