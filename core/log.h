// Logging: one line per event on stderr, with level, loop id and (where given) connection id.
// fmt-based; a message below the current level costs one comparison and formats nothing.
//
// Thread safety: setLogLevel() is called by main before any loop starts; logging is safe
// from any thread (each line is written with one write(2) call, so lines never interleave).
#pragma once

#include <fmt/core.h>

#include <string_view>

namespace ringcast {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug", "info", "warn", "error". Returns false for anything else.
bool parseLogLevel(std::string_view text, LogLevel* out);
void setLogLevel(LogLevel level);
LogLevel logLevel();
// Tags every log line written by this thread with "loop N" (set once per loop thread).
void setThreadLoopId(int loopId);

void logWrite(LogLevel level, fmt::string_view format, fmt::format_args args);

template <typename... Args>
void logAt(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (level < logLevel()) return;
  logWrite(level, format, fmt::make_format_args(args...));
}

#define RC_LOG_DEBUG(...) ::ringcast::logAt(::ringcast::LogLevel::kDebug, __VA_ARGS__)
#define RC_LOG_INFO(...) ::ringcast::logAt(::ringcast::LogLevel::kInfo, __VA_ARGS__)
#define RC_LOG_WARN(...) ::ringcast::logAt(::ringcast::LogLevel::kWarn, __VA_ARGS__)
#define RC_LOG_ERROR(...) ::ringcast::logAt(::ringcast::LogLevel::kError, __VA_ARGS__)

}  // namespace ringcast
