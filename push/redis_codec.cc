#include "push/redis_codec.h"

#include <openssl/sha.h>

#include <charconv>

namespace ringcast::push::redis {
namespace {

// Reads a decimal number followed by one space; advances *s past both.
template <typename T>
bool takeNumber(std::string_view* s, T* out) {
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), *out);
  if (ec != std::errc() || end == s->data() + s->size() || *end != ' ') return false;
  s->remove_prefix(static_cast<size_t>(end - s->data()) + 1);
  return true;
}

bool takeWord(std::string_view* s, std::string_view* out) {
  size_t sp = s->find(' ');
  if (sp == std::string_view::npos || sp == 0) return false;
  *out = s->substr(0, sp);
  s->remove_prefix(sp + 1);
  return true;
}

bool takeFromAndData(std::string_view* s, std::string_view* from, std::string_view* data) {
  size_t fromLen = 0;
  if (!takeNumber(s, &fromLen) || fromLen > s->size()) return false;
  *from = s->substr(0, fromLen);
  *data = s->substr(fromLen);
  return !data->empty();
}

std::string keyOf(std::string_view prefix, std::string_view channel, std::string_view suffix) {
  std::string k;
  k.reserve(prefix.size() + channel.size() + suffix.size() + 4);
  k.append(prefix).append(":{").append(channel).append("}:").append(suffix);
  return k;
}

}  // namespace

std::string metaKey(std::string_view prefix, std::string_view channel) {
  return keyOf(prefix, channel, "meta");
}
std::string historyKey(std::string_view prefix, std::string_view channel) {
  return keyOf(prefix, channel, "hist");
}
std::string messageChannel(std::string_view prefix, std::string_view channel) {
  return keyOf(prefix, channel, "msg");
}
std::string userChannel(std::string_view prefix, std::string_view user) {
  return std::string(prefix) + ":user:{" + std::string(user) + "}";
}
std::string noticeChannel(std::string_view prefix) {
  return std::string(prefix) + ":notice";
}

PresenceKeys channelPresenceKeys(std::string_view prefix, std::string_view channel) {
  return {keyOf(prefix, channel, "ph"), keyOf(prefix, channel, "pz"), keyOf(prefix, channel, "pu"),
          keyOf(prefix, channel, "pn")};
}

PresenceKeys onlinePresenceKeys(std::string_view prefix) {
  const std::string base = std::string(prefix) + ":online:";
  return {base + "ph", base + "pz", base + "pu", base + "pn"};
}

bool channelOfMessageChannel(std::string_view prefix, std::string_view name,
                             std::string_view* channel) {
  constexpr std::string_view kOpen = ":{";
  constexpr std::string_view kClose = "}:msg";
  if (name.size() < prefix.size() + kOpen.size() + kClose.size() ||
      name.substr(0, prefix.size()) != prefix || name.substr(prefix.size(), 2) != kOpen ||
      name.substr(name.size() - kClose.size()) != kClose) {
    return false;
  }
  *channel = name.substr(prefix.size() + 2, name.size() - prefix.size() - 2 - kClose.size());
  return true;
}

bool userOfUserChannel(std::string_view prefix, std::string_view name, std::string_view* user) {
  constexpr std::string_view kOpen = ":user:{";
  if (name.size() < prefix.size() + kOpen.size() + 2 || name.substr(0, prefix.size()) != prefix ||
      name.substr(prefix.size(), kOpen.size()) != kOpen || name.back() != '}') {
    return false;
  }
  *user = name.substr(prefix.size() + kOpen.size(), name.size() - prefix.size() - kOpen.size() - 1);
  return true;
}

bool decodeChannelMessage(std::string_view s, ChannelMessage* out) {
  return takeNumber(&s, &out->offset) && takeWord(&s, &out->epoch) && takeNumber(&s, &out->tsMs) &&
         takeFromAndData(&s, &out->from, &out->data);
}

