// libFuzzer target for FrameParser. Input layout:
//   bytes 0-3  slice sizes (each byte + 1), used in turn to cut the stream into slices
//   byte 4     bit i set: the callback of event number i (mod 8) returns false, after which
//              the driver resumes with the unconsumed rest, as a connection would
//   byte 5     bit 0 set: client role (expects unmasked frames), else server role
//              bit 1 set: permessage-deflate negotiated, so frames with RSV1 start compressed
//              messages and their payload goes through the Inflater (bounded by the same
//              64 KiB message limit, which arbitrary data must never get past)
//   bytes 6-   the WebSocket byte stream
// The stream is parsed twice, in slices and in one piece. Both runs must report the same
// calls, and every call must respect the parser's guarantees.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ws/close_code.h"
#include "ws/frame_parser.h"
#include "ws/utf8.h"

namespace {

using ringcast::ws::CloseCode;
using ringcast::ws::FrameLimits;
using ringcast::ws::FrameParser;
using ringcast::ws::Opcode;
using ringcast::ws::Role;

constexpr size_t kHeaderBytes = 6;
constexpr uint64_t kMaxMessageBytes = 64 * 1024;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct CheckingSink {
  std::string log;  // every call, with its payload
  uint8_t stopMask = 0;
  size_t count = 0;
  bool ended = false;  // after a close or an error no call may follow
  bool closed = false;
  bool failed = false;

  bool next(char kind, std::string_view payload) {
    check(!ended);
    log += kind;
    log += std::to_string(payload.size());
    log += ':';
    log.append(payload);
    return !((stopMask >> (count++ % 8)) & 1);
  }
  bool onMessage(Opcode op, std::string_view p) {
    check(op == Opcode::kText || op == Opcode::kBinary);
    check(p.size() <= kMaxMessageBytes);
    if (op == Opcode::kText) check(ringcast::ws::isValidUtf8(p));
    return next(op == Opcode::kText ? 'T' : 'B', p);
  }
  bool onPing(std::string_view p) {
    check(p.size() <= ringcast::ws::kMaxControlPayloadBytes);
    return next('I', p);
  }
  bool onPong(std::string_view p) {
    check(p.size() <= ringcast::ws::kMaxControlPayloadBytes);
    return next('O', p);
  }
  bool onClose(uint16_t code, std::string_view reason) {
    if (code == ringcast::ws::kNoStatus) {
      check(reason.empty());
    } else {
      check(ringcast::ws::isValidReceivedCloseCode(code));
      check(ringcast::ws::isValidUtf8(reason));
      check(reason.size() <= ringcast::ws::kMaxControlPayloadBytes - 2);
    }
    const bool more = next('C', std::to_string(code) + ":" + std::string(reason));
    ended = closed = true;
    return more;
  }
  void onError(CloseCode code, std::string_view reason) {
    check(code == ringcast::ws::kProtocolError || code == ringcast::ws::kInvalidPayload ||
          code == ringcast::ws::kMessageTooBig);
    check(!reason.empty());
    next('E', std::to_string(code));
    ended = failed = true;
  }
};

// Parses `stream` in slices (`sizes` used in turn; empty: one piece) and returns the log.
std::string run(const uint8_t* stream, size_t size, const std::vector<size_t>& sizes,
                uint8_t stopMask, Role role, bool deflate) {
  std::vector<uint8_t> buf(stream, stream + size);  // consume() unmasks in place
  FrameLimits limits{kMaxMessageBytes};
  FrameParser parser(role, &limits);
  if (deflate) parser.enablePerMessageDeflate();
  CheckingSink sink;
  sink.stopMask = stopMask;
  size_t pos = 0;
  for (size_t slice = 0; pos < size; ++slice) {
    const size_t end = sizes.empty() ? size : std::min(size, pos + sizes[slice % sizes.size()]);
    while (pos < end && !parser.failed() && !parser.closed()) {
      const size_t n = parser.consume(buf.data() + pos, end - pos, sink);
      check(n <= end - pos);
      // Stopping early happens only for a callback's false, a close or an error.
      check(n == end - pos || n > 0 || parser.failed());
      pos += n;
    }
    if (parser.failed() || parser.closed()) {
      uint8_t probe = 0x81;
      check(parser.consume(&probe, 1, sink) == 0);
      check(parser.heapBytes() == 0);
      break;
    }
  }
  check(parser.failed() == sink.failed);
  check(parser.closed() == sink.closed);
  if (parser.idle()) check(parser.heapBytes() == 0);
  return sink.log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeaderBytes) return 0;
  const std::vector<size_t> sizes = {size_t{data[0]} + 1, size_t{data[1]} + 1, size_t{data[2]} + 1,
                                     size_t{data[3]} + 1};
  const uint8_t stopMask = data[4];
  const Role role = (data[5] & 1) ? Role::kClient : Role::kServer;
  const bool deflate = data[5] & 2;
  const uint8_t* stream = data + kHeaderBytes;
  const size_t n = size - kHeaderBytes;
  const std::string sliced = run(stream, n, sizes, stopMask, role, deflate);
  const std::string whole = run(stream, n, {}, stopMask, role, deflate);
  check(sliced == whole);
  return 0;
}
