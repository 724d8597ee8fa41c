// What --reconnect reads from ringcast's server frames (docs/PROTOCOL.md): the offset of
// each message, and the offset, epoch and `recovered` of a subscribe reply, so a subscriber
// that lost its connection can resubscribe with since {offset, epoch}. Only the envelope's
// fields are read: they come before "data", so a published payload cannot fake them.
//
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::bench {

struct ReplyFields {
  uint64_t offset = 0;
  std::string epoch;
  int recovered = -1;  // -1 absent, 0 false, 1 true
};

// A `{"type":"message",...}` frame's offset. False for any other frame.
bool messageOffset(std::string_view frame, uint64_t* offset);
// A successful subscribe reply's fields. False for any other frame.
bool subscribeReply(std::string_view frame, ReplyFields* out);
// The resubscribe template with {offset} and {epoch} filled in.
std::string fillSince(std::string_view templ, uint64_t offset, std::string_view epoch);

}  // namespace ringcast::bench
