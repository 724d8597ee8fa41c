// Frame encoding (RFC 6455 section 5.2): headers, whole server frames built once into a
// SharedFrame for every subscriber, close frames, and masked client frames for the bench
// client and tests. Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/shared_frame.h"
#include "ws/frame_parser.h"
#include "ws/permessage_deflate.h"

namespace ringcast::ws {

// 2 fixed bytes + 8 bytes of 64-bit length + 4 bytes of mask key.
constexpr size_t kMaxFrameHeaderBytes = 14;

// The header size for a payload of `payloadLen` bytes, with the minimal length encoding.
constexpr size_t frameHeaderSize(uint64_t payloadLen, bool masked) {
  const size_t lengthBytes = payloadLen < 126 ? 0 : payloadLen <= 0xFFFF ? 2 : 8;
  return 2 + lengthBytes + (masked ? 4 : 0);
}

// Writes a frame header to `out` (room for kMaxFrameHeaderBytes) and returns its size.
// `maskKey` is the 4-byte key of a masked frame, or nullptr for an unmasked one; the
// payload itself is not touched.
size_t encodeFrameHeader(uint8_t* out, Opcode op, bool fin, uint64_t payloadLen,
                         const uint8_t* maskKey);

// One unmasked (server) frame with FIN set, header and payload in a single allocation.
// REQUIRES: payload.size() + kMaxFrameHeaderBytes fits in uint32_t.
FrameRef buildFrame(Opcode op, std::string_view payload);
// The same frame with the payload given in pieces, concatenated in order straight into the
// frame (no intermediate string). REQUIRES: the pieces' total fits like buildFrame's payload.
FrameRef buildFrame(Opcode op, std::initializer_list<std::string_view> payloadParts);

// A compressed message (RFC 7692 7.2.1): FIN and RSV1 set, `payload` deflated without
// context. The frame every connection that negotiated permessage-deflate can be sent.
FrameRef buildDeflatedFrame(Opcode op, std::string_view payload, int level);

// The compressed twin of `plain` (a whole unmasked text or binary frame, as buildFrame
// makes), built at most once per frame by whoever first asks (SharedFrame::claimTwin) and
// borrowed for as long as `plain` lives. nullptr when the plain frame is to be sent: the
// payload is shorter than minPayloadBytes, longer than the peer's window allows
// (windowAllows), compression would not shrink it, or another thread is building it now
// (it never waits; the fan-out therefore builds the twin before a message enters the ring,
// push/fanout.h). Safe from any thread; counts in this thread's deflateCounters().
SharedFrame* deflatedTwin(SharedFrame* plain, uint64_t minPayloadBytes, int level,
                          const DeflateParams& peer);

// A close frame carrying `code` and `reason`, the reason cut on a character boundary so the
// payload fits the 125-byte control limit. kNoStatus gives an empty close payload.
// REQUIRES: `reason` is valid UTF-8 and `code` is kNoStatus or valid to send.
FrameRef buildCloseFrame(uint16_t code, std::string_view reason);

// Appends one masked (client) frame to `out`. The key bytes on the wire are `maskKey` in
// big-endian order; `rsv` (0-7) sets RSV1-RSV3, so tests can send frames a server rejects.
void appendClientFrame(std::string& out, Opcode op, bool fin, std::string_view payload,
                       uint32_t maskKey, uint8_t rsv = 0);

}  // namespace ringcast::ws
