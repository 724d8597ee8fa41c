#include "bench/client/publish_image.h"

#include <gtest/gtest.h>

#include <string>

#include "bench/client/marker.h"
#include "bench/client/recovery_frames.h"

namespace ringcast::bench {
namespace {

Options httpOptions(const std::string& body, uint64_t size, uint32_t channels = 1) {
  Options o;
  std::string error;
  EXPECT_TRUE(parseUrl("http://127.0.0.1:9/api/publish?x=1", "http", &o.publishUrl, &error));
  o.publishTargets = {o.publishUrl};
  o.publishBody = body;
  o.sizeBytes = size;
  o.contentType = "application/json";
  o.publishHeaders = {"Authorization: Bearer k"};
  o.channels = ChannelSet("room", channels);
  return o;
}

// The marker slot of an image, filled in, is where a subscriber finds the marker.
Marker markerIn(std::string image, size_t at) {
  writeMarker(image.data() + at, Marker{3, 0, 42, 123});
  size_t pos = 0;
  Marker m;
  uint64_t malformed = 0;
  EXPECT_TRUE(findMarker(image, &pos, &m, &malformed)) << image;
  return m;
}

TEST(PublishImageTest, HttpImageIsACompleteRequestWithTheMarkerInItsBody) {
  const Options o = httpOptions(R"({"channel":"c","data":"{pad}-{marker}"})", 120);
  const PublishImage image(o, o.publishUrl);
  const std::string& bytes = image.bytes();
  const size_t bodyAt = bytes.find("\r\n\r\n") + 4;
  EXPECT_EQ(bytes.size() - bodyAt, 120u);
  EXPECT_EQ(bytes.rfind("POST /api/publish?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n", 0), 0u) << bytes;
  EXPECT_NE(bytes.find("Content-Length: 120\r\n"), std::string::npos) << bytes;
  EXPECT_NE(bytes.find("Authorization: Bearer k\r\n"), std::string::npos) << bytes;
  EXPECT_GE(image.markerAt(), bodyAt);
  EXPECT_EQ(bytes.substr(image.markerAt() + kMarkerBytes), "\"}");
  EXPECT_EQ(markerIn(bytes, image.markerAt()).seq, 42u);
}

TEST(PublishImageTest, WebSocketImageIsTheBodyAlone) {
  Options o = httpOptions("{marker}{pad}", 64);
  o.publishVia = PublishVia::kWs;
  PublishImage image(o, o.publishUrl);
  EXPECT_EQ(image.size(), 64u);
  EXPECT_EQ(image.markerAt(), 0u);
  EXPECT_EQ(markerIn(image.bytes(), image.markerAt()).publisher, 3u);
  // A body larger than --size is not padded.
  o.sizeBytes = 1;
  EXPECT_EQ(PublishImage(o, o.publishUrl).size(), kMarkerBytes);
}

// {channel} in the URL and the body: every channel's request has the same size, and a
// publish rewrites only the channel number.
TEST(PublishImageTest, ChannelNumbersAreRewrittenInPlace) {
  Options o = httpOptions(R"({"channel":"{channel}","data":"{marker}{pad}"})", 100, 250);
  std::string error;
  ASSERT_TRUE(parseUrl("http://127.0.0.1:9/pub/{channel}", "http", &o.publishUrl, &error));
  const PublishImage image(o, o.publishUrl);
  std::string copy = image.bytes();
  image.setChannel(copy.data(), 207);
  EXPECT_EQ(copy.rfind("POST /pub/room207 HTTP/1.1\r\n", 0), 0u) << copy;
  EXPECT_NE(copy.find(R"({"channel":"room207","data":"#)"), std::string::npos) << copy;
  EXPECT_EQ(copy.size() - (copy.find("\r\n\r\n") + 4), 100u);
  image.setChannel(copy.data(), 3);
  EXPECT_NE(copy.find(R"({"channel":"room003")"), std::string::npos) << copy;
}

TEST(PublishImageTest, TcpImageIsOnePubCommand) {
  Options o = httpOptions(R"("{marker}{pad}")", 60, 10);
  o.publishVia = PublishVia::kTcp;
  const PublishImage image(o, o.publishUrl);
  std::string copy = image.bytes();
  image.setChannel(copy.data(), 7);
  EXPECT_EQ(copy.rfind("PUB room7 60\r\n\"#", 0), 0u) << copy;
  EXPECT_EQ(copy.size(), std::string("PUB room7 60\r\n").size() + 60 + 2);
  EXPECT_EQ(copy.substr(copy.size() - 3), "\"\r\n");
}

TEST(RecoveryFramesTest, ReadsTheEnvelopeOnly) {
  uint64_t offset = 0;
  EXPECT_TRUE(messageOffset(
      R"({"type":"message","channel":"news","offset":17,"from":"api","ts":1,"data":"x"})",
      &offset));
  EXPECT_EQ(offset, 17u);
  EXPECT_FALSE(messageOffset(R"({"type":"message","channel":"n","data":{"offset":3}})", &offset));
  EXPECT_FALSE(messageOffset(R"({"type":"join","channel":"n","offset":3})", &offset));
  ReplyFields r;
  ASSERT_TRUE(subscribeReply(
      R"({"type":"reply","id":1,"ok":true,"channel":"news","offset":5,"epoch":"40bbc2a1","recovered":false})",
      &r));
  EXPECT_EQ(r.offset, 5u);
  EXPECT_EQ(r.epoch, "40bbc2a1");
  EXPECT_EQ(r.recovered, 0);
  ReplyFields first;
  ASSERT_TRUE(
      subscribeReply(R"({"type":"reply","ok":true,"channel":"n","offset":0,"epoch":"e"})", &first));
  EXPECT_EQ(first.recovered, -1);
  EXPECT_FALSE(subscribeReply(R"({"type":"reply","ok":false,"error":{}})", &r));
  EXPECT_EQ(fillSince(R"({"since":{"offset":{offset},"epoch":"{epoch}"}})", 9, "ab"),
            R"({"since":{"offset":9,"epoch":"ab"}})");
}

}  // namespace
}  // namespace ringcast::bench
