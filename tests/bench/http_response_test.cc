#include "bench/client/http_response.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringcast::bench {
namespace {

struct Parsed {
  std::vector<int> statuses;
  std::vector<size_t> sizes;
  bool error = false;
  std::string rest;  // bytes after the last complete response
};

// Feeds `stream` cut at `split` (and then whole), the way a connection's reads arrive.
Parsed parseAll(const std::string& stream, size_t split, bool headOnly) {
  Parsed p;
  ResponseParser parser;
  std::string buffer;
  size_t fed = 0;
  for (size_t cut : {split, stream.size()}) {
    buffer += stream.substr(fed, cut - fed);
    fed = cut;
    while (!buffer.empty()) {
      ResponseHead head;
      const auto r = parser.parse(buffer, &head, headOnly);
      if (r.status == ResponseParser::Status::kError) {
        p.error = true;
        return p;
      }
      if (r.status == ResponseParser::Status::kIncomplete) break;
      p.statuses.push_back(r.httpStatus);
      p.sizes.push_back(r.consumed);
      buffer.erase(0, r.consumed);
      if (headOnly) break;
    }
  }
  p.rest = buffer;
  return p;
}

TEST(ResponseParserTest, PipelinedAnswersAtEveryByteBoundary) {
  const std::string a = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  const std::string b = "HTTP/1.1 100 Continue\r\n\r\n";
  const std::string c =
      "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;ext=1\r\nbusy\r\n0\r\nX-Trailer: 1\r\n\r\n";
  const std::string d = "HTTP/1.1 204 No Content\r\n\r\n";
  const std::string stream = a + b + c + d;
  for (size_t split = 0; split <= stream.size(); ++split) {
    const Parsed p = parseAll(stream, split, false);
    ASSERT_FALSE(p.error) << split;
    ASSERT_EQ(p.statuses, (std::vector<int>{200, 100, 503, 204})) << split;
    EXPECT_EQ(p.sizes, (std::vector<size_t>{a.size(), b.size(), c.size(), d.size()})) << split;
    EXPECT_TRUE(p.rest.empty()) << split;
  }
}

TEST(ResponseParserTest, UpgradeAnswerEndsWithItsHead) {
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
  const std::string frames = "\x81\x02hi";
  for (size_t split = 0; split <= head.size() + frames.size(); ++split) {
    const Parsed p = parseAll(head + frames, split, true);
    ASSERT_FALSE(p.error) << split;
    ASSERT_EQ(p.statuses, std::vector<int>{101}) << split;
    EXPECT_EQ(p.sizes[0], head.size());
    EXPECT_EQ(p.rest, frames) << split;
  }
  ResponseParser parser;
  ResponseHead h;
  ASSERT_EQ(parser.parse(head, &h, true).status, ResponseParser::Status::kComplete);
  EXPECT_EQ(h.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(h.upgrade, "websocket");
}

TEST(ResponseParserTest, RejectsWhatItCannotFrame) {
  for (const std::string& bad :
       {std::string("SSH-2.0-OpenSSH\r\n\r\n"), std::string("HTTP/1.1 2x0 OK\r\n\r\n"),
        std::string("HTTP/1.1 200 OK\r\nno colon\r\n\r\n"),
        std::string("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
        std::string("HTTP/1.1 200 OK\r\n\r\nbody until close"),
        std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")}) {
    ResponseParser parser;
    ResponseHead h;
    EXPECT_EQ(parser.parse(bad, &h, false).status, ResponseParser::Status::kError) << bad;
  }
  ResponseParser small(64);
  ResponseHead h;
  EXPECT_EQ(small.parse("HTTP/1.1 200 OK\r\n" + std::string(100, 'x'), &h, false).status,
            ResponseParser::Status::kError);
}

TEST(ResponseParserTest, ReadsConnectionClose) {
  ResponseParser parser;
  ResponseHead h;
  ASSERT_EQ(parser
                .parse("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                       &h, false)
                .status,
            ResponseParser::Status::kComplete);
  EXPECT_EQ(h.status, 404);
  EXPECT_EQ(h.reason, "Not Found");
  EXPECT_FALSE(h.keepAlive);
}

}  // namespace
}  // namespace ringcast::bench
