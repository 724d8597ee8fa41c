// initChildSpawnAttr: posix_spawn attributes for a child of the tests: no signal blocked,
// SIGTERM, SIGINT and SIGPIPE at their defaults (the test binary's own mask and dispositions
// must not leak into the child). The caller destroys them.
// spawnChild: starts a helper program of the tests (redis-server, haproxy) with stdin from
// /dev/null and stdout and stderr appended to `logPath`, signals as initChildSpawnAttr sets.
// The pid, or -1 with the reason in *error. The caller owns the pid: it alone signals and
// reaps it.
#pragma once

#include <spawn.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace ringcast::test {

void initChildSpawnAttr(posix_spawnattr_t* attr);
pid_t spawnChild(const std::vector<std::string>& args, const std::string& logPath,
                 std::string* error);

}  // namespace ringcast::test
