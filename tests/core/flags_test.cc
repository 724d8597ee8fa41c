#include "core/flags.h"

#include <gtest/gtest.h>

namespace ringcast {
namespace {

TEST(ParseSize, AcceptsUnits) {
  EXPECT_EQ(parseSize("0"), 0u);
  EXPECT_EQ(parseSize("65536"), 65536u);
  EXPECT_EQ(parseSize("512B"), 512u);
  EXPECT_EQ(parseSize("64KiB"), 64u * 1024);
  EXPECT_EQ(parseSize("16MiB"), 16u << 20);
  EXPECT_EQ(parseSize("2GiB"), 2ull << 30);
  EXPECT_EQ(parseSize("5KB"), 5000u);
  EXPECT_EQ(parseSize("3MB"), 3000000u);
}

TEST(ParseSize, RejectsMalformed) {
  for (const char* bad : {"", "MiB", "-1", "16 MiB", "16mib", "1.5MiB", "16MiBs", "x",
                          "99999999999999999999", "18446744073709551615KiB"}) {
    EXPECT_FALSE(parseSize(bad).has_value()) << bad;
  }
}

TEST(ParseDuration, AcceptsUnits) {
  EXPECT_EQ(parseDurationMs("0"), 0);
  EXPECT_EQ(parseDurationMs("500ms"), 500);
  EXPECT_EQ(parseDurationMs("25s"), 25'000);
  EXPECT_EQ(parseDurationMs("2m"), 120'000);
  EXPECT_EQ(parseDurationMs("1h"), 3'600'000);
}

TEST(ParseDuration, RequiresAUnitExceptForZero) {
  for (const char* bad : {"25", "s", "1.5s", "10 s", "10sec", "-1s", ""}) {
    EXPECT_FALSE(parseDurationMs(bad).has_value()) << bad;
  }
}

TEST(FormatFlags, PrintsExactUnitsAndRoundTrips) {
  EXPECT_EQ(formatSize(16u << 20), "16MiB");
  EXPECT_EQ(formatSize(1536), "1536B");
  EXPECT_EQ(formatSize(3072), "3KiB");
  EXPECT_EQ(formatSize(1000), "1000B");
  EXPECT_EQ(formatDurationMs(25'000), "25s");
  EXPECT_EQ(formatDurationMs(1500), "1500ms");
  EXPECT_EQ(formatDurationMs(120'000), "2m");
  for (uint64_t v : {0ull, 1ull, 1023ull, 1024ull, 65536ull, 1ull << 20, (1ull << 20) + 1}) {
    EXPECT_EQ(parseSize(formatSize(v)), v);
  }
}

TEST(FormatFlags, OneLinePerFlagWithEffectiveValues) {
  Flags f;
  f.listen = "127.0.0.1:9000";
  f.maxMessageBytes = 16u << 20;
  f.echo = true;
  std::string text = formatFlags(f);
  EXPECT_NE(text.find("--listen              127.0.0.1:9000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("--max-message-size    16MiB\n"), std::string::npos) << text;
  EXPECT_NE(text.find("--echo                on\n"), std::string::npos) << text;
  EXPECT_NE(text.find("--idle-timeout        off\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace ringcast
