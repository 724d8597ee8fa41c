#include "ws/permessage_deflate.h"

#include <string_view>

#include "net/http_parser.h"

namespace ringcast::ws {
namespace {

bool isTchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A cursor over one field value. Every method skips optional whitespace first.
struct Cursor {
  std::string_view s;
  size_t pos = 0;

  void skipSpace() {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t')) ++pos;
  }
  bool atEnd() {
    skipSpace();
    return pos == s.size();
  }
  bool take(char c) {
    skipSpace();
    if (pos < s.size() && s[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  std::string_view token() {
    skipSpace();
    const size_t start = pos;
    while (pos < s.size() && isTchar(s[pos])) ++pos;
    return s.substr(start, pos - start);
  }
  // A token or a quoted-string, unescaped into *out. False on a syntax error.
  bool value(std::string* out) {
    skipSpace();
    if (pos < s.size() && s[pos] == '"') {
      ++pos;
      while (pos < s.size() && s[pos] != '"') {
        if (s[pos] == '\\') {
          if (++pos == s.size()) return false;
        }
        out->push_back(s[pos++]);
      }
      if (pos == s.size()) return false;  // unterminated
      ++pos;
      return true;
    }
    std::string_view t = token();
    out->assign(t);
    return !t.empty();
  }
};

// "8".."15" exactly: decimal, no leading zero, no sign.
bool parseWindowBits(std::string_view v, uint8_t* bits) {
  if (v.empty() || v.size() > 2 || v[0] == '0') return false;
  unsigned n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + unsigned(c - '0');
  }
  if (n < kMinWindowBits || n > kMaxWindowBits) return false;
  *bits = static_cast<uint8_t>(n);
  return true;
}

struct Offer {
  bool acceptable = true;
  bool serverNoContext = false, clientNoContext = false, serverBits = false, clientBits = false;
  uint8_t serverMaxWindowBits = kMaxWindowBits;
};

// Applies one parameter to `offer`; marks it unacceptable when RFC 7692 7.1 says decline.
void applyParam(Offer& offer, std::string_view name, bool hasValue, const std::string& value) {
  auto once = [&](bool& seen) {
    if (seen) offer.acceptable = false;
    seen = true;
  };
  if (http::equalsIgnoreCase(name, "server_no_context_takeover")) {
    once(offer.serverNoContext);
    if (hasValue) offer.acceptable = false;
  } else if (http::equalsIgnoreCase(name, "client_no_context_takeover")) {
    once(offer.clientNoContext);
    if (hasValue) offer.acceptable = false;
  } else if (http::equalsIgnoreCase(name, "server_max_window_bits")) {
    once(offer.serverBits);
    if (!hasValue || !parseWindowBits(value, &offer.serverMaxWindowBits)) {
      offer.acceptable = false;
    }
  } else if (http::equalsIgnoreCase(name, "client_max_window_bits")) {
    once(offer.clientBits);
    uint8_t ignored;
    if (hasValue && !parseWindowBits(value, &ignored)) offer.acceptable = false;
  } else {
    offer.acceptable = false;  // unknown parameter
  }
}

// Scans one field line; on the first acceptable permessage-deflate offer fills *chosen and
// returns true. A syntax error ends the line with nothing chosen.
bool scanLine(std::string_view line, Offer* chosen) {
  Cursor c{line};
  while (!c.atEnd()) {
    if (c.take(',')) continue;  // empty list elements are allowed (RFC 7230 7)
    std::string_view name = c.token();
    if (name.empty()) return false;
    Offer offer;
    const bool ours = http::equalsIgnoreCase(name, kPerMessageDeflate);
    while (c.take(';')) {
      std::string_view param = c.token();
      if (param.empty()) return false;
      std::string value;
      const bool hasValue = c.take('=');
      if (hasValue && !c.value(&value)) return false;
      applyParam(offer, param, hasValue, value);
    }
    if (!c.atEnd() && !c.take(',')) return false;
    if (ours && offer.acceptable) {
      *chosen = offer;
      return true;
    }
  }
  return false;
}

}  // namespace

DeflateParams negotiateDeflate(std::span<const std::string_view> headerValues,
                               std::string* response) {
  response->clear();
  DeflateParams params;
  for (std::string_view line : headerValues) {
    Offer offer;
    if (!scanLine(line, &offer)) continue;
    params.enabled = true;
    params.serverMaxWindowBits = offer.serverMaxWindowBits;
    response->append(kPerMessageDeflate);
    response->append("; server_no_context_takeover; client_no_context_takeover");
    if (offer.serverBits) {
      response->append("; server_max_window_bits=");
      response->append(std::to_string(offer.serverMaxWindowBits));
    }
    break;
  }
  return params;
}

}  // namespace ringcast::ws
