#include "bench/client/publisher.h"

#include <gtest/gtest.h>

#include <string>

#include "bench/client/marker.h"

namespace ringcast::bench {
namespace {

Options httpOptions(const std::string& body, uint64_t size) {
  Options o;
  std::string error;
  EXPECT_TRUE(parseUrl("http://127.0.0.1:9/api/publish?x=1", "http", &o.publishUrl, &error));
  o.publishBody = body;
  o.sizeBytes = size;
  o.contentType = "application/json";
  o.publishHeaders = {"Authorization: Bearer k"};
  return o;
}

// The marker slot of an image, filled in, is where a subscriber finds the marker.
Marker markerIn(std::string image, size_t at) {
  writeMarker(image.data() + at, Marker{3, 42, 123});
  size_t pos = 0;
  Marker m;
  uint64_t malformed = 0;
  EXPECT_TRUE(findMarker(image, &pos, &m, &malformed)) << image;
  return m;
}

TEST(PublisherTest, HttpImageIsACompleteRequestWithTheMarkerInItsBody) {
  size_t at = 0;
  const Options o = httpOptions(R"({"channel":"c","data":"{pad}-{marker}"})", 120);
  const std::string image = PublisherShard::buildImage(o, &at);
  const size_t bodyAt = image.find("\r\n\r\n") + 4;
  const std::string body = image.substr(bodyAt);
  EXPECT_EQ(body.size(), 120u);
  EXPECT_EQ(image.rfind("POST /api/publish?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n", 0), 0u) << image;
  EXPECT_NE(image.find("Content-Length: 120\r\n"), std::string::npos) << image;
  EXPECT_NE(image.find("Authorization: Bearer k\r\n"), std::string::npos) << image;
  EXPECT_GE(at, bodyAt);
  EXPECT_EQ(image.substr(at + kMarkerBytes), "\"}");
  EXPECT_EQ(markerIn(image, at).seq, 42u);
}

TEST(PublisherTest, WebSocketImageIsTheBodyAlone) {
  Options o = httpOptions("{marker}{pad}", 64);
  o.publishOverWs = true;
  size_t at = 99;
  const std::string image = PublisherShard::buildImage(o, &at);
  EXPECT_EQ(image.size(), 64u);
  EXPECT_EQ(at, 0u);
  EXPECT_EQ(markerIn(image, at).publisher, 3u);
  // A body larger than --size is not padded.
  o.sizeBytes = 1;
  EXPECT_EQ(PublisherShard::buildImage(o, &at).size(), kMarkerBytes);
}

}  // namespace
}  // namespace ringcast::bench
