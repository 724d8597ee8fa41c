// The layout of what RedisEngine keeps in and sends through Redis: key names, the Lua
// scripts, and the compact message that every node decodes once. Pure; any thread.
//
// Keys (P = --redis-prefix, C = channel; the {C} hash tag keeps a channel's keys in one
// Redis Cluster slot):
//   P:{C}:meta   hash: offset (last assigned), epoch (new only when the hash is lost)
//   P:{C}:hist   stream of the last --history-size messages, entry id 0-OFFSET, field m
//   P:{C}:msg    pub/sub channel carrying each published message to the nodes
//   P:user:{U}   pub/sub channel of a user's direct messages and disconnects; a node
//                subscribes while the user has a connection on it, so PUBLISH's answer (the
//                number of nodes that got it) says whether the user is online anywhere
//   P:notice     pub/sub channel of system notices (every node subscribes)
//   P:{C}:ph/pz/pu/pn and P:online:ph/pz/pu/pn: a presence set (a channel's subscribers,
//                the cluster's connected users), see kPresenceScript
//
// A presence set: ph hash "NODE USER" -> that node's connections of the user; pz sorted set
// "NODE USER" -> when that entry expires (ms since the epoch; each node refreshes its own
// entries); pu hash USER -> how many nodes have the user; pn hash USER -> display name (of the
// connection that came first). NODE is a node's instance name (no spaces).
//
// A channel message (stream entry and pub/sub payload alike):
//   "OFFSET EPOCH TS_MS FROM_LEN FROM DATA" where FROM is FROM_LEN bytes followed directly
//   by DATA (the JSON value, byte for byte). A user message: "d TS_MS FROM_LEN FROMDATA" or
//   "x" (disconnect). A notice: "TS_MS DATA". A presence event on a channel's P:{C}:msg:
//   "j USER" (the user's first connection anywhere) or "l USER" (its last one went).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::push::redis {

std::string metaKey(std::string_view prefix, std::string_view channel);
std::string historyKey(std::string_view prefix, std::string_view channel);
std::string messageChannel(std::string_view prefix, std::string_view channel);
std::string userChannel(std::string_view prefix, std::string_view user);
std::string noticeChannel(std::string_view prefix);
struct PresenceKeys {
  std::string conns, expiry, nodes, names;  // ph, pz, pu, pn
};
PresenceKeys channelPresenceKeys(std::string_view prefix, std::string_view channel);
PresenceKeys onlinePresenceKeys(std::string_view prefix);
// The channel of a P:{C}:msg name, or false when `name` is not one.
bool channelOfMessageChannel(std::string_view prefix, std::string_view name,
                             std::string_view* channel);
// The user of a P:user:{U} name, or false.
bool userOfUserChannel(std::string_view prefix, std::string_view name, std::string_view* user);

struct ChannelMessage {
  uint64_t offset = 0;
  std::string_view epoch;
  int64_t tsMs = 0;
  std::string_view from;
  std::string_view data;
};
// Views into `payload`. False when it is malformed.
bool decodeChannelMessage(std::string_view payload, ChannelMessage* out);

// A join ("j USER") or leave ("l USER") on a channel's pub/sub channel; false when the
// payload is not one (then it is a channel message).
bool decodePresenceEvent(std::string_view payload, bool* join, std::string_view* user);

struct UserMessage {
  bool disconnect = false;
  int64_t tsMs = 0;
  std::string_view from;
  std::string_view data;
};
bool decodeUserMessage(std::string_view payload, UserMessage* out);
std::string encodeDirect(int64_t tsMs, std::string_view from, std::string_view data);
inline constexpr std::string_view kDisconnectPayload = "x";

struct Notice {
  int64_t tsMs = 0;
  std::string_view data;
};
bool decodeNotice(std::string_view payload, Notice* out);
std::string encodeNotice(int64_t tsMs, std::string_view data);

// KEYS: meta, hist. ARGV: pub/sub channel, data, from, ts, epoch if new, history size,
// history ttl ms. Returns {offset, epoch}.
extern const std::string_view kPublishScript;
// KEYS: meta, hist. ARGV: epoch if new, since ("" for none), max entries. Returns
// {offset, epoch, messages after since...} (creating the channel's epoch if it had none).
extern const std::string_view kRecoverScript;

// One node's update of a presence set, after sweeping entries whose expiry has passed (a
// crashed node's). KEYS: ph, pz, pu, pn. ARGV: node, now ms, expiry ms of the updated
// entries, key ttl ms, pub/sub channel for join/leave events ("" for none), read ("1": answer
// {HGETALL ph, HGETALL pn}, else 0), then per user: user, the node's connections (0: gone),
// display name. A user's join goes out when its first node entry appears, its leave when its
// last one goes (removed or swept).
extern const std::string_view kPresenceScript;

// The SHA1 that Redis names a script by (for EVALSHA), in lowercase hex.
std::string scriptSha1(std::string_view script);

}  // namespace ringcast::push::redis
