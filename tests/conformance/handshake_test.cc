// The opening handshake, RFC 6455 section 4.2: a valid upgrade gets 101 with the right
// Sec-WebSocket-Accept (checked against an independent SHA-1 + Base64), header names and
// tokens are case-insensitive, an offered extension the server does not run is not accepted,
// and every malformed request gets its HTTP error status followed by the TCP close. A
// request that is not completed within --handshake-timeout is closed.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/conformance_fixture.h"

namespace ringcast::test {
namespace {

using RequestBuilder = std::function<std::string(WsClient&)>;

bool sameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

HeaderList without(HeaderList headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return sameName(h.first, name); });
  return headers;
}

HeaderList with(HeaderList headers, const std::string& name, const std::string& value) {
  auto it = std::find_if(headers.begin(), headers.end(),
                         [&](const auto& h) { return sameName(h.first, name); });
  if (it != headers.end()) {
    it->second = value;
  } else {
    headers.emplace_back(name, value);
  }
  return headers;
}

// GET /echo with the default headers changed by `edit`.
RequestBuilder get(std::function<HeaderList(HeaderList)> edit, std::string path = "/echo") {
  return [edit, path](WsClient& c) {
    return buildRequest("GET", path, edit(c.defaultUpgradeHeaders()));
  };
}

HeaderList unchanged(HeaderList h) {
  return h;
}

