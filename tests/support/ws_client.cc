#include "tests/support/ws_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace ringcast::test {
namespace {

using Clock = std::chrono::steady_clock;

// RFC 6455 section 1.3: the GUID appended to the key before hashing.
constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// A server frame larger than this is reported as bad instead of being buffered; the suite's
// largest message is 16 MiB.
constexpr uint64_t kMaxAcceptedFrameBytes = 64ull << 20;
// recv() granularity; large enough that a 16 MiB echo takes a few hundred calls.
constexpr size_t kRecvChunkBytes = 256 << 10;
// An HTTP response head larger than this is treated as garbage.
constexpr size_t kMaxResponseHeadBytes = 64 << 10;

int msUntil(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, 1 << 30));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

std::string opcodeName(uint8_t opcode) {
  switch (opcode) {
    case op::kContinuation:
      return "continuation";
    case op::kText:
      return "text";
    case op::kBinary:
      return "binary";
    case op::kClose:
      return "close";
    case op::kPing:
      return "ping";
    case op::kPong:
      return "pong";
    default:
      return "opcode " + std::to_string(opcode);
  }
}

std::string base64(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace

std::optional<uint16_t> Frame::closeCode() const {
  if (payload.size() < 2) return std::nullopt;
  return static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) |
                               static_cast<uint8_t>(payload[1]));
}

std::string ReadResult::describe() const {
  switch (status) {
    case ReadStatus::kEof:
      return "TCP EOF";
    case ReadStatus::kReset:
      return "TCP reset";
    case ReadStatus::kTimeout:
      return "timeout (nothing arrived)";
    case ReadStatus::kBadFrame:
      return "bad frame: " + error;
    case ReadStatus::kFrame:
      break;
  }
  std::string s = opcodeName(frame.opcode);
  if (frame.isClose()) {
    auto code = frame.closeCode();
    s += code ? " " + std::to_string(*code) + " \"" + frame.closeReason() + "\""
              : " (" + std::to_string(frame.payload.size()) + "-byte payload)";
  } else {
    s += " " + std::to_string(frame.payload.size()) + " bytes";
    if (frame.payload.size() <= 32) s += " \"" + frame.payload + "\"";
  }
  if (!frame.fin) s += " (FIN=0)";
  if (frame.rsv != 0) s += " (RSV=" + std::to_string(frame.rsv) + ")";
  return s;
}

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  std::string want = lower(name);
  for (const auto& [k, v] : headers) {
    if (lower(k) == want) return v;
  }
  return std::nullopt;
}

std::string encodeFrameHeader(uint8_t opcode, uint64_t payloadLength, bool fin, uint8_t rsv,
                              uint32_t maskKey) {
  std::string h;
  h.push_back(static_cast<char>((fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0F)));
  if (payloadLength < 126) {
    h.push_back(static_cast<char>(0x80 | payloadLength));
  } else if (payloadLength <= 0xFFFF) {
    h.push_back(static_cast<char>(0x80 | 126));
    h.push_back(static_cast<char>(payloadLength >> 8));
    h.push_back(static_cast<char>(payloadLength));
  } else {
    h.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      h.push_back(static_cast<char>(payloadLength >> shift));
  }
  for (int shift = 24; shift >= 0; shift -= 8) h.push_back(static_cast<char>(maskKey >> shift));
  return h;
}

std::string encodeFrame(uint8_t opcode, std::string_view payload, bool fin, uint8_t rsv, bool mask,
                        uint32_t maskKey) {
  std::string f = encodeFrameHeader(opcode, payload.size(), fin, rsv, maskKey);
  if (!mask) {
    f[1] = static_cast<char>(f[1] & 0x7F);
    f.resize(f.size() - 4);
  }
  size_t start = f.size();
  f.append(payload);
  if (mask) {
    const uint8_t key[4] = {static_cast<uint8_t>(maskKey >> 24),
                            static_cast<uint8_t>(maskKey >> 16), static_cast<uint8_t>(maskKey >> 8),
                            static_cast<uint8_t>(maskKey)};
    char* p = f.data() + start;
    for (size_t i = 0; i < payload.size(); ++i) p[i] = static_cast<char>(p[i] ^ key[i & 3]);
  }
  return f;
}

