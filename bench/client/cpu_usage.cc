#include "bench/client/cpu_usage.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace ringcast::bench {
namespace {

int64_t toNs(const timeval& tv) {
  return static_cast<int64_t>(tv.tv_sec) * 1'000'000'000 + static_cast<int64_t>(tv.tv_usec) * 1000;
}

int64_t usageNs(int who) {
  rusage ru{};
  if (::getrusage(who, &ru) != 0) return 0;
  return toNs(ru.ru_utime) + toNs(ru.ru_stime);
}

}  // namespace

int64_t selfCpuNs() {
  return usageNs(RUSAGE_SELF);
}
int64_t childrenCpuNs() {
  return usageNs(RUSAGE_CHILDREN);
}

int64_t processCpuNs(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return -1;
  char buf[1024];
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The command name (field 2) may hold spaces and parentheses: fields resume after the
  // last ')'. utime and stime are fields 14 and 15, i.e. the 12th and 13th after it.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return -1;
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                  &stime) != 2) {
    return -1;
  }
  const long ticks = ::sysconf(_SC_CLK_TCK);
  return static_cast<int64_t>((utime + stime) * (1'000'000'000ULL / static_cast<uint64_t>(ticks)));
}

}  // namespace ringcast::bench
