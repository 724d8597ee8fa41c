// HTTP/1.1 request parser (RFC 9112) and response writer, pure functions of bytes.
// RequestParser is an incremental, size-bounded state machine: the caller keeps every byte
// received for the current request in one buffer and calls parse() after each read. It never
// allocates while parsing a header block or a Content-Length body; only a chunked body is
// decoded into storage the parser owns.
//
// Thread safety: a RequestParser is owned by one connection and used from its loop only. The
// free functions are pure and safe from any thread.
//
// Strictness (the choices the RFCs leave to a server): every line must end in CRLF; a bare LF
// or a bare CR is a 400, never a line end. Empty lines before the request line are skipped
// (RFC 9112 2.2). HTTP/1.x with a minor version above 1 is processed as HTTP/1.1 and keeps its
// minor number (RFC 9110 2.5); any other major version is a 505. An HTTP/1.1 request needs
// exactly one Host (400). Repeated identical Content-Length values are accepted. Transfer-
// Encoding whose final coding is not chunked is a 400 (RFC 9112 6.3), an unknown coding before
// chunked a 501, and Transfer-Encoding with Content-Length or in HTTP/1.0 a 400. Chunk
// extensions and trailers are checked and dropped; their lines count against a 4 KiB cap and
// against a metadata budget (see http_parser.cc), so they cannot stretch a small body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringcast::http {

// Compile-time cap on header fields per request, so that a Request lives on the stack.
// Limits::maxHeaders may lower it but never raise it.
inline constexpr size_t kMaxHeaders = 64;

struct Limits {
  size_t maxHeaderBytes = 8192;   // request line + fields + blank line, incl. CRLFs; < 4 GiB
  size_t maxHeaders = 64;         // field lines; clamped to kMaxHeaders
  size_t maxBodyBytes = 1 << 20;  // decoded body, for Content-Length and chunked alike
};

struct Header {
  std::string_view name, value;  // value without leading/trailing whitespace
};

// A parsed request. Every view points into the buffer passed to the parse() call that
// returned kComplete and is valid while that buffer is, except `body` of a chunked request
// (chunked == true), which points into the parser's decode buffer and is valid until the next
// parse() or reset() on that parser.
struct Request {
  std::string_view method;  // case-sensitive token, e.g. "GET"
  std::string_view target;  // request-target as sent
  std::string_view path;    // target without the query; "*" for OPTIONS *; empty for CONNECT
  std::string_view query;   // after '?', without it; empty when absent
  int versionMinor = 1;     // HTTP/1.<versionMinor>
  Header headers[kMaxHeaders];
  size_t headerCount = 0;
  std::string_view body;
  bool keepAlive = false;  // the connection may carry another request after this one
  bool chunked = false;    // the body arrived with Transfer-Encoding: chunked

  // Value of the first field named `name` (case-insensitive); empty when absent.
  std::string_view header(std::string_view name) const;
  // Number of field lines named `name` (case-insensitive).
  size_t headerLines(std::string_view name) const;
  // True when any field named `name` holds `token` as an element of its comma-separated
  // list, compared case-insensitively (e.g. "Connection: keep-alive, Upgrade").
  bool headerHasToken(std::string_view name, std::string_view token) const;
};

struct ParseResult {
  enum Status { kComplete, kIncomplete, kError };
  Status status = kIncomplete;
  size_t consumed = 0;      // kComplete: bytes of this request incl. body; 0 otherwise
  int httpStatus = 0;       // kError: the status to answer with before closing
  std::string_view reason;  // kError: short and human; points to static storage
};

class RequestParser {
 public:
  // REQUIRES: limits != nullptr and outlives the parser.
  explicit RequestParser(const Limits* limits);

