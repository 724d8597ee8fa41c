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
//
// A channel message (stream entry and pub/sub payload alike):
//   "OFFSET EPOCH TS_MS FROM_LEN FROM DATA" where FROM is FROM_LEN bytes followed directly
//   by DATA (the JSON value, byte for byte). A user message: "d TS_MS FROM_LEN FROMDATA" or
//   "x" (disconnect). A notice: "TS_MS DATA".
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

// The SHA1 that Redis names a script by (for EVALSHA), in lowercase hex.
std::string scriptSha1(std::string_view script);

}  // namespace ringcast::push::redis
