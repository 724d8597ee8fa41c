// Worker: one process's share of a run. It starts --threads loops, each with a Shard of the
// run's mode, and follows the parent's phase messages on `ctrlFd` (go, stop, finish), sending
// counters snapshots (10 per second) and, at the end, its merged Stats on `outFd`.
//
// Runs on the worker process's main thread; the loops are its other threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/client/options.h"

namespace ringcast::bench {

// The upgrade request for `url` up to (not including) the Sec-WebSocket-Key field.
std::string upgradeHead(const Url& url, const std::vector<std::string>& headers);
// The subscribers' head: with --compression it offers permessage-deflate as well.
std::string upgradeHead(const Options& o, const Url& url);

// Part `index` of `total` split into `parts` nearly equal parts (the first ones get the
// remainder): how connections and stalled subscribers are split over processes and loops.
inline uint64_t shareOf(uint64_t total, uint64_t parts, uint64_t index) {
  return total / parts + (index < total % parts ? 1 : 0);
}

// The connections of loop `thread` of worker process `proc`: how many, how many of them
// stalled, and the run-wide number of the first (loops numbered process by process), so
// that subscriber g of the whole run is the same one whatever --procs and --threads are.
struct LoopShare {
  uint64_t firstGlobal = 0;
  uint64_t slots = 0;
  uint64_t stalled = 0;
};
LoopShare loopShare(const Options& o, int proc, int thread);

// How many subscribers of the run read each channel (the stalled ones not counted): what
// one publish to channel c is due to reach.
std::vector<uint64_t> readersPerChannel(const Options& o);

class DeliveryLedger;

// Runs worker `procIndex` of --procs: its share of --conns (and of --stalled). Returns the
// process exit status.
int runWorker(const Options& o, int procIndex, int ctrlFd, int outFd, DeliveryLedger* ledger);

}  // namespace ringcast::bench
