#include "push/api_tcp_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringcast::push {
namespace {

constexpr size_t kMax = 64;

TcpParse parse(std::string_view buffered, TcpCommand* out) {
  return parseTcpCommand(buffered, kMax, out);
}

TEST(ApiTcpParser, Pub) {
  TcpCommand c;
  const std::string_view in = "PUB news 5\r\nhello\r\n";
  TcpParse r = parse(in, &c);
  ASSERT_EQ(r.status, TcpParse::kComplete);
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_EQ(c.kind, TcpCommand::kPub);
  EXPECT_EQ(c.target, "news");
  EXPECT_EQ(c.payload, "hello");
  EXPECT_EQ(c.payload.data(), in.data() + 12);  // a view into the input, not a copy
}

TEST(ApiTcpParser, BcastSendPing) {
  TcpCommand c;
  TcpParse r = parse("BCAST 2\r\n{}\r\n", &c);
  ASSERT_EQ(r.status, TcpParse::kComplete);
  EXPECT_EQ(r.consumed, 13u);
  EXPECT_EQ(c.kind, TcpCommand::kBcast);
  EXPECT_TRUE(c.target.empty());
  EXPECT_EQ(c.payload, "{}");

  r = parse("SEND bob 4\r\npsst\r\n", &c);
  ASSERT_EQ(r.status, TcpParse::kComplete);
  EXPECT_EQ(r.consumed, 18u);
  EXPECT_EQ(c.kind, TcpCommand::kSend);
  EXPECT_EQ(c.target, "bob");
  EXPECT_EQ(c.payload, "psst");

  r = parse("AUTH k3y\r\n", &c);
  ASSERT_EQ(r.status, TcpParse::kComplete);
  EXPECT_EQ(r.consumed, 10u);
  EXPECT_EQ(c.kind, TcpCommand::kAuth);
  EXPECT_EQ(c.target, "k3y");
  EXPECT_TRUE(c.payload.empty());

  r = parse("PING\r\n", &c);
  ASSERT_EQ(r.status, TcpParse::kComplete);
  EXPECT_EQ(r.consumed, 6u);
  EXPECT_EQ(c.kind, TcpCommand::kPing);
  EXPECT_TRUE(c.target.empty());
  EXPECT_TRUE(c.payload.empty());
}

TEST(ApiTcpParser, PayloadIsBinarySafe) {
  TcpCommand c;
  const std::string in = std::string("PUB c 9\r\n\r\nPUB \0\r\n\r\n", 20);
  TcpParse r = parse(in, &c);
  ASSERT_EQ(r.status, TcpParse::kComplete);
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_EQ(c.payload, std::string_view("\r\nPUB \0\r\n", 9));
}

TEST(ApiTcpParser, EmptyPayloadAndExtraSpaces) {
  TcpCommand c;
  TcpParse r = parse("PUB c 0\r\n\r\n", &c);
  ASSERT_EQ(r.status, TcpParse::kComplete);
  EXPECT_EQ(r.consumed, 11u);
  EXPECT_TRUE(c.payload.empty());
  r = parse("  PUB   c  007 \r\npayload\r\n", &c);
  ASSERT_EQ(r.status, TcpParse::kComplete);
  EXPECT_EQ(c.target, "c");
  EXPECT_EQ(c.payload, "payload");
}

TEST(ApiTcpParser, LimitsAreInclusive) {
  TcpCommand c;
  const std::string payload(kMax, 'x');
  TcpParse r = parse("PUB c 64\r\n" + payload + "\r\n", &c);
  ASSERT_EQ(r.status, TcpParse::kComplete);
  EXPECT_EQ(c.payload.size(), kMax);
  // A line of exactly kMaxTcpLineBytes is fine (here an unknown command, so in sync).
  const std::string line(kMaxTcpLineBytes, 'Z');
  r = parse(line + "\r\n", &c);
  ASSERT_EQ(r.status, TcpParse::kError);
  EXPECT_TRUE(r.inSync);
  EXPECT_EQ(r.error, "unknown command");
  EXPECT_EQ(r.consumed, kMaxTcpLineBytes + 2);
}

TEST(ApiTcpParser, IncompleteUntilEverythingIsBuffered) {
  const std::string in = "PUB news 5\r\nhello\r\n";
  for (size_t n = 0; n < in.size(); ++n) {
    TcpCommand c;
    TcpParse r = parse(std::string_view(in).substr(0, n), &c);
    EXPECT_EQ(r.status, TcpParse::kIncomplete) << n;
    EXPECT_EQ(r.consumed, 0u);
  }
}

struct ErrorCase {
  std::string input;
  std::string error;
  bool inSync;
  size_t consumed;
  size_t skip;
};

TEST(ApiTcpParser, EveryError) {
  const std::vector<ErrorCase> cases = {
      {std::string(kMaxTcpLineBytes + 2, 'P'), "line too long", false, 0, 0},
      {std::string(kMaxTcpLineBytes + 1, 'P') + "\r\n", "line too long", false, 0, 0},
      {"\r\nPING\r\n", "empty command", true, 2, 0},
      {"   \r\n", "empty command", true, 5, 0},
      {"HELLO world\r\n", "unknown command", true, 13, 0},
      {"ping\r\n", "unknown command", true, 6, 0},
      {"PUB\tc 1\r\nx\r\n", "unknown command", true, 9, 0},
      {"PING now\r\n", "wrong number of arguments", true, 10, 0},
      {"PUB news -5\r\nhello\r\n", "bad length", false, 0, 0},
      {"PUB news +5\r\nhello\r\n", "bad length", false, 0, 0},
      {"PUB news 5x\r\nhello\r\n", "bad length", false, 0, 0},
      {"BCAST five\r\n", "bad length", false, 0, 0},
      {"SEND bob 12345678901234567890\r\n", "bad length", false, 0, 0},
      {"PUB news 65\r\n", "payload too large", true, 13, 67},
      {"SEND bob 9999999999999999999\r\n", "payload too large", true, 30, 10000000000000000001u},
      {"PUB news 5\r\nhelloXY", "missing CRLF after payload", false, 0, 0},
      {"PUB news 5\r\nhello\n\r", "missing CRLF after payload", false, 0, 0},
      // A refused line announces no payload: only the line is consumed, as soon as it is
      // complete, whatever its last word.
      {"PUB 5\r\n", "wrong number of arguments", true, 7, 0},
      {"PUB news\r\nhello\r\n", "wrong number of arguments", true, 10, 0},
      {"PUB a b 5\r\nhello\r\n", "wrong number of arguments", true, 11, 0},
      {"PUB\r\n", "wrong number of arguments", true, 5, 0},
      {"SEND\r\n", "wrong number of arguments", true, 6, 0},
      {"SEND bob\r\n", "wrong number of arguments", true, 10, 0},
      {"SEND a b c d 1\r\nx\r\n", "wrong number of arguments", true, 16, 0},
      {"BCAST\r\n", "wrong number of arguments", true, 7, 0},
      {"BCAST x 1\r\nx\r\n", "wrong number of arguments", true, 11, 0},
      {"AUTH\r\n", "wrong number of arguments", true, 6, 0},
      {"AUTH two words\r\n", "wrong number of arguments", true, 16, 0},
      {"PUB a b 99999\r\n", "wrong number of arguments", true, 15, 0},
      // HTTP: at the method and its space already, or at a line ending in HTTP/x.y.
      {"GET ", std::string(kTcpHttpError), false, 0, 0},
      {"POST /api/broadcast HTTP/1.1\r\nHost: x\r\n", std::string(kTcpHttpError), false, 0, 0},
      {"OPTIONS * HTTP/1.1\r\n", std::string(kTcpHttpError), false, 0, 0},
      {"GET " + std::string(2000, '/'), std::string(kTcpHttpError), false, 0, 0},
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", std::string(kTcpHttpError), false, 0, 0},
      {"PUB news HTTP/1.1\r\n", std::string(kTcpHttpError), false, 0, 0},
      {"PUB bad*name 1\r\nx\r\n", "invalid channel name", true, 19, 0},
      {"PUB " + std::string(129, 'c') + " 1\r\nx\r\n", "invalid channel name", true, 140, 0},
      {"SEND b\xc3\xa9 1\r\nx\r\n", "invalid user name", true, 15, 0},
  };
  for (const ErrorCase& e : cases) {
    TcpCommand c;
    c.target = "untouched";
    TcpParse r = parse(e.input, &c);
    ASSERT_EQ(r.status, TcpParse::kError) << e.input;
    EXPECT_EQ(r.error, e.error) << e.input;
    EXPECT_EQ(r.inSync, e.inSync) << e.input;
    EXPECT_EQ(r.consumed, e.consumed) << e.input;
    EXPECT_EQ(r.skip, e.skip) << e.input;
    EXPECT_EQ(c.target, "untouched") << e.input;
  }
}

TEST(ApiTcpParser, NotHttpYet) {
  TcpCommand c;
  // Until the method's space arrives a command is only incomplete; GET without arguments,
  // a lower-case method and one word ending in HTTP/ are ordinary unknown commands.
  for (std::string_view in : {"G", "GE", "GET", "POST", "DELETE"}) {
    EXPECT_EQ(parse(in, &c).status, TcpParse::kIncomplete) << in;
  }
  for (std::string_view in : {"GET\r\n", "get /\r\n", "HTTP/1.1\r\n", " GET / x\r\n"}) {
    TcpParse r = parse(in, &c);
    ASSERT_EQ(r.status, TcpParse::kError) << in;
    EXPECT_EQ(r.error, "unknown command") << in;
    EXPECT_TRUE(r.inSync) << in;
  }
}

TEST(ApiTcpParser, NameErrorsWaitForThePayload) {
  TcpCommand c;
  EXPECT_EQ(parse("PUB bad*name 3\r\nab", &c).status, TcpParse::kIncomplete);
  EXPECT_EQ(parse("PUB bad*name 3\r\nabc\r", &c).status, TcpParse::kIncomplete);
  EXPECT_EQ(parse("PUB bad*name 3\r\nabc\r\n", &c).status, TcpParse::kError);
}

// The caller's loop (as in the header): returns one line per event.
std::vector<std::string> drive(const std::string& stream, const std::vector<size_t>& cuts) {
  std::vector<std::string> events;
  std::string pending;
  size_t skip = 0;
  size_t fed = 0;
  bool closed = false;
  auto deliver = [&](std::string_view bytes) {
    if (closed) return;
    const size_t dropped = std::min(skip, bytes.size());
    skip -= dropped;
    pending.append(bytes.substr(dropped));
    for (;;) {
      if (skip > 0) break;
      TcpCommand c;
      TcpParse r = parseTcpCommand(pending, kMax, &c);
      if (r.status == TcpParse::kIncomplete) break;
      if (r.status == TcpParse::kError) {
        events.push_back("ERR " + std::string(r.error));
        if (!r.inSync) {
          closed = true;
          break;
        }
        pending.erase(0, r.consumed);
        const size_t now = std::min(r.skip, pending.size());
        pending.erase(0, now);
        skip = r.skip - now;
        continue;
      }
      static const char* kKinds[] = {"PUB", "BCAST", "SEND", "PING", "AUTH"};
      events.push_back(std::string(kKinds[c.kind]) + " [" + std::string(c.target) + "] [" +
                       std::string(c.payload) + "]");
      pending.erase(0, r.consumed);
    }
  };
  for (size_t cut : cuts) {
    deliver(std::string_view(stream).substr(fed, cut - fed));
    fed = cut;
  }
  deliver(std::string_view(stream).substr(fed));
  if (!closed && !pending.empty()) events.push_back("PENDING " + std::to_string(pending.size()));
  return events;
}

const std::string kStream =
    "PUB news 5\r\nhello\r\n"
    "PING\r\n"
    "NOPE\r\n"
    "SEND bob 4\r\n\r\n\r\n\r\n"
    "PUB big 70\r\n" +
    std::string(70, 'B') +
    "\r\n"
    "PUB bad*name 2\r\nzz\r\n"
    "PUB 2\r\n"
    "SEND\r\n"
    "BCAST 3\r\n{ }\r\n"
    "AUTH k3y\r\n"
    "PING\r\n"
    "PUB x 1\r\n";

const std::vector<std::string> kExpected = {
    "PUB [news] [hello]",
    "PING [] []",
    "ERR unknown command",
    "SEND [bob] [\r\n\r\n]",
    "ERR payload too large",
    "ERR invalid channel name",
    "ERR wrong number of arguments",
    "ERR wrong number of arguments",
    "BCAST [] [{ }]",
    "AUTH [k3y] []",
    "PING [] []",
    "PENDING 9",
};

TEST(ApiTcpParser, PipelinedStream) {
  EXPECT_EQ(drive(kStream, {}), kExpected);
}

TEST(ApiTcpParser, EverySplitPointGivesTheSameSequence) {
  for (size_t cut = 0; cut <= kStream.size(); ++cut) {
    ASSERT_EQ(drive(kStream, {cut}), kExpected) << "cut at " << cut;
  }
  for (size_t a = 0; a <= kStream.size(); a += 3) {
    for (size_t b = a; b <= kStream.size(); b += 5) {
      ASSERT_EQ(drive(kStream, {a, b}), kExpected) << "cuts at " << a << ", " << b;
    }
  }
}

TEST(ApiTcpParser, ByteAtATime) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < kStream.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(drive(kStream, cuts), kExpected);
}

