// Who may drive the internal HTTP API (--api-listen): the checks that keep a browser page away
// from it, whatever the page's origin or the DNS name it used (docs/SECURITY.md).
// - Origin: a browser names the page that makes a request in an Origin header; callers the
//   API is for (services, curl, Prometheus, load-balancer probes) send none. A request with
//   an Origin is refused unless that origin is listed (--api-allowed-origins; default none).
// - Host: DNS rebinding points a name the attacker owns at the gateway's address, so the
//   browser sends that name as Host (and, the page being same-origin then, no Origin). The
//   Host must name the listener: its address as bound ("127.0.0.1:8081"), "localhost:PORT"
//   when bound to loopback, any IP literal with the listener's port when bound to a wildcard
//   address (0.0.0.0, ::: a literal is never a rebound name), or a name given with --api-host
//   (NAME matches with any port, NAME:PORT only with that port). A request without Host
//   (HTTP/1.0, as haproxy's health check sends) is let through: a browser always sends one.
// Pure functions of their arguments; ApiAccessRules is built before the loops start and is
// const while they run.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "push/origin.h"

namespace ringcast::push {

struct ApiAccessRules {
  std::vector<WebOrigin> allowedOrigins;  // --api-allowed-origins; empty: every Origin refused
  std::vector<HostPort> names;            // --api-host; port 0: any port
  HostPort listener;                      // the address the API is bound to
  bool loopback = false;                  // listener.host is a loopback address
  bool wildcard = false;                  // bound to 0.0.0.0 or ::
};

// The rules for an API bound to `listenAddress` ("127.0.0.1:8081", "[::1]:8081", as the
// bound socket reports it). Returns false, with a message naming the bad entry in *error,
// when an origin, a name or the address does not parse.
bool buildApiAccessRules(std::string_view listenAddress, const std::vector<std::string>& origins,
                         const std::vector<std::string>& names, ApiAccessRules* out,
                         std::string* error);

// True when a request whose Origin header is `origin` may be served (the header is present;
// absent is always allowed and not asked about).
bool apiOriginAllowed(std::string_view origin, const ApiAccessRules& rules);

// True when a request whose Host header is `host` is addressed to this listener (the header
// is present; absent is always allowed and not asked about).
bool apiHostAllowed(std::string_view host, const ApiAccessRules& rules);

}  // namespace ringcast::push
