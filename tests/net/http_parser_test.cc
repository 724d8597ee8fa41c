#include "net/http_parser.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>
#include <vector>

namespace ringcast::http {
namespace {

const Limits kDefaultLimits;

const std::string kUpgrade =
    "GET /chat?room=1&x=y HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

const std::string kChunkedPost =
    "POST /publish HTTP/1.1\r\n"
    "Host: a\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "5;name=value\r\n"
    "hello\r\n"
    "A\r\n"
    ", world!!!\r\n"
    "0\r\n"
    "X-Checksum: 42\r\n"
    "\r\n";

const std::string kLengthPost =
    "POST /publish HTTP/1.1\r\n"
    "Host: a\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "{\"a\":\"hello\"}";

// Everything a parse produced, as one comparable string.
std::string summarize(const ParseResult& r, const Request& q) {
  std::string s = std::to_string(static_cast<int>(r.status)) + " " + std::to_string(r.consumed) +
                  " " + std::to_string(r.httpStatus) + " " + std::string(r.reason);
  if (r.status != ParseResult::kComplete) return s;
  s += "|" + std::string(q.method) + "|" + std::string(q.target) + "|" + std::string(q.path) + "|" +
       std::string(q.query) + "|" + std::to_string(q.versionMinor);
  for (size_t i = 0; i < q.headerCount; ++i) {
    s += "|" + std::string(q.headers[i].name) + "=" + std::string(q.headers[i].value);
  }
  s += "|body=" + std::string(q.body) + "|ka=" + std::to_string(q.keepAlive) +
       "|chunked=" + std::to_string(q.chunked);
  return s;
}

std::string parseWhole(std::string_view bytes, const Limits& limits = kDefaultLimits) {
  RequestParser parser(&limits);
  Request req;
  return summarize(parser.parse(bytes, &req), req);
}

ParseResult parseOnce(std::string_view bytes, Request* req, const Limits& limits = kDefaultLimits) {
  RequestParser parser(&limits);
  return parser.parse(bytes, req);
}

// Feeds bytes[0, split) first, then all of it, to one parser.
std::string parseSplit(std::string_view bytes, size_t split,
                       const Limits& limits = kDefaultLimits) {
  RequestParser parser(&limits);
  Request req;
  ParseResult first = parser.parse(bytes.substr(0, split), &req);
  if (first.status == ParseResult::kError) return summarize(first, req);
  EXPECT_EQ(first.status, ParseResult::kIncomplete) << "split " << split;
  // A fresh copy so that the views cannot alias the first call's bytes.
  std::string copy(bytes);
  ParseResult r = parser.parse(copy, &req);
  std::string s = summarize(r, req);
  return s;
}

// Feeds one more byte per call, as a slow client would deliver it.
std::string parseByteAtATime(std::string_view bytes, const Limits& limits = kDefaultLimits) {
  RequestParser parser(&limits);
  Request req;
  ParseResult r;
  for (size_t n = 1; n <= bytes.size(); ++n) {
    r = parser.parse(bytes.substr(0, n), &req);
    if (r.status != ParseResult::kIncomplete) break;
  }
  return summarize(r, req);
}

TEST(HttpParserTest, ParsesUpgradeRequest) {
  Request req;
  ParseResult r = parseOnce(kUpgrade, &req);
  ASSERT_EQ(r.status, ParseResult::kComplete);
  EXPECT_EQ(r.consumed, kUpgrade.size());
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "/chat?room=1&x=y");
  EXPECT_EQ(req.path, "/chat");
  EXPECT_EQ(req.query, "room=1&x=y");
  EXPECT_EQ(req.versionMinor, 1);
  ASSERT_EQ(req.headerCount, 7u);
  EXPECT_EQ(req.headers[0].name, "Host");
  EXPECT_EQ(req.headers[0].value, "server.example.com");
  EXPECT_EQ(req.header("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(req.header("HOST"), "server.example.com");
  EXPECT_EQ(req.header("Cookie"), "");
  EXPECT_TRUE(req.body.empty());
  EXPECT_TRUE(req.keepAlive);
  EXPECT_FALSE(req.chunked);
}

TEST(HttpParserTest, ViewsPointIntoTheCallersBuffer) {
  Request req;
  ASSERT_EQ(parseOnce(kUpgrade, &req).status, ParseResult::kComplete);
  const char* begin = kUpgrade.data();
  const char* end = begin + kUpgrade.size();
  for (std::string_view v : {req.method, req.target, req.path, req.query, req.headers[3].value}) {
    EXPECT_GE(v.data(), begin);
    EXPECT_LE(v.data() + v.size(), end);
  }
}

TEST(HttpParserTest, HeaderLookupAndTokens) {
  std::string bytes =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Dup: first\r\nx-dup: second\r\n"
      "Connection: keep-alive,  Upgrade \r\nConnection: ,TE,\r\nUpgrade:\twebsocket\t\r\n\r\n";
  Request req;
  ASSERT_EQ(parseOnce(bytes, &req).status, ParseResult::kComplete);
  EXPECT_EQ(req.header("X-DUP"), "first");
  EXPECT_EQ(req.headerLines("x-dup"), 2u);
  EXPECT_EQ(req.headerLines("Missing"), 0u);
  EXPECT_TRUE(req.headerHasToken("connection", "upgrade"));
  EXPECT_TRUE(req.headerHasToken("Connection", "KEEP-ALIVE"));
  EXPECT_TRUE(req.headerHasToken("Connection", "te"));
  EXPECT_FALSE(req.headerHasToken("Connection", "close"));
  EXPECT_FALSE(req.headerHasToken("Connection", "keep"));
  EXPECT_EQ(req.header("Upgrade"), "websocket");
  EXPECT_TRUE(req.headerHasToken("Upgrade", "WebSocket"));
}

// Only letters fold: bytes that differ in bit 5 alone but are not letters stay different.
TEST(HttpParserTest, EqualsIgnoreCaseFoldsLettersOnly) {
  EXPECT_TRUE(equalsIgnoreCase("Content-Length", "content-LENGTH"));
  EXPECT_TRUE(equalsIgnoreCase("", ""));
  EXPECT_FALSE(equalsIgnoreCase("Host", "Hosts"));
  EXPECT_FALSE(equalsIgnoreCase("Host", "Hast"));
  for (int c = 0; c < 256; ++c) {
    const char x = static_cast<char>(c), y = static_cast<char>(c ^ 0x20);
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    EXPECT_EQ(equalsIgnoreCase(std::string_view(&x, 1), std::string_view(&y, 1)), letter) << c;
  }
  EXPECT_FALSE(equalsIgnoreCase("a@", "a`"));
  EXPECT_FALSE(equalsIgnoreCase("[", "{"));
}

TEST(HttpParserTest, ListElementsSkipEmptiesAndWhitespace) {
  std::string_view list = " a ,, b\t,c,";
  EXPECT_EQ(nextListElement(&list), "a");
  EXPECT_EQ(nextListElement(&list), "b");
  EXPECT_EQ(nextListElement(&list), "c");
  EXPECT_EQ(nextListElement(&list), "");
  EXPECT_TRUE(list.empty());
}

TEST(HttpParserTest, TargetForms) {
  Request req;
  std::string absolute = "GET http://example.com:80/a/b?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n";
  ASSERT_EQ(parseOnce(absolute, &req).status, ParseResult::kComplete);
  EXPECT_EQ(req.path, "/a/b");
  EXPECT_EQ(req.query, "x=1");

  std::string noPath = "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n";
  ASSERT_EQ(parseOnce(noPath, &req).status, ParseResult::kComplete);
  EXPECT_EQ(req.path, "");

  std::string asterisk = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(parseOnce(asterisk, &req).status, ParseResult::kComplete);
  EXPECT_EQ(req.path, "*");

  std::string connect = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
  ASSERT_EQ(parseOnce(connect, &req).status, ParseResult::kComplete);
  EXPECT_EQ(req.target, "example.com:443");
  EXPECT_EQ(req.path, "");
  EXPECT_EQ(req.query, "");

  std::string emptyQuery = "GET /p? HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(parseOnce(emptyQuery, &req).status, ParseResult::kComplete);
  EXPECT_EQ(req.path, "/p");
  EXPECT_EQ(req.query, "");
}

TEST(HttpParserTest, SkipsEmptyLinesBeforeTheRequestLine) {
  std::string bytes = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  Request req;
  ParseResult r = parseOnce(bytes, &req);
  ASSERT_EQ(r.status, ParseResult::kComplete);
  EXPECT_EQ(r.consumed, bytes.size());
  EXPECT_EQ(req.method, "GET");
}

TEST(HttpParserTest, MinorVersionAboveOneIsProcessedAsHttp11) {
  Request req;
  ASSERT_EQ(parseOnce("GET / HTTP/1.2\r\nHost: a\r\n\r\n", &req).status, ParseResult::kComplete);
  EXPECT_EQ(req.versionMinor, 2);
  EXPECT_TRUE(req.keepAlive);
}

TEST(HttpParserTest, Http10NeedsNoHost) {
  Request req;
  ASSERT_EQ(parseOnce("GET / HTTP/1.0\r\n\r\n", &req).status, ParseResult::kComplete);
  EXPECT_EQ(req.versionMinor, 0);
  EXPECT_EQ(req.headerCount, 0u);
}

struct ErrorCase {
  const char* name;
  std::string bytes;
  int status;
};

std::vector<ErrorCase> errorCases() {
  const std::string host = "Host: a\r\n";
  return {
      {"double space", "GET  / HTTP/1.1\r\n" + host + "\r\n", 400},
      {"trailing space after version", "GET / HTTP/1.1 \r\n" + host + "\r\n", 400},
      {"no version", "GET /\r\n\r\n", 400},
      {"invalid method character", "G(T / HTTP/1.1\r\n" + host + "\r\n", 400},
      {"control character in target", "GET /a\x01 HTTP/1.1\r\n" + host + "\r\n", 400},
      {"target not origin form", "GET chat HTTP/1.1\r\n" + host + "\r\n", 400},
      {"lowercase protocol", "GET / http/1.1\r\n" + host + "\r\n", 400},
      {"two-digit minor", "GET / HTTP/1.10\r\n" + host + "\r\n", 400},
      {"bare LF after request line", "GET / HTTP/1.1\n" + host + "\r\n", 400},
      {"bare LF ending the block", "GET / HTTP/1.1\r\n" + host + "\n", 400},
      {"bare CR in value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400},
      {"obs-fold", "GET / HTTP/1.1\r\n" + host + "X-A: b\r\n c\r\n\r\n", 400},
      {"whitespace before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
      {"whitespace before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
      {"tab before colon", "GET / HTTP/1.1\r\n" + host + "X-A\t: b\r\n\r\n", 400},
      {"invalid name character", "GET / HTTP/1.1\r\n" + host + "X\"A: b\r\n\r\n", 400},
      {"no colon", "GET / HTTP/1.1\r\n" + host + "X-A b\r\n\r\n", 400},
      {"empty name", "GET / HTTP/1.1\r\n" + host + ": b\r\n\r\n", 400},
      {"control character in value", "GET / HTTP/1.1\r\n" + host + "X-A: \x01\r\n\r\n", 400},
      {"NUL in value", "GET / HTTP/1.1\r\n" + host + std::string("X-A: a\0b\r\n\r\n", 12), 400},
      {"HTTP/2.0", "GET / HTTP/2.0\r\n" + host + "\r\n", 505},
      {"HTTP/0.9", "GET / HTTP/0.9\r\n" + host + "\r\n", 505},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
      {"missing Host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"duplicate Host", "GET / HTTP/1.1\r\n" + host + host + "\r\n", 400},
      {"Content-Length and Transfer-Encoding",
       "POST / HTTP/1.1\r\n" + host +
           "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       400},
      {"conflicting Content-Length lines",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
      {"conflicting Content-Length list",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 5, 6\r\n\r\n", 400},
      {"negative Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", 400},
      {"signed Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: +1\r\n\r\n", 400},
      {"non-numeric Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1a\r\n\r\n",
       400},
      {"empty Content-Length", "POST / HTTP/1.1\r\n" + host + "Content-Length:\r\n\r\n", 400},
      {"Content-Length over the limit",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 1048577\r\n\r\n", 413},
      {"Content-Length beyond 64 bits",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999999999\r\n\r\n", 413},
      {"Content-Length wrapping to 5 modulo 2^64",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 18446744073709551621\r\n\r\nhello", 413},
      {"chunk size wrapping to 5 modulo 2^64",
       "POST / HTTP/1.1\r\n" + host +
           "Transfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n",
       413},
      {"unknown coding before chunked",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"unknown coding on its own line",
       "POST / HTTP/1.1\r\n" + host +
           "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
       501},
      {"chunked not final",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400},
      {"only an unknown coding", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n",
       400},
      {"chunked twice",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, chunked\r\n\r\n", 400},
      {"empty Transfer-Encoding", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: \r\n\r\n",
       400},
      {"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"chunk size not hex",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"chunk size missing",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n;x\r\n", 400},
      {"chunk data without CRLF",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n", 400},
      {"chunk size line with bare LF",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n", 400},
      {"control character in chunk extension",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5;a\x01\r\nhello\r\n",
       400},
      {"chunk size overflowing 64 bits",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n",
       413},
      {"chunked body over the limit",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n100001\r\n", 413},
      {"chunk size line too long",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n5;" +
           std::string(5000, 'x'),
       400},
      {"malformed trailer",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T : 1\r\n\r\n",
       400},
      {"too many headers",
       [] {
         std::string s = "GET / HTTP/1.1\r\nHost: a\r\n";
         for (int i = 0; i < 64; ++i) s += "X-" + std::to_string(i) + ": v\r\n";
         return s + "\r\n";
       }(),
       431},
      {"header block too large",
       "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(8200, 'x') + "\r\n\r\n", 431},
  };
}

TEST(HttpParserTest, ErrorsCarryTheRfcStatus) {
  for (const ErrorCase& c : errorCases()) {
    SCOPED_TRACE(c.name);
    Request req;
    ParseResult r = parseOnce(c.bytes, &req);
    EXPECT_EQ(r.status, ParseResult::kError);
    EXPECT_EQ(r.httpStatus, c.status);
    EXPECT_FALSE(r.reason.empty());
    EXPECT_EQ(r.consumed, 0u);
  }
}

TEST(HttpParserTest, ErrorsAreTheSameWhenFedByteAtATime) {
  for (const ErrorCase& c : errorCases()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(parseByteAtATime(c.bytes), parseWhole(c.bytes));
  }
}

TEST(HttpParserTest, ChunkedBodyIsDecoded) {
  Request req;
  RequestParser parser(&kDefaultLimits);
  ParseResult r = parser.parse(kChunkedPost, &req);
  ASSERT_EQ(r.status, ParseResult::kComplete) << r.reason;
  EXPECT_EQ(r.consumed, kChunkedPost.size());
  EXPECT_EQ(req.body, "hello, world!!!");
  EXPECT_TRUE(req.chunked);
  EXPECT_EQ(req.header("Transfer-Encoding"), "chunked");
}

TEST(HttpParserTest, ChunkedAcceptsUppercaseHexAndEmptyBody) {
  std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n";
  // A chunked body lives in the parser, so the parser must outlive the checks.
  RequestParser parser(&kDefaultLimits);
  Request req;
  std::string sixteen = head + "0F \r\n" + std::string(15, 'q') + "\r\n1\r\nr\r\n0\r\n\r\n";
  ASSERT_EQ(parser.parse(sixteen, &req).status, ParseResult::kComplete);
  EXPECT_EQ(req.body, std::string(15, 'q') + "r");

  std::string empty = head + "0\r\n\r\n";
  ParseResult r = parser.parse(empty, &req);
  ASSERT_EQ(r.status, ParseResult::kComplete);
  EXPECT_EQ(r.consumed, empty.size());
  EXPECT_TRUE(req.body.empty());
}

TEST(HttpParserTest, ChunkedBodyUpToTheLimitIsAccepted) {
  Limits limits;
  limits.maxBodyBytes = 10;
  std::string head = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string atLimit = head + "6\r\nabcdef\r\n4\r\nghij\r\n0\r\n\r\n";
  EXPECT_EQ(parseWhole(atLimit, limits).substr(0, 1), "0");
  std::string overLimit = head + "6\r\nabcdef\r\n5\r\n";
  Request req;
  ParseResult r = parseOnce(overLimit, &req, limits);
  EXPECT_EQ(r.status, ParseResult::kError);
  EXPECT_EQ(r.httpStatus, 413);
}

TEST(HttpParserTest, ChunkExtensionsOutweighingDataAreRefused) {
  std::string bytes = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 8; ++i) bytes += "1;x=" + std::string(4000, 'e') + "\r\nd\r\n";
  Request req;
  ParseResult r = parseOnce(bytes, &req);
  EXPECT_EQ(r.status, ParseResult::kError);
  EXPECT_EQ(r.httpStatus, 400);
  EXPECT_EQ(r.reason, "too much chunk metadata");
}

TEST(HttpParserTest, LengthsDoNotWrapEvenWithoutABodyLimit) {
  Limits limits;
  limits.maxBodyBytes = std::numeric_limits<size_t>::max();
  Request req;
  // 2^64 + 5: a wrapping reader would take "hello" as the whole body.
  std::string wrapping =
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551621\r\n\r\nhello";
  EXPECT_EQ(parseOnce(wrapping, &req, limits).status, ParseResult::kIncomplete);
  std::string chunk =
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "10000000000000005\r\nhello\r\n0\r\n\r\n";
  ParseResult r = parseOnce(chunk, &req, limits);
  EXPECT_EQ(r.status, ParseResult::kError);
  EXPECT_EQ(r.httpStatus, 413);
}

TEST(HttpParserTest, ContentLengthBody) {
  Request req;
  ParseResult r = parseOnce(kLengthPost, &req);
  ASSERT_EQ(r.status, ParseResult::kComplete);
  EXPECT_EQ(req.body, "{\"a\":\"hello\"}");
  EXPECT_FALSE(req.chunked);
  // One byte short of the body is still incomplete.
  EXPECT_EQ(parseOnce(std::string_view(kLengthPost).substr(0, kLengthPost.size() - 1), &req).status,
            ParseResult::kIncomplete);
}

TEST(HttpParserTest, RepeatedIdenticalContentLengthIsAccepted) {
  std::string bytes =
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nokGET";
  Request req;
  ParseResult r = parseOnce(bytes, &req);
  ASSERT_EQ(r.status, ParseResult::kComplete);
  EXPECT_EQ(req.body, "ok");
  EXPECT_EQ(r.consumed, bytes.size() - 3);
}

TEST(HttpParserTest, PipelinedRequests) {
  std::string first = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string partial = "GET /c HTTP/1.1\r\nHo";
  std::string buffer = first + kLengthPost + kChunkedPost + partial;
  RequestParser parser(&kDefaultLimits);
  Request req;
  std::string_view rest = buffer;

  ParseResult r = parser.parse(rest, &req);
  ASSERT_EQ(r.status, ParseResult::kComplete);
  EXPECT_EQ(r.consumed, first.size());
  EXPECT_EQ(req.path, "/a");
  rest.remove_prefix(r.consumed);

  r = parser.parse(rest, &req);
  ASSERT_EQ(r.status, ParseResult::kComplete);
  EXPECT_EQ(r.consumed, kLengthPost.size());
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.body, "{\"a\":\"hello\"}");
  rest.remove_prefix(r.consumed);

  r = parser.parse(rest, &req);
  ASSERT_EQ(r.status, ParseResult::kComplete);
  EXPECT_EQ(r.consumed, kChunkedPost.size());
  EXPECT_EQ(req.body, "hello, world!!!");
  rest.remove_prefix(r.consumed);

  r = parser.parse(rest, &req);
  EXPECT_EQ(r.status, ParseResult::kIncomplete);
  EXPECT_EQ(rest, partial);
  // The third request completes once its remaining bytes arrive.
  std::string more = std::string(rest) + "st: a\r\n\r\n";
  r = parser.parse(more, &req);
  ASSERT_EQ(r.status, ParseResult::kComplete);
  EXPECT_EQ(req.path, "/c");
}

TEST(HttpParserTest, EverySplitPointGivesTheSameResult) {
  for (const std::string* bytes : {&kUpgrade, &kChunkedPost, &kLengthPost}) {
    std::string whole = parseWhole(*bytes);
    ASSERT_EQ(whole.substr(0, 1), "0") << whole;
    for (size_t split = 0; split < bytes->size(); ++split) {
      ASSERT_EQ(parseSplit(*bytes, split), whole) << "split at " << split;
    }
    EXPECT_EQ(parseByteAtATime(*bytes), whole);
  }
}

TEST(HttpParserTest, ByteAtATime8KiBHeaderBlockIsAccepted) {
  std::string bytes = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; bytes.size() < 8192 - 200; ++i) {
    bytes += "X-Field-" + std::to_string(i) + ": " + std::string(150, 'v') + "\r\n";
  }
  bytes += "X-Pad: " + std::string(8192 - bytes.size() - 11, 'p') + "\r\n\r\n";
  ASSERT_EQ(bytes.size(), 8192u);
  RequestParser parser(&kDefaultLimits);
  Request req;
  for (size_t n = 1; n < bytes.size(); ++n) {
    ASSERT_EQ(parser.parse(std::string_view(bytes).substr(0, n), &req).status,
              ParseResult::kIncomplete)
        << n;
  }
  ParseResult r = parser.parse(bytes, &req);
  ASSERT_EQ(r.status, ParseResult::kComplete) << r.reason;
  EXPECT_EQ(r.consumed, 8192u);
  EXPECT_EQ(req.header("X-Pad").size(), 8192 - bytes.find("X-Pad") - 11);
}

TEST(HttpParserTest, ByteAtATimeFeedingIsLinear) {
  // A 1 MiB field fed one byte per call: rescanning from the start on every call would
  // examine about 5 * 10^11 bytes and take minutes; remembering the scan position takes
  // milliseconds.
  Limits limits;
  limits.maxHeaderBytes = 2 << 20;
  std::string bytes =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(1 << 20, 'b') + "\r\n\r\n";
  RequestParser parser(&limits);
  Request req;
  auto start = std::chrono::steady_clock::now();
  ParseResult r;
  for (size_t n = 1; n <= bytes.size(); ++n) {
    r = parser.parse(std::string_view(bytes).substr(0, n), &req);
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(r.status, ParseResult::kComplete);
  EXPECT_EQ(req.header("X-Big").size(), size_t{1} << 20);
  EXPECT_LT(elapsed, std::chrono::seconds(8));
}

TEST(HttpParserTest, OversizedHeaderBlockFailsBeforeItEnds) {
  std::string bytes = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(9000, 'x');
  RequestParser parser(&kDefaultLimits);
  Request req;
  ParseResult r = parser.parse(std::string_view(bytes).substr(0, 8192), &req);
  EXPECT_EQ(r.status, ParseResult::kIncomplete);
  r = parser.parse(std::string_view(bytes).substr(0, 8193), &req);
  EXPECT_EQ(r.status, ParseResult::kError);
  EXPECT_EQ(r.httpStatus, 431);
}

TEST(HttpParserTest, HeaderLimitsAreInclusive) {
  Limits limits;
  limits.maxHeaderBytes = 64;
  limits.maxHeaders = 2;
  std::string base = "GET / HTTP/1.1\r\nHost: a\r\nX: ";  // 29 bytes
  std::string exact = base + std::string(64 - base.size() - 4, 'v') + "\r\n\r\n";
  ASSERT_EQ(exact.size(), 64u);
  EXPECT_EQ(parseWhole(exact, limits).substr(0, 1), "0");
  std::string over = base + std::string(64 - base.size() - 3, 'v') + "\r\n\r\n";
  Request req;
  EXPECT_EQ(parseOnce(over, &req, limits).httpStatus, 431);
  std::string three = "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n";
  EXPECT_EQ(parseOnce(three, &req, limits).httpStatus, 431);
}

TEST(HttpParserTest, KeepAliveRules) {
  struct Case {
    std::string bytes;
    bool keepAlive;
  };
  const Case cases[] = {
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", true},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.bytes);
    Request req;
    ASSERT_EQ(parseOnce(c.bytes, &req).status, ParseResult::kComplete);
    EXPECT_EQ(req.keepAlive, c.keepAlive);
  }
}

TEST(HttpParserTest, ErrorIsStickyUntilReset) {
  RequestParser parser(&kDefaultLimits);
  Request req;
  EXPECT_EQ(parser.parse("GET / HTTP/3.0\r\n", &req).httpStatus, 505);
  ParseResult again = parser.parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &req);
  EXPECT_EQ(again.status, ParseResult::kError);
  EXPECT_EQ(again.httpStatus, 505);
  parser.reset();
  EXPECT_EQ(parser.parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &req).status, ParseResult::kComplete);
}

TEST(HttpParserTest, ResetForgetsAPartialRequest) {
  RequestParser parser(&kDefaultLimits);
  Request req;
  EXPECT_EQ(parser.parse("POST /x HTTP/1.1\r\nHost: a\r\n", &req).status, ParseResult::kIncomplete);
  parser.reset();
  ParseResult r = parser.parse("GET /y HTTP/1.1\r\nHost: b\r\n\r\n", &req);
  ASSERT_EQ(r.status, ParseResult::kComplete);
  EXPECT_EQ(req.path, "/y");
  EXPECT_EQ(req.header("Host"), "b");
}

TEST(HttpResponseTest, AppendsStatusHeadersLengthAndConnection) {
  std::string out = "prefix|";
  const Header headers[] = {{"Content-Type", "application/json"}};
  appendResponse(out, 200, headers, "{}", true);
  EXPECT_EQ(out,
            "prefix|HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
            "Connection: keep-alive\r\n\r\n{}");

  out.clear();
  appendResponse(out, 404, {}, "", false);
  EXPECT_EQ(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

TEST(HttpResponseTest, InformationalAndNoContentCarryNoLength) {
  std::string out;
  const Header upgrade[] = {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}};
  appendResponse(out, 101, upgrade, "", false);
  EXPECT_EQ(
      out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");

  out.clear();
  appendResponse(out, 204, {}, "", true);
  EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
}

TEST(HttpResponseTest, CallerConnectionHeaderReplacesTheDefault) {
  std::string out;
  const Header headers[] = {{"Connection", "Upgrade, close"}};
  appendResponse(out, 426, headers, "x", false);
  EXPECT_EQ(out,
            "HTTP/1.1 426 Upgrade Required\r\nConnection: Upgrade, close\r\nContent-Length: 1\r\n"
            "\r\nx");
}

TEST(HttpResponseTest, StatusText) {
  EXPECT_EQ(statusText(200), "OK");
  EXPECT_EQ(statusText(413), "Content Too Large");
  EXPECT_EQ(statusText(426), "Upgrade Required");
  EXPECT_EQ(statusText(431), "Request Header Fields Too Large");
  EXPECT_EQ(statusText(505), "HTTP Version Not Supported");
  EXPECT_EQ(statusText(599), "");
  std::string out;
  appendResponse(out, 599, {}, "", false);
  EXPECT_EQ(out.substr(0, 15), "HTTP/1.1 599 \r\n");
}

TEST(HttpResponseTest, ResponseOfAParsedRequestRoundTripsItsBody) {
  Request req;
  ASSERT_EQ(parseOnce(kLengthPost, &req).status, ParseResult::kComplete);
  std::string out;
  const Header headers[] = {{"Content-Type", req.header("Content-Type")}};
  appendResponse(out, 200, headers, req.body, req.keepAlive);
  std::string expectedTail =
      "Content-Length: 13\r\nConnection: keep-alive\r\n\r\n" + std::string(req.body);
  EXPECT_EQ(out.substr(out.size() - expectedTail.size()), expectedTail);
}

}  // namespace
}  // namespace ringcast::http
