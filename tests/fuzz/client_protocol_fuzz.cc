// Fuzz target for push::parseCommand and the JSON helpers under it. Each input is parsed as a
// client command; on success the pieces go back out through the frame builders and must give
// valid JSON, names must be valid and the raw data and id must be exact substrings of the
// input that parse as JSON on their own. On failure the error code must be one of the
// documented ones, and bad_json must agree with json::isValidJson. The input also goes
// through json::dataFromBytes, whose output must be valid JSON that carries the input, and
// json::isValidJson is compared with plain simdjson.
#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/json.h"
#include "push/client_protocol.h"

namespace {

namespace json = ringcast::json;
namespace frame = ringcast::push::frame;
using ringcast::push::Command;
using ringcast::push::CommandError;
using ringcast::push::Op;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool isSubstring(std::string_view piece, std::string_view input) {
  return input.find(piece) != std::string_view::npos;
}

std::string_view firstRecipient(const Command& c) {
  return c.to.empty() ? std::string_view("to") : std::string_view(c.to.front());
}

void checkCommand(std::string_view input, const Command& c) {
  std::string out;
  switch (c.op) {
    case Op::kSubscribe:
    case Op::kUnsubscribe:
    case Op::kPresence:
      check(ringcast::push::isValidChannelName(c.channel));
      check(c.data.empty() && c.to.empty());
      check(c.since.epoch.size() <= ringcast::push::kMaxEpochBytes);
      break;
    case Op::kPublish:
      check(ringcast::push::isValidChannelName(c.channel));
      check(!c.data.empty());
      break;
    case Op::kSend:
      check(!c.to.empty() && c.to.size() <= ringcast::push::kMaxRecipients);
      for (const std::string& user : c.to) check(ringcast::push::isValidUserName(user));
      check(!c.data.empty());
      break;
    case Op::kPing:
      check(c.channel.empty() && c.data.empty() && c.to.empty());
      break;
    case Op::kRefresh:
      check(!c.token.empty() && c.token.size() <= ringcast::push::kMaxTokenBytes);
      check(c.channel.empty() && c.data.empty() && c.to.empty());
      break;
  }
  if (c.op != Op::kRefresh) check(c.token.empty());
  if (!c.data.empty()) {
    check(json::isValidJson(c.data));
    check(json::trimWhitespace(c.data) == c.data);
    check(isSubstring(c.data, input));
    frame::message(out, c.channel, 1, "from", 2, c.data);
    check(json::isValidJson(out));
    out.clear();
    frame::direct(out, "from", firstRecipient(c), 3, c.data);
    check(json::isValidJson(out));
    out.clear();
  }
  if (!c.id.empty()) {
    check(json::isValidJson(c.id));
    check(isSubstring(c.id, input));
  }
  frame::ReplyOk reply;
  reply.id = c.id;
  reply.channel = c.channel;
  reply.epoch = c.since.epoch;
  reply.hasOffset = c.hasSince;
  reply.offset = c.since.offset;
  reply.recovered = c.presence ? 1 : 0;
  frame::replyOk(out, reply);
  check(json::isValidJson(out));
  out.clear();
  const frame::PresenceEntry entry = {firstRecipient(c), c.since.epoch, 2};
  frame::presence(out, c.id, c.channel, c.since.offset, {&entry, 1});
  check(json::isValidJson(out));
  out.clear();
  frame::pong(out, c.id);
  check(json::isValidJson(out));
}

void checkError(std::string_view input, const CommandError& e) {
  check(e.code == "bad_json" || e.code == "bad_request" || e.code == "unknown_op" ||
        e.code == "too_large");
  check(!e.message.empty());
  check((e.code == "bad_json") == !json::isValidJson(input));
  if (e.code == "bad_json") check(e.id.empty());
  if (!e.id.empty()) check(json::isValidJson(e.id) && isSubstring(e.id, input));
  std::string out;
  frame::replyError(out, e.id, e.code, e.message);
  check(json::isValidJson(out));
}

// json::isValidJson against plain simdjson: everything simdjson accepts is valid, and what
// only isValidJson accepts holds a number simdjson may not represent (19+ digits or an
// exponent).
void checkAgainstSimdjson(std::string_view input) {
  simdjson::dom::parser parser;
  simdjson::dom::element ignored;
  const bool simdjsonOk =
      parser.parse(simdjson::padded_string(input)).get(ignored) == simdjson::SUCCESS;
  const bool ok = json::isValidJson(input);
  if (simdjsonOk) check(ok);
  if (ok && !simdjsonOk) {
    size_t run = 0, longest = 0;
    for (char c : input) {
      run = (c >= '0' && c <= '9') ? run + 1 : 0;
      longest = std::max(longest, run);
    }
    check(longest >= 18 || input.find_first_of("eE") != std::string_view::npos);
  }
}

void checkDataFromBytes(std::string_view input) {
  std::string out = "sentinel";
  if (!json::dataFromBytes(input, &out)) {
    check(!json::isValidUtf8(input) && out == "sentinel");
    return;
  }
  check(json::isValidUtf8(input));
  check(json::isValidJson(out));
  if (json::isValidJson(input)) {
    check(out == json::trimWhitespace(input));
    return;
  }
  // A string that reads back as the input.
  simdjson::dom::parser parser;
  std::string_view back;
  check(parser.parse(simdjson::padded_string(out)).get_string().get(back) == simdjson::SUCCESS);
  check(back == input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  Command command;
  CommandError error;
  if (ringcast::push::parseCommand(input, &command, &error)) {
    checkCommand(input, command);
  } else {
    checkError(input, error);
  }
  checkDataFromBytes(input);
  checkAgainstSimdjson(input);
  return 0;
}
