#include "push/api_access.h"

#include <arpa/inet.h>

#include <fmt/format.h>

namespace ringcast::push {
namespace {

// True when `host` (IPv6 without brackets) is an IPv4 or IPv6 literal.
bool isIpLiteral(const std::string& host) {
  unsigned char scratch[16];
  return inet_pton(AF_INET, host.c_str(), scratch) == 1 ||
         inet_pton(AF_INET6, host.c_str(), scratch) == 1;
}

bool isLoopbackAddress(const std::string& host) {
  return host == "::1" || host.starts_with("127.");
}

}  // namespace

bool buildApiAccessRules(std::string_view listenAddress, const std::vector<std::string>& origins,
                         const std::vector<std::string>& names, ApiAccessRules* out,
                         std::string* error) {
  *out = ApiAccessRules{};
  std::optional<HostPort> listener = parseHostPort(listenAddress);
  if (!listener || listener->port == 0) {
    *error = fmt::format("--api-listen: '{}' is not ADDR:PORT", listenAddress);
    return false;
  }
  out->listener = *listener;
  out->loopback = isLoopbackAddress(listener->host);
  out->wildcard = listener->host == "0.0.0.0" || listener->host == "::";
  for (const std::string& text : origins) {
    std::optional<WebOrigin> origin = parseOrigin(text);
    if (!origin) {
      *error = fmt::format(
          "--api-allowed-origins: '{}' is not an origin (scheme://host[:port], e.g. "
          "https://admin.example.com)",
          text);
      return false;
    }
    out->allowedOrigins.push_back(std::move(*origin));
  }
  for (const std::string& text : names) {
    std::optional<HostPort> name = parseHostPort(text);
    if (!name) {
      *error = fmt::format("--api-host: '{}' is not NAME or NAME:PORT", text);
      return false;
    }
    out->names.push_back(std::move(*name));
  }
  return true;
}

bool apiOriginAllowed(std::string_view origin, const ApiAccessRules& rules) {
  std::optional<WebOrigin> parsed = parseOrigin(origin);
  if (!parsed) return false;  // "null" (a sandboxed page, a file) or malformed
  for (const WebOrigin& allowed : rules.allowedOrigins) {
    if (allowed == *parsed) return true;
  }
  return false;
}

bool apiHostAllowed(std::string_view host, const ApiAccessRules& rules) {
  std::optional<HostPort> given = parseHostPort(host);
  if (!given) return false;
  for (const HostPort& name : rules.names) {
    if (name.host == given->host && (name.port == 0 || name.port == given->port)) return true;
  }
  if (given->port != rules.listener.port) return false;
  if (given->host == rules.listener.host) return true;
  if (rules.loopback && given->host == "localhost") return true;
  return rules.wildcard && isIpLiteral(given->host);
}

}  // namespace ringcast::push
