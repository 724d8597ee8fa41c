#include "net/http_parser.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cstring>
#include <limits>

#include "net/url.h"

namespace ringcast::http {

namespace {

constexpr size_t kNpos = std::string_view::npos;

// A chunk-size or trailer line longer than this, or than Limits::maxHeaderBytes, is refused;
// no real client comes close (Go's net/http uses the same 4 KiB).
constexpr size_t kMaxChunkLineBytes = 4096;
// Chunk metadata (size lines, extensions, trailers) may exceed what the data pays for by this
// much. Each chunk pays kChunkCreditBytes plus twice its size, so ordinary small chunks never
// come near it, while megabytes of extensions around single bytes of data are refused (the
// rule of Go's net/http chunked reader).
constexpr uint64_t kMaxChunkExcessBytes = 16 * 1024;
constexpr uint64_t kChunkCreditBytes = 16;
// Content-Length values saturate here while being read; anything this large is over any limit.
constexpr uint64_t kLengthSaturation = uint64_t{1} << 62;

enum CharFlags : uint8_t {
  kTchar = 1,       // token character (RFC 9110 5.6.2)
  kFieldChar = 2,   // field-value character: VCHAR, obs-text, SP, HTAB
  kTargetChar = 4,  // request-target character: visible ASCII
  kHexDigit = 8,
};

constexpr std::array<uint8_t, 256> makeCharTable() {
  std::array<uint8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    uint8_t flags = 0;
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (alnum || (c != 0 && std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                std::string_view::npos)) {
      flags |= kTchar;
    }
    if ((c >= 0x21 && c <= 0x7e) || c >= 0x80 || c == ' ' || c == '\t') flags |= kFieldChar;
    if (c >= 0x21 && c <= 0x7e) flags |= kTargetChar;
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
      flags |= kHexDigit;
    }
    table[c] = flags;
  }
  return table;
}
constexpr std::array<uint8_t, 256> kCharTable = makeCharTable();

inline bool has(char c, CharFlags flag) {
  return (kCharTable[static_cast<uint8_t>(c)] & flag) != 0;
}
inline bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
inline bool isOws(char c) {
  return c == ' ' || c == '\t';
}
inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && isOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isOws(s.back())) s.remove_suffix(1);
  return s;
}

// Checks one field line (RFC 9112 5): token name, colon, optional whitespace, value. On
// success returns an empty reason and the name/value bounds within `line`.
std::string_view fieldLineError(std::string_view line, size_t* nameEnd, size_t* valueBegin,
                                size_t* valueEnd) {
  if (isOws(line[0])) return "obsolete line folding";
  size_t i = 0;
  while (i < line.size() && has(line[i], kTchar)) ++i;
  if (line.find(':', i) == kNpos) return "header field without a colon";
  if (line[i] != ':') {
    return isOws(line[i]) ? "whitespace before colon" : "invalid character in header name";
  }
  if (i == 0) return "empty header name";
  size_t begin = i + 1, end = line.size();
  while (begin < end && isOws(line[begin])) ++begin;
  while (end > begin && isOws(line[end - 1])) --end;
  for (size_t k = begin; k < end; ++k) {
    if (!has(line[k], kFieldChar)) return "invalid character in header value";
  }
  *nameEnd = i;
  *valueBegin = begin;
  *valueEnd = end;
  return {};
}

// scheme ":" with scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 3.1).
bool hasScheme(std::string_view target) {
  auto isAlpha = [](char c) { return lower(c) >= 'a' && lower(c) <= 'z'; };
  size_t i = 0;
  while (i < target.size() && (isAlpha(target[i]) || isDigit(target[i]) || target[i] == '+' ||
                               target[i] == '-' || target[i] == '.')) {
    ++i;
  }
  return i > 0 && i < target.size() && target[i] == ':' && isAlpha(target[0]);
}

// Fills path and query from an origin-form, absolute-form, authority-form or asterisk-form
// target (RFC 9112 3.2).
void splitTarget(std::string_view method, std::string_view target, Request* out) {
  if (method == "CONNECT" && target[0] != '/') {
    out->path = target.substr(target.size());
    out->query = out->path;
    return;
  }
  size_t q = target.find('?');
  std::string_view beforeQuery = target.substr(0, q);
  out->query = q == kNpos ? target.substr(target.size()) : target.substr(q + 1);
  if (target[0] == '/' || target == "*") {
    out->path = beforeQuery;
    return;
  }
  size_t authority = beforeQuery.find("//");
  size_t slash = authority == kNpos ? beforeQuery.find('/', beforeQuery.find(':') + 1)
                                    : beforeQuery.find('/', authority + 2);
  out->path = beforeQuery.substr(slash == kNpos ? beforeQuery.size() : slash);
}

}  // namespace

