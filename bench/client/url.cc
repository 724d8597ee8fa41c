#include "bench/client/url.h"

#include <netdb.h>

#include <charconv>
#include <cstring>

#include <fmt/core.h>

namespace ringcast::bench {

bool parseUrl(std::string_view text, std::string_view wantScheme, Url* out, std::string* error) {
  Url url;
  url.text = std::string(text);
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos) {
    *error = fmt::format("'{}' is not a URL (example: {}://127.0.0.1:8080/path)", text, wantScheme);
    return false;
  }
  url.scheme = std::string(text.substr(0, sep));
  url.tls = url.scheme == std::string(wantScheme) + "s";
  if (url.scheme != wantScheme && !url.tls) {
    *error = fmt::format("'{}': expected a {}:// or {}s:// URL", text, wantScheme, wantScheme);
    return false;
  }
  std::string_view rest = text.substr(sep + 3);
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (url.target.front() == '?') url.target = "/" + url.target;
  std::string_view host = authority;
  std::string_view portText;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *error = fmt::format("'{}': unterminated [IPv6] host", text);
      return false;
    }
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        *error = fmt::format("'{}': bad host", text);
        return false;
      }
      portText = authority.substr(close + 2);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    portText = authority.substr(colon + 1);
  }
  unsigned port = url.tls ? 443 : 80;
  if (!portText.empty()) {
    auto [ptr, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
    if (ec != std::errc() || ptr != portText.data() + portText.size() || port == 0 ||
        port > 65535) {
      *error = fmt::format("'{}': bad port '{}'", text, portText);
      return false;
    }
  }
  if (host.empty()) {
    *error = fmt::format("'{}': no host", text);
    return false;
  }
  url.host = std::string(host);
  url.hostHeader = std::string(authority);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(url.host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    *error = fmt::format("'{}': cannot resolve '{}': {}", text, url.host, gai_strerror(rc));
    return false;
  }
  std::memcpy(&url.address.storage, found->ai_addr, found->ai_addrlen);
  url.address.length = static_cast<socklen_t>(found->ai_addrlen);
  ::freeaddrinfo(found);
  *out = std::move(url);
  return true;
}

}  // namespace ringcast::bench
