#include "push/origin.h"

#include <charconv>

namespace ringcast::push {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

uint16_t defaultPort(std::string_view scheme) {
  if (scheme == "http" || scheme == "ws") return 80;
  if (scheme == "https" || scheme == "wss") return 443;
  return 0;
}

// Splits "host[:port]" / "[v6][:port]" into a lower-case host and the port text ("" if none).
bool splitHostPort(std::string_view authority, std::string* host, std::string_view* port) {
  *port = {};
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    *host = lower(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      *port = rest.substr(1);
    }
  } else {
    size_t colon = authority.find(':');
    *host = lower(authority.substr(0, colon));
    if (colon != std::string_view::npos) *port = authority.substr(colon + 1);
  }
  return !host->empty();
}

std::optional<uint16_t> parsePort(std::string_view text) {
  uint16_t port = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || port == 0) {
    return std::nullopt;
  }
  return port;
}

}  // namespace

std::optional<WebOrigin> parseOrigin(std::string_view text) {
  size_t sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  WebOrigin origin;
  origin.scheme = lower(text.substr(0, sep));
  std::string_view authority = text.substr(sep + 3);
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  if (authority.find_first_of("/?#@ ") != std::string_view::npos) return std::nullopt;
  std::string_view port;
  if (!splitHostPort(authority, &origin.host, &port)) return std::nullopt;
  if (port.empty()) {
    origin.port = defaultPort(origin.scheme);
    if (origin.port == 0) return std::nullopt;
  } else {
    auto p = parsePort(port);
    if (!p) return std::nullopt;
    origin.port = *p;
  }
  return origin;
}

bool sameServer(const WebOrigin& origin, std::string_view hostHeader, bool tlsListener) {
  if (tlsListener && origin.scheme != "https") return false;
  if (origin.scheme != "http" && origin.scheme != "https") return false;
  std::string host;
  std::string_view portText;
  if (!splitHostPort(hostHeader, &host, &portText) || host != origin.host) return false;
  if (portText.empty()) return origin.port == defaultPort(origin.scheme);
  auto port = parsePort(portText);
  return port && *port == origin.port;
}

std::optional<HostPort> parseHostPort(std::string_view text) {
  HostPort out;
  std::string_view port;
  if (!splitHostPort(text, &out.host, &port)) return std::nullopt;
  if (!port.empty()) {
    auto p = parsePort(port);
    if (!p) return std::nullopt;
    out.port = *p;
  }
  return out;
}

bool isLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "127.0.0.1" || host == "::1";
}

}  // namespace ringcast::push