// ---- Request --------------------------------------------------------------------------------

std::string_view Request::header(std::string_view name) const {
  for (size_t i = 0; i < headerCount; ++i) {
    if (equalsIgnoreCase(headers[i].name, name)) return headers[i].value;
  }
  return {};
}

size_t Request::headerLines(std::string_view name) const {
  size_t n = 0;
  for (size_t i = 0; i < headerCount; ++i) n += equalsIgnoreCase(headers[i].name, name);
  return n;
}

bool Request::headerHasToken(std::string_view name, std::string_view token) const {
  for (size_t i = 0; i < headerCount; ++i) {
    if (!equalsIgnoreCase(headers[i].name, name)) continue;
    std::string_view list = headers[i].value;
    for (std::string_view e = nextListElement(&list); !e.empty(); e = nextListElement(&list)) {
      if (equalsIgnoreCase(e, token)) return true;
    }
  }
  return false;
}

// ---- RequestParser --------------------------------------------------------------------------

RequestParser::RequestParser(const Limits* limits) : limits_(limits) {
  assert(limits != nullptr);
}

void RequestParser::reset() {
  phase_ = Phase::kHeader;
  pos_ = 0;
  scanned_ = 0;
  sawRequestLine_ = false;
  bodyBytes_ = 0;
  framingExcess_ = 0;
  errorStatus_ = 0;
  errorReason_ = {};
  headerCount_ = 0;
}

ParseResult RequestParser::parse(std::string_view buf, Request* out) {
  if (phase_ == Phase::kError) return error();
  if (buf.size() < scanned_ || buf.size() < pos_) {
    assert(!"RequestParser::parse: the buffer shrank between calls");
    return failed(500, "parser misuse: buffer shrank");
  }
  if (phase_ == Phase::kHeader && !scanHeader(buf)) {
    return phase_ == Phase::kError ? error() : ParseResult{};
  }
  if (phase_ == Phase::kFixedBody) {
    if (buf.size() - pos_ < bodyBytes_) return {};
    size_t end = pos_ + bodyBytes_;
    return complete(buf, end, buf.substr(pos_, bodyBytes_), false, out);
  }
  return scanChunked(buf, out);
}

size_t RequestParser::findLineEnd(std::string_view buf) {
  if (scanned_ == buf.size()) return kNpos;
  const void* lf = std::memchr(buf.data() + scanned_, '\n', buf.size() - scanned_);
  if (lf == nullptr) {
    scanned_ = buf.size();
    return kNpos;
  }
  size_t at = static_cast<size_t>(static_cast<const char*>(lf) - buf.data());
  scanned_ = at;
  return at;
}

bool RequestParser::scanHeader(std::string_view buf) {
  // Field positions are kept as 32-bit offsets.
  const size_t maxBytes = std::min<size_t>(limits_->maxHeaderBytes, UINT32_MAX);
  for (;;) {
    size_t lf = findLineEnd(buf);
    if (lf == kNpos) {
      // Everything received so far belongs to the header block, so it is bounded already.
      if (buf.size() > maxBytes) fail(431, "header block too large");
      return false;
    }
    if (lf + 1 > maxBytes) return fail(431, "header block too large");
    if (lf == pos_ || buf[lf - 1] != '\r') return fail(400, "line ends in a bare LF");
    size_t begin = pos_, end = lf - 1;
    pos_ = scanned_ = lf + 1;
    if (!sawRequestLine_) {
      if (begin == end) continue;  // empty line before the request line (RFC 9112 2.2)
      if (!onRequestLine(buf.substr(begin, end - begin), begin)) return false;
      sawRequestLine_ = true;
    } else if (begin == end) {
      return onHeaderEnd(buf);
    } else if (!onFieldLine(buf.substr(begin, end - begin), begin)) {
      return false;
    }
  }
}

