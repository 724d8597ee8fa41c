// WsClient: a small blocking WebSocket client for black-box tests of the server binary.
// It is written from RFC 6455 alone and shares no code with ws/, so a bug there cannot hide
// itself by being mirrored here. It can send anything, including frames a real client must
// never send (reserved opcodes, RSV bits, bad lengths, byte-wise chops), and it checks every
// frame the server sends against the rules for server frames (unmasked, minimal length).
//
// Thread safety: one thread drives a client, except that one extra thread may call the send
// functions while the owning thread reads (full-duplex pipelining in tests).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace ringcast::test {

using Millis = std::chrono::milliseconds;
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Opcodes from RFC 6455 section 5.2; plain bytes so tests can also send reserved values.
namespace op {
inline constexpr uint8_t kContinuation = 0x0;
inline constexpr uint8_t kText = 0x1;
inline constexpr uint8_t kBinary = 0x2;
inline constexpr uint8_t kClose = 0x8;
inline constexpr uint8_t kPing = 0x9;
inline constexpr uint8_t kPong = 0xA;
}  // namespace op

// Close codes the suite asserts (RFC 6455 section 7.4.1).
namespace close_code {
inline constexpr uint16_t kNormal = 1000;
inline constexpr uint16_t kGoingAway = 1001;
inline constexpr uint16_t kProtocolError = 1002;
inline constexpr uint16_t kInvalidPayload = 1007;
inline constexpr uint16_t kMessageTooBig = 1009;
}  // namespace close_code

struct Frame {
  uint8_t opcode = 0;
  bool fin = true;
  uint8_t rsv = 0;  // RSV1..RSV3 as bits 2..0
  std::string payload;

  bool isClose() const { return opcode == op::kClose; }
  // The status code of a close frame, or nullopt when its payload is shorter than 2 bytes.
  std::optional<uint16_t> closeCode() const;
  std::string closeReason() const { return payload.size() > 2 ? payload.substr(2) : ""; }
};

enum class ReadStatus {
  kFrame,     // a complete frame is in ReadResult::frame
  kEof,       // the server closed TCP cleanly (FIN)
  kReset,     // the server reset the connection (RST)
  kTimeout,   // nothing complete arrived before the deadline
  kBadFrame,  // the server sent bytes that are not a valid server frame; see error
};

struct ReadResult {
  ReadStatus status = ReadStatus::kTimeout;
  Frame frame;
  std::string error;  // set for kBadFrame

  bool ok() const { return status == ReadStatus::kFrame; }
  bool closedTcp() const { return status == ReadStatus::kEof || status == ReadStatus::kReset; }
  // One line for failure messages: "close 1002 \"reason\"", "text 125 bytes", "EOF", ...
  std::string describe() const;
};

struct HttpResponse {
  bool complete = false;  // a full status line and header block arrived
  int status = 0;
  std::string reason;
  HeaderList headers;
  std::string body;          // read only when Content-Length says so
  bool closedEarly = false;  // the server closed TCP before a complete response head
  std::string error;

  // First header with this name (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

// Whole-frame encoding (RFC 6455 section 5.2) with a given 4-byte mask key, or unmasked when
// mask is false. rsv holds RSV1..RSV3 in bits 2..0 and opcode may be any 4-bit value.
std::string encodeFrame(uint8_t opcode, std::string_view payload, bool fin, uint8_t rsv, bool mask,
                        uint32_t maskKey);
// A frame header alone: the first bytes of a frame of `payloadLength` bytes (masked).
std::string encodeFrameHeader(uint8_t opcode, uint64_t payloadLength, bool fin, uint8_t rsv,
                              uint32_t maskKey);
// Close payload: a 2-byte code in network order followed by reason.
std::string closePayload(uint16_t code, std::string_view reason = {});
// Sec-WebSocket-Accept for a key: base64(SHA-1(key + RFC GUID)), computed with OpenSSL.
std::string acceptKeyFor(std::string_view key);
// Strict UTF-8 check (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF).
bool isValidUtf8(std::string_view bytes);
// Builds an HTTP/1.1 request: request line plus the headers in order plus the blank line.
std::string buildRequest(std::string_view method, std::string_view path, const HeaderList& headers);
// A gtest-friendly comparison that reports sizes and the first differing offset instead of
// printing megabytes of payload.
::testing::AssertionResult samePayload(std::string_view expected, std::string_view actual);

class WsClient {
 public:
  static constexpr Millis kIoTimeout{5000};     // for things that must happen promptly
  static constexpr Millis kBulkTimeout{60000};  // for multi-megabyte transfers under ASan

