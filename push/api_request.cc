#include "push/api_request.h"

#include <simdjson.h>

#include <utility>

#include <fmt/format.h>

#include "core/json.h"
#include "net/http_parser.h"

namespace ringcast::push {
namespace {

constexpr std::string_view kJsonType = "application/json";

ApiError badRequest(std::string message) {
  return {400, "bad_request", std::move(message)};
}
ApiError badJson(std::string message) {
  return {400, "bad_json", std::move(message)};
}

// Reads a name, or a list of names when allowed, into out->targets.
ApiError readTargets(simdjson::dom::element value, bool allowList, std::string_view field,
                     ApiCommand* out) {
  std::string_view name;
  if (value.get_string().get(name) == simdjson::SUCCESS) {
    out->targets.emplace_back(name);
    out->targetList = false;
    return {};
  }
  std::string shape = allowList ? fmt::format("\"{}\" must be a string or a list of strings", field)
                                : fmt::format("\"{}\" must be a string", field);
  simdjson::dom::array list;
  if (!allowList || value.get_array().get(list) != simdjson::SUCCESS) return badRequest(shape);
  for (simdjson::dom::element element : list) {
    if (element.get_string().get(name) != simdjson::SUCCESS) return badRequest(shape);
    if (out->targets.size() == kMaxTargetsPerCommand) {
      return badRequest(
          fmt::format("\"{}\" lists more than {} names", field, kMaxTargetsPerCommand));
    }
    out->targets.emplace_back(name);
  }
  if (out->targets.empty()) return badRequest(fmt::format("\"{}\" is an empty list", field));
  out->targetList = true;
  return {};
}

}  // namespace

bool isJsonContentType(std::string_view contentType) {
  std::string_view type = contentType.substr(0, contentType.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  if (http::equalsIgnoreCase(type, kJsonType)) return true;
  constexpr std::string_view kSuffix = "+json";
  return type.size() > kSuffix.size() && type.find('/') != std::string_view::npos &&
         http::equalsIgnoreCase(type.substr(type.size() - kSuffix.size()), kSuffix);
}

ApiError rawBodyToData(std::string_view body, std::string_view contentType, std::string* data) {
  if (!json::isValidUtf8(body)) return badRequest("body is not valid UTF-8");
  if (isJsonContentType(contentType)) {
    std::string_view value = json::trimWhitespace(body);
    if (!json::isValidJson(value)) return badJson("body is not valid JSON");
    data->assign(value);
    return {};
  }
  if (!json::dataFromBytes(body, data)) return badRequest("body is not valid UTF-8");
  return {};
}

ApiError parseCommandBody(Route route, std::string_view body, ApiCommand* out) {
  // Cleared, not replaced: the slot's target list keeps its capacity from one request to the next.
  out->targets.clear();
  out->targetList = false;
  out->data = {};
  if (!json::isValidUtf8(body)) return badRequest("body is not valid UTF-8");
  // One parser per loop thread: its buffers are reused by every request the loop serves.
  thread_local json::Parser parser;
  simdjson::dom::element root;
  if (!parser.parse(body, &root)) return badJson("body is not valid JSON");
  if (!root.is_object()) return badRequest("body must be a JSON object");

  enum Member { kData, kChannel, kChannels, kTo, kUser, kMembers };
  static constexpr std::string_view kKeys[kMembers] = {"data", "channel", "channels", "to", "user"};
  std::string_view raw[kMembers];
  if (!parser.rawMembers(kKeys, raw)) return badRequest("body must be a JSON object");
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return badRequest("body must be a JSON object");
  }
  // Reads the targets in member m (present in `raw`, hence in the object; the first of
  // duplicate members, as rawMembers takes).
  auto readMember = [&](Member m, bool allowList) {
    simdjson::dom::element value;
    if (object.at_key(kKeys[m]).get(value) != simdjson::SUCCESS) {
      return badRequest(fmt::format("missing \"{}\"", kKeys[m]));
    }
    return readTargets(value, allowList, kKeys[m], out);
  };

  ApiError e;
  switch (route) {
    case Route::kPublish:
      if (!raw[kChannel].empty() && !raw[kChannels].empty()) {
        return badRequest("give \"channel\" or \"channels\", not both");
      }
      if (!raw[kChannel].empty()) {
        e = readMember(kChannel, false);
      } else if (!raw[kChannels].empty()) {
        e = readMember(kChannels, true);
        if (e.ok() && !out->targetList) return badRequest("\"channels\" must be a list of strings");
      } else {
        return badRequest("missing \"channel\" (or \"channels\")");
      }
      break;
    case Route::kSend:
      if (raw[kTo].empty()) return badRequest("missing \"to\"");
      e = readMember(kTo, true);
      dedupeUsers(&out->targets);  // each user once: one frame, one result per user
      break;
    case Route::kDisconnect:
      if (raw[kUser].empty()) return badRequest("missing \"user\"");
      e = readMember(kUser, false);
      break;
    default:
      break;
  }
  if (!e.ok()) return e;
  if (route != Route::kDisconnect) {
    if (raw[kData].empty()) return badRequest("missing \"data\"");
    out->data = raw[kData];
  }
  for (const std::string& name : out->targets) {
    bool valid = route == Route::kPublish ? isValidChannelName(name) : isValidUserName(name);
    if (!valid) {
      return badRequest(route == Route::kPublish ? "invalid channel name" : "invalid user name");
    }
  }
  return {};
}

}  // namespace ringcast::push
