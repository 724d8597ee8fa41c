// Browser Origins (RFC 6454) as the WebSocket upgrade checks them: an Origin header is
// "scheme://host[:port]"; two origins are the same when scheme, host (ASCII
// case-insensitive) and port (the scheme's default when absent) are equal. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringcast::push {

struct WebOrigin {
  std::string scheme;  // lower case: http, https (ws, wss accepted in configured lists)
  std::string host;    // lower case, IPv6 without brackets
  uint16_t port = 0;   // explicit, or the scheme's default (80, 443)
  bool operator==(const WebOrigin&) const = default;
};

// Parses "https://App.Example:8443" (a trailing '/' allowed); nullopt for "null", a path, a
// missing or unknown scheme without a port, or a malformed port.
std::optional<WebOrigin> parseOrigin(std::string_view text);

// True when `origin` names the server the request was sent to: its host equals the Host
// header's (case-insensitive); its port equals the Host header's, or, when Host has none, is
// its scheme's default; over a TLS listener its scheme is https.
bool sameServer(const WebOrigin& origin, std::string_view hostHeader, bool tlsListener);

// A Host header's "host[:port]" (or "[v6][:port]"): the host in lower case, IPv6 without
// brackets, and the port, 0 when the text names none. nullopt when malformed (no host, an
// unclosed bracket, a port that is not 1..65535).
struct HostPort {
  std::string host;
  uint16_t port = 0;
  bool operator==(const HostPort&) const = default;
};
std::optional<HostPort> parseHostPort(std::string_view text);

// localhost, 127.0.0.1, ::1.
bool isLoopbackHost(std::string_view host);

}  // namespace ringcast::push
