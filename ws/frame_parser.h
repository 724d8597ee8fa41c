// FrameParser: incremental RFC 6455 frame parser, a pure function of bytes. It takes any
// slice of the stream (every split of the input gives the same sink calls), unmasks payload
// in place, reassembles fragmented messages, validates text as UTF-8 as it arrives and
// enforces every rule of RFC 6455 section 5 with the close code to send back. With
// permessage-deflate negotiated (enablePerMessageDeflate) it also inflates messages whose
// first frame has RSV1 (RFC 7692 6.1), as their frames arrive, against the same bound.
//
// Owned by one connection and used by its loop thread only. An idle parser owns no heap
// memory; it buffers only a message split across frames or slices (bounded by
// FrameLimits::maxMessageBytes) and a control frame split across slices (<= 125 bytes).
// A compressed message is inflated straight into the message buffer: its compressed bytes
// are never buffered, and its Inflater (~40 KiB) exists from its first frame to its end,
// since the server always negotiates client_no_context_takeover (ws/permessage_deflate.h).
//
// Close codes of the extension: RSV1 without the extension, on a control frame or on a
// continuation frame is 1002 (RFC 7692 6.1); invalid deflate data is 1007 (the payload is
// not consistent with the message, RFC 6455 7.4.1); an inflated message past
// maxMessageBytes is 1009, detected after at most 16 KiB of output past the bound.
//
// Sink contract (a template parameter, no virtual calls; views are borrowed and valid only
// during the call; each bool callback returns false to stop consume() at once):
//   bool onMessage(Opcode op /* kText or kBinary */, std::string_view payload);
//   bool onPing(std::string_view payload);
//   bool onPong(std::string_view payload);
//   bool onClose(uint16_t code /* kNoStatus for an empty close */, std::string_view reason);
//   void onError(CloseCode code, std::string_view reason /* short, for logs */);
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "ws/close_code.h"
#include "ws/deflate.h"
#include "ws/mask.h"
#include "ws/utf8.h"

namespace ringcast::ws {

enum class Opcode : uint8_t {
  kContinuation = 0,
  kText = 1,
  kBinary = 2,
  kClose = 8,
  kPing = 9,
  kPong = 10,
};

// A server requires masked frames from its clients; a client requires unmasked frames.
enum class Role : uint8_t { kServer, kClient };

struct FrameLimits {
  uint64_t maxMessageBytes = 1 << 20;  // a whole data message, all fragments together
};

// RFC 6455 5.5: control frames carry at most 125 payload bytes.
constexpr size_t kMaxControlPayloadBytes = 125;

// The compressed bytes of one message may pass maxMessageBytes by this much (1/64 plus a
// little): incompressible data grows by 5 bytes per 16 KiB stored block, so a message that
// inflates to exactly the limit must still be accepted.
constexpr uint64_t compressedMessageLimit(uint64_t maxMessageBytes) {
  return maxMessageBytes + maxMessageBytes / 64 + 1024;
}

class FrameParser {
 public:
  // REQUIRES: `limits` outlives the parser.
  FrameParser(Role role, const FrameLimits* limits);
  FrameParser(const FrameParser&) = delete;
  FrameParser& operator=(const FrameParser&) = delete;

  // Parses data[0, len), the next bytes of the stream, and reports to `sink`. Unmasks the
  // payload in place. Returns the bytes consumed: all of them, unless a callback returned
  // false (then up to the end of the frame it reported; call again with the rest to go
  // on) or a close frame arrived (up to and including it). If the input breaks a rule, the
  // parser fails, calls onError once and returns how far it read. A closed or failed
  // parser consumes nothing.
  template <class Sink>
  size_t consume(uint8_t* data, size_t len, Sink& sink);

  // RSV1 marks a compressed message from now on (after the handshake negotiated it).
  void enablePerMessageDeflate() { deflate_ = true; }

  bool failed() const { return state_ == State::kFailed; }
  bool closed() const { return state_ == State::kClosed; }
  // True when no frame and no fragmented message is partly received.
  bool idle() const {
    return state_ == State::kHeader && headerBytes_ == 0 && messageOp_ == Opcode::kContinuation;
  }
  // Heap memory held right now (reassembly and control buffers), for metrics and tests.
  size_t heapBytes() const;

 private:
  enum class State : uint8_t { kHeader, kPayload, kClosed, kFailed };
  struct ControlBuffer {
    uint8_t size = 0;
    uint8_t bytes[kMaxControlPayloadBytes];
  };

