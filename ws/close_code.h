// WebSocket close codes (RFC 6455 section 7.4 and the IANA registry): the values, which
// codes a peer may send us, and a short name for each code for logs and metrics.
// Pure constexpr functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace ringcast::ws {

enum CloseCode : uint16_t {
  kNormal = 1000,
  kGoingAway = 1001,
  kProtocolError = 1002,
  kUnsupportedData = 1003,
  kNoStatus = 1005,  // never on the wire: "the close frame carried no code"
  kAbnormal = 1006,  // never on the wire: "the connection dropped without a close frame"
  kInvalidPayload = 1007,
  kPolicyViolation = 1008,
  kMessageTooBig = 1009,
  kMandatoryExtension = 1010,
  kInternalError = 1011,
  kServiceRestart = 1012,
  kTryAgainLater = 1013,
};

// True if `code` may appear in a close frame received from a peer. 1004 is reserved,
// 1005/1006/1015 are local pseudo-codes, 1012-1014 are IANA-registered (and accepted by
// Autobahn), 3000-3999 are registered for libraries and 4000-4999 are private use.
constexpr bool isValidReceivedCloseCode(uint16_t code) {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

// A short lowercase name for logs, e.g. "protocol_error"; ranges get a class name
// ("library", "private") and anything else is "unknown".
constexpr std::string_view closeCodeName(uint16_t code) {
  switch (code) {
    case kNormal:
      return "normal";
    case kGoingAway:
      return "going_away";
    case kProtocolError:
      return "protocol_error";
    case kUnsupportedData:
      return "unsupported_data";
    case kNoStatus:
      return "no_status";
    case kAbnormal:
      return "abnormal";
    case kInvalidPayload:
      return "invalid_payload";
    case kPolicyViolation:
      return "policy_violation";
    case kMessageTooBig:
      return "message_too_big";
    case kMandatoryExtension:
      return "mandatory_extension";
    case kInternalError:
      return "internal_error";
    case kServiceRestart:
      return "service_restart";
    case kTryAgainLater:
      return "try_again_later";
    case 1014:
      return "bad_gateway";
    case 1015:
      return "tls_handshake";
    default:
      break;
  }
  if (code >= 3000 && code <= 3999) return "library";
  if (code >= 4000 && code <= 4999) return "private";
  return "unknown";
}

}  // namespace ringcast::ws
