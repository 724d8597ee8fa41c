// Cost of accepting one WebSocket connection, before any frame: parsing a browser's upgrade
// request, validating it and building the 101 (SHA-1 + Base64), and each part alone.
#include <benchmark/benchmark.h>

#include <string>

#include "net/http_parser.h"
#include "ws/handshake.h"

namespace {

using ringcast::http::ParseResult;
using ringcast::http::Request;
using ringcast::http::RequestParser;

// What Chrome sends for `new WebSocket("wss://push.example.com/ws?token=...")`.
const std::string kChromeUpgrade =
    "GET /ws?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl HTTP/1.1\r\n"
    "Host: push.example.com\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: https://app.example.com\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Sec-WebSocket-Protocol: ringcast.v1\r\n"
    "\r\n";

const ringcast::http::Limits kLimits;

void BM_ParseUpgradeRequest(benchmark::State& state) {
  RequestParser parser(&kLimits);
  Request req;
  for (auto _ : state) {
    ParseResult r = parser.parse(kChromeUpgrade, &req);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(req);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChromeUpgrade.size()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseUpgradeRequest);

void BM_ParseAndAcceptUpgrade(benchmark::State& state) {
  RequestParser parser(&kLimits);
  Request req;
  ringcast::ws::HandshakeOptions opts;
  opts.subprotocols = {"ringcast.v1"};
  opts.originAllowed = [](std::string_view origin, std::string_view) {
    return origin == "https://app.example.com";
  };
  for (auto _ : state) {
    ParseResult r = parser.parse(kChromeUpgrade, &req);
    ringcast::ws::HandshakeResult h = ringcast::ws::acceptUpgrade(req, opts);
    if (r.status != ParseResult::kComplete || h.status != 101) {
      state.SkipWithError("the benchmark request was refused");
      break;
    }
    benchmark::DoNotOptimize(h.response.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseAndAcceptUpgrade);

void BM_AcceptKey(benchmark::State& state) {
  for (auto _ : state) {
    std::string key = ringcast::ws::acceptKey("dGhlIHNhbXBsZSBub25jZQ==");
    benchmark::DoNotOptimize(key.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AcceptKey);

}  // namespace
