// Coordinator: the parent process of a run. It forks the --procs workers (each runs
// runWorker over pipes), runs the fanout publishers on a loop of its own, moves every
// worker through the phases together (connect, go, stop/finish), shows the live progress
// line, merges the workers' results and reports them, with the CPU time of the bench's
// processes and of --server-pid over the measured window.
//
// Main thread of the parent. Every child it signals is one it forked, by pid.
#pragma once

#include "bench/client/options.h"

namespace ringcast::bench {

// Runs the whole bench; returns the exit status (0 measured, 1 could not be measured).
int runCoordinator(const Options& o);

}  // namespace ringcast::bench
