// Fuzz target for what a node decodes from Redis (push/redis_codec.h): channel messages,
// presence events, direct messages and notices, and the pub/sub channel names. Whatever
// decodes must be made of views inside the input, and an encoded direct message or notice
// must decode back to what was encoded.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "push/redis_codec.h"

namespace {

namespace redis = ringcast::push::redis;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  redis::ChannelMessage m;
  if (redis::decodeChannelMessage(in, &m)) {
    check(inside(m.epoch, in) && inside(m.from, in) && inside(m.data, in));
    check(!m.data.empty());
  }
  bool join = false;
  std::string_view user;
  if (redis::decodePresenceEvent(in, &join, &user)) {
    check(inside(user, in) && !user.empty());
    check(!redis::decodeChannelMessage(in, &m));  // one payload is never both
  }
  redis::UserMessage u;
  if (redis::decodeUserMessage(in, &u) && !u.disconnect) {
    check(inside(u.from, in) && inside(u.data, in));
  }
  redis::Notice n;
  if (redis::decodeNotice(in, &n)) check(inside(n.data, in) && !n.data.empty());
  std::string_view name;
  if (redis::channelOfMessageChannel("rc", in, &name)) {
    check(redis::messageChannel("rc", name) == in);
  }
  if (redis::userOfUserChannel("rc", in, &name)) check(redis::userChannel("rc", name) == in);

  // Round trips: the input split into a sender and a payload.
  const size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  const std::string_view from = in.substr(0, cut), payload = in.substr(cut);
  if (!payload.empty()) {
    const std::string direct = redis::encodeDirect(1234, from, payload);
    check(redis::decodeUserMessage(direct, &u) && !u.disconnect && u.tsMs == 1234 &&
          u.from == from && u.data == payload);
    const std::string notice = redis::encodeNotice(99, payload);
    check(redis::decodeNotice(notice, &n) && n.tsMs == 99 && n.data == payload);
  }
  return 0;
}
