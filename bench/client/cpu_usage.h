// CPU time readings for the report: this process (all threads), reaped children, and another
// process by pid (/proc/PID/stat utime + stime). Pure reads; any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace ringcast::bench {

// User + system CPU time of the calling process, all threads, in ns.
int64_t selfCpuNs();
// Of the reaped children (and their reaped children), in ns.
int64_t childrenCpuNs();
// Of process `pid` from /proc; -1 when it cannot be read (no such process).
int64_t processCpuNs(pid_t pid);

}  // namespace ringcast::bench
