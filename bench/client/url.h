// Url: a parsed ws:// or http:// URL (or wss://, https://) with its address resolved once, at
// start-up. Pure apart from the one name lookup in parseUrl (numeric hosts need none). Any thread.
#pragma once

#include <string>
#include <string_view>

#include "net/socket_ops.h"

namespace ringcast::bench {

struct Url {
  std::string text;        // as given
  std::string scheme;      // "ws", "wss", "http" or "https"
  bool tls = false;        // wss:// or https://
  std::string host;        // as written, without brackets
  std::string hostHeader;  // Host field: host[:port]
  std::string target;      // path and query, "/" when empty
  sockets::Address address;
};

// Parses "ws://HOST[:PORT]/PATH?QUERY" (wantScheme "ws": also wss://; "http": also https://)
// and resolves HOST (numeric IPv4, [IPv6] or a name). The port defaults to 80, or 443 with
// TLS. On failure returns false with a message in *error.
bool parseUrl(std::string_view text, std::string_view wantScheme, Url* out, std::string* error);

}  // namespace ringcast::bench
