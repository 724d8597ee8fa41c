// What memory the process may use and what it uses: the limit of its cgroup (v2
// `memory.max`, v1 `memory.limit_in_bytes`, the smallest along the path to the root) or else
// a share of physical memory, and its resident set size from /proc/self/statm.
//
// The parsers are pure functions of the files' text; the readers open the files. Thread
// safety: the free functions are safe from any thread; an RssReader belongs to one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringcast {

// A cgroup limit file's value ("max\n" or a number of bytes). nullopt for "max", for
// anything malformed, and for v1's "no limit" (a value of 2^60 or more: the page-rounded
// INT64_MAX that v1 prints).
std::optional<uint64_t> parseCgroupLimit(std::string_view text);
// The cgroup path of the process from /proc/self/cgroup: the v2 line ("0::/a/b"), or the v1
// line whose controller list names `memory` ("4:memory:/a/b"). nullopt when absent.
std::optional<std::string> cgroupV2Path(std::string_view procSelfCgroup);
std::optional<std::string> cgroupV1MemoryPath(std::string_view procSelfCgroup);
// The resident pages of /proc/self/statm (its second number); nullopt when malformed.
std::optional<uint64_t> parseStatmResidentPages(std::string_view statm);

// The share of physical memory taken as the limit when no cgroup sets one: the rest is left
// to the kernel, the page cache and whatever else runs on the machine.
inline constexpr uint64_t kPhysicalMemorySharePercent = 80;

struct MemoryLimit {
  uint64_t bytes = 0;
  std::string source;  // "cgroup v2 /sys/fs/cgroup/.../memory.max", "80% of physical memory"
};
// The limit this process runs under, as described above.
MemoryLimit detectMemoryLimit();

// Reads the resident set size, keeping /proc/self/statm open between reads (one pread each).
class RssReader {
 public:
  RssReader();
  ~RssReader();
  RssReader(const RssReader&) = delete;
  RssReader& operator=(const RssReader&) = delete;
  // Resident bytes now; 0 when /proc is not readable.
  uint64_t residentBytes();

 private:
  int fd_;
  uint64_t pageBytes_;
};

}  // namespace ringcast