// The RFC 6455 section 1.3 example, to show the suite's own accept computation is right.
TEST(ConformanceHandshakeClient, AcceptKeyMatchesRfc6455Example) {
  EXPECT_EQ(acceptKeyFor("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

struct RejectCase {
  std::string id;
  RequestBuilder request;
  int status;
  int alsoAllowed = 0;  // a second acceptable status, where the RFC allows two readings
};

void PrintTo(const RejectCase& c, std::ostream* os) {
  *os << c.id;
}

std::vector<RejectCase> rejectCases() {
  // A header block of many ordinary headers that is over 8 KiB only in total.
  auto manyHeaders = [](HeaderList h) {
    for (int i = 0; i < 200; ++i)
      h.emplace_back("X-Filler-" + std::to_string(i), std::string(40, 'f'));
    return h;
  };
  return {
      {"POST", [](WsClient& c) { return buildRequest("POST", "/echo", c.defaultUpgradeHeaders()); },
       405},
      {"PUT", [](WsClient& c) { return buildRequest("PUT", "/echo", c.defaultUpgradeHeaders()); },
       405},
      {"missing Host", get([](HeaderList h) { return without(h, "Host"); }), 400},
      {"missing Upgrade", get([](HeaderList h) { return without(h, "Upgrade"); }), 426},
      {"Upgrade h2c", get([](HeaderList h) { return with(h, "Upgrade", "h2c"); }), 426},
      {"missing Connection", get([](HeaderList h) { return without(h, "Connection"); }), 426},
      {"Connection without Upgrade token",
       get([](HeaderList h) { return with(h, "Connection", "keep-alive"); }), 426},
      {"missing key", get([](HeaderList h) { return without(h, "Sec-WebSocket-Key"); }), 400},
      {"key of 10 bytes",
       get([](HeaderList h) { return with(h, "Sec-WebSocket-Key", "dGhlIHNhbXBsZQ=="); }), 400},
      {"key of 17 bytes",
       get([](HeaderList h) { return with(h, "Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAA="); }),
       400},
      {"key not base64",
       get([](HeaderList h) { return with(h, "Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!=="); }),
       400},
      {"key of 16 raw characters",
       get([](HeaderList h) { return with(h, "Sec-WebSocket-Key", "abcdefghijklmnop"); }), 400},
      {"version 8", get([](HeaderList h) { return with(h, "Sec-WebSocket-Version", "8"); }), 426},
      {"version 12", get([](HeaderList h) { return with(h, "Sec-WebSocket-Version", "12"); }), 426},
      {"version 14", get([](HeaderList h) { return with(h, "Sec-WebSocket-Version", "14"); }), 426},
      // Section 4.2.1 makes the header mandatory (400 for a malformed request) and section
      // 4.4 answers versions the server does not speak with 426; either reading is allowed.
      {"version missing", get([](HeaderList h) { return without(h, "Sec-WebSocket-Version"); }),
       426, 400},
      {"unknown path", get(unchanged, "/no-such-endpoint"), 404},
      {"header line over 8 KiB",
       get([](HeaderList h) { return with(h, "X-Filler", std::string(9000, 'f')); }), 431},
      {"header block over 8 KiB", get(manyHeaders), 431},
  };
}

class ConformanceHandshakeReject : public ConformanceParamTest<RejectCase> {};

TEST_P(ConformanceHandshakeReject, GetsErrorStatusThenClose) {
  const RejectCase& c = GetParam();
  auto client = connectTo(port());
  ASSERT_TRUE(client);
  HttpResponse r = client->request(c.request(*client));
  ASSERT_TRUE(r.complete) << r.error;
  if (c.alsoAllowed != 0 && r.status == c.alsoAllowed) {
    SUCCEED();
  } else {
    EXPECT_EQ(r.status, c.status) << r.reason;
  }
  if (r.status == 426 && c.id.rfind("version", 0) == 0) {
    // Section 4.4: the 426 for a version mismatch names the versions the server speaks.
    EXPECT_EQ(r.header("Sec-WebSocket-Version").value_or("(missing)"), "13");
  }
  EXPECT_FALSE(r.header("Sec-WebSocket-Accept").has_value());
  EXPECT_TRUE(client->waitEof(kCloseTcpWithin));
}

INSTANTIATE_TEST_SUITE_P(Rfc6455, ConformanceHandshakeReject, ::testing::ValuesIn(rejectCases()),
                         [](const auto& info) { return caseName(info.param.id); });

struct AcceptCase {
  std::string id;
  std::function<HeaderList(HeaderList)> edit;
  size_t chopBytes = 0;  // write the request in pieces of this many bytes
};

void PrintTo(const AcceptCase& c, std::ostream* os) {
  *os << c.id;
}

std::vector<AcceptCase> acceptCases() {
  auto rename = [](HeaderList h, const std::string& from, const std::string& to) {
    for (auto& [name, value] : h) {
      if (name == from) name = to;
    }
    return h;
  };
  return {
      {"plain", unchanged},
      {"lower case names and mixed case tokens",
       [rename](HeaderList h) {
         for (const char* n :
              {"Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version"}) {
           std::string lowerName = n;
           for (char& ch : lowerName) ch = static_cast<char>(std::tolower(ch));
           h = rename(h, n, lowerName);
         }
         h = with(h, "upgrade", "WebSocket");
         return with(h, "connection", "keep-alive, Upgrade");
       }},
      {"upper case tokens",
       [](HeaderList h) {
         h = with(h, "Upgrade", "WEBSOCKET");
         return with(h, "Connection", "UPGRADE");
       }},
      {"Connection list without spaces",
       [](HeaderList h) { return with(h, "Connection", "keep-alive,upgrade"); }},
      {"unrelated headers",
       [](HeaderList h) {
         h.emplace_back("User-Agent", "ringcast-conformance");
         h.emplace_back("Cache-Control", "no-cache");
         return h;
       }},
      {"optional whitespace around values",
       [](HeaderList h) {
         for (auto& [name, value] : h) value = "  " + value + " \t";
         return h;
       }},
      {"request written byte-wise", unchanged, 1},
  };
}

class ConformanceHandshakeAccept : public ConformanceParamTest<AcceptCase> {};

TEST_P(ConformanceHandshakeAccept, UpgradesAndEchoes) {
  const AcceptCase& c = GetParam();
  auto client = connectTo(port());
  ASSERT_TRUE(client);
  const std::string request = buildRequest("GET", "/echo", c.edit(client->defaultUpgradeHeaders()));
  ASSERT_TRUE(client->sendRaw(request, c.chopBytes)) << client->error();
  HttpResponse r = client->readHttpResponse();
  ASSERT_TRUE(isUpgrade(r, client->key()));
  ASSERT_TRUE(client->sendText("after the upgrade"));
  EXPECT_TRUE(isFrame(client->readFrame(), op::kText, "after the upgrade"));
  EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
}

INSTANTIATE_TEST_SUITE_P(Rfc6455, ConformanceHandshakeAccept, ::testing::ValuesIn(acceptCases()),
                         [](const auto& info) { return caseName(info.param.id); });

// Section 9.1 with RFC 7692: a browser's permessage-deflate offer (the full table of offers
// is in compression_negotiation_test.cc).
class ConformanceHandshakeExtensions : public ConformanceTest {};

// RFC 7692: the offer is accepted without context takeover either way (client_max_window_bits
// accepted, not answered); an uncompressed message still goes through uncompressed.
TEST_F(ConformanceHandshakeExtensions, OfferedDeflateIsAcceptedWithoutContextTakeover) {
  auto client = connectTo(port());
  ASSERT_TRUE(client);
  HttpResponse r = client->handshake(
      "/echo", {{"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"}});
  ASSERT_TRUE(isUpgrade(r, client->key()));
  EXPECT_EQ(r.header("Sec-WebSocket-Extensions").value_or(""),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  const std::string text = textOf(200);  // below --compression-min-size: sent plain
  ASSERT_TRUE(client->sendText(text));
  EXPECT_TRUE(isFrame(client->readFrame(), op::kText, text));
  EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
}

// --handshake-timeout: a connection that never completes its request is closed, with or
// without a 408 first, after about the configured time and not long before it.
class ConformanceHandshakeTimeout : public ConformanceTest {};

constexpr Millis kHandshakeTimeout{1000};
// Not closed before half the timeout (timer granularity), and closed well within 5 s.
constexpr Millis kEarliestClose{500};
constexpr Millis kLatestClose{5000};

void expectClosedByTimeout(WsClient& client, std::chrono::steady_clock::time_point connectedAt) {
  HttpResponse r = client.readHttpResponse(kLatestClose);
  const auto elapsed =
      std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - connectedAt);
  if (r.complete) {
    EXPECT_EQ(r.status, 408) << r.reason;
    EXPECT_TRUE(client.waitEof(kCloseTcpWithin));
  } else {
    EXPECT_TRUE(r.closedEarly) << "not closed within " << kLatestClose.count() << " ms";
  }
  EXPECT_GE(elapsed.count(), kEarliestClose.count()) << "closed before the handshake timeout";
}

TEST_F(ConformanceHandshakeTimeout, IdleAndPartialRequestsAreClosed) {
  auto server = startServer({"--handshake-timeout", "1s"});
  ASSERT_TRUE(server);
  auto idle = connectTo(server->port());
  auto partial = connectTo(server->port());
  ASSERT_TRUE(idle && partial);
  const auto connectedAt = std::chrono::steady_clock::now();
  ASSERT_TRUE(partial->sendRaw("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"));
  expectClosedByTimeout(*partial, connectedAt);
  expectClosedByTimeout(*idle, connectedAt);
  partial.reset();
  idle.reset();
  // A complete handshake on the same server is not affected by the timeout once upgraded.
  auto upgraded = connectTo(server->port());
  ASSERT_TRUE(upgraded);
  ASSERT_TRUE(isUpgrade(upgraded->handshake(), upgraded->key()));
  EXPECT_TRUE(upgraded->expectSilence(kHandshakeTimeout + Millis{500}));
  ASSERT_TRUE(upgraded->sendText("still open"));
  EXPECT_TRUE(isFrame(upgraded->readFrame(), op::kText, "still open"));
  EXPECT_TRUE(closeIsEchoed(*upgraded, close_code::kNormal));
  upgraded.reset();
  ExitStatus st = server->stop();
  EXPECT_TRUE(st.cleanExit()) << st.describe();
}

}  // namespace
}  // namespace ringcast::test
