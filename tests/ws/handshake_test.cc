#include "ws/handshake.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace ringcast::ws {
namespace {

const http::Limits kLimits;

// An upgrade request as header lines, edited per test and then serialised.
struct UpgradeRequest {
  std::string method = "GET";
  std::string version = "HTTP/1.1";
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Host", "server.example.com"},  {"Upgrade", "websocket"},
      {"Connection", "Upgrade"},       {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
      {"Sec-WebSocket-Version", "13"},
  };

  UpgradeRequest& set(const std::string& name, const std::string& value) {
    for (auto& h : headers) {
      if (h.first == name) {
        h.second = value;
        return *this;
      }
    }
    return add(name, value);
  }
  UpgradeRequest& add(const std::string& name, const std::string& value) {
    headers.emplace_back(name, value);
    return *this;
  }
  UpgradeRequest& drop(const std::string& name) {
    std::erase_if(headers, [&](const auto& h) { return h.first == name; });
    return *this;
  }
  std::string bytes() const {
    std::string s = method + " /socket " + version + "\r\n";
    for (const auto& h : headers) s += h.first + ": " + h.second + "\r\n";
    return s + "\r\n";
  }
};

HandshakeResult upgrade(const UpgradeRequest& r, const HandshakeOptions& opts = {}) {
  std::string bytes = r.bytes();
  http::RequestParser parser(&kLimits);
  http::Request req;
  http::ParseResult parsed = parser.parse(bytes, &req);
  EXPECT_EQ(parsed.status, http::ParseResult::kComplete) << parsed.reason;
  return acceptUpgrade(req, opts);
}

bool hasHeader(const std::string& response, const std::string& line) {
  size_t end = response.find("\r\n\r\n");
  return response.substr(0, end + 2).find("\r\n" + line + "\r\n") != std::string::npos;
}

std::string bodyOf(const std::string& response) {
  return response.substr(response.find("\r\n\r\n") + 4);
}

// Checks the shape every refusal shares and returns its status code.
int expectRefusal(const HandshakeResult& r) {
  EXPECT_NE(r.status, 101);
  EXPECT_FALSE(r.reason.empty());
  EXPECT_TRUE(r.subprotocol.empty());
  EXPECT_EQ(r.response.rfind("HTTP/1.1 " + std::to_string(r.status) + " ", 0), 0u) << r.response;
  EXPECT_TRUE(hasHeader(r.response, "Content-Type: text/plain; charset=utf-8")) << r.response;
  std::string body = bodyOf(r.response);
  EXPECT_EQ(body, std::string(r.reason) + "\n");
  EXPECT_TRUE(hasHeader(r.response, "Content-Length: " + std::to_string(body.size())));
  EXPECT_TRUE(hasHeader(r.response, "Connection: close") ||
              hasHeader(r.response, "Connection: Upgrade, close"))
      << r.response;
  EXPECT_EQ(r.response.find("Sec-WebSocket-Accept"), std::string::npos);
  return r.status;
}

TEST(HandshakeTest, AcceptKeyMatchesRfc6455Example) {
  EXPECT_EQ(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(acceptKey("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
  EXPECT_EQ(acceptKey(""), "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w=");
}

TEST(HandshakeTest, KeyMustBeBase64OfSixteenBytes) {
  EXPECT_TRUE(isValidKey("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_TRUE(isValidKey("AAAAAAAAAAAAAAAAAAAA+/=="));
  EXPECT_FALSE(isValidKey("dGhlIHNhbXBsZSBub25jZQ="));       // 23 characters
  EXPECT_FALSE(isValidKey("dGhlIHNhbXBsZSBub25jZQ"));        // padding missing
  EXPECT_FALSE(isValidKey("dGhlIHNhbXBsZSBub25jZQ=A"));      // 17 bytes
  EXPECT_FALSE(isValidKey("dGhlIHNhbXBsZSBub25jZ==="));      // 15 bytes
  EXPECT_FALSE(isValidKey("dGhlIHNhbXBsZSBub25jZ-=="));      // base64url alphabet
  EXPECT_FALSE(isValidKey("dGhlIHNhbXBsZSBub25jZQ==AAAA"));  // 19 bytes
  EXPECT_FALSE(isValidKey(""));
}

TEST(HandshakeTest, ValidRequestGets101) {
  HandshakeResult r = upgrade(UpgradeRequest());
  EXPECT_EQ(r.status, 101);
  EXPECT_TRUE(r.reason.empty());
  EXPECT_TRUE(r.subprotocol.empty());
  EXPECT_EQ(r.response,
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "\r\n");
}

TEST(HandshakeTest, TokenListsAndCaseAreAccepted) {
  // Firefox sends "keep-alive, Upgrade"; header names and the websocket token ignore case.
  UpgradeRequest req;
  req.set("Connection", "keep-alive, Upgrade").set("Upgrade", "WebSocket");
  EXPECT_EQ(upgrade(req).status, 101);
  req.drop("Connection").add("connection", "keep-alive").add("CONNECTION", "upgrade");
  EXPECT_EQ(upgrade(req).status, 101);
}

TEST(HandshakeTest, NonGetIs405WithAllow) {
  UpgradeRequest req;
  req.method = "POST";
  HandshakeResult r = upgrade(req);
  EXPECT_EQ(expectRefusal(r), 405);
  EXPECT_TRUE(hasHeader(r.response, "Allow: GET"));
  req.method = "get";  // methods are case-sensitive
  EXPECT_EQ(expectRefusal(upgrade(req)), 405);
}

TEST(HandshakeTest, Http10Is400) {
  UpgradeRequest req;
  req.version = "HTTP/1.0";
  EXPECT_EQ(expectRefusal(upgrade(req)), 400);
}

TEST(HandshakeTest, MissingOrEmptyHostIs400) {
  // The parser already refuses an HTTP/1.1 request without Host, so drop it afterwards.
  std::string bytes = UpgradeRequest().bytes();
  http::RequestParser parser(&kLimits);
  http::Request req;
  ASSERT_EQ(parser.parse(bytes, &req).status, http::ParseResult::kComplete);
  ASSERT_EQ(req.headers[0].name, "Host");
  std::copy(req.headers + 1, req.headers + req.headerCount, req.headers);
  --req.headerCount;
  EXPECT_EQ(expectRefusal(acceptUpgrade(req, {})), 400);

  EXPECT_EQ(expectRefusal(upgrade(UpgradeRequest().set("Host", ""))), 400);
}

TEST(HandshakeTest, PlainGetIs426WithUpgradeHeaders) {
  UpgradeRequest req;
  req.drop("Upgrade").drop("Connection").drop("Sec-WebSocket-Key").drop("Sec-WebSocket-Version");
  HandshakeResult r = upgrade(req);
  EXPECT_EQ(expectRefusal(r), 426);
  EXPECT_TRUE(hasHeader(r.response, "Upgrade: websocket"));
  EXPECT_TRUE(hasHeader(r.response, "Connection: Upgrade, close"));
}

TEST(HandshakeTest, WrongUpgradeOrConnectionIs426) {
  EXPECT_EQ(expectRefusal(upgrade(UpgradeRequest().set("Upgrade", "h2c"))), 426);
  EXPECT_EQ(expectRefusal(upgrade(UpgradeRequest().set("Upgrade", "websockets"))), 426);
  EXPECT_EQ(expectRefusal(upgrade(UpgradeRequest().drop("Upgrade"))), 426);
  EXPECT_EQ(expectRefusal(upgrade(UpgradeRequest().set("Connection", "keep-alive"))), 426);
  EXPECT_EQ(expectRefusal(upgrade(UpgradeRequest().drop("Connection"))), 426);
}

TEST(HandshakeTest, VersionOtherThan13Is426WithSupportedVersion) {
  for (const char* version : {"8", "12", "14", "13, 8", ""}) {
    SCOPED_TRACE(version);
    HandshakeResult r = upgrade(UpgradeRequest().set("Sec-WebSocket-Version", version));
    EXPECT_EQ(expectRefusal(r), 426);
    EXPECT_TRUE(hasHeader(r.response, "Sec-WebSocket-Version: 13"));
    EXPECT_TRUE(hasHeader(r.response, "Upgrade: websocket"));
  }
  HandshakeResult missing = upgrade(UpgradeRequest().drop("Sec-WebSocket-Version"));
  EXPECT_EQ(expectRefusal(missing), 426);
  EXPECT_TRUE(hasHeader(missing.response, "Sec-WebSocket-Version: 13"));
  EXPECT_EQ(expectRefusal(upgrade(UpgradeRequest().add("Sec-WebSocket-Version", "13"))), 426);
}

TEST(HandshakeTest, BadKeyIs400) {
  EXPECT_EQ(expectRefusal(upgrade(UpgradeRequest().drop("Sec-WebSocket-Key"))), 400);
  for (const char* key : {"dGhlIHNhbXBsZSBub25jZQ=", "AAAAAAAAAAAAAAAAAAAAAA=", "short==",
                          "dGhlIHNhbXBsZSBub25jZ*==", "dGhlIHNhbXBsZSBub25jZQ==AAAA"}) {
    SCOPED_TRACE(key);
    EXPECT_EQ(expectRefusal(upgrade(UpgradeRequest().set("Sec-WebSocket-Key", key))), 400);
  }
  UpgradeRequest twice;
  twice.add("Sec-WebSocket-Key", "x3JJHMbDL1EzLkh9GBhXDw==");
  EXPECT_EQ(expectRefusal(upgrade(twice)), 400);
}

TEST(HandshakeTest, OriginHookDecides) {
  std::string seenOrigin, seenHost;
  int calls = 0;
  HandshakeOptions opts;
  opts.originAllowed = [&](std::string_view origin, std::string_view host) {
    ++calls;
    seenOrigin = origin;
    seenHost = host;
    return origin == "https://app.example.com";
  };
  HandshakeResult refused = upgrade(UpgradeRequest().add("Origin", "https://evil.example"), opts);
  EXPECT_EQ(expectRefusal(refused), 403);
  EXPECT_EQ(seenOrigin, "https://evil.example");
  EXPECT_EQ(seenHost, "server.example.com");

  EXPECT_EQ(upgrade(UpgradeRequest().add("Origin", "https://app.example.com"), opts).status, 101);
  EXPECT_EQ(calls, 2);

  // No Origin (a non-browser client): the hook is not consulted.
  EXPECT_EQ(upgrade(UpgradeRequest(), opts).status, 101);
  EXPECT_EQ(calls, 2);

  // No hook: any origin.
  EXPECT_EQ(upgrade(UpgradeRequest().add("Origin", "https://evil.example")).status, 101);
}

TEST(HandshakeTest, SubprotocolFollowsServerPreference) {
  HandshakeOptions opts;
  opts.subprotocols = {"v2.json", "v1.json"};

  HandshakeResult r =
      upgrade(UpgradeRequest().add("Sec-WebSocket-Protocol", "v1.json, v2.json"), opts);
  EXPECT_EQ(r.status, 101);
  EXPECT_EQ(r.subprotocol, "v2.json");
  EXPECT_TRUE(hasHeader(r.response, "Sec-WebSocket-Protocol: v2.json"));

  r = upgrade(UpgradeRequest()
                  .add("Sec-WebSocket-Protocol", "mqtt")
                  .add("Sec-WebSocket-Protocol", "v1.json"),
              opts);
  EXPECT_EQ(r.subprotocol, "v1.json");
  EXPECT_TRUE(hasHeader(r.response, "Sec-WebSocket-Protocol: v1.json"));
}

TEST(HandshakeTest, NoSubprotocolHeaderWithoutAMatch) {
  HandshakeOptions opts;
  opts.subprotocols = {"v2.json"};
  for (const char* offered : {"mqtt, wamp", "V2.JSON"}) {
    SCOPED_TRACE(offered);
    HandshakeResult r = upgrade(UpgradeRequest().add("Sec-WebSocket-Protocol", offered), opts);
    EXPECT_EQ(r.status, 101);
    EXPECT_TRUE(r.subprotocol.empty());
    EXPECT_EQ(r.response.find("Sec-WebSocket-Protocol"), std::string::npos);
  }
  HandshakeResult none = upgrade(UpgradeRequest().add("Sec-WebSocket-Protocol", "v2.json"));
  EXPECT_TRUE(none.subprotocol.empty());
  EXPECT_EQ(none.response.find("Sec-WebSocket-Protocol"), std::string::npos);
}

TEST(HandshakeTest, ExtensionsAreNeverNegotiated) {
  HandshakeResult r = upgrade(UpgradeRequest().add("Sec-WebSocket-Extensions",
                                                   "permessage-deflate; client_max_window_bits"));
  EXPECT_EQ(r.status, 101);
  EXPECT_EQ(r.response.find("Sec-WebSocket-Extensions"), std::string::npos);
}

TEST(HandshakeTest, RejectResponseForCallerRefusals) {
  EXPECT_EQ(rejectResponse(503, "overloaded"),
            "HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 11\r\n"
            "Connection: close\r\n"
            "\r\n"
            "overloaded\n");
  std::string unauthorized = rejectResponse(401, "invalid token");
  EXPECT_EQ(unauthorized.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u);
  EXPECT_EQ(bodyOf(unauthorized), "invalid token\n");
}

}  // namespace
}  // namespace ringcast::ws
