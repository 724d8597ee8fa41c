#include "push/api_tcp_parser.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "push/client_protocol.h"

namespace ringcast::push {
namespace {

// More digits could overflow uint64_t; no real payload needs them.
constexpr size_t kMaxLengthDigits = 19;

TcpParse error(std::string_view reason, bool inSync, size_t consumed) {
  TcpParse r;
  r.status = TcpParse::kError;
  r.error = reason;
  r.inSync = inSync;
  r.consumed = inSync ? consumed : 0;
  return r;
}

// An HTTP request line ("POST /api/broadcast HTTP/1.1"): its method and a space at the very
// start of a command, so that nothing a browser or a proxy sends after it is read.
bool startsWithHttpMethod(std::string_view buffered) {
  static constexpr std::string_view kMethods[] = {
      "GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "};
  return std::any_of(std::begin(kMethods), std::end(kMethods),
                     [&](std::string_view m) { return buffered.starts_with(m); });
}

bool parseLength(std::string_view word, uint64_t* out) {
  if (word.empty() || word.size() > kMaxLengthDigits) return false;
  uint64_t v = 0;
  for (char c : word) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

// The words of a command line (separated by runs of spaces): how many there are, the first
// kKeptWords of them and the last one.
struct Words {
  static constexpr size_t kKeptWords = 2;  // the verb and the name
  size_t count = 0;
  std::string_view first[kKeptWords];
  std::string_view last;
};

Words splitWords(std::string_view line) {
  Words w;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i == line.size()) break;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    w.last = line.substr(start, i - start);
    if (w.count < Words::kKeptWords) w.first[w.count] = w.last;
    ++w.count;
  }
  return w;
}

}  // namespace

TcpParse parseTcpCommand(std::string_view buffered, size_t maxPayloadBytes, TcpCommand* out) {
  if (startsWithHttpMethod(buffered)) return error(kTcpHttpError, false, 0);
  const size_t searched = std::min(buffered.size(), kMaxTcpLineBytes + 2);
  const size_t crlf = buffered.substr(0, searched).find("\r\n");
  if (crlf == std::string_view::npos) {
    if (searched == kMaxTcpLineBytes + 2) return error("line too long", false, 0);
    return TcpParse();
  }
  const std::string_view line = buffered.substr(0, crlf);
  const size_t lineBytes = crlf + 2;

  const Words words = splitWords(line);
  const size_t n = words.count;
  if (n == 0) return error("empty command", true, lineBytes);
  // Any other request line, e.g. "PRI * HTTP/2.0" or an unusual method.
  if (n >= 2 && words.last.starts_with("HTTP/")) return error(kTcpHttpError, false, 0);
  const std::string_view verb = words.first[0];

  if (verb == "PING" || verb == "AUTH") {
    const bool ping = verb == "PING";
    if (n != (ping ? 1u : 2u)) return error("wrong number of arguments", true, lineBytes);
    out->kind = ping ? TcpCommand::kPing : TcpCommand::kAuth;
    out->target = ping ? std::string_view() : words.first[1];
    out->payload = {};
    TcpParse r;
    r.status = TcpParse::kComplete;
    r.consumed = lineBytes;
    return r;
  }
  TcpCommand::Kind kind;
  size_t wantWords;
  if (verb == "PUB") {
    kind = TcpCommand::kPub;
    wantWords = 3;
  } else if (verb == "SEND") {
    kind = TcpCommand::kSend;
    wantWords = 3;
  } else if (verb == "BCAST") {
    kind = TcpCommand::kBcast;
    wantWords = 2;
  } else {
    return error("unknown command", true, lineBytes);
  }

  // A refused command line announces no payload: the next line is the next command.
  if (n != wantWords) return error("wrong number of arguments", true, lineBytes);
  uint64_t length = 0;
  if (!parseLength(words.last, &length)) return error("bad length", false, 0);
  if (length > maxPayloadBytes) {
    TcpParse r = error("payload too large", true, lineBytes);
    r.skip = length + 2;
    return r;
  }
  const size_t total = lineBytes + length + 2;
  if (buffered.size() < total) return TcpParse();
  if (buffered.substr(lineBytes + length, 2) != "\r\n") {
    return error("missing CRLF after payload", false, 0);
  }
  std::string_view target;
  if (kind == TcpCommand::kPub) {
    target = words.first[1];
    if (!isValidChannelName(target)) return error("invalid channel name", true, total);
  } else if (kind == TcpCommand::kSend) {
    target = words.first[1];
    if (!isValidUserName(target)) return error("invalid user name", true, total);
  }
  out->kind = kind;
  out->target = target;
  out->payload = buffered.substr(lineBytes, length);
  TcpParse r;
  r.status = TcpParse::kComplete;
  r.consumed = total;
  return r;
}

}  // namespace ringcast::push