std::string closePayload(uint16_t code, std::string_view reason) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason);
  return p;
}

std::string acceptKeyFor(std::string_view key) {
  std::string input(key);
  input.append(kAcceptGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return base64(digest, sizeof digest);
}

bool isValidUtf8(std::string_view bytes) {
  size_t i = 0;
  const size_t n = bytes.size();
  while (i < n) {
    auto b = static_cast<uint8_t>(bytes[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    uint32_t min;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2, cp = b & 0x1F, min = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3, cp = b & 0x0F, min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4, cp = b & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      auto c = static_cast<uint8_t>(bytes[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::string buildRequest(std::string_view method, std::string_view path,
                         const HeaderList& headers) {
  std::string r;
  r.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
  for (const auto& [k, v] : headers) r.append(k).append(": ").append(v).append("\r\n");
  r.append("\r\n");
  return r;
}

::testing::AssertionResult samePayload(std::string_view expected, std::string_view actual) {
  if (expected == actual) return ::testing::AssertionSuccess();
  size_t common = std::min(expected.size(), actual.size());
  size_t at = 0;
  while (at < common && expected[at] == actual[at]) ++at;
  auto result = ::testing::AssertionFailure() << "payload differs: expected " << expected.size()
                                              << " bytes, got " << actual.size() << " bytes";
  if (at < common) {
    result << "; first difference at offset " << at << " (expected 0x" << std::hex
           << (static_cast<unsigned>(static_cast<uint8_t>(expected[at]))) << ", got 0x"
           << (static_cast<unsigned>(static_cast<uint8_t>(actual[at]))) << std::dec << ")";
  }
  return result;
}

WsClient::WsClient() : rng_(std::random_device{}()) {}

WsClient::~WsClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool WsClient::connect(uint16_t port, Millis timeout) {
  port_ = port;
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error_ = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
  if (errno != EINPROGRESS) {
    error_ = std::string("connect: ") + std::strerror(errno);
    return false;
  }
  pollfd p{fd_, POLLOUT, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r <= 0) {
    error_ = "connect: timed out";
    return false;
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    error_ = std::string("connect: ") + std::strerror(err);
    return false;
  }
  return true;
}

HeaderList WsClient::defaultUpgradeHeaders() {
  unsigned char nonce[16];
  for (auto& b : nonce) b = static_cast<unsigned char>(rng_());
  key_ = base64(nonce, sizeof nonce);
  return {{"Host", "127.0.0.1:" + std::to_string(port_)},
          {"Upgrade", "websocket"},
          {"Connection", "Upgrade"},
          {"Sec-WebSocket-Key", key_},
          {"Sec-WebSocket-Version", "13"}};
}

HttpResponse WsClient::handshake(std::string_view path, const HeaderList& extraHeaders) {
  HeaderList headers = defaultUpgradeHeaders();
  for (const auto& [name, value] : extraHeaders) {
    auto same = std::find_if(headers.begin(), headers.end(),
                             [&](const auto& h) { return lower(h.first) == lower(name); });
    if (same != headers.end()) {
      same->second = value;
    } else {
      headers.emplace_back(name, value);
    }
  }
  return request(buildRequest("GET", path, headers));
}

HttpResponse WsClient::request(std::string_view rawRequest, Millis timeout) {
  if (!sendRaw(rawRequest, 0, Millis{0}, timeout)) {
    HttpResponse r;
    r.error = "sending the request failed: " + error_;
    return r;
  }
  return readHttpResponse(timeout);
}

HttpResponse WsClient::readHttpResponse(Millis timeout) {
  HttpResponse r;
  const auto deadline = Clock::now() + timeout;
  size_t end;
  while ((end = inbuf_.find("\r\n\r\n", inpos_)) == std::string::npos) {
    if (inbuf_.size() - inpos_ > kMaxResponseHeadBytes) {
      r.error = "response head larger than 64 KiB";
      return r;
    }
    Fill f = fill(deadline);
    if (f == Fill::kData) continue;
    r.closedEarly = f != Fill::kTimeout;
    r.error = r.closedEarly ? "connection closed before a complete response"
                            : "timed out waiting for the response";
    if (inbuf_.size() > inpos_) r.error += " (partial: \"" + inbuf_.substr(inpos_, 200) + "\")";
    return r;
  }
  std::string head = inbuf_.substr(inpos_, end - inpos_);
  inpos_ = end + 4;
  size_t lineEnd = head.find("\r\n");
  std::string statusLine = head.substr(0, lineEnd);
  // "HTTP/1.1 101 Switching Protocols"
  if (statusLine.rfind("HTTP/1.1 ", 0) != 0 || statusLine.size() < 12) {
    r.error = "bad status line: \"" + statusLine + "\"";
    return r;
  }
  r.status = std::atoi(statusLine.substr(9, 3).c_str());
  r.reason = statusLine.size() > 13 ? statusLine.substr(13) : "";
  size_t pos = lineEnd == std::string::npos ? head.size() : lineEnd + 2;
  while (pos < head.size()) {
    size_t next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    std::string line = head.substr(pos, next - pos);
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      r.error = "header line without a colon: \"" + line + "\"";
      return r;
    }
    r.headers.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
    pos = next + 2;
  }
  r.complete = true;
  if (auto length = r.header("Content-Length"); length && r.status != 101) {
    size_t want = static_cast<size_t>(std::strtoull(length->c_str(), nullptr, 10));
    while (inbuf_.size() - inpos_ < want && fill(deadline) == Fill::kData) {
    }
    size_t take = std::min(want, inbuf_.size() - inpos_);
    r.body = inbuf_.substr(inpos_, take);
    inpos_ += take;
  }
  compact();
  return r;
}

bool WsClient::sendRaw(std::string_view bytes, size_t chunkSize, Millis delayBetweenChunks,
                       Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  size_t step = chunkSize == 0 ? bytes.size() : chunkSize;
  size_t off = 0;
  while (off < bytes.size()) {
    if (off > 0 && delayBetweenChunks.count() > 0) std::this_thread::sleep_for(delayBetweenChunks);
    size_t end = std::min(bytes.size(), off + step);
    while (off < end) {
      ssize_t n = ::send(fd_, bytes.data() + off, end - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN) {
        error_ = std::string("send: ") + std::strerror(errno);
        return false;
      }
      pollfd p{fd_, POLLOUT, 0};
      int r = ::poll(&p, 1, msUntil(deadline));
      if (r == 0) {
        error_ = "send: timed out with " + std::to_string(bytes.size() - off) + " bytes unsent";
        return false;
      }
    }
  }
  return true;
}

uint32_t WsClient::nextMaskKey() {
  return static_cast<uint32_t>(rng_());
}

bool WsClient::sendFrame(uint8_t opcode, std::string_view payload, bool fin, uint8_t rsv, bool mask,
                         size_t chunkSize, Millis delayBetweenChunks) {
  return sendRaw(encodeFrame(opcode, payload, fin, rsv, mask, nextMaskKey()), chunkSize,
                 delayBetweenChunks);
}

WsClient::Fill WsClient::fill(Clock::time_point deadline) {
  compact();
  while (true) {
    size_t old = inbuf_.size();
    inbuf_.resize(old + kRecvChunkBytes);
    ssize_t n = ::recv(fd_, inbuf_.data() + old, kRecvChunkBytes, 0);
    inbuf_.resize(old + (n > 0 ? static_cast<size_t>(n) : 0));
    if (n > 0) return Fill::kData;
    if (n == 0) return Fill::kEof;
    if (errno == EINTR) continue;
    if (errno == ECONNRESET || errno == EPIPE) return Fill::kReset;
    if (errno != EAGAIN) return Fill::kReset;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, msUntil(deadline));
    if (r == 0) return Fill::kTimeout;
  }
}

void WsClient::compact() {
  if (inpos_ == 0) return;
  if (inpos_ == inbuf_.size()) {
    inbuf_.clear();
    inpos_ = 0;
  } else if (inpos_ > (1u << 20) || inpos_ * 2 > inbuf_.size()) {
    inbuf_.erase(0, inpos_);
    inpos_ = 0;
  }
}

ReadResult WsClient::readFrame(Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  ReadResult result;
  while (true) {
    const size_t avail = inbuf_.size() - inpos_;
    const auto* p = reinterpret_cast<const uint8_t*>(inbuf_.data() + inpos_);
    if (avail >= 2) {
      size_t headerBytes = 2;
      uint64_t length = p[1] & 0x7F;
      const bool masked = (p[1] & 0x80) != 0;
      bool minimal = true;
      if (length == 126) {
        headerBytes += 2;
        if (avail >= headerBytes) {
          length = (uint64_t{p[2]} << 8) | p[3];
          minimal = length >= 126;
        }
      } else if (length == 127) {
        headerBytes += 8;
        if (avail >= headerBytes) {
          length = 0;
          for (int i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
          minimal = length > 0xFFFF;
          if (length >> 63) {
            result.status = ReadStatus::kBadFrame;
            result.error = "64-bit length with the most significant bit set";
            return result;
          }
        }
      }
      if (masked) headerBytes += 4;
      if (avail >= headerBytes) {
        if (length > kMaxAcceptedFrameBytes) {
          result.status = ReadStatus::kBadFrame;
          result.error = "frame of " + std::to_string(length) + " bytes";
          return result;
        }
        if (avail >= headerBytes + length) {
          result.status = ReadStatus::kFrame;
          result.frame.fin = (p[0] & 0x80) != 0;
          result.frame.rsv = (p[0] >> 4) & 7;
          result.frame.opcode = p[0] & 0x0F;
          result.frame.payload.assign(inbuf_, inpos_ + headerBytes, length);
          if (masked) {
            const uint8_t* key = p + headerBytes - 4;
            for (size_t i = 0; i < length; ++i) {
              result.frame.payload[i] = static_cast<char>(result.frame.payload[i] ^ key[i & 3]);
            }
            ADD_FAILURE() << "server sent a masked frame (RFC 6455 5.1: a server MUST NOT mask)";
          }
          if (!minimal) {
            ADD_FAILURE() << "server frame of " << length
                          << " bytes uses a longer length encoding than needed (RFC 6455 5.2)";
          }
          inpos_ += headerBytes + length;
          return result;
        }
        if (inbuf_.capacity() < inpos_ + headerBytes + length) {
          compact();
          inbuf_.reserve(inpos_ + headerBytes + length + kRecvChunkBytes);
        }
      }
    }
    switch (fill(deadline)) {
      case Fill::kData:
        break;
      case Fill::kEof:
        result.status = ReadStatus::kEof;
        return result;
      case Fill::kReset:
        result.status = ReadStatus::kReset;
        return result;
      case Fill::kTimeout:
        result.status = ReadStatus::kTimeout;
        return result;
    }
  }
}

::testing::AssertionResult WsClient::expectClose(uint16_t code, Millis timeout) {
  ReadResult r = readFrame(timeout);
  if (!r.ok() || !r.frame.isClose()) {
    return ::testing::AssertionFailure() << "expected close " << code << ", got " << r.describe();
  }
  auto got = r.frame.closeCode();
  if (!got || *got != code) {
    return ::testing::AssertionFailure() << "expected close " << code << ", got " << r.describe();
  }
  if (!r.frame.fin || r.frame.rsv != 0 || r.frame.payload.size() > 125) {
    return ::testing::AssertionFailure()
           << "close frame is not a valid control frame: " << r.describe();
  }
  if (!isValidUtf8(r.frame.closeReason())) {
    return ::testing::AssertionFailure() << "close reason is not valid UTF-8: " << r.describe();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult WsClient::waitEof(Millis timeout) {
  ReadResult r = readFrame(timeout);
  if (r.closedTcp()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected the server to close TCP within "
                                       << timeout.count() << " ms, got " << r.describe();
}

bool WsClient::readable(Millis wait) {
  if (inbuf_.size() > inpos_) return true;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
}

::testing::AssertionResult WsClient::expectSilence(Millis window) {
  ReadResult r = readFrame(window);
  if (r.status == ReadStatus::kTimeout) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected nothing for " << window.count() << " ms, got " << r.describe();
}

}  // namespace ringcast::test
