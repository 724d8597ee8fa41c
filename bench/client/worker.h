// Worker: one process's share of a run. It starts --threads loops, each with a Shard of the
// run's mode, and follows the parent's phase messages on `ctrlFd` (go, stop, finish), sending
// counters snapshots (10 per second) and, at the end, its merged Stats on `outFd`.
//
// Runs on the worker process's main thread; the loops are its other threads.
#pragma once

#include <cstdint>
#include <string>

#include "bench/client/options.h"

namespace ringcast::bench {

// The upgrade request for `url` up to (not including) the Sec-WebSocket-Key field.
std::string upgradeHead(const Url& url, const std::vector<std::string>& headers);

// Returns the process exit status.
int runWorker(const Options& o, int procIndex, uint64_t conns, int ctrlFd, int outFd);

}  // namespace ringcast::bench
