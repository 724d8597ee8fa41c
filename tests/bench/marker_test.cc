#include "bench/client/marker.h"

#include <gtest/gtest.h>

#include <string>

namespace ringcast::bench {
namespace {

std::string markerText(const Marker& m) {
  std::string s(kMarkerBytes, '?');
  writeMarker(s.data(), m);
  return s;
}

TEST(MarkerTest, RoundTripsAnywhereInAFrame) {
  const Marker m{7, 4321, 123456789, 9'876'543'210'123};
  const std::string frame = R"({"type":"message","data":"x)" + markerText(m) + R"(y"})";
  size_t pos = 0;
  Marker got;
  uint64_t malformed = 0;
  ASSERT_TRUE(findMarker(frame, &pos, &got, &malformed));
  EXPECT_EQ(got.publisher, 7u);
  EXPECT_EQ(got.channel, 4321u);
  EXPECT_EQ(got.seq, 123456789u);
  EXPECT_EQ(got.sentNs, 9'876'543'210'123);
  EXPECT_FALSE(findMarker(frame, &pos, &got, &malformed));
  EXPECT_EQ(malformed, 0u);
}

TEST(MarkerTest, FindsEveryMarkerOfABatchAndSkipsBrokenOnes) {
  std::string frame = markerText({0, 0, 1, 5}) + "#rcb:12x" + markerText({1, 9, 2, 6}) + "#rcb:";
  size_t pos = 0;
  Marker got;
  uint64_t malformed = 0;
  ASSERT_TRUE(findMarker(frame, &pos, &got, &malformed));
  EXPECT_EQ(got.seq, 1u);
  ASSERT_TRUE(findMarker(frame, &pos, &got, &malformed));
  EXPECT_EQ(got.publisher, 1u);
  EXPECT_EQ(got.channel, 9u);
  EXPECT_EQ(got.seq, 2u);
  EXPECT_FALSE(findMarker(frame, &pos, &got, &malformed));
  EXPECT_EQ(malformed, 2u);
}

TEST(MarkerTest, OtherHashSignsAroundAMarkerAreSkipped) {
  const std::string frame = "{\"#\":\"a#b##" + markerText({3, 2, 7, 8}) + "#\",\"c\":\"#rc";
  size_t pos = 0;
  Marker got;
  uint64_t malformed = 0;
  ASSERT_TRUE(findMarker(frame, &pos, &got, &malformed));
  EXPECT_EQ(got.publisher, 3u);
  EXPECT_EQ(got.seq, 7u);
  EXPECT_EQ(frame.compare(pos - 1, 2, "##"), 0);  // just past the marker's closing '#'
  EXPECT_FALSE(findMarker(frame, &pos, &got, &malformed));
  EXPECT_EQ(pos, frame.size());
  EXPECT_EQ(malformed, 0u);
}

TEST(MarkerTest, HasAFixedSize) {
  EXPECT_EQ(markerText({0, 0, 0, 0}).size(),
            markerText({999, kMaxChannels, 999'999'999'999, INT64_MAX}).size());
  EXPECT_EQ(markerText({1, 2, 3, 4}).find_first_of("\"\\"), std::string::npos);
}

}  // namespace
}  // namespace ringcast::bench
