// RFC 7692 sections 5 and 7.1: how the server answers permessage-deflate offers. Every
// parameter of section 7.1 alone and together, quoted values, offers after an unacceptable
// one; and the offers section 7 says a server MUST decline (an unknown parameter, a repeated
// one, an invalid value such as window bits 7, 16, 08 or "abc", a value where none belongs).
// A declined offer leaves Sec-WebSocket-Extensions out of the 101 (the upgrade itself still
// succeeds) and RSV1 then fails the connection with 1002; an accepted one is checked on the
// wire: a compressed message is echoed compressed.
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/conformance_fixture.h"
#include "tests/support/raw_deflate.h"

namespace ringcast::test {
namespace {

constexpr uint8_t kRsv1 = 4;  // RSV1..RSV3 in bits 2..0
const std::string kAccepted =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

struct OfferCase {
  std::string id;
  std::vector<std::string> offers;      // one Sec-WebSocket-Extensions line each
  std::optional<std::string> response;  // nullopt: declined, no header in the 101
};

void PrintTo(const OfferCase& c, std::ostream* os) {
  *os << c.id;
}

std::vector<OfferCase> acceptedCases() {
  const std::string bits10 = kAccepted + "; server_max_window_bits=10";
  return {
      {"RFC7692 7 no parameters", {"permessage-deflate"}, kAccepted},
      {"RFC7692 7 name in capitals", {"PerMessage-Deflate"}, kAccepted},
      {"RFC7692 7.1.1.1 server_no_context_takeover",
       {"permessage-deflate; server_no_context_takeover"},
       kAccepted},
      {"RFC7692 7.1.1.2 client_no_context_takeover",
       {"permessage-deflate; client_no_context_takeover"},
       kAccepted},
      {"RFC7692 7.1.2.1 server_max_window_bits 10",
       {"permessage-deflate; server_max_window_bits=10"},
       bits10},
      {"RFC7692 7.1.2.1 server_max_window_bits 8",
       {"permessage-deflate; server_max_window_bits=8"},
       kAccepted + "; server_max_window_bits=8"},
      {"RFC7692 7.1.2.1 server_max_window_bits 15",
       {"permessage-deflate; server_max_window_bits=15"},
       kAccepted + "; server_max_window_bits=15"},
      {"RFC7692 7.1.2.1 server_max_window_bits quoted",
       {"permessage-deflate; server_max_window_bits=\"10\""},
       bits10},
      // What Chromium, Firefox, Python websockets and Node ws offer.
      {"RFC7692 7.1.2.2 client_max_window_bits without value",
       {"permessage-deflate; client_max_window_bits"},
       kAccepted},
      {"RFC7692 7.1.2.2 client_max_window_bits 9",
       {"permessage-deflate; client_max_window_bits=9"},
       kAccepted},
      {"RFC7692 7.1.2.2 client_max_window_bits 15 quoted",
       {"permessage-deflate; client_max_window_bits=\"15\""},
       kAccepted},
      {"RFC7692 7.1 every parameter",
       {"permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=10; client_max_window_bits=12"},
       bits10},
      {"RFC7692 5.1 first acceptable offer wins",
       {"permessage-deflate; x-unknown, permessage-deflate; server_max_window_bits=10, "
        "permessage-deflate"},
       bits10},
      {"RFC7692 5.1 other extension first",
       {"x-webkit-deflate-frame, permessage-deflate"},
       kAccepted},
      {"RFC7692 5.1 offer on a second header line",
       {"x-webkit-deflate-frame", "permessage-deflate; client_max_window_bits"},
       kAccepted},
  };
}

std::vector<OfferCase> declinedCases() {
  std::vector<OfferCase> cases = {
      {"RFC7692 7 unknown parameter", {"permessage-deflate; x-unknown"}, std::nullopt},
      {"RFC7692 7 unknown parameter with value", {"permessage-deflate; foo=1"}, std::nullopt},
      {"RFC7692 7 duplicate server_no_context_takeover",
       {"permessage-deflate; server_no_context_takeover; server_no_context_takeover"},
       std::nullopt},
      {"RFC7692 7 duplicate client_no_context_takeover",
       {"permessage-deflate; client_no_context_takeover; client_no_context_takeover"},
       std::nullopt},
      {"RFC7692 7 duplicate server_max_window_bits",
       {"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"},
       std::nullopt},
      {"RFC7692 7 duplicate client_max_window_bits",
       {"permessage-deflate; client_max_window_bits; client_max_window_bits=10"},
       std::nullopt},
      {"RFC7692 7.1.1.1 server_no_context_takeover with value",
       {"permessage-deflate; server_no_context_takeover=1"},
       std::nullopt},
      {"RFC7692 7.1.1.2 client_no_context_takeover with value",
       {"permessage-deflate; client_no_context_takeover=true"},
       std::nullopt},
      {"RFC7692 7.1.2.1 server_max_window_bits without value",
       {"permessage-deflate; server_max_window_bits"},
       std::nullopt},
      {"RFC7692 7 syntax error declines the line",
       {"permessage-deflate; server_max_window_bits=\"10"},
       std::nullopt},
      {"RFC7692 7 other extension only", {"x-webkit-deflate-frame"}, std::nullopt},
  };
  for (const char* param : {"server_max_window_bits", "client_max_window_bits"}) {
    for (const char* value : {"7", "16", "0", "08", "abc", "-9", "9.0", "\"\"", "\"7\"", "100"}) {
      cases.push_back({std::string("RFC7692 7.1.2 ") + param + " " + value,
                       {std::string("permessage-deflate; ") + param + "=" + value},
                       std::nullopt});
    }
  }
  return cases;
}

HeaderList offerHeaders(const std::vector<std::string>& offers) {
  HeaderList headers;
  for (const std::string& offer : offers) headers.emplace_back("Sec-WebSocket-Extensions", offer);
  return headers;
}

// Sends the offers in the upgrade request; the client with a checked 101, or nullptr.
std::unique_ptr<WsClient> upgradeWith(uint16_t port, const OfferCase& c,
                                      std::optional<std::string>* response) {
  auto client = ConformanceTest::connectTo(port);
  if (!client) return nullptr;
  HeaderList headers = client->defaultUpgradeHeaders();
  for (auto& h : offerHeaders(c.offers)) headers.push_back(h);
  HttpResponse r = client->request(buildRequest("GET", "/echo", headers));
  auto upgraded = isUpgrade(r, client->key());
  if (!upgraded) {
    ADD_FAILURE() << c.id << ": " << upgraded.message();
    return nullptr;
  }
  *response = r.header("Sec-WebSocket-Extensions");
  return client;
}

class ConformanceDeflateOffer : public ConformanceParamTest<OfferCase> {};

TEST_P(ConformanceDeflateOffer, Answer) {
  const OfferCase& c = GetParam();
  std::optional<std::string> response;
  auto client = upgradeWith(port(), c, &response);
  ASSERT_TRUE(client);
  ASSERT_EQ(response, c.response);
  // 256 bytes: at --compression-min-size and within the smallest window, 2^8.
  const std::string text = textOf(256);
  if (!c.response) {
    // Nothing negotiated: RSV1 is a protocol error (RFC 6455 5.2, RFC 7692 6).
    ASSERT_TRUE(client->sendFrame(op::kText, compressMessage(text), true, kRsv1));
    EXPECT_TRUE(failsWith(*client, close_code::kProtocolError));
    return;
  }
  // Negotiated: a compressed message comes back compressed.
  ASSERT_TRUE(client->sendFrame(op::kText, compressMessage(text), true, kRsv1));
  ReadResult r = client->readFrame();
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.frame.opcode, op::kText);
  EXPECT_TRUE(r.frame.fin);
  ASSERT_EQ(r.frame.rsv, kRsv1) << "echo not compressed: " << r.describe();
  const size_t bitsAt = c.response->find("server_max_window_bits=");
  const int window = bitsAt == std::string::npos ? 15 : std::stoi(c.response->substr(bitsAt + 23));
  std::optional<std::string> inflated = inflateMessage(r.frame.payload, window);
  ASSERT_TRUE(inflated) << "the echo does not inflate with a 2^" << window << " window";
  EXPECT_TRUE(samePayload(text, *inflated));
  EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
}

INSTANTIATE_TEST_SUITE_P(Accepted, ConformanceDeflateOffer, ::testing::ValuesIn(acceptedCases()),
                         [](const auto& info) { return caseName(info.param.id); });
INSTANTIATE_TEST_SUITE_P(Declined, ConformanceDeflateOffer, ::testing::ValuesIn(declinedCases()),
                         [](const auto& info) { return caseName(info.param.id); });

// RFC 7692 7.1.2.1: after server_max_window_bits=N every compressed server message must
// inflate with a 2^N-byte window. The server keeps that by compressing only messages of at
// most 2^N bytes for such a client (docs/PROTOCOL.md); longer ones go plain.
class ConformanceDeflateWindow : public ConformanceParamTest<int> {};

TEST_P(ConformanceDeflateWindow, ServerMessagesFitTheWindow) {
  const int bits = GetParam();
  const std::string offer = "permessage-deflate; server_max_window_bits=" + std::to_string(bits);
  std::optional<std::string> response;
  auto client = upgradeWith(port(), {"window", {offer}, kAccepted}, &response);
  ASSERT_TRUE(client);
  ASSERT_EQ(response, kAccepted + "; server_max_window_bits=" + std::to_string(bits));
  const size_t window = size_t{1} << bits;
  for (size_t n : {window, window + 1, 4 * window}) {
    SCOPED_TRACE("message of " + std::to_string(n) + " bytes");
    const std::string text = textOf(n);
    ASSERT_TRUE(client->sendFrame(op::kText, compressMessage(text), true, kRsv1));
    ReadResult r = client->readFrame();
    ASSERT_TRUE(r.ok()) << r.describe();
    if (n <= window) {
      ASSERT_EQ(r.frame.rsv, kRsv1) << "a message within the window was not compressed";
      std::optional<std::string> inflated = inflateMessage(r.frame.payload, bits);
      ASSERT_TRUE(inflated) << "does not inflate with a 2^" << bits << " window";
      EXPECT_TRUE(samePayload(text, *inflated));
    } else {
      EXPECT_TRUE(isFrame(r, op::kText, text));
    }
  }
  EXPECT_TRUE(closeIsEchoed(*client, close_code::kNormal));
}

INSTANTIATE_TEST_SUITE_P(Rfc7692, ConformanceDeflateWindow, ::testing::Values(8, 9, 12),
                         [](const auto& info) { return "bits" + std::to_string(info.param); });

// --compression off: even a valid offer is declined, and RSV1 is then 1002.
class ConformanceDeflateOff : public ConformanceTest {};

TEST_F(ConformanceDeflateOff, ValidOfferIsDeclined) {
  auto server = startServer({"--compression", "off"});
  ASSERT_TRUE(server);
  std::optional<std::string> response;
  auto client =
      upgradeWith(server->port(),
                  {"off", {"permessage-deflate; client_max_window_bits"}, std::nullopt}, &response);
  ASSERT_TRUE(client);
  EXPECT_EQ(response, std::nullopt);
  const std::string text = textOf(1000);
  ASSERT_TRUE(client->sendText(text));
  EXPECT_TRUE(isFrame(client->readFrame(), op::kText, text));  // plain, RSV1 clear
  ASSERT_TRUE(client->sendFrame(op::kText, compressMessage(text), true, kRsv1));
  EXPECT_TRUE(failsWith(*client, close_code::kProtocolError));
}

}  // namespace
}  // namespace ringcast::test
