// permessage-deflate negotiation (RFC 7692 section 5 and 7.1): reads the client's
// Sec-WebSocket-Extensions offers and picks the first one the server can honour. Pure
// functions of their arguments, safe from any thread.
//
// Grammar (RFC 6455 9.1 with RFC 7230 quoted-string values):
//   extension-list = 1#( name *( ";" param ) ) ; param = token [ "=" ( token / quoted-string ) ]
// Parameters of permessage-deflate and what the server does with each:
//   server_no_context_takeover    always answered: the server never keeps context, because
//                                 one compressed payload is shared by every connection.
//   client_no_context_takeover    always answered, offered or not (allowed by 7.1.1.1): the
//                                 server inflates each message with a fresh inflater that is
//                                 freed when the message ends, so an idle connection holds
//                                 no zlib state (an inflater is ~44 KiB: 32 KiB window + state).
//   server_max_window_bits=N      8..15, echoed. The shared payload is compressed with a
//                                 15-bit window; without context takeover a back-reference
//                                 never reaches past the message start, so it is valid for a
//                                 window of 2^N bytes whenever the message is at most 2^N
//                                 bytes long. Longer messages go to such a peer uncompressed.
//   client_max_window_bits[=N]    accepted, not answered: the inflater takes any window
//                                 up to 15 bits, so the client may keep its own.
// An offer with an unknown parameter, a repeated one, a value where none belongs, a missing
// or invalid value (not 8..15 in decimal without leading zeros) is declined (RFC 7692 7.1)
// and the next offer is tried; the upgrade itself still succeeds without the extension.
// A header whose syntax cannot be split (an unterminated quoted string, a stray character)
// declines every offer in that header field line.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringcast::ws {

inline constexpr std::string_view kPerMessageDeflate = "permessage-deflate";
inline constexpr uint8_t kMaxWindowBits = 15;
inline constexpr uint8_t kMinWindowBits = 8;

// What one connection negotiated.
struct DeflateParams {
  bool enabled = false;
  // The largest window (log2 bytes) the client can inflate with: 15 unless it asked less.
  uint8_t serverMaxWindowBits = kMaxWindowBits;
};

// The first acceptable permessage-deflate offer among `headerValues` (every
// Sec-WebSocket-Extensions field line, in order). *response gets the value for the reply's
// Sec-WebSocket-Extensions (empty when nothing is accepted).
DeflateParams negotiateDeflate(std::span<const std::string_view> headerValues,
                               std::string* response);

// True when the compressed twin of a `payloadBytes` message may be sent to a peer that
// negotiated `params` (see server_max_window_bits above). A peer with the full 15-bit
// window takes messages of any length: the twin is compressed with that same window.
inline bool windowAllows(const DeflateParams& params, uint64_t payloadBytes) {
  return params.serverMaxWindowBits >= kMaxWindowBits ||
         payloadBytes <= (uint64_t{1} << params.serverMaxWindowBits);
}

}  // namespace ringcast::ws