  static bool isControl(Opcode op) { return static_cast<uint8_t>(op) & 0x8; }
  Opcode opcode() const { return static_cast<Opcode>(b0_ & 0x0F); }
  bool fin() const { return b0_ & 0x80; }
  bool masked() const { return b1_ & 0x80; }
  uint64_t shortLength() const { return b1_ & 0x7F; }
  // 2 bytes, then 0, 2 or 8 bytes of extended length, then the mask key if masked.
  size_t headerSize() const {
    const size_t lengthBytes = shortLength() == 126 ? 2 : shortLength() == 127 ? 8 : 0;
    return 2 + lengthBytes + (masked() ? 4 : 0);
  }
  static std::string_view asView(const uint8_t* p, size_t n) {
    return {reinterpret_cast<const char*>(p), n};
  }

  template <class Sink>
  bool readHeader(uint8_t* data, size_t len, size_t& pos, Sink& sink);
  template <class Sink>
  bool checkFirstBytes(uint8_t b0, uint8_t b1, Sink& sink);
  template <class Sink>
  bool startPayload(uint8_t* data, size_t len, size_t& pos, Sink& sink);
  template <class Sink>
  bool readPayload(uint8_t* data, size_t len, size_t& pos, Sink& sink);
  template <class Sink>
  bool endDataFrame(Sink& sink);
  template <class Sink>
  bool deliverMessage(std::string_view payload, Sink& sink);
  template <class Sink>
  bool deliverControl(std::string_view payload, Sink& sink);
  template <class Sink>
  bool deliverClose(std::string_view payload, Sink& sink);
  template <class Sink>
  bool inflateInto(const uint8_t* p, size_t n, Sink& sink);
  template <class Sink>
  bool fail(Sink& sink, CloseCode code, std::string_view reason);
  void releaseBuffers();
  std::string& message() {
    if (!message_) message_ = std::make_unique<std::string>();
    return *message_;
  }

