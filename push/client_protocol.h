// The client side of the protocol (docs/PROTOCOL.md): parsing the JSON commands clients send
// in text frames, and building the JSON frames the server sends. Pure functions, safe from
// any thread (parseCommand keeps a thread_local json::Parser).
//
// Builders append compact JSON to `out` and never clear it, so a caller can build into a
// reused buffer (or straight after a frame header). Optional fields are left out when empty.
// A raw `id` is the JSON text of the command's id (a number or a string, as parseCommand
// returns it) and is echoed unchanged; `dataJson` is JSON text and is copied byte for byte.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringcast::push {

// Channel and user names: 1..128 bytes, each one of [A-Za-z0-9] or _-:.@/=+#
inline constexpr size_t kMaxNameBytes = 128;
bool isValidChannelName(std::string_view name);
bool isValidUserName(std::string_view name);
// The sender name of messages from the HTTP API and the TCP publish protocol.
inline constexpr std::string_view kApiSender = "api";
// A user name a client may be known by (token "sub", dev-mode ?user=): valid, and not
// kApiSender, so no client can pose as the API.
bool isClaimableUserName(std::string_view name);
// A display name (token "name", dev-mode ?name=): 1..kMaxNameBytes bytes of UTF-8 without
// control characters (C0, DEL).
bool isValidDisplayName(std::string_view name);

// Limits on one command.
inline constexpr size_t kMaxIdBytes = 128;      // a string id (unescaped) or a number's text
inline constexpr size_t kMaxRecipients = 1000;  // entries of "to" in one send
inline constexpr size_t kMaxEpochBytes = 128;   // "since":{"epoch":...}
// Users listed in one presence reply (its "total" counts them all): a reply stays under
// ~300 KiB with the longest names, whatever the channel's size.
inline constexpr size_t kMaxPresenceEntries = 1000;
// "token" of a refresh: as long as a token the upgrade request could carry in its 8 KiB of
// headers.
inline constexpr size_t kMaxTokenBytes = 8192;

// The close code and reason of a connection whose token's exp passed without a refresh: in
// the private-use range (RFC 6455 7.4.2), 4000 + the HTTP status an expired token gets at
// the upgrade (401), as graphql-ws numbers its codes. A client reconnects with a new token.
inline constexpr uint16_t kTokenExpiredCloseCode = 4401;
inline constexpr std::string_view kTokenExpiredReason = "token expired";

enum class Op { kSubscribe, kUnsubscribe, kPublish, kSend, kPresence, kPing, kRefresh };

struct Since {
  uint64_t offset = 0;  // the last offset the client saw
  std::string epoch;    // empty when the client sent none
};

struct Command {
  Op op = Op::kPing;
  std::string id;         // raw JSON of "id" (a number or a string) as sent; empty if absent
  std::string channel;    // subscribe, unsubscribe, presence, publish
  bool presence = false;  // subscribe: also receive join/leave for this channel
  bool hasSince = false;  // subscribe: "since" was given
  Since since;
  std::string data;             // publish, send: raw JSON text of "data", byte for byte
  std::vector<std::string> to;  // send: the recipients, in the order given, each once
  std::string token;            // refresh: the new token, not yet verified
};

// Removes repeated names, keeping the first of each in order (a send reaches each user once).
void dedupeUsers(std::vector<std::string>* users);

struct CommandError {
  std::string code;  // bad_json, bad_request, unknown_op, too_large
  std::string message;
  std::string id;  // raw JSON of the command's id when it had a valid one; else empty
};

