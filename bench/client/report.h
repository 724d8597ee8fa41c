// Report: the results of a run as text (stdout) and JSON (--json): counts, rates, latency
// percentiles, failures by kind with their explanation, and the client's and the server's
// CPU time over the measured window. Pure formatting; main thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/client/options.h"
#include "bench/client/stats.h"

namespace ringcast::bench {

struct RunReport {
  const Options* options = nullptr;
  Stats workers;                   // merged over every worker process
  Stats publisher;                 // fanout: the publishers
  std::vector<uint64_t> expected;  // fanout: per publisher and channel
  double connectSec = 0;           // start -> every connection resolved
  double windowSec = 0;            // the measured window (echo/handshake/fanout run, hold)
  double cpuSec = 0;               // between the CPU readings (fanout: including the drain)
  double deliverySec = 0;          // fanout: first publish -> last delivery
  int64_t clientCpuWindowNs = 0;   // all bench processes, over the window
  int64_t clientCpuTotalNs = 0;    // all bench processes, whole run
  int64_t serverCpuWindowNs = -1;  // -1: no --server-pid; else the sum over every pid
  int64_t serverCpuTotalNs = -1;
  std::vector<int64_t> serverCpuWindowPerPidNs;  // in --server-pid order
  std::string fatal;         // why the run could not be measured; empty if it was
  bool interrupted = false;  // a signal ended the window early
  int readerNice = 0;        // fanout: the highest nice value read back from the workers
};

// A one-paragraph account of the failures, e.g. "16 refused (connection refused: ...)".
std::string describeFailures(const Counters& c);
std::string formatReport(const RunReport& r);
std::string formatJson(const RunReport& r);
// Percentile line: "p50 1.20ms  p90 ...  max ..." for a histogram of ns.
std::string formatLatency(const Histogram& h);
const char* publishViaName(PublishVia via);  // "http", "ws", "tcp"

}  // namespace ringcast::bench
