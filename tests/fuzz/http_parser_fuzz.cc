// Differential fuzz target for http::RequestParser. The input is a stream of pipelined
// requests, parsed three ways: whole, in chunks whose sizes come from the input (appended to a
// growing std::string, so the buffer also moves in memory), and one byte at a time. Every way
// must report the same sequence of outcomes and the same fields; views must lie within the
// buffer of the call; complete requests also go through ws::acceptUpgrade, with
// permessage-deflate on, so Sec-WebSocket-Extensions offers reach the negotiation.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_parser.h"
#include "ws/handshake.h"

namespace {

using ringcast::http::ParseResult;
using ringcast::http::Request;
using ringcast::http::RequestParser;

// Small limits so that the fuzzer reaches every bound quickly; large enough for a browser's
// upgrade request.
const ringcast::http::Limits kLimits = {1024, 16, 512};
constexpr size_t kMaxRequests = 8;        // per input, to bound the work of one run
constexpr size_t kMaxByteAtATime = 2048;  // inputs fed byte by byte, ~O(n) calls each

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool within(std::string_view view, std::string_view buf) {
  return view.data() >= buf.data() && view.data() + view.size() <= buf.data() + buf.size();
}

// Everything observable about one parse() call, with views as offsets into its buffer.
std::string record(const ParseResult& r, const Request& req, std::string_view buf) {
  check(r.consumed <= buf.size());
  std::string s = std::to_string(r.status) + "/" + std::to_string(r.consumed) + "/" +
                  std::to_string(r.httpStatus) + "/" + std::string(r.reason);
  if (r.status == ParseResult::kError) check(r.httpStatus >= 400 && r.httpStatus <= 505);
  if (r.status != ParseResult::kComplete) {
    check(r.consumed == 0);
    return s;
  }
  check(r.consumed > 0);
  std::string_view request = buf.substr(0, r.consumed);
  auto add = [&](std::string_view view) {
    check(within(view, request));
    s += "|" + std::to_string(view.data() - buf.data()) + "+" + std::to_string(view.size());
  };
  add(req.method);
  add(req.target);
  add(req.path);
  add(req.query);
  check(req.headerCount <= kLimits.maxHeaders);
  for (size_t i = 0; i < req.headerCount; ++i) {
    add(req.headers[i].name);
    add(req.headers[i].value);
    check(!req.headers[i].name.empty());
  }
  check(req.body.size() <= kLimits.maxBodyBytes);
  if (req.chunked) {
    s += "|chunked:" + std::string(req.body);
  } else {
    add(req.body);
    check(req.body.data() + req.body.size() == buf.data() + r.consumed);
  }
  s += "|v" + std::to_string(req.versionMinor) + (req.keepAlive ? "|ka" : "|close");
  return s;
}

void checkHandshake(const Request& req) {
  ringcast::ws::HandshakeOptions opts;
  opts.subprotocols = {"chat", "v1"};
  opts.perMessageDeflate = true;
  opts.originAllowed = [](std::string_view origin, std::string_view host) {
    return origin.size() % 2 == host.size() % 2;
  };
  ringcast::ws::HandshakeResult h = ringcast::ws::acceptUpgrade(req, opts);
  std::string_view response = h.response;
  check(response.size() > 13 && response.substr(0, 9) == "HTTP/1.1 ");
  check(response.substr(9, 3) == std::to_string(h.status));
  if (h.status == 101) {
    check(h.reason.empty());
    std::string accept =
        "Sec-WebSocket-Accept: " + ringcast::ws::acceptKey(req.header("Sec-WebSocket-Key"));
    check(response.find(accept) != std::string_view::npos);
    check(response.substr(response.size() - 4) == "\r\n\r\n");
    check(h.subprotocol.empty() || h.subprotocol == "chat" || h.subprotocol == "v1");
    // The extension is answered exactly when it was negotiated, and only then.
    const bool answered = response.find(
                              "\r\nSec-WebSocket-Extensions: permessage-deflate; "
                              "server_no_context_takeover; "
                              "client_no_context_takeover") != std::string_view::npos;
    check(answered == h.deflate.enabled);
    check(h.deflate.enabled || response.find("Sec-WebSocket-Extensions") == std::string_view::npos);
    check(h.deflate.serverMaxWindowBits >= ringcast::ws::kMinWindowBits &&
          h.deflate.serverMaxWindowBits <= ringcast::ws::kMaxWindowBits);
  } else {
    check(h.status == 400 || h.status == 403 || h.status == 405 || h.status == 426);
    check(!h.reason.empty() && h.subprotocol.empty());
    check(response.find("Connection: ") != std::string_view::npos);
    check(response.substr(response.size() - h.reason.size() - 1, h.reason.size()) == h.reason);
  }
}

std::vector<std::string> parseWhole(std::string_view data) {
  RequestParser parser(&kLimits);
  std::vector<std::string> outcomes;
  size_t offset = 0;
  while (outcomes.size() < kMaxRequests) {
    std::string_view buf = data.substr(offset);
    Request req;
    ParseResult r = parser.parse(buf, &req);
    outcomes.push_back(record(r, req, buf));
    if (r.status != ParseResult::kComplete) break;
    checkHandshake(req);
    offset += r.consumed;
  }
  return outcomes;
}

// The size of the next delivery: 1-16 bytes usually, up to 509 when the picked byte's top
// bit is set.
size_t nextChunk(std::string_view data, size_t fed, size_t step) {
  auto b = static_cast<uint8_t>(data[(fed * 7 + step * 13) % data.size()]);
  return (b & 0x80) ? 1 + (b & 0x7f) * 4 : 1 + (b & 0x0f);
}

// Delivers `data` as a socket would: `chunk(fed, step)` bytes per read, each appended to the
// pending request bytes, which are reparsed after every read.
template <typename ChunkFn>
std::vector<std::string> parseIncrementally(std::string_view data, ChunkFn chunk) {
  RequestParser parser(&kLimits);
  std::vector<std::string> outcomes;
  std::string pending;
  size_t fed = 0;
  for (size_t step = 0;; ++step) {
    size_t n = std::min(chunk(fed, step), data.size() - fed);
    pending.append(data.substr(fed, n));
    fed += n;
    for (;;) {
      Request req;
      ParseResult r = parser.parse(pending, &req);
      if (r.status == ParseResult::kIncomplete && fed < data.size()) break;
      outcomes.push_back(record(r, req, pending));
      if (r.status != ParseResult::kComplete || outcomes.size() == kMaxRequests) return outcomes;
      pending.erase(0, r.consumed);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> whole = parseWhole(input);
  if (size == 0) return 0;
  std::vector<std::string> chunked = parseIncrementally(
      input, [&](size_t fed, size_t step) { return nextChunk(input, fed, step); });
  check(chunked == whole);
  if (size <= kMaxByteAtATime) {
    check(parseIncrementally(input, [](size_t, size_t) { return size_t{1}; }) == whole);
  }
  return 0;
}