  WsClient();
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Connects to 127.0.0.1:port with TCP_NODELAY, so each write leaves as its own segment.
  bool connect(uint16_t port, Millis timeout = kIoTimeout);
  // The request headers handshake() sends: Host, Upgrade, Connection, a fresh random key
  // (remembered as key()) and version 13.
  HeaderList defaultUpgradeHeaders();
  // Sends a GET upgrade request for path with the default headers; an extra header replaces
  // a default one of the same name (case-insensitive) or is appended. Bytes that follow the
  // response stay buffered for readFrame().
  HttpResponse handshake(std::string_view path = "/echo", const HeaderList& extraHeaders = {});
  // Sends raw request bytes and reads one HTTP response.
  HttpResponse request(std::string_view rawRequest, Millis timeout = kIoTimeout);
  HttpResponse readHttpResponse(Millis timeout = kIoTimeout);

  // Writes all bytes, in pieces of chunkSize bytes (0 = one write) with a pause between
  // pieces. Returns false if the peer closed or reset, or on timeout; the reason is error().
  bool sendRaw(std::string_view bytes, size_t chunkSize = 0, Millis delayBetweenChunks = Millis{0},
               Millis timeout = kBulkTimeout);
  // Encodes one frame with a fresh random mask key (when mask) and sends it like sendRaw.
  bool sendFrame(uint8_t opcode, std::string_view payload, bool fin = true, uint8_t rsv = 0,
                 bool mask = true, size_t chunkSize = 0, Millis delayBetweenChunks = Millis{0});
  bool sendText(std::string_view text) { return sendFrame(op::kText, text); }
  bool sendBinary(std::string_view data) { return sendFrame(op::kBinary, data); }
  bool sendClose(uint16_t code, std::string_view reason = {}) {
    return sendFrame(op::kClose, closePayload(code, reason));
  }
  // A fresh random mask key, for callers that encode frames themselves.
  uint32_t nextMaskKey();

  // Reads the next frame. A masked or non-minimally encoded server frame is a test failure
  // (RFC 6455 sections 5.1 and 5.2) and is still returned, unmasked.
  ReadResult readFrame(Millis timeout = kIoTimeout);
  // Passes when the next frame is a close frame carrying `code` with a valid UTF-8 reason of at
  // most 123 bytes (RFC 6455 section 5.5.1).
  ::testing::AssertionResult expectClose(uint16_t code, Millis timeout = kIoTimeout);
  // Passes when the server closes TCP (FIN or RST) before timeout with no frame first.
  ::testing::AssertionResult waitEof(Millis timeout = Millis{2000});
  // True when a received byte is buffered or the socket becomes readable (data, EOF or
  // error) within `wait`.
  bool readable(Millis wait = Millis{0});
  // Passes when nothing at all arrives within `window` (no frame, no close, no EOF).
  ::testing::AssertionResult expectSilence(Millis window);

  const std::string& key() const { return key_; }
  const std::string& error() const { return error_; }
  int fd() const { return fd_; }

 private:
  enum class Fill { kData, kEof, kReset, kTimeout };
  // Receives more bytes into inbuf_ before deadline.
  Fill fill(std::chrono::steady_clock::time_point deadline);
  void compact();

  int fd_ = -1;
  uint16_t port_ = 0;
  std::string key_;    // Sec-WebSocket-Key of the last defaultUpgradeHeaders()
  std::string inbuf_;  // received bytes not yet consumed
  size_t inpos_ = 0;   // first unconsumed byte in inbuf_
  std::string error_;  // last send/connect failure
  std::mt19937 rng_;   // mask keys and handshake keys
};

}  // namespace ringcast::test
