// HS256 JSON Web Tokens (RFC 7519, JWS compact form, RFC 7515): verifying the token a
// client presents in ?token=, and signing tokens for tools and tests. Pure functions of
// token, secret and time; safe from any thread (verifyToken keeps a thread_local JSON
// parser).
//
// Accepted tokens: base64url without padding (canonical: unused trailing bits zero) in three
// parts, header.payload.signature. The header is a JSON object whose "alg" is "HS256"
// (anything else, "none" included, is refused before the signature is looked at; other
// header members are ignored). The signature is HMAC-SHA256 over "header.payload" (the
// base64url text) with the secret, compared in constant time. Header and payload are JSON
// objects without duplicate member names (RFC 7519 section 4 allows refusing them). Then
// the claims (unknown ones ignored):
//   sub   required, a valid user name (push/client_protocol.h)
//   exp   optional NumericDate (seconds, fractions rounded down): the token is valid while
//         now < exp; no leeway, so gateway and issuer clocks should be in sync
//   nbf   optional NumericDate: the token is valid from nbf on (nbf <= now)
//   name  optional string of at most kMaxNameBytes bytes, the display name
//   subs  optional list of channel patterns the user may subscribe to
//   pubs  optional list of channel patterns the user may publish to
//   send  optional boolean, false forbids direct sends
//   aud   checked only with TokenClaims::audience: a string equal to it, or a list holding it
//   iss   checked only with TokenClaims::issuer: a string equal to it
// A "sub" is a claimable user name (push/client_protocol.h: not "api"), a "name" a valid
// display name.
// A channel pattern is an exact channel name ("news") or a prefix ending in '*' ("room:*";
// "*" alone matches every channel). What a missing "subs" or "pubs" means is the caller's
// rule (docs/PROTOCOL.md): Identity records whether each list was present.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::push {

struct Identity {
  std::string user;  // "sub"
  std::string name;  // "name"; empty when absent
  bool hasSubs = false;
  std::vector<std::string> subs;
  bool hasPubs = false;
  std::vector<std::string> pubs;
  bool canSend = true;  // "send"
  int64_t expSec = 0;   // "exp"; 0 when absent
};

struct AuthResult {
  bool ok = false;
  // When !ok, one of: "no secret", "malformed token", "unsupported alg", "bad signature",
  // "token expired", "token not yet valid", "missing sub", "invalid sub", "invalid exp",
  // "invalid nbf", "invalid name", "invalid subs", "invalid pubs", "invalid send",
  // "wrong aud", "wrong iss".
  std::string reason;
  Identity identity;  // filled when ok
};

// The claims a deployment may require beyond the signature; empty = not checked.
struct TokenClaims {
  std::string audience;
  std::string issuer;
};

// Verifies `jwt` against `secret` at time `nowSec` (Unix seconds). An empty secret verifies
// nothing ("no secret"). With `required`, also "wrong aud" / "wrong iss".
AuthResult verifyToken(std::string_view jwt, std::string_view secret, int64_t nowSec,
                       const TokenClaims& required = {});

// True when some pattern allows `channel` (see the top of this file).
bool channelAllowed(std::string_view channel, const std::vector<std::string>& patterns);

// True when `pattern` is a valid channel pattern.
bool isValidChannelPattern(std::string_view pattern);

// A token with the header {"alg":"HS256","typ":"JWT"} and `payloadJson` as its payload,
// signed with `secret`. `payloadJson` is encoded as given, not checked.
std::string signToken(std::string_view payloadJson, std::string_view secret);

// base64url without padding (RFC 4648 section 5), as used by JWTs.
std::string base64UrlEncode(std::string_view bytes);
// Decodes canonical base64url without padding into *out; false on anything else.
bool base64UrlDecode(std::string_view text, std::string* out);

}  // namespace ringcast::push
