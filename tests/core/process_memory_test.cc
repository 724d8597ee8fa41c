// The pure parts of core/process_memory: cgroup limit files, /proc/self/cgroup lines and
// /proc/self/statm, as the kernel writes them; and the readers on this machine.
#include "core/process_memory.h"

#include <gtest/gtest.h>

namespace ringcast {
namespace {

TEST(CgroupLimit, NumbersMaxAndV1sNoLimit) {
  EXPECT_EQ(parseCgroupLimit("536870912\n"), 536870912u);
  EXPECT_EQ(parseCgroupLimit("1073741824"), 1073741824u);
  EXPECT_EQ(parseCgroupLimit("max\n"), std::nullopt);
  EXPECT_EQ(parseCgroupLimit("9223372036854771712\n"), std::nullopt);  // v1: unlimited
  EXPECT_EQ(parseCgroupLimit(""), std::nullopt);
  EXPECT_EQ(parseCgroupLimit("12k\n"), std::nullopt);
  EXPECT_EQ(parseCgroupLimit("-1\n"), std::nullopt);
  EXPECT_EQ(parseCgroupLimit("99999999999999999999999\n"), std::nullopt);  // overflows
}

TEST(CgroupPath, V2LineOfAUnifiedHierarchy) {
  EXPECT_EQ(cgroupV2Path("0::/system.slice/ringcast.service\n"), "/system.slice/ringcast.service");
  EXPECT_EQ(cgroupV2Path("0::/\n"), "/");
  EXPECT_EQ(cgroupV1MemoryPath("0::/system.slice/ringcast.service\n"), std::nullopt);
}

TEST(CgroupPath, V1MemoryControllerAloneOrInAList) {
  const char* hybrid =
      "12:pids:/\n"
      "4:memory:/process_api/6e9f\n"
      "1:name=systemd:/\n"
      "0::/\n";
  EXPECT_EQ(cgroupV1MemoryPath(hybrid), "/process_api/6e9f");
  EXPECT_EQ(cgroupV2Path(hybrid), "/");
  EXPECT_EQ(cgroupV1MemoryPath("7:cpu,memory,blkio:/docker/abc\n"), "/docker/abc");
  // "memory" must be a whole controller name.
  EXPECT_EQ(cgroupV1MemoryPath("7:memory_extra:/x\n3:nomemory:/y\n"), std::nullopt);
  EXPECT_EQ(cgroupV1MemoryPath("garbage\n4:memory\n"), std::nullopt);
}

TEST(Statm, SecondNumberIsResidentPages) {
  EXPECT_EQ(parseStatmResidentPages("5120 1843 512 100 0 900 0\n"), 1843u);
  EXPECT_EQ(parseStatmResidentPages("5120 1843"), 1843u);
  EXPECT_EQ(parseStatmResidentPages("5120"), std::nullopt);
  EXPECT_EQ(parseStatmResidentPages("5120 x 1"), std::nullopt);
}

TEST(ProcessMemory, ReadsThisProcess) {
  RssReader rss;
  const uint64_t before = rss.residentBytes();
  EXPECT_GT(before, 1u << 20);  // a test binary holds more than a MiB
  MemoryLimit limit = detectMemoryLimit();
  EXPECT_GT(limit.bytes, before);
  EXPECT_FALSE(limit.source.empty());
}

}  // namespace
}  // namespace ringcast
