#include "ws/frame_writer.h"

#include <cassert>
#include <cstring>
#include <ctime>
#include <string>

#include "ws/close_code.h"
#include "ws/deflate.h"
#include "ws/deflate_counters.h"
#include "ws/mask.h"

namespace ringcast::ws {

size_t encodeFrameHeader(uint8_t* out, Opcode op, bool fin, uint64_t payloadLen,
                         const uint8_t* maskKey) {
  out[0] = static_cast<uint8_t>((fin ? 0x80 : 0) | static_cast<uint8_t>(op));
  const uint8_t maskBit = maskKey != nullptr ? 0x80 : 0;
  size_t n = 2;
  if (payloadLen < 126) {
    out[1] = static_cast<uint8_t>(maskBit | payloadLen);
  } else if (payloadLen <= 0xFFFF) {
    out[1] = maskBit | 126;
    out[2] = static_cast<uint8_t>(payloadLen >> 8);
    out[3] = static_cast<uint8_t>(payloadLen);
    n = 4;
  } else {
    out[1] = maskBit | 127;
    for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(payloadLen >> (56 - 8 * i));
    n = 10;
  }
  if (maskKey != nullptr) {
    std::memcpy(out + n, maskKey, 4);
    n += 4;
  }
  return n;
}

FrameRef buildFrame(Opcode op, std::string_view payload) {
  const size_t headerBytes = frameHeaderSize(payload.size(), false);
  assert(payload.size() <= UINT32_MAX - kMaxFrameHeaderBytes);
  SharedFrame* f = SharedFrame::create(static_cast<uint32_t>(headerBytes + payload.size()));
  uint8_t* out = f->mutableData();
  encodeFrameHeader(out, op, true, payload.size(), nullptr);
  if (!payload.empty()) std::memcpy(out + headerBytes, payload.data(), payload.size());
  return FrameRef(f);
}

FrameRef buildFrame(Opcode op, std::initializer_list<std::string_view> payloadParts) {
  size_t payloadBytes = 0;
  for (std::string_view part : payloadParts) payloadBytes += part.size();
  const size_t headerBytes = frameHeaderSize(payloadBytes, false);
  assert(payloadBytes <= UINT32_MAX - kMaxFrameHeaderBytes);
  SharedFrame* f = SharedFrame::create(static_cast<uint32_t>(headerBytes + payloadBytes));
  uint8_t* out = f->mutableData();
  encodeFrameHeader(out, op, true, payloadBytes, nullptr);
  out += headerBytes;
  for (std::string_view part : payloadParts) {
    if (part.empty()) continue;
    std::memcpy(out, part.data(), part.size());
    out += part.size();
  }
  return FrameRef(f);
}

FrameRef buildDeflatedFrame(Opcode op, std::string_view payload, int level) {
  // The header goes in front of the deflated bytes once their length is known: deflate
  // after the largest header, then encode the header right before the output.
  std::string buf(kMaxFrameHeaderBytes, '\0');
  deflateMessage(payload, level, &buf);
  const size_t compressedBytes = buf.size() - kMaxFrameHeaderBytes;
  const size_t headerBytes = frameHeaderSize(compressedBytes, false);
  uint8_t* header = reinterpret_cast<uint8_t*>(buf.data()) + kMaxFrameHeaderBytes - headerBytes;
  encodeFrameHeader(header, op, true, compressedBytes, nullptr);
  header[0] |= 0x40;  // RSV1: compressed (RFC 7692 6)
  return FrameRef(SharedFrame::copyOf(
      std::string_view(reinterpret_cast<const char*>(header), headerBytes + compressedBytes)));
}

namespace {

uint64_t threadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

}  // namespace

SharedFrame* deflatedTwin(SharedFrame* plain, uint64_t minPayloadBytes, int level,
                          const DeflateParams& peer) {
  const uint8_t* p = plain->data();
  if (plain->size() < 2 || (p[0] & 0xF0) != 0x80 || (p[1] & 0x80) != 0) return nullptr;
  const auto op = static_cast<Opcode>(p[0] & 0x0F);
  if (op != Opcode::kText && op != Opcode::kBinary) return nullptr;
  const uint8_t len7 = p[1] & 0x7F;
  const size_t headerBytes = len7 < 126 ? 2 : len7 == 126 ? 4 : 10;
  const uint64_t payloadBytes = plain->size() - headerBytes;
  if (payloadBytes < minPayloadBytes || !windowAllows(peer, payloadBytes)) return nullptr;
  if (SharedFrame* twin = plain->twin()) return twin;
  if (!plain->claimTwin()) return nullptr;  // built (or refused) by someone else
  const uint64_t startNs = threadCpuNs();
  FrameRef twin = buildDeflatedFrame(op, plain->view().substr(headerBytes), level);
  DeflateCounters& counters = deflateCounters();
  counters.compressNs += threadCpuNs() - startNs;
  ++counters.framesCompressed;
  if (twin->size() >= plain->size()) {
    plain->publishTwin(nullptr);  // incompressible: everyone sends the plain frame
    return nullptr;
  }
  SharedFrame* t = twin.detach();
  plain->publishTwin(t);
  return t;
}

FrameRef buildCloseFrame(uint16_t code, std::string_view reason) {
  if (code == kNoStatus) return buildFrame(Opcode::kClose, {});
  constexpr size_t kMaxReasonBytes = kMaxControlPayloadBytes - 2;
  if (reason.size() > kMaxReasonBytes) {
    size_t cut = kMaxReasonBytes;
    // Back up over continuation bytes to the start of the character that does not fit.
    while (cut > 0 && (static_cast<uint8_t>(reason[cut]) & 0xC0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  char payload[kMaxControlPayloadBytes];
  payload[0] = static_cast<char>(code >> 8);
  payload[1] = static_cast<char>(code & 0xFF);
  if (!reason.empty()) std::memcpy(payload + 2, reason.data(), reason.size());
  return buildFrame(Opcode::kClose, std::string_view(payload, 2 + reason.size()));
}

void appendClientFrame(std::string& out, Opcode op, bool fin, std::string_view payload,
                       uint32_t maskKey, uint8_t rsv) {
  const uint8_t key[4] = {static_cast<uint8_t>(maskKey >> 24), static_cast<uint8_t>(maskKey >> 16),
                          static_cast<uint8_t>(maskKey >> 8), static_cast<uint8_t>(maskKey)};
  uint8_t header[kMaxFrameHeaderBytes];
  const size_t headerBytes = encodeFrameHeader(header, op, fin, payload.size(), key);
  header[0] = static_cast<uint8_t>(header[0] | (rsv & 0x7) << 4);
  const size_t start = out.size();
  out.append(reinterpret_cast<const char*>(header), headerBytes);
  out.append(payload);
  applyMask(reinterpret_cast<uint8_t*>(out.data() + start + headerBytes), payload.size(), key, 0);
}

}  // namespace ringcast::ws