TEST(ApiTcpParser, AWrongArgumentCountReadsNoPayload) {
  // The bytes after a refused line are the next command, here a PING.
  const std::string stream = "PUB 4\r\nPING\r\nBCAST x 1\r\nPING\r\n";
  const std::vector<std::string> expected = {"ERR wrong number of arguments", "PING [] []",
                                             "ERR wrong number of arguments", "PING [] []"};
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    ASSERT_EQ(drive(stream, {cut}), expected) << cut;
  }
}

TEST(ApiTcpParser, AnHttpRequestStopsTheStreamBeforeItsBody) {
  // A browser's cross-protocol POST: the command in its body must never be carried out.
  const std::string stream =
      "PING\r\nPOST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 14\r\n\r\n"
      "BCAST 2\r\nhi\r\n";
  const std::vector<std::string> expected = {"PING [] []", "ERR " + std::string(kTcpHttpError)};
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    ASSERT_EQ(drive(stream, {cut}), expected) << cut;
  }
}

TEST(ApiTcpParser, LostSyncStopsTheStream) {
  const std::string stream = "PING\r\nPUB c 2\r\nabc\r\nPING\r\n";
  const std::vector<std::string> expected = {"PING [] []", "ERR missing CRLF after payload"};
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    ASSERT_EQ(drive(stream, {cut}), expected) << cut;
  }
}

}  // namespace
}  // namespace ringcast::push