bool decodePresenceEvent(std::string_view s, bool* join, std::string_view* user) {
  if (s.size() < 3 || (s[0] != 'j' && s[0] != 'l') || s[1] != ' ') return false;
  *join = s[0] == 'j';
  *user = s.substr(2);
  return true;
}

bool decodeUserMessage(std::string_view s, UserMessage* out) {
  if (s == kDisconnectPayload) {
    out->disconnect = true;
    return true;
  }
  if (s.substr(0, 2) != "d ") return false;
  s.remove_prefix(2);
  out->disconnect = false;
  return takeNumber(&s, &out->tsMs) && takeFromAndData(&s, &out->from, &out->data);
}

std::string encodeDirect(int64_t tsMs, std::string_view from, std::string_view data) {
  std::string s = "d " + std::to_string(tsMs) + " " + std::to_string(from.size()) + " ";
  s.append(from).append(data);
  return s;
}

bool decodeNotice(std::string_view s, Notice* out) {
  if (!takeNumber(&s, &out->tsMs) || s.empty()) return false;
  out->data = s;
  return true;
}

std::string encodeNotice(int64_t tsMs, std::string_view data) {
  std::string s = std::to_string(tsMs) + " ";
  s.append(data);
  return s;
}

// A channel whose meta hash is gone has lost its history: a new epoch, an empty stream.
const std::string_view kPublishScript = R"lua(
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[5]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
  redis.call('DEL', KEYS[2])
end
local off = redis.call('HINCRBY', KEYS[1], 'offset', 1)
local msg = off .. ' ' .. epoch .. ' ' .. ARGV[4] .. ' ' .. string.len(ARGV[3]) .. ' ' .. ARGV[3] .. ARGV[2]
if tonumber(ARGV[6]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[6], '0-' .. off, 'm', msg)
  if tonumber(ARGV[7]) > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[7]) end
end
redis.call('PUBLISH', ARGV[1], msg)
return {off, epoch}
)lua";

const std::string_view kRecoverScript = R"lua(
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
  redis.call('DEL', KEYS[2])
end
local off = tonumber(redis.call('HGET', KEYS[1], 'offset') or '0')
local out = {off, epoch}
if ARGV[2] ~= '' then
  local since = tonumber(ARGV[2])
  if since < off then
    local entries = redis.call('XRANGE', KEYS[2], '0-' .. (since + 1), '+', 'COUNT', ARGV[3])
    for _, e in ipairs(entries) do out[#out + 1] = e[2][2] end
  end
end
return out
)lua";

const std::string_view kPresenceScript = R"lua(
local function drop(m)
  redis.call('HDEL', KEYS[1], m)
  redis.call('ZREM', KEYS[2], m)
  local sp = string.find(m, ' ', 1, true)
  if not sp then return end
  local user = string.sub(m, sp + 1)
  if redis.call('HINCRBY', KEYS[3], user, -1) <= 0 then
    redis.call('HDEL', KEYS[3], user)
    redis.call('HDEL', KEYS[4], user)
    if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], 'l ' .. user) end
  end
end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, 1000)) do
  drop(m)
end
for i = 7, #ARGV, 3 do
  local user, conns = ARGV[i], tonumber(ARGV[i + 1])
  local m = ARGV[1] .. ' ' .. user
  local had = redis.call('HEXISTS', KEYS[1], m) == 1
  if conns > 0 then
    redis.call('HSET', KEYS[1], m, conns)
    redis.call('ZADD', KEYS[2], ARGV[3], m)
    if not had and redis.call('HINCRBY', KEYS[3], user, 1) == 1 then
      redis.call('HSET', KEYS[4], user, ARGV[i + 2])
      if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], 'j ' .. user) end
    end
  elseif had then
    drop(m)
  end
end
if #ARGV >= 7 then
  for k = 1, 4 do redis.call('PEXPIRE', KEYS[k], ARGV[4]) end
end
if ARGV[6] == '1' then
  return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[4])}
end
return 0
)lua";

std::string scriptSha1(std::string_view script) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(script.data()), script.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : digest) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  return hex;
}

}  // namespace ringcast::push::redis
