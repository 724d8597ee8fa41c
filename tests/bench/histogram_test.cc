#include "bench/client/histogram.h"

#include <gtest/gtest.h>

#include <string>

namespace ringcast::bench {
namespace {

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100u);
  EXPECT_EQ(h.percentile(0.5), 50u);
  EXPECT_EQ(h.percentile(0.9), 90u);
  EXPECT_EQ(h.percentile(0.99), 99u);
  EXPECT_EQ(h.percentile(1.0), 100u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(HistogramTest, LargeValuesAreWithinTheBucketPrecision) {
  Histogram h;
  // 1 us .. 1 s in steps of 1 us: percentile p must be within 1/64 above the true value.
  for (uint64_t v = 1000; v <= 1'000'000'000; v += 997) h.record(v);
  for (double p : {0.5, 0.9, 0.99, 0.999}) {
    const double truth = 1000 + p * (1'000'000'000 - 1000);
    const double got = static_cast<double>(h.percentile(p));
    EXPECT_GE(got, truth * 0.999) << p;
    EXPECT_LE(got, truth * (1 + 1.0 / 64)) << p;
  }
  EXPECT_LE(h.percentile(1.0), h.max());
}

TEST(HistogramTest, BucketsCoverEveryValueInOrder) {
  const uint64_t values[] = {
      0, 1, 127, 128, 129, 255, 256, uint64_t{1} << 30, Histogram::kMaxValue - 1};
  for (uint64_t v : values) {
    const size_t i = Histogram::indexOf(v);
    EXPECT_LE(v, Histogram::upperBoundOf(i)) << v;
    if (i > 0) {
      EXPECT_GT(v, Histogram::upperBoundOf(i - 1)) << v;
    }
  }
  Histogram h;
  h.record(Histogram::kMaxValue * 4);  // clamped, not out of range
  EXPECT_EQ(h.max(), Histogram::kMaxValue - 1);
}

TEST(HistogramTest, MergeAndSerializationKeepEverything) {
  Histogram a, b;
  for (uint64_t v = 0; v < 1000; ++v) a.record(v * 1000);
  for (uint64_t v = 0; v < 10; ++v) b.record(5'000'000'000ull + v);
  a.merge(b);
  EXPECT_EQ(a.count(), 1010u);
  EXPECT_EQ(a.max(), 5'000'000'009u);
  std::string bytes;
  a.appendTo(bytes);
  bytes += "tail";
  std::string_view in = bytes;
  Histogram c;
  ASSERT_TRUE(c.readFrom(&in));
  EXPECT_EQ(in, "tail");
  EXPECT_EQ(c.count(), a.count());
  EXPECT_EQ(c.min(), a.min());
  for (double p : {0.5, 0.99, 0.999, 1.0}) EXPECT_EQ(c.percentile(p), a.percentile(p));
  std::string_view cut = std::string_view(bytes).substr(0, 30);
  EXPECT_FALSE(c.readFrom(&cut));
}

TEST(HistogramTest, EmptyHistogramReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(0.99), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
}

}  // namespace
}  // namespace ringcast::bench
