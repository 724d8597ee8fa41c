#include "push/client_protocol.h"

#include <simdjson.h>

#include <array>
#include <charconv>
#include <unordered_set>

#include "core/json.h"
#include "ws/utf8.h"

namespace ringcast::push {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr std::array<bool, 256> makeNameTable() {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (char c : std::string_view("_-:.@/=+#")) table[static_cast<unsigned char>(c)] = true;
  return table;
}
constexpr std::array<bool, 256> kNameByte = makeNameTable();

bool isValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  for (char c : name) {
    if (!kNameByte[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

// The members parseCommand reads, by slot.
enum Member { kOp, kId, kChannel, kPresence, kSince, kData, kTo, kToken, kMemberCount };
constexpr std::array<std::string_view, kMemberCount> kMemberNames = {
    "op", "id", "channel", "presence", "since", "data", "to", "token"};

struct Ops {
  std::string_view name;
  Op op;
};
constexpr Ops kOps[] = {{"subscribe", Op::kSubscribe}, {"unsubscribe", Op::kUnsubscribe},
                        {"publish", Op::kPublish},     {"send", Op::kSend},
                        {"presence", Op::kPresence},   {"ping", Op::kPing},
                        {"refresh", Op::kRefresh}};

bool fail(CommandError* err, std::string_view code, std::string_view message) {
  err->code = code;
  err->message = message;
  return false;
}

// Reads a required channel member into *out.
bool readChannel(const element* value, std::string* out, CommandError* err) {
  if (value == nullptr) return fail(err, "bad_request", "missing channel");
  std::string_view channel;
  if (value->get_string().get(channel)) return fail(err, "bad_request", "channel must be a string");
  if (!isValidChannelName(channel)) return fail(err, "bad_request", "invalid channel name");
  out->assign(channel);
  return true;
}

// True when an id with text `raw` and DOM `value` is valid. A number simdjson cannot
// represent reads as an object in the DOM (core/json.h), so numbers are told by their text.
bool isValidId(std::string_view raw, element value) {
  if (raw.front() == '"') {
    std::string_view id;
    return value.get_string().get(id) == simdjson::SUCCESS && id.size() <= kMaxIdBytes;
  }
  const bool isNumber = raw.front() == '-' || (raw.front() >= '0' && raw.front() <= '9');
  return isNumber && raw.size() <= kMaxIdBytes;
}

bool readSince(element value, Since* out, CommandError* err) {
  simdjson::dom::object since;
  if (value.get_object().get(since)) return fail(err, "bad_request", "since must be an object");
  element offset;
  if (since.at_key("offset").get(offset) || offset.type() == element_type::DOUBLE ||
      offset.get_uint64().get(out->offset)) {
    return fail(err, "bad_request", "since.offset must be an unsigned integer");
  }
  element epochValue;
  if (since.at_key("epoch").get(epochValue) == simdjson::SUCCESS) {
    std::string_view epoch;
    if (epochValue.get_string().get(epoch) || epoch.size() > kMaxEpochBytes) {
      return fail(err, "bad_request", "since.epoch must be a string of at most 128 bytes");
    }
    out->epoch.assign(epoch);
  }
  return true;
}

}  // namespace

void dedupeUsers(std::vector<std::string>* users) {
  if (users->size() < 2) return;
  std::unordered_set<std::string_view> seen;  // views into *users, untouched until the swap
  seen.reserve(users->size());
  std::vector<std::string> unique;
  unique.reserve(users->size());
  for (const std::string& user : *users) {
    if (seen.insert(user).second) unique.push_back(user);
  }
  if (unique.size() != users->size()) users->swap(unique);
}

namespace {

bool readRecipients(const element* value, std::vector<std::string>* out, CommandError* err) {
  constexpr std::string_view kShape = "to must be a user name or a list of user names";
  if (value == nullptr) return fail(err, "bad_request", "missing to");
  std::string_view user;
  if (value->get_string().get(user) == simdjson::SUCCESS) {
    if (!isValidUserName(user)) return fail(err, "bad_request", "invalid user name in to");
    out->emplace_back(user);
    return true;
  }
  simdjson::dom::array list;
  if (value->get_array().get(list)) return fail(err, "bad_request", kShape);
  if (list.size() == 0) return fail(err, "bad_request", "to must not be empty");
  if (list.size() > kMaxRecipients) return fail(err, "too_large", "to lists more than 1000 users");
  out->reserve(list.size());
  for (element entry : list) {
    if (entry.get_string().get(user)) return fail(err, "bad_request", kShape);
    if (!isValidUserName(user)) return fail(err, "bad_request", "invalid user name in to");
    out->emplace_back(user);
  }
  dedupeUsers(out);
  return true;
}

void appendIdField(std::string& out, std::string_view id) {
  if (id.empty()) return;
  out.append(",\"id\":");
  out.append(id);
}

// Room for the fixed text of a hot frame plus its numbers, so that one reserve covers it.
constexpr size_t kFrameOverheadBytes = 128;

}  // namespace

bool isValidChannelName(std::string_view name) {
  return isValidName(name);
}
bool isValidUserName(std::string_view name) {
  return isValidName(name);
}
bool isClaimableUserName(std::string_view name) {
  return isValidName(name) && name != kApiSender;
}
bool isValidDisplayName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes || !ws::isValidUtf8(name)) return false;
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool parseCommand(std::string_view text, Command* out, CommandError* err) {
  thread_local json::Parser parser;
  *err = CommandError();
  element root;
  if (!parser.parse(text, &root)) return fail(err, "bad_json", "invalid JSON");
  simdjson::dom::object object;
  if (root.get_object().get(object)) {
    return fail(err, "bad_request", "command must be a JSON object");
  }

  std::array<element, kMemberCount> values;
  std::array<bool, kMemberCount> present{};
  for (simdjson::dom::key_value_pair member : object) {
    for (size_t slot = 0; slot < kMemberCount; ++slot) {
      if (member.key != kMemberNames[slot]) continue;
      if (present[slot]) {
        return fail(err, "bad_request",
                    "duplicate member \"" + std::string(kMemberNames[slot]) + "\"");
      }
      present[slot] = true;
      values[slot] = member.value;
    }
  }
  auto get = [&](Member slot) { return present[slot] ? &values[slot] : nullptr; };

  // The exact text of "id" and "data", read only when one of them is there.
  constexpr std::array<std::string_view, 2> rawNames = {"id", "data"};
  std::array<std::string_view, 2> raw;
  if ((present[kId] || present[kData]) && !parser.rawMembers(rawNames, raw)) {
    return fail(err, "bad_json", "invalid JSON");
  }
  *out = Command();
  if (present[kId]) {
    if (!isValidId(raw[0], values[kId])) {
      return fail(err, "bad_request", "id must be a number or a string of at most 128 bytes");
    }
    out->id.assign(raw[0]);
    err->id = out->id;
  }

  std::string_view opName;
  if (!present[kOp]) return fail(err, "bad_request", "missing op");
  if (values[kOp].get_string().get(opName)) return fail(err, "bad_request", "op must be a string");
  const Ops* op = nullptr;
  for (const Ops& candidate : kOps) {
    if (candidate.name == opName) op = &candidate;
  }
  if (op == nullptr) return fail(err, "unknown_op", "unknown op");
  out->op = op->op;

  switch (out->op) {
    case Op::kSubscribe:
      if (!readChannel(get(kChannel), &out->channel, err)) return false;
      if (present[kPresence] && values[kPresence].get_bool().get(out->presence)) {
        return fail(err, "bad_request", "presence must be a boolean");
      }
      if (present[kSince]) {
        if (!readSince(values[kSince], &out->since, err)) return false;
        out->hasSince = true;
      }
      break;
    case Op::kUnsubscribe:
    case Op::kPresence:
      if (!readChannel(get(kChannel), &out->channel, err)) return false;
      break;
    case Op::kPublish:
      if (!readChannel(get(kChannel), &out->channel, err)) return false;
      if (!present[kData]) return fail(err, "bad_request", "missing data");
      out->data.assign(raw[1]);
      break;
    case Op::kSend:
      if (!readRecipients(get(kTo), &out->to, err)) return false;
      if (!present[kData]) return fail(err, "bad_request", "missing data");
      out->data.assign(raw[1]);
      break;
    case Op::kRefresh: {
      std::string_view token;
      if (!present[kToken]) return fail(err, "bad_request", "missing token");
      if (values[kToken].get_string().get(token) || token.empty() ||
          token.size() > kMaxTokenBytes) {
        return fail(err, "bad_request", "token must be a string of 1 to 8192 bytes");
      }
      out->token.assign(token);
      break;
    }
    case Op::kPing:
      break;
  }
  return true;
}

namespace frame {

void welcome(std::string& out, std::string_view user, std::string_view conn,
             std::string_view epoch) {
  out.append("{\"type\":\"welcome\",");
  json::appendStringField(out, "user", user);
  out.push_back(',');
  json::appendStringField(out, "conn", conn);
  out.push_back(',');
  json::appendStringField(out, "epoch", epoch);
  out.push_back('}');
}

void replyOk(std::string& out, const ReplyOk& reply) {
  out.append("{\"type\":\"reply\"");
  appendIdField(out, reply.id);
  out.append(",\"ok\":true");
  if (!reply.channel.empty()) {
    out.push_back(',');
    json::appendStringField(out, "channel", reply.channel);
  }
  if (reply.hasOffset) {
    out.push_back(',');
    json::appendUintField(out, "offset", reply.offset);
  }
  if (!reply.epoch.empty()) {
    out.push_back(',');
    json::appendStringField(out, "epoch", reply.epoch);
  }
  if (reply.recovered >= 0) {
    out.push_back(',');
    json::appendBoolField(out, "recovered", reply.recovered != 0);
  }
  out.push_back('}');
}

void replyError(std::string& out, std::string_view id, std::string_view code,
                std::string_view message) {
  out.append("{\"type\":\"reply\"");
  appendIdField(out, id);
  out.append(",\"ok\":false,\"error\":{");
  json::appendStringField(out, "code", code);
  out.push_back(',');
  json::appendStringField(out, "message", message);
  out.append("}}");
}

void message(std::string& out, std::string_view channel, uint64_t offset, std::string_view from,
             int64_t tsMs, std::string_view dataJson) {
  out.reserve(out.size() + kFrameOverheadBytes + channel.size() + from.size() + dataJson.size());
  out.append("{\"type\":\"message\",");
  json::appendStringField(out, "channel", channel);
  out.push_back(',');
  json::appendUintField(out, "offset", offset);
  out.push_back(',');
  json::appendStringField(out, "from", from);
  out.push_back(',');
  json::appendIntField(out, "ts", tsMs);
  out.append(",\"data\":");
  out.append(dataJson);
  out.push_back('}');
}

void direct(std::string& out, std::string_view from, std::string_view to, int64_t tsMs,
            std::string_view dataJson) {
  out.reserve(out.size() + kFrameOverheadBytes + from.size() + to.size() + dataJson.size());
  out.append("{\"type\":\"direct\",");
  json::appendStringField(out, "from", from);
  if (!to.empty()) {
    out.push_back(',');
    json::appendStringField(out, "to", to);
  }
  out.push_back(',');
  json::appendIntField(out, "ts", tsMs);
  out.append(",\"data\":");
  out.append(dataJson);
  out.push_back('}');
}

void notice(std::string& out, int64_t tsMs, std::string_view dataJson) {
  out.reserve(out.size() + kFrameOverheadBytes + dataJson.size());
  out.append("{\"type\":\"notice\",");
  json::appendIntField(out, "ts", tsMs);
  out.append(",\"data\":");
  out.append(dataJson);
  out.push_back('}');
}

void join(std::string& out, std::string_view channel, std::string_view user) {
  out.append("{\"type\":\"join\",");
  json::appendStringField(out, "channel", channel);
  out.push_back(',');
  json::appendStringField(out, "user", user);
  out.push_back('}');
}

void leave(std::string& out, std::string_view channel, std::string_view user) {
  out.append("{\"type\":\"leave\",");
  json::appendStringField(out, "channel", channel);
  out.push_back(',');
  json::appendStringField(out, "user", user);
  out.push_back('}');
}

void presence(std::string& out, std::string_view id, std::string_view channel, uint64_t total,
              std::span<const PresenceEntry> entries) {
  out.append("{\"type\":\"presence\"");
  appendIdField(out, id);
  out.push_back(',');
  json::appendStringField(out, "channel", channel);
  out.push_back(',');
  json::appendUintField(out, "total", total);
  out.append(",\"users\":[");
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('{');
    json::appendStringField(out, "user", entries[i].user);
    out.push_back(',');
    json::appendStringField(out, "name", entries[i].name);
    out.push_back(',');
    json::appendUintField(out, "conns", entries[i].conns);
    out.push_back('}');
  }
  out.append("]}");
}

void pong(std::string& out, std::string_view id) {
  out.append("{\"type\":\"pong\"");
  appendIdField(out, id);
  out.push_back('}');
}

void dropped(std::string& out, uint64_t count) {
  out.append("{\"type\":\"dropped\",");
  json::appendUintField(out, "count", count);
  out.push_back('}');
}

void lost(std::string& out, std::string_view channel, uint64_t offset, std::string_view epoch) {
  out.append("{\"type\":\"recovery\",");
  json::appendStringField(out, "channel", channel);
  out.append(",\"recovered\":false,");
  json::appendUintField(out, "offset", offset);
  out.push_back(',');
  json::appendStringField(out, "epoch", epoch);
  out.push_back('}');
}

}  // namespace frame
}  // namespace ringcast::push
