// Thin helpers over simdjson: validating and reading JSON text, plus a small escaping writer
// for the JSON the gateway builds. Pure functions of their arguments, safe from any thread.
// The free functions keep one thread_local json::Parser each; a json::Parser is not
// thread-safe, so every owner (usually a thread_local) keeps its own.
//
// What counts as JSON: one complete RFC 8259 value (any type, not only objects), optionally
// surrounded by whitespace (space, tab, CR, LF), in valid UTF-8. Limits beyond the RFC are
// simdjson's: nesting deeper than 1024 is refused, a lone UTF-16 surrogate escape such as
// "\ud800" is refused, and a byte order mark is not skipped. Numbers are accepted by the
// RFC's grammar whatever their size: 12345678901234567890123 and 1e400 are valid JSON and
// their text is carried unchanged, although simdjson cannot represent them (see Parser).
//
// Padding: simdjson reads up to SIMDJSON_PADDING bytes past the end of its input. Callers'
// buffers are never handed to simdjson directly: every input is first copied into a buffer
// the Parser owns, followed by SIMDJSON_PADDING zero bytes, so nothing past a caller's buffer
// is ever read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace simdjson::dom {
class element;
}  // namespace simdjson::dom

namespace ringcast::json {

// Appends `utf8` to `out` as a JSON string: a quote, the bytes with '"' and '\' escaped as \"
// and \\ and every control character U+0000..U+001F as \u00XX (lowercase hex), a quote.
// Every other byte is copied as is, so valid UTF-8 in gives a valid JSON string out.
// REQUIRES: `utf8` is valid UTF-8 (not checked; invalid bytes are copied unchanged).
void appendString(std::string& out, std::string_view utf8);

// The field writers for the objects the gateway builds. Each appends one member,
// `"name":value`, and nothing else: the caller writes the braces and commas around it.
// `name` is copied as given. REQUIRES: `name` needs no escaping (callers pass literals).
void appendKey(std::string& out, std::string_view name);
// `"name":"value"`, the value escaped by appendString (same REQUIRES on `utf8`).
void appendStringField(std::string& out, std::string_view name, std::string_view utf8);
// `"name":123`, in decimal.
void appendUintField(std::string& out, std::string_view name, uint64_t value);
void appendIntField(std::string& out, std::string_view name, int64_t value);
// `"name":true` or `"name":false`.
void appendBoolField(std::string& out, std::string_view name, bool value);

// True when `bytes` is valid UTF-8 (simdjson::validate_utf8: no overlongs, no surrogates,
// nothing above U+10FFFF).
bool isValidUtf8(std::string_view bytes);

// True when `text` is exactly one JSON value, as described at the top of this file.
bool isValidJson(std::string_view text);

// `text` without the JSON whitespace (space, tab, CR, LF) at its start and end.
std::string_view trimWhitespace(std::string_view text);

// The payload rule for the HTTP raw route and the TCP publish protocol. Replaces *outJson
// with the JSON text that carries `bytes`:
// - when `bytes` is one JSON value, that value's own bytes, unchanged, without the whitespace
//   around it (so `{"a": 1}\n` is carried as `{"a": 1}`);
// - otherwise `bytes` as a JSON string (appendString), e.g. `hello` becomes `"hello"` and an
//   empty payload becomes `""`.
// Returns false, leaving *outJson unchanged, when `bytes` is not valid UTF-8: such a payload
// is refused (there is no binary delivery).
bool dataFromBytes(std::string_view bytes, std::string* outJson);

// A reusable JSON parser: simdjson's DOM parser for validation and typed reads, its
// On-Demand parser for the exact text of chosen members, and the padded copy of the input
// both of them read. One owner, one thread; keep one per thread (thread_local) to reuse its
// buffers.
//
// Numbers simdjson cannot represent (integers outside the 64-bit ranges, magnitudes beyond a
// double) would make simdjson refuse a valid document. parse() accepts such a document and,
// in the DOM it returns, shows each such number as an empty object `{}` (never as a number,
// so no code reads a different number than was sent). Their text is unchanged in `text`
// and in the views rawMembers() returns.
//
// Cost: one simdjson parse; a document simdjson refuses gets one linear scan for such
// numbers (decided from their text, never by parsing each one) and, only when it found one,
// a second parse. Invalid JSON therefore costs at most two passes, whatever it contains.
//
// Memory: the buffers grow to the largest input parsed so far (simdjson needs several bytes
// of index and tape per input byte). After an input larger than kRetainBytes, the next parse
// of an input up to kRetainBytes releases them, so a thread that parses small documents
// keeps a footprint proportional to kRetainBytes.
class Parser {
 public:
  // Inputs up to this size reuse the parser's buffers; commands and tokens are far smaller.
  static constexpr size_t kRetainBytes = 64 * 1024;

  Parser();
  ~Parser();
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Parses `text` as one JSON value (see the top of this file). On success sets *root to it;
  // *root and everything reached from it stay valid until the next parse() on this Parser.
  bool parse(std::string_view text, simdjson::dom::element* root);

  // For each i, sets raw[i] to the exact bytes of the value of the member named keys[i] of
  // the top-level object (member names compared after unescaping), or to an empty view when
  // the object has no such member. "Exact" means the bytes of the input from the value's
  // first byte to its last, with no whitespace around it removed from inside or added: a
  // value's own whitespace, escapes and number spelling are kept as sent. With duplicate
  // names the first member wins. The views point into the `text` given to the last parse()
  // and are valid while that text is. Returns false only if that parse did not succeed with
  // an object at the root.
  // REQUIRES: keys.size() == raw.size().
  bool rawMembers(std::span<const std::string_view> keys, std::span<std::string_view> raw);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringcast::json
