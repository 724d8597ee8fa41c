#include "net/url.h"

namespace ringcast::net {

int hexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percentDecode(std::string_view in, UrlPart part, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+' && part == UrlPart::kQueryValue) {
      out->push_back(' ');
      continue;
    }
    if (c != '%') {
      out->push_back(c);
      continue;
    }
    const int hi = i + 2 < in.size() ? hexDigitValue(in[i + 1]) : -1;
    const int lo = i + 2 < in.size() ? hexDigitValue(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      if (part == UrlPart::kPath) return false;
      out->push_back(c);  // kept as sent
      continue;
    }
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::string queryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != key) continue;
    std::string out;
    percentDecode(pair.substr(eq + 1), UrlPart::kQueryValue, &out);
    return out;
  }
  return {};
}

}  // namespace ringcast::net
