// The bodies of the internal HTTP API's send routes (docs/PROTOCOL.md, "HTTP API"): the JSON
// command of POST /api/publish, /api/broadcast, /api/send and /api/disconnect, and the raw
// body of POST /api/publish/{channel}. Pure functions of their arguments, safe from any
// thread (each keeps one thread_local JSON parser).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "push/api_routes.h"
#include "push/client_protocol.h"

namespace ringcast::push {

// True for application/json and any */*+json media type, parameters ignored.
bool isJsonContentType(std::string_view contentType);

struct ApiError {
  int status = 0;  // 0: no error
  std::string_view code;
  std::string message;
  bool ok() const { return status == 0; }
};

// The raw-body rule of POST /api/publish/{channel}: a JSON content type means the body must be
// one JSON value (carried with surrounding whitespace trimmed); anything else is carried as
// JSON if it parses as JSON, else as a JSON string. Non-UTF-8 bytes are refused.
ApiError rawBodyToData(std::string_view body, std::string_view contentType, std::string* data);

// A JSON command body, parsed.
struct ApiCommand {
  std::vector<std::string> targets;  // channels (publish), users (send), the user (disconnect)
  bool targetList = false;           // targets came as a list: answer with "results"
  std::string_view data;             // the exact JSON text of "data", pointing into the body
};
// Names in one list ("channels" or "to"): each is a separate send. The same bound as a
// client's send to a list.
inline constexpr size_t kMaxTargetsPerCommand = kMaxRecipients;
// Parses the body of POST /api/publish, /api/broadcast, /api/send or /api/disconnect and
// checks the names in it. ApiCommand::data points into `body`.
ApiError parseCommandBody(Route route, std::string_view body, ApiCommand* out);

}  // namespace ringcast::push
