#include "core/log.h"

#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

namespace ringcast {
namespace {

std::atomic<int> gLevel{static_cast<int>(LogLevel::kInfo)};
thread_local int tLoopId = -1;

constexpr const char* kLevelNames[] = {"debug", "info", "warn", "error"};

}  // namespace

bool parseLogLevel(std::string_view text, LogLevel* out) {
  for (int i = 0; i < 4; ++i) {
    if (text == kLevelNames[i]) {
      *out = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

void setLogLevel(LogLevel level) {
  gLevel.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel logLevel() {
  return static_cast<LogLevel>(gLevel.load(std::memory_order_relaxed));
}

void setThreadLoopId(int loopId) {
  tLoopId = loopId;
}

void logWrite(LogLevel level, fmt::string_view format, fmt::format_args args) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  fmt::memory_buffer line;
  fmt::format_to(std::back_inserter(line), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {:5} ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000, kLevelNames[static_cast<int>(level)]);
  if (tLoopId >= 0) fmt::format_to(std::back_inserter(line), "loop {} ", tLoopId);
  fmt::vformat_to(std::back_inserter(line), format, args);
  line.push_back('\n');
  // One write per line: lines from different threads never interleave.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace ringcast
