// Fuzz target for the pure parsers of core/process_memory.h: a cgroup limit file,
// /proc/self/cgroup and /proc/self/statm, as text the kernel (or a strange mount) writes.
// Each must stay within its input and keep its promises: a limit below v1's "no limit", a
// path that starts with '/', found in the text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/process_memory.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto limit = ringcast::parseCgroupLimit(text)) check(*limit < (1ull << 60));
  for (auto path : {ringcast::cgroupV2Path(text), ringcast::cgroupV1MemoryPath(text)}) {
    if (!path) continue;
    check(!path->empty() && path->front() == '/');
    check(text.find(*path) != std::string_view::npos);
  }
  (void)ringcast::parseStatmResidentPages(text);
  return 0;
}