  // REQUIRES: `buffer` starts at the first byte of the current request and, between calls for
  // one request, only grows at its end (same prefix; it may move in memory).
  // Writes *out only when returning kComplete. After kComplete the parser is ready for the
  // next request: pass the bytes after `consumed`, which allows pipelining. After kError it
  // keeps returning the same error until reset(); the connection should answer and close.
  ParseResult parse(std::string_view buffer, Request* out);

  // Forgets the current request, e.g. when the connection is reused for other bytes.
  void reset();

 private:
  enum class Phase : uint8_t {
    kHeader,     // looking for the end of the header block
    kFixedBody,  // waiting for Content-Length body bytes
    kChunkSize,  // reading a chunk-size line
    kChunkData,  // copying chunk data
    kChunkEnd,   // expecting the CRLF after chunk data
    kTrailer,    // reading trailer field lines up to the blank line
    kError,
  };
  struct Span {
    uint32_t offset = 0, length = 0;
  };

  // Each step returns false when it stops (needs bytes, or failed: phase_ tells which).
  bool scanHeader(std::string_view buf);
  bool onRequestLine(std::string_view line, size_t offset);
  bool onFieldLine(std::string_view line, size_t offset);
  bool onHeaderEnd(std::string_view buf);
  ParseResult scanChunked(std::string_view buf, Request* out);
  bool onChunkSizeLine(std::string_view line);
  // Finds the LF ending the line that starts at pos_, resuming at scanned_, and returns its
  // index; npos when it has not arrived yet.
  size_t findLineEnd(std::string_view buf);
  ParseResult complete(std::string_view buf, size_t end, std::string_view body, bool chunked,
                       Request* out);
  bool fail(int httpStatus, std::string_view reason);
  ParseResult failed(int httpStatus, std::string_view reason);
  ParseResult error() const;
  static std::string_view slice(std::string_view buf, Span span) {
    return buf.substr(span.offset, span.length);
  }

  const Limits* limits_;
  Phase phase_ = Phase::kHeader;
  size_t pos_ = 0;      // first unread byte: start of the line being scanned, or next body byte
  size_t scanned_ = 0;  // bytes in [pos_, scanned_) hold no LF
  bool sawRequestLine_ = false;
  uint64_t bodyBytes_ = 0;      // Content-Length, or the bytes left in the current chunk
  uint64_t framingExcess_ = 0;  // chunk metadata bytes not yet paid for by chunk data
  int errorStatus_ = 0;
  std::string_view errorReason_;
  // The request line and fields, as offsets so that they survive the buffer moving.
  Span method_, target_;
  int versionMinor_ = 1;
  bool keepAlive_ = false;
  size_t headerCount_ = 0;
  Span names_[kMaxHeaders], values_[kMaxHeaders];
  std::string chunkedBody_;  // decoded chunked body; capacity reused across requests
};

// Iterates a comma-separated field value (RFC 9110 5.6.1): returns the next non-empty element
// with surrounding whitespace removed and advances *list past it; empty when none is left.
std::string_view nextListElement(std::string_view* list);

// ASCII case-insensitive equality (field names, tokens). Inline: most calls compare names of
// different lengths and end at the first test, and most that match match byte for byte.
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    // Otherwise only a letter and its other case: they differ in bit 5 alone.
    const unsigned char l = x | 0x20;
    if ((x ^ y) != 0x20 || l < 'a' || l > 'z') return false;
  }
  return true;
}

// "OK", "Not Found", ...; empty for a code without a registered phrase.
std::string_view statusText(int status);

// Appends a complete HTTP/1.1 response. Adds Content-Length (except for 1xx, 204 and 304) and
// Connection: keep-alive or close (except for 1xx, or when `headers` already has a Connection
// field, which the caller then owns).
// REQUIRES: 100 <= status <= 999; names are tokens; values hold no CR or LF; headers carry no
// Content-Length; body is empty for 1xx, 204 and 304.
void appendResponse(std::string& out, int status, std::span<const Header> headers,
                    std::string_view body, bool keepAlive);

}  // namespace ringcast::http