bool RequestParser::onRequestLine(std::string_view line, size_t offset) {
  // method SP request-target SP HTTP-version, single spaces (RFC 9112 3).
  size_t sp1 = 0;
  while (sp1 < line.size() && has(line[sp1], kTchar)) ++sp1;
  if (sp1 == 0 || sp1 == line.size() || line[sp1] != ' ') {
    return fail(400, "malformed request line");
  }
  size_t sp2 = sp1 + 1;
  while (sp2 < line.size() && has(line[sp2], kTargetChar)) ++sp2;
  if (sp2 == sp1 + 1 || sp2 == line.size() || line[sp2] != ' ') {
    return fail(400, "malformed request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !isDigit(version[5]) ||
      version[6] != '.' || !isDigit(version[7])) {
    return fail(400, "malformed HTTP version");
  }
  if (version[5] != '1') return fail(505, "HTTP version not supported");
  if (target[0] != '/' && target != "*" && method != "CONNECT" && !hasScheme(target)) {
    return fail(400, "malformed request target");
  }
  method_ = {static_cast<uint32_t>(offset), static_cast<uint32_t>(sp1)};
  target_ = {static_cast<uint32_t>(offset + sp1 + 1), static_cast<uint32_t>(target.size())};
  versionMinor_ = version[7] - '0';
  return true;
}

bool RequestParser::onFieldLine(std::string_view line, size_t offset) {
  if (headerCount_ == std::min(limits_->maxHeaders, kMaxHeaders)) {
    return fail(431, "too many header fields");
  }
  if (headerCount_ == 0 && isOws(line[0])) {
    return fail(400, "whitespace before the first header field");
  }
  size_t nameEnd, valueBegin, valueEnd;
  std::string_view reason = fieldLineError(line, &nameEnd, &valueBegin, &valueEnd);
  if (!reason.empty()) return fail(400, reason);
  names_[headerCount_] = {static_cast<uint32_t>(offset), static_cast<uint32_t>(nameEnd)};
  values_[headerCount_] = {static_cast<uint32_t>(offset + valueBegin),
                           static_cast<uint32_t>(valueEnd - valueBegin)};
  ++headerCount_;
  return true;
}

bool RequestParser::onHeaderEnd(std::string_view buf) {
  size_t hostLines = 0;
  bool haveLength = false, haveCoding = false, lastIsChunked = false, unknownCoding = false;
  bool closeToken = false, keepAliveToken = false;
  size_t transferEncodingLines = 0, chunkedCount = 0;
  uint64_t length = 0;
  for (size_t i = 0; i < headerCount_; ++i) {
    std::string_view name = slice(buf, names_[i]);
    std::string_view list = slice(buf, values_[i]);
    if (equalsIgnoreCase(name, "Host")) {
      ++hostLines;
    } else if (equalsIgnoreCase(name, "Content-Length")) {
      // Repeated identical values ("5, 5" or two lines) are accepted (RFC 9110 8.6).
      std::string_view e = nextListElement(&list);
      if (e.empty()) return fail(400, "invalid Content-Length");
      for (; !e.empty(); e = nextListElement(&list)) {
        uint64_t value = 0;
        for (char c : e) {
          if (c < '0' || c > '9') return fail(400, "invalid Content-Length");
          value = value >= kLengthSaturation / 10 ? kLengthSaturation
                                                  : value * 10 + static_cast<uint64_t>(c - '0');
        }
        if (haveLength && value != length) return fail(400, "conflicting Content-Length");
        haveLength = true;
        length = value;
      }
    } else if (equalsIgnoreCase(name, "Transfer-Encoding")) {
      ++transferEncodingLines;
      for (std::string_view e = nextListElement(&list); !e.empty(); e = nextListElement(&list)) {
        std::string_view coding = trimOws(e.substr(0, e.find(';')));
        haveCoding = true;
        lastIsChunked = equalsIgnoreCase(coding, "chunked");
        chunkedCount += lastIsChunked;
        unknownCoding |= !lastIsChunked;
      }
    } else if (equalsIgnoreCase(name, "Connection")) {
      for (std::string_view e = nextListElement(&list); !e.empty(); e = nextListElement(&list)) {
        closeToken |= equalsIgnoreCase(e, "close");
        keepAliveToken |= equalsIgnoreCase(e, "keep-alive");
      }
    }
  }
  // RFC 9112 3.2: a 1.1 request has exactly one Host; no request has two.
  if (hostLines > 1) return fail(400, "duplicate Host header");
  if (hostLines == 0 && versionMinor_ >= 1) return fail(400, "missing Host header");
  keepAlive_ = !closeToken && (versionMinor_ >= 1 || keepAliveToken);
  if (transferEncodingLines > 0) {
    // RFC 9112 6.1 and 6.3: these framings are ambiguous, so the request is refused.
    if (versionMinor_ == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (haveLength) return fail(400, "both Content-Length and Transfer-Encoding");
    if (!haveCoding) return fail(400, "empty Transfer-Encoding");
    if (!lastIsChunked) return fail(400, "chunked is not the final transfer coding");
    if (chunkedCount > 1) return fail(400, "chunked applied more than once");
    if (unknownCoding) return fail(501, "unsupported transfer coding");
    phase_ = Phase::kChunkSize;
    chunkedBody_.clear();
    bodyBytes_ = 0;
    framingExcess_ = 0;
    return true;
  }
  if (length > limits_->maxBodyBytes) return fail(413, "body too large");
  phase_ = Phase::kFixedBody;
  bodyBytes_ = length;
  return true;
}

ParseResult RequestParser::scanChunked(std::string_view buf, Request* out) {
  for (;;) {
    switch (phase_) {
      case Phase::kChunkSize:
      case Phase::kTrailer: {
        size_t lf = findLineEnd(buf);
        size_t lineBytes = (lf == kNpos ? buf.size() : lf) - pos_;
        if (lineBytes > std::min(kMaxChunkLineBytes, limits_->maxHeaderBytes)) {
          return failed(400, phase_ == Phase::kTrailer ? "trailer line too long"
                                                       : "chunk size line too long");
        }
        if (lf == kNpos) return {};
        if (lf == pos_ || buf[lf - 1] != '\r') return failed(400, "line ends in a bare LF");
        std::string_view line = buf.substr(pos_, lf - 1 - pos_);
        pos_ = scanned_ = lf + 1;
        framingExcess_ += line.size() + 2;
        if (phase_ == Phase::kChunkSize) {
          if (!onChunkSizeLine(line)) return error();
          continue;
        }
        if (line.empty()) return complete(buf, pos_, chunkedBody_, true, out);
        size_t nameEnd, valueBegin, valueEnd;
        std::string_view reason = fieldLineError(line, &nameEnd, &valueBegin, &valueEnd);
        if (!reason.empty()) return failed(400, reason);
        if (framingExcess_ > kMaxChunkExcessBytes) return failed(400, "too much chunk metadata");
        continue;
      }
      case Phase::kChunkData: {
        size_t n = static_cast<size_t>(std::min<uint64_t>(bodyBytes_, buf.size() - pos_));
        if (n == 0) return {};
        chunkedBody_.append(buf.data() + pos_, n);
        pos_ += n;
        bodyBytes_ -= n;
        if (bodyBytes_ == 0) phase_ = Phase::kChunkEnd;
        continue;
      }
      case Phase::kChunkEnd: {
        size_t avail = buf.size() - pos_;
        if ((avail >= 1 && buf[pos_] != '\r') || (avail >= 2 && buf[pos_ + 1] != '\n')) {
          return failed(400, "chunk data not followed by CRLF");
        }
        if (avail < 2) return {};
        pos_ = scanned_ = pos_ + 2;
        phase_ = Phase::kChunkSize;
        continue;
      }
      case Phase::kHeader:
      case Phase::kFixedBody:
      case Phase::kError:
        return error();
    }
  }
}

bool RequestParser::onChunkSizeLine(std::string_view line) {
  // chunk-size [ chunk-ext ] (RFC 9112 7.1); extensions are checked for characters, not used.
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t room = limits_->maxBodyBytes - chunkedBody_.size();
  uint64_t size = 0;
  size_t i = 0;
  for (; i < line.size() && has(line[i], kHexDigit); ++i) {
    if (size > (kMax >> 4)) return fail(413, "body too large");
    size = size * 16 + static_cast<uint64_t>(net::hexDigitValue(line[i]));
    if (size > room) return fail(413, "body too large");
  }
  if (i == 0) return fail(400, "malformed chunk size");
  while (i < line.size() && isOws(line[i])) ++i;
  if (i < line.size()) {
    if (line[i] != ';') return fail(400, "malformed chunk size");
    for (; i < line.size(); ++i) {
      if (!has(line[i], kFieldChar)) return fail(400, "invalid character in chunk extension");
    }
  }
  uint64_t credit = size > (kMax - kChunkCreditBytes) / 2 ? kMax : kChunkCreditBytes + 2 * size;
  framingExcess_ = framingExcess_ > credit ? framingExcess_ - credit : 0;
  if (framingExcess_ > kMaxChunkExcessBytes) return fail(400, "too much chunk metadata");
  bodyBytes_ = size;
  phase_ = size == 0 ? Phase::kTrailer : Phase::kChunkData;
  return true;
}

ParseResult RequestParser::complete(std::string_view buf, size_t end, std::string_view body,
                                    bool chunked, Request* out) {
  out->method = slice(buf, method_);
  out->target = slice(buf, target_);
  splitTarget(out->method, out->target, out);
  out->versionMinor = versionMinor_;
  for (size_t i = 0; i < headerCount_; ++i) {
    out->headers[i] = {slice(buf, names_[i]), slice(buf, values_[i])};
  }
  out->headerCount = headerCount_;
  out->body = body;
  out->keepAlive = keepAlive_;
  out->chunked = chunked;
  reset();  // ready for the next request; chunkedBody_ survives until then
  return {ParseResult::kComplete, end, 0, {}};
}

bool RequestParser::fail(int httpStatus, std::string_view reason) {
  phase_ = Phase::kError;
  errorStatus_ = httpStatus;
  errorReason_ = reason;
  return false;
}

ParseResult RequestParser::failed(int httpStatus, std::string_view reason) {
  fail(httpStatus, reason);
  return error();
}

ParseResult RequestParser::error() const {
  return {ParseResult::kError, 0, errorStatus_, errorReason_};
}

// ---- free functions -------------------------------------------------------------------------

std::string_view nextListElement(std::string_view* list) {
  std::string_view rest = *list;
  for (;;) {
    size_t comma = rest.find(',');
    std::string_view element = trimOws(rest.substr(0, comma));
    rest = comma == kNpos ? std::string_view() : rest.substr(comma + 1);
    if (!element.empty() || rest.empty()) {
      *list = rest;
      return element;
    }
  }
}

namespace {

struct StatusPhrase {
  int status;
  std::string_view text;
};
// Reason phrases of RFC 9110 15, for the codes this server sends.
constexpr StatusPhrase kStatusPhrases[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {426, "Upgrade Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

}  // namespace

std::string_view statusText(int status) {
  for (const StatusPhrase& p : kStatusPhrases) {
    if (p.status == status) return p.text;
  }
  return {};
}

void appendResponse(std::string& out, int status, std::span<const Header> headers,
                    std::string_view body, bool keepAlive) {
  assert(status >= 100 && status <= 999);
  bool informational = status < 200;
  bool sendLength = !informational && status != 204 && status != 304;
  assert(sendLength || body.empty());
  bool callerConnection = false;
  std::string_view text = statusText(status);
  size_t bytes = 16 + text.size() + 2 + body.size() + 40;  // status line, CRLF, body, framing
  for (const Header& h : headers) {
    assert(h.value.find_first_of("\r\n") == std::string_view::npos);
    assert(!equalsIgnoreCase(h.name, "Content-Length"));
    callerConnection |= equalsIgnoreCase(h.name, "Connection");
    bytes += h.name.size() + h.value.size() + 4;
  }
  out.reserve(out.size() + bytes);

  char digits[24];
  out.append("HTTP/1.1 ");
  out.append(digits, std::to_chars(digits, digits + sizeof digits, status).ptr);
  out.push_back(' ');
  out.append(text);
  out.append("\r\n");
  for (const Header& h : headers) {
    out.append(h.name);
    out.append(": ");
    out.append(h.value);
    out.append("\r\n");
  }
  if (sendLength) {
    out.append("Content-Length: ");
    out.append(digits, std::to_chars(digits, digits + sizeof digits, body.size()).ptr);
    out.append("\r\n");
  }
  if (!informational && !callerConnection) {
    out.append(keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
  }
  out.append("\r\n");
  out.append(body);
}

}  // namespace ringcast::http
