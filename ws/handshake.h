// Server side of the RFC 6455 opening handshake: validates a parsed upgrade request, computes
// Sec-WebSocket-Accept (OpenSSL SHA-1 + Base64) and formats the complete 101 or error reply.
// Pure functions of their arguments, safe from any thread; the only state is OpenSSL's SHA-1
// implementation, fetched once per process.
//
// Checks run in this order and the first failure decides the reply:
//   405 method is not GET (with Allow: GET)
//   400 HTTP/1.0, or a missing, empty or repeated Host
//   426 Upgrade lacks "websocket" or Connection lacks "Upgrade" (a plain browser GET)
//   426 Sec-WebSocket-Version missing, repeated or not 13 (with Sec-WebSocket-Version: 13)
//   400 Sec-WebSocket-Key missing, repeated, or not Base64 of exactly 16 bytes
//   403 Origin present and refused by HandshakeOptions::originAllowed
// The version is checked before the key so that a client speaking an old draft (which sends
// no Sec-WebSocket-Key) learns which version to speak. Every 426 carries Upgrade: websocket
// (RFC 9110 15.5.22). Error replies carry a short text/plain body and close the connection.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_parser.h"
#include "ws/permessage_deflate.h"

namespace ringcast::ws {

struct HandshakeOptions {
  // Subprotocols the server speaks, most preferred first. The reply names the first of
  // these that the client offered in Sec-WebSocket-Protocol (exact, case-sensitive match),
  // so the server's preference wins; no Sec-WebSocket-Protocol is sent when none matches.
  std::vector<std::string> subprotocols;
  // Called with the Origin and Host values when the request has an Origin; returning false
  // refuses the handshake with 403. Empty: every origin is allowed.
  std::function<bool(std::string_view origin, std::string_view host)> originAllowed;
  // Accept a permessage-deflate offer (ws/permessage_deflate.h) when the client makes one.
  bool perMessageDeflate = false;
};

struct HandshakeResult {
  int status = 0;           // 101 on success, else the HTTP error status
  std::string response;     // complete HTTP response bytes to write
  std::string subprotocol;  // chosen subprotocol; empty when none
  DeflateParams deflate;    // negotiated permessage-deflate (enabled == false: none)
  std::string_view reason;  // why it failed ("" on success); points to static storage
};

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) (RFC 6455 4.2.2).
std::string acceptKey(std::string_view secWebSocketKey);

// True when `key` is the Base64 encoding of exactly 16 bytes (24 characters ending in "==").
bool isValidKey(std::string_view key);

// Validates `req` as a WebSocket upgrade and builds the reply. The only extension is
// permessage-deflate (when opts.perMessageDeflate): its answer goes in
// Sec-WebSocket-Extensions; a declined offer leaves the header out.
HandshakeResult acceptUpgrade(const http::Request& req, const HandshakeOptions& opts);

// A complete error reply with `reason` as its text/plain body and Connection: close, for the
// caller's own refusals (401 from auth, 404 for an unknown path, 503 when overloaded).
// REQUIRES: 400 <= status <= 599; reason holds no CR or LF.
std::string rejectResponse(int status, std::string_view reason);

}  // namespace ringcast::ws