  const FrameLimits* limits_;
  // While reading a header: the extended length so far. Then: payload bytes still to come.
  uint64_t remaining_ = 0;
  std::unique_ptr<ControlBuffer> control_;  // only while a control frame is split
  std::unique_ptr<std::string> message_;    // only while a data message is split or inflated
  std::unique_ptr<Inflater> inflater_;      // only while a compressed message is open
  uint8_t maskKey_[4] = {};
  uint8_t b0_ = 0;           // FIN | RSV1-3 | opcode of the current frame
  uint8_t b1_ = 0;           // MASK | 7-bit length of the current frame
  uint8_t headerBytes_ = 0;  // header bytes received when a header is split
  uint8_t maskPhase_ = 0;    // payload bytes of the current frame seen so far, mod 4
  State state_ = State::kHeader;
  Role role_;
  Opcode messageOp_ = Opcode::kContinuation;  // kText/kBinary while a message is open
  bool deflate_ = false;                      // permessage-deflate negotiated
  bool compressed_ = false;                   // the open message had RSV1
  uint32_t compressedBytes_ = 0;              // of the open compressed message so far
  Utf8Validator utf8_;                        // across the frames of a text message
};

template <class Sink>
size_t FrameParser::consume(uint8_t* data, size_t len, Sink& sink) {
  size_t pos = 0;
  while (pos < len) {
    bool more;
    if (state_ == State::kHeader) {
      more = readHeader(data, len, pos, sink);
    } else if (state_ == State::kPayload) {
      more = readPayload(data, len, pos, sink);
    } else {
      break;  // closed or failed
    }
    if (!more) break;
  }
  return pos;
}

template <class Sink>
bool FrameParser::readHeader(uint8_t* data, size_t len, size_t& pos, Sink& sink) {
  if (headerBytes_ == 0 && len - pos >= 2) {
    // Fast path: the header starts here; if it is all here, decode it in one go.
    const uint8_t* p = data + pos;
    if (!checkFirstBytes(p[0], p[1], sink)) return false;
    b0_ = p[0];
    b1_ = p[1];
    const size_t size = headerSize();
    if (len - pos < size) {
      headerBytes_ = 2;
      remaining_ = shortLength() < 126 ? shortLength() : 0;
      pos += 2;
    } else {
      const uint64_t len7 = shortLength();
      if (len7 < 126) {
        remaining_ = len7;
      } else if (len7 == 126) {
        remaining_ = uint64_t{p[2]} << 8 | p[3];
      } else {
        remaining_ = 0;
        for (size_t i = 2; i < 10; ++i) remaining_ = remaining_ << 8 | p[i];
      }
      if (masked()) std::memcpy(maskKey_, p + size - 4, 4);
      pos += size;
      return startPayload(data, len, pos, sink);
    }
  }
  // Slow path: the header is split across slices; take it a byte at a time.
  while (pos < len) {
    const uint8_t byte = data[pos++];
    const size_t at = headerBytes_++;
    if (at == 0) {
      b0_ = byte;
      continue;
    }
    if (at == 1) {
      if (!checkFirstBytes(b0_, byte, sink)) return false;
      b1_ = byte;
      remaining_ = shortLength() < 126 ? shortLength() : 0;
    } else {
      const size_t lengthEnd = shortLength() == 126 ? 4 : shortLength() == 127 ? 10 : 2;
      if (at < lengthEnd) {
        remaining_ = remaining_ << 8 | byte;
      } else {
        maskKey_[at - lengthEnd] = byte;
      }
    }
    if (headerBytes_ == headerSize()) {
      headerBytes_ = 0;
      return startPayload(data, len, pos, sink);
    }
  }
  return true;
}

// The rules that the first two header bytes decide.
template <class Sink>
bool FrameParser::checkFirstBytes(uint8_t b0, uint8_t b1, Sink& sink) {
  if (b0 & 0x30) return fail(sink, kProtocolError, "reserved bits set");
  const uint8_t op = b0 & 0x0F;
  if (b0 & 0x40) {
    if (!deflate_) return fail(sink, kProtocolError, "RSV1 without permessage-deflate");
    if (op >= 8) return fail(sink, kProtocolError, "RSV1 on a control frame");
    if (op == 0) return fail(sink, kProtocolError, "RSV1 on a continuation frame");
  }
  if ((op > 2 && op < 8) || op > 10) return fail(sink, kProtocolError, "reserved opcode");
  if (bool(b1 & 0x80) != (role_ == Role::kServer)) {
    return fail(sink, kProtocolError,
                role_ == Role::kServer ? "unmasked client frame" : "masked server frame");
  }
  if (isControl(static_cast<Opcode>(op))) {
    if (!(b0 & 0x80)) return fail(sink, kProtocolError, "fragmented control frame");
  } else if (op == 0) {
    if (messageOp_ == Opcode::kContinuation) {
      return fail(sink, kProtocolError, "continuation frame without a message");
    }
  } else if (messageOp_ != Opcode::kContinuation) {
    return fail(sink, kProtocolError, "new message inside a fragmented message");
  }
  return true;
}

// The header is complete and remaining_ holds the payload length.
template <class Sink>
bool FrameParser::startPayload(uint8_t* data, size_t len, size_t& pos, Sink& sink) {
  const Opcode op = opcode();
  if (remaining_ >> 63) return fail(sink, kProtocolError, "invalid frame length");
  if (isControl(op)) {
    if (remaining_ > kMaxControlPayloadBytes) {
      return fail(sink, kProtocolError, "control frame too long");
    }
  } else {
    if (op != Opcode::kContinuation) {
      messageOp_ = op;
      utf8_.reset();
      compressed_ = b0_ & 0x40;
      compressedBytes_ = 0;
    }
    // Checked on the declared length, before any of the payload is buffered.
    if (compressed_) {
      if (remaining_ > compressedMessageLimit(limits_->maxMessageBytes) - compressedBytes_) {
        return fail(sink, kMessageTooBig, "compressed message too big");
      }
      compressedBytes_ += static_cast<uint32_t>(remaining_);
    } else if (remaining_ > limits_->maxMessageBytes - (message_ ? message_->size() : 0)) {
      return fail(sink, kMessageTooBig, "message too big");
    }
  }
  state_ = State::kPayload;
  maskPhase_ = 0;
  const bool whole = isControl(op) || (fin() && op != Opcode::kContinuation);
  if (whole && remaining_ <= len - pos) {
    // Fast path: the whole frame is in the caller's buffer; deliver it from there.
    uint8_t* p = data + pos;
    const size_t n = static_cast<size_t>(remaining_);
    pos += n;
    remaining_ = 0;
    if (masked()) applyMask(p, n, maskKey_, 0);
    if (isControl(op)) return deliverControl(asView(p, n), sink);
    if (compressed_) {
      if (!inflateInto(p, n, sink)) return false;
      return endDataFrame(sink);
    }
    if (op == Opcode::kText) utf8_.feed(p, n);
    return deliverMessage(asView(p, n), sink);
  }
  if (remaining_ == 0) return endDataFrame(sink);  // an empty fragment
  return true;
}

template <class Sink>
bool FrameParser::readPayload(uint8_t* data, size_t len, size_t& pos, Sink& sink) {
  const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, len - pos));
  uint8_t* p = data + pos;
  pos += n;
  remaining_ -= n;
  if (masked()) {
    applyMask(p, n, maskKey_, maskPhase_);
    maskPhase_ = static_cast<uint8_t>((maskPhase_ + n) & 3);
  }
  if (isControl(opcode())) {
    if (!control_) control_ = std::make_unique<ControlBuffer>();
    std::memcpy(control_->bytes + control_->size, p, n);
    control_->size = static_cast<uint8_t>(control_->size + n);
    if (remaining_ > 0) return true;
    return deliverControl(asView(control_->bytes, control_->size), sink);
  }
  if (compressed_) {
    if (!inflateInto(p, n, sink)) return false;
  } else {
    if (messageOp_ == Opcode::kText && !utf8_.feed(p, n)) {
      return fail(sink, kInvalidPayload, "invalid UTF-8 in text message");
    }
    message().append(reinterpret_cast<const char*>(p), n);
  }
  if (remaining_ > 0) return true;
  return endDataFrame(sink);
}

