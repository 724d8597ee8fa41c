// Differential fuzz target for push::parseTcpCommand. The input is a stream of pipelined
// commands, fed the way a connection handler would feed it (the loop described in
// push/api_tcp_parser.h, skip included): whole, in chunks whose sizes come from the input,
// and one byte at a time. Every way must give the same sequence of events. Every result must
// keep the parser's promises: views inside the buffer, consumed within it, names valid.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "push/api_tcp_parser.h"
#include "push/client_protocol.h"

namespace {

using ringcast::push::TcpCommand;
using ringcast::push::TcpParse;

// Small enough that the fuzzer reaches "payload too large" and its skip often.
constexpr size_t kMaxPayloadBytes = 48;
constexpr size_t kMaxEvents = 64;         // per input, to bound the work of one run
constexpr size_t kMaxByteAtATime = 4096;  // inputs fed byte by byte, ~O(n) calls each

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// An empty view may point anywhere (PING's are null).
bool within(std::string_view view, std::string_view buf) {
  if (view.empty()) return true;
  return view.data() >= buf.data() && view.data() + view.size() <= buf.data() + buf.size();
}

// Checks the promises of one call and describes its outcome.
std::string record(const TcpParse& r, const TcpCommand& c, std::string_view buf) {
  check(r.consumed <= buf.size());
  switch (r.status) {
    case TcpParse::kIncomplete:
      check(r.consumed == 0 && r.skip == 0);
      return {};
    case TcpParse::kError:
      check(!r.error.empty());
      if (!r.inSync) check(r.consumed == 0 && r.skip == 0);
      if (r.inSync) check(r.consumed > 0);
      if (r.skip > 0) check(r.inSync && r.error == "payload too large");
      return "ERR " + std::string(r.error) + (r.inSync ? "" : " (close)");
    case TcpParse::kComplete:
      break;
  }
  check(r.consumed > 0);
  check(within(c.target, buf.substr(0, r.consumed)));
  check(within(c.payload, buf.substr(0, r.consumed)));
  check(c.payload.size() <= kMaxPayloadBytes);
  check(buf.substr(r.consumed - 2, 2) == "\r\n");
  std::string s = std::to_string(c.kind);
  switch (c.kind) {
    case TcpCommand::kPub:
      check(ringcast::push::isValidChannelName(c.target));
      break;
    case TcpCommand::kSend:
      check(ringcast::push::isValidUserName(c.target));
      break;
    case TcpCommand::kBcast:
    case TcpCommand::kPing:
      check(c.target.empty());
      break;
    case TcpCommand::kAuth:
      // One word of the line: no space, no CRLF (a lone CR or LF is a byte like any other).
      check(!c.target.empty() && c.target.find(' ') == std::string_view::npos &&
            c.target.find("\r\n") == std::string_view::npos);
      break;
  }
  const bool lineOnly = c.kind == TcpCommand::kPing || c.kind == TcpCommand::kAuth;
  if (lineOnly) check(c.payload.empty());
  if (!lineOnly) {
    check(c.payload.data() + c.payload.size() + 2 == buf.data() + r.consumed);
  }
  return s + " " + std::string(c.target) + " " + std::string(c.payload);
}

// Feeds `data` in chunks of `chunk(fed, step)` bytes to the handler loop; returns its events.
template <typename ChunkFn>
std::vector<std::string> run(std::string_view data, ChunkFn chunk) {
  std::vector<std::string> events;
  std::string pending;
  size_t skip = 0;
  size_t fed = 0;
  for (size_t step = 0; fed < data.size(); ++step) {
    const size_t n = std::min(chunk(fed, step), data.size() - fed);
    std::string_view bytes = data.substr(fed, n);
    fed += n;
    const size_t dropped = std::min(skip, bytes.size());
    skip -= dropped;
    pending.append(bytes.substr(dropped));
    while (skip == 0) {
      TcpCommand c;
      const TcpParse r = ringcast::push::parseTcpCommand(pending, kMaxPayloadBytes, &c);
      if (r.status == TcpParse::kIncomplete) break;
      events.push_back(record(r, c, pending));
      if (events.size() == kMaxEvents || (r.status == TcpParse::kError && !r.inSync)) {
        return events;
      }
      pending.erase(0, r.consumed);
      const size_t now = std::min(r.skip, pending.size());
      pending.erase(0, now);
      skip = r.skip - now;
    }
  }
  events.push_back("pending " + std::to_string(pending.size()) + " skip " + std::to_string(skip));
  return events;
}

size_t nextChunk(std::string_view data, size_t fed, size_t step) {
  auto b = static_cast<uint8_t>(data[(fed * 7 + step * 13) % data.size()]);
  return (b & 0x80) ? 1 + (b & 0x7f) * 4 : 1 + (b & 0x0f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (size == 0) return 0;
  const std::vector<std::string> whole = run(input, [&](size_t, size_t) { return size; });
  const std::vector<std::string> chunked =
      run(input, [&](size_t fed, size_t step) { return nextChunk(input, fed, step); });
  check(chunked == whole);
  if (size <= kMaxByteAtATime) {
    check(run(input, [](size_t, size_t) { return size_t{1}; }) == whole);
  }
  return 0;
}
