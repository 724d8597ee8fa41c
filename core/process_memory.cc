#include "core/process_memory.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>

namespace ringcast {
namespace {

// v1 reports "no limit" as INT64_MAX rounded down to a page; no machine has 2^60 bytes.
constexpr uint64_t kNoLimitAbove = 1ull << 60;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r'))
    s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

std::optional<uint64_t> parseNumber(std::string_view s) {
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

// Each line "ID:CONTROLLERS:PATH" of /proc/self/cgroup, until fn returns a path.
template <class Fn>
std::optional<std::string> findLine(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    size_t c1 = line.find(':');
    if (c1 == std::string_view::npos) continue;
    size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    std::string_view path = line.substr(c2 + 1);
    if (path.empty() || path.front() != '/') continue;
    if (fn(line.substr(0, c1), line.substr(c1 + 1, c2 - c1 - 1))) return std::string(path);
  }
  return std::nullopt;
}

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The smallest limit in `file` of the cgroup at `path` under `root` and of its ancestors.
std::optional<MemoryLimit> smallestAlong(const std::string& root, std::string path,
                                         const char* file, const char* version) {
  std::optional<MemoryLimit> best;
  for (;;) {
    std::string where = root + (path == "/" ? "" : path) + "/" + file;
    if (auto text = readFile(where)) {
      if (auto bytes = parseCgroupLimit(*text); bytes && (!best || *bytes < best->bytes)) {
        best = MemoryLimit{*bytes, std::string(version) + " " + where};
      }
    }
    if (path == "/" || path.empty()) return best;
    size_t slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
}

}  // namespace

std::optional<uint64_t> parseCgroupLimit(std::string_view text) {
  text = trim(text);
  if (text == "max") return std::nullopt;
  auto value = parseNumber(text);
  if (!value || *value >= kNoLimitAbove) return std::nullopt;
  return value;
}

std::optional<std::string> cgroupV2Path(std::string_view procSelfCgroup) {
  return findLine(procSelfCgroup, [](std::string_view id, std::string_view controllers) {
    return id == "0" && controllers.empty();
  });
}

std::optional<std::string> cgroupV1MemoryPath(std::string_view procSelfCgroup) {
  return findLine(procSelfCgroup, [](std::string_view, std::string_view controllers) {
    while (!controllers.empty()) {
      size_t comma = controllers.find(',');
      if (controllers.substr(0, comma) == "memory") return true;
      if (comma == std::string_view::npos) break;
      controllers.remove_prefix(comma + 1);
    }
    return false;
  });
}

std::optional<uint64_t> parseStatmResidentPages(std::string_view statm) {
  size_t space = statm.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::string_view rest = statm.substr(space + 1);
  return parseNumber(rest.substr(0, rest.find_first_of(" \n")));
}

MemoryLimit detectMemoryLimit() {
  std::optional<MemoryLimit> found;
  if (auto cgroups = readFile("/proc/self/cgroup")) {
    if (auto path = cgroupV2Path(*cgroups)) {
      // A unified hierarchy, or the unified half of a hybrid one.
      found = smallestAlong("/sys/fs/cgroup", *path, "memory.max", "cgroup v2");
      if (!found) found = smallestAlong("/sys/fs/cgroup/unified", *path, "memory.max", "cgroup v2");
    }
    if (auto path = cgroupV1MemoryPath(*cgroups); path && !found) {
      found = smallestAlong("/sys/fs/cgroup/memory", *path, "memory.limit_in_bytes", "cgroup v1");
    }
  }
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long pageBytes = ::sysconf(_SC_PAGESIZE);
  const uint64_t physical = pages > 0 && pageBytes > 0
                                ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(pageBytes)
                                : 0;
  const uint64_t share = physical / 100 * kPhysicalMemorySharePercent;
  if (found && (physical == 0 || found->bytes < share)) return *found;
  return {share, std::to_string(kPhysicalMemorySharePercent) + "% of physical memory"};
}

RssReader::RssReader()
    : fd_(::open("/proc/self/statm", O_RDONLY | O_CLOEXEC)),
      pageBytes_(static_cast<uint64_t>(::sysconf(_SC_PAGESIZE))) {}

RssReader::~RssReader() {
  if (fd_ >= 0) ::close(fd_);
}

uint64_t RssReader::residentBytes() {
  if (fd_ < 0) return 0;
  char buf[128];
  ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  auto pages = parseStatmResidentPages(std::string_view(buf, static_cast<size_t>(n)));
  return pages ? *pages * pageBytes_ : 0;
}

}  // namespace ringcast
