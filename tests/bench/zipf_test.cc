#include "bench/client/zipf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "bench/client/channels.h"

namespace ringcast::bench {
namespace {

// Draws n samples and returns the chi-square statistic against the sampler's own law.
double chiSquare(ZipfSampler& z, int n, std::vector<int>* counts) {
  counts->assign(z.size(), 0);
  for (int i = 0; i < n; ++i) ++(*counts)[z.next()];
  double chi = 0;
  for (uint32_t k = 0; k < z.size(); ++k) {
    const double e = n * z.probability(k);
    chi += ((*counts)[k] - e) * ((*counts)[k] - e) / e;
  }
  return chi;
}

TEST(ZipfSamplerTest, ProbabilitiesFollowTheZipfLaw) {
  ZipfSampler z(4, 1.0, 1);
  const double h = 1 + 1 / 2.0 + 1 / 3.0 + 1 / 4.0;
  for (uint32_t k = 0; k < 4; ++k) EXPECT_NEAR(z.probability(k), 1 / ((k + 1) * h), 1e-12);
  EXPECT_EQ(z.probability(4), 0);
}

TEST(ZipfSamplerTest, SamplesFitTheLawByChiSquare) {
  // 20 channels, 19 degrees of freedom: the 99.9% quantile of chi-square is 43.8.
  for (double s : {0.0, 0.8, 1.0, 2.0}) {
    ZipfSampler z(20, s, 7);
    std::vector<int> counts;
    EXPECT_LT(chiSquare(z, 200'000, &counts), 43.8) << "s=" << s;
  }
}

TEST(ZipfSamplerTest, HotRoomsAreHotAndUniformIsFlat) {
  std::vector<int> counts;
  ZipfSampler zipf(1000, 1.0, 3);
  chiSquare(zipf, 100'000, &counts);
  // Rank 1 carries 1/H(1000) = 13.4% of the publishes, rank 1000 a thousandth of that.
  EXPECT_NEAR(counts[0] / 100'000.0, 0.1336, 0.01);
  EXPECT_GT(counts[0], 50 * counts[999] + 1);
  ZipfSampler flat(1000, 0.0, 3);
  chiSquare(flat, 100'000, &counts);
  for (int c : counts) EXPECT_GT(c, 40);  // about 100 each
}

TEST(ZipfSamplerTest, TheSameSeedRepeatsTheSequence) {
  ZipfSampler a(50, 1.0, 42), b(50, 1.0, 42), c(50, 1.0, 43);
  int same = 0;
  for (int i = 0; i < 1000; ++i) {
    const uint32_t x = a.next();
    EXPECT_EQ(x, b.next());
    same += x == c.next();
  }
  EXPECT_LT(same, 900);
}

TEST(ChannelSetTest, NamesHaveAFixedWidthAndTemplatesAreExpanded) {
  const ChannelSet one("news", 1);
  EXPECT_EQ(one.name(0), "news");
  const ChannelSet rooms("room", 1000);
  EXPECT_EQ(rooms.name(0), "room000");
  EXPECT_EQ(rooms.name(999), "room999");
  EXPECT_EQ(rooms.expand(R"({"op":"subscribe","channel":"{channel}"} {channel})", 42),
            R"({"op":"subscribe","channel":"room042"} room042)");
  EXPECT_EQ(rooms.ofSubscriber(1001), 1u);
}

}  // namespace
}  // namespace ringcast::bench