// Parses one client command. Returns true and fills *out, or returns false and fills *err
// (then *out is unspecified). Rules, in the order they are checked:
// - not one JSON value (see core/json.h): bad_json, without id;
// - not an object: bad_request;
// - a known member ("op", "id", "channel", "presence", "since", "data", "to", "token")
//   appears twice:
//   bad_request (so no two readers can disagree on which one counts); unknown members are
//   ignored;
// - "id" not a number or a string of at most kMaxIdBytes (a number's text at most
//   kMaxIdBytes): bad_request, without id; from here on errors carry the id;
// - "op" missing or not a string: bad_request; not a known op: unknown_op;
// - the members the op needs, with their types (members an op does not use are ignored):
//     subscribe    channel; optional presence (bool) and since ({"offset": unsigned integer,
//                  "epoch": optional string of at most kMaxEpochBytes})
//     unsubscribe  channel
//     presence     channel
//     publish      channel, data
//     send         to (a user name or a non-empty list of them), data
//     ping         nothing
//     refresh      token (a string of 1..kMaxTokenBytes bytes; verified by the caller)
//   channel and user names must be valid (see above). Missing or wrong: bad_request; a "to"
//   list longer than kMaxRecipients: too_large.
// `data` is any JSON value. Command::data holds the exact bytes of that value as they stand
// in `text`: from its first byte to its last, with its inner whitespace, escapes, key order
// and number spelling (12345678901234567890123, 1.0e+2) kept, and only the whitespace
// around the value left out. Likewise for Command::id.
bool parseCommand(std::string_view text, Command* out, CommandError* err);

namespace frame {

// {"type":"welcome","user":..,"conn":..,"epoch":..}
void welcome(std::string& out, std::string_view user, std::string_view conn,
             std::string_view epoch);

// The optional fields of a successful reply.
struct ReplyOk {
  std::string_view id;       // raw JSON; empty: no "id"
  std::string_view channel;  // empty: no "channel"
  bool hasOffset = false;    // false: no "offset"
  uint64_t offset = 0;
  std::string_view epoch;  // empty: no "epoch"
  int recovered = -1;      // -1: no "recovered"; 0: false; 1: true
};
// {"type":"reply","id":..,"ok":true,"channel":..,"offset":..,"epoch":..,"recovered":..}
void replyOk(std::string& out, const ReplyOk& reply);

// {"type":"reply","id":..,"ok":false,"error":{"code":..,"message":..}}; no "id" when empty.
void replyError(std::string& out, std::string_view id, std::string_view code,
                std::string_view message);

// {"type":"message","channel":..,"offset":..,"from":..,"ts":..,"data":..}
void message(std::string& out, std::string_view channel, uint64_t offset, std::string_view from,
             int64_t tsMs, std::string_view dataJson);

// {"type":"direct","from":..,"to":..,"ts":..,"data":..}; without "to" when `to` is empty (a
// send to several users shares one frame).
void direct(std::string& out, std::string_view from, std::string_view to, int64_t tsMs,
            std::string_view dataJson);

// {"type":"notice","ts":..,"data":..}
void notice(std::string& out, int64_t tsMs, std::string_view dataJson);

// {"type":"join","channel":..,"user":..} and {"type":"leave","channel":..,"user":..}
void join(std::string& out, std::string_view channel, std::string_view user);
void leave(std::string& out, std::string_view channel, std::string_view user);

struct PresenceEntry {
  std::string_view user;
  std::string_view name;  // display name; sent as "" when the user has none
  uint32_t conns = 0;     // the user's connections subscribed to the channel
};
// {"type":"presence","id":..,"channel":..,"total":N,"users":[{"user":..,"name":..,"conns":..},..]}
// `total` is the channel's number of users; `entries` may list fewer (kMaxPresenceEntries).
void presence(std::string& out, std::string_view id, std::string_view channel, uint64_t total,
              std::span<const PresenceEntry> entries);

// {"type":"pong"} or {"type":"pong","id":..}
void pong(std::string& out, std::string_view id);

// {"type":"dropped","count":N}: N messages for this connection were skipped because it
// read too slowly (the drop-oldest slow-consumer policy).
void dropped(std::string& out, uint64_t count);

// {"type":"recovery","channel":..,"recovered":false,"offset":..,"epoch":..}: messages of the
// channel were lost for this connection (the history no longer holds them); live messages
// go on after `offset`. The client reloads its state, as after a subscribe reply with
// recovered:false.
void lost(std::string& out, std::string_view channel, uint64_t offset, std::string_view epoch);

}  // namespace frame
}  // namespace ringcast::push