template <class Sink>
bool FrameParser::endDataFrame(Sink& sink) {
  state_ = State::kHeader;
  if (!fin()) return true;
  if (compressed_) {
    if (!inflateInto(nullptr, 0, sink)) return false;  // the message's end: kDeflateTail
    inflater_.reset();  // client_no_context_takeover: the next message starts afresh
    compressed_ = false;
  }
  return deliverMessage(message(), sink);
}

// Inflates p[0, n) of the open compressed message into message_ (p == nullptr: its end),
// validating text as it comes out.
template <class Sink>
bool FrameParser::inflateInto(const uint8_t* p, size_t n, Sink& sink) {
  if (!inflater_) inflater_ = std::make_unique<Inflater>();
  std::string& out = message();
  const size_t before = out.size();
  const size_t maxOut = static_cast<size_t>(limits_->maxMessageBytes);
  const Inflater::Result r =
      p ? inflater_->feed(p, n, &out, maxOut) : inflater_->finish(&out, maxOut);
  // The first fault in message order decides the close code, however the input was cut:
  // invalid text within the first maxOut bytes comes before passing the bound (a cut that
  // fed less at a time would have found it on an earlier call).
  const size_t validated = std::min(out.size(), maxOut);
  if (messageOp_ == Opcode::kText && validated > before &&
      !utf8_.feed(reinterpret_cast<const uint8_t*>(out.data()) + before, validated - before)) {
    return fail(sink, kInvalidPayload, "invalid UTF-8 in text message");
  }
  if (r == Inflater::Result::kTooBig) return fail(sink, kMessageTooBig, "inflated message too big");
  if (r == Inflater::Result::kCorrupt) return fail(sink, kInvalidPayload, "invalid deflate data");
  return true;
}

// A final frame ended: `payload` is the whole message (in message_ or the caller's buffer).
template <class Sink>
bool FrameParser::deliverMessage(std::string_view payload, Sink& sink) {
  if (messageOp_ == Opcode::kText && !utf8_.complete()) {
    return fail(sink, kInvalidPayload, "invalid UTF-8 in text message");
  }
  const Opcode op = messageOp_;
  messageOp_ = Opcode::kContinuation;
  state_ = State::kHeader;
  const bool more = sink.onMessage(op, payload);
  message_.reset();  // an idle parser owns no heap
  return more;
}

template <class Sink>
bool FrameParser::deliverControl(std::string_view payload, Sink& sink) {
  state_ = State::kHeader;
  bool more;
  switch (opcode()) {
    case Opcode::kPing:
      more = sink.onPing(payload);
      break;
    case Opcode::kPong:
      more = sink.onPong(payload);
      break;
    default:
      more = deliverClose(payload, sink);
      break;
  }
  control_.reset();
  return more;
}

template <class Sink>
bool FrameParser::deliverClose(std::string_view payload, Sink& sink) {
  uint16_t code = kNoStatus;
  std::string_view reason;
  if (payload.size() == 1) return fail(sink, kProtocolError, "close frame with 1-byte payload");
  if (payload.size() >= 2) {
    code = static_cast<uint16_t>(uint8_t(payload[0]) << 8 | uint8_t(payload[1]));
    reason = payload.substr(2);
    if (!isValidReceivedCloseCode(code)) return fail(sink, kProtocolError, "invalid close code");
    if (!isValidUtf8(reason)) return fail(sink, kInvalidPayload, "invalid UTF-8 in close reason");
  }
  state_ = State::kClosed;
  sink.onClose(code, reason);
  releaseBuffers();
  return false;  // nothing after a close frame is parsed
}

template <class Sink>
bool FrameParser::fail(Sink& sink, CloseCode code, std::string_view reason) {
  state_ = State::kFailed;
  sink.onError(code, reason);
  releaseBuffers();
  return false;
}

}  // namespace ringcast::ws
