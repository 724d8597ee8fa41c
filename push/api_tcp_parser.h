// Parser for the TCP publish protocol (docs/PROTOCOL.md, "TCP protocol"), a pure function of
// the bytes a connection has buffered. Safe from any thread; no allocation.
//
//   PUB <channel> <nbytes>\r\n<payload>\r\n
//   BCAST <nbytes>\r\n<payload>\r\n
//   SEND <user> <nbytes>\r\n<payload>\r\n
//   PING\r\n
//   AUTH <key>\r\n
//
// Command words are upper case and exact. Arguments are separated by one or more spaces;
// spaces before the first word or after the last are ignored. <nbytes> is decimal digits
// only (no sign, at most 19 digits), and exactly that many payload bytes follow the line,
// then CRLF. The payload is opaque here (any bytes, CR and LF included); checking that it is
// UTF-8 and turning it into JSON (json::dataFromBytes) is the handler's job.
//
// Use: keep every received byte not yet consumed in one buffer and call parseTcpCommand
// after each read until it returns kIncomplete:
//   kComplete    handle *out, drop `consumed` bytes.
//   kIncomplete  read more.
//   kError       answer "-ERR <error>\r\n". If !inSync, close the connection (after writing
//                the answer). If inSync, drop `consumed` bytes, then drop the next `skip`
//                bytes as they arrive (skip is only non-zero for "payload too large", whose
//                payload need not be buffered; the CRLF after a skipped payload is dropped
//                unchecked), and go on.
#pragma once

#include <cstddef>
#include <string_view>

namespace ringcast::push {

// A command line, CRLF excluded; a longer line loses sync. Plenty for a 128-byte name.
inline constexpr size_t kMaxTcpLineBytes = 1024;

// The reason given to an HTTP request sent to the publish port.
inline constexpr std::string_view kTcpHttpError =
    "HTTP request on the TCP publish port (the HTTP API is on --api-listen)";

struct TcpCommand {
  enum Kind { kPub, kBcast, kSend, kPing, kAuth };
  Kind kind = kPing;
  // kPub: channel; kSend: user; kAuth: the key (unchecked); else empty. Points into the input.
  std::string_view target;
  std::string_view
      payload;  // kPub, kBcast, kSend: the nbytes payload bytes. Points into the input.
};

struct TcpParse {
  enum Status { kComplete, kIncomplete, kError };
  Status status = kIncomplete;
  size_t consumed = 0;     // kComplete, or kError in sync: bytes to drop now; else 0
  size_t skip = 0;         // kError in sync: further bytes to drop as they arrive
  bool inSync = true;      // kError: false means close the connection
  std::string_view error;  // kError: the reason for "-ERR <reason>"; static storage
};

// Parses the first command of `buffered`. Writes *out only on kComplete. Errors, in sync
// unless noted (each names its "-ERR" reason):
//   kTcpHttpError                  `buffered` starts with an HTTP method and a space ("GET ",
//                                  "POST ", ...; reported before the line is complete), or
//                                  a line of two or more words ends in a word starting with
//                                  "HTTP/"; not in sync, so nothing after it is carried out
//   "line too long"                no CRLF within kMaxTcpLineBytes + 2 bytes; not in sync
//   "empty command"                an empty (or all-space) line
//   "unknown command"              the first word is none of PUB, BCAST, SEND, PING, AUTH
//   "wrong number of arguments"    PING with arguments, PUB/SEND without exactly a name and
//                                  a length, BCAST without exactly a length, AUTH without
//                                  exactly a key: only the line is consumed (a refused line
//                                  announces no payload)
//   "bad length"                   PUB/BCAST/SEND whose last word is not a valid <nbytes>:
//                                  where the payload ends is unknown; not in sync
//   "payload too large"            nbytes > maxPayloadBytes: consumed = the line, skip =
//                                  nbytes + 2 (reported as soon as the line is complete)
//   "missing CRLF after payload"   the two bytes after the payload are not CRLF; not in sync
//   "invalid channel name", "invalid user name"   (the payload is consumed too, once
//                                  buffered; names follow isValidChannelName/UserName)
// The payload-related errors wait (kIncomplete) until line, payload and CRLF are buffered,
// so that `consumed` can cover them.
TcpParse parseTcpCommand(std::string_view buffered, size_t maxPayloadBytes, TcpCommand* out);

}  // namespace ringcast::push
