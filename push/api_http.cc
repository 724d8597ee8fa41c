#include "push/api_http.h"

#include <simdjson.h>

#include <array>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "push/client_protocol.h"

namespace ringcast::push {
namespace {

constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
// Who a publish or direct message from the API is from, as clients see it.

ApiError badRequest(std::string message) {
  return {400, "bad_request", std::move(message)};
}
ApiError badJson(std::string message) {
  return {400, "bad_json", std::move(message)};
}

void appendField(std::string& out, std::string_view name, uint64_t value) {
  out += '"';
  out += name;
  out += "\":";
  out += std::to_string(value);
}

void appendField(std::string& out, std::string_view name, bool value) {
  out += '"';
  out += name;
  out += "\":";
  out += value ? "true" : "false";
}

void appendStringField(std::string& out, std::string_view name, std::string_view value) {
  out += '"';
  out += name;
  out += "\":";
  json::appendString(out, value);
}

// "error":{"code":..,"message":..}
void appendErrorObject(std::string& out, std::string_view code, std::string_view message) {
  out += "\"error\":{";
  appendStringField(out, "code", code);
  out += ',';
  appendStringField(out, "message", message);
  out += '}';
}

void appendReceiptError(std::string& out, const Receipt& r) {
  appendErrorObject(out, r.errorCode.empty() ? "internal" : std::string_view(r.errorCode),
                    r.errorMessage.empty() ? "send failed" : std::string_view(r.errorMessage));
}

// "offset":..,"matched":..,"queued":..,"dropped":.. (the counts only where they cover every
// socket: a cluster node knows only its own, and then says "accepted":true instead).
void appendDelivery(std::string& out, const Receipt& r, bool withOffset) {
  if (withOffset) {
    appendField(out, "offset", r.offset);
    if (!r.counted) return;
    out += ',';
  }
  if (!r.counted) {
    appendField(out, "accepted", true);
    return;
  }
  appendField(out, "matched", r.matched);
  out += ',';
  appendField(out, "queued", r.queued);
  out += ',';
  appendField(out, "dropped", r.dropped);
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

// ---- Routes ----

RouteMatch matchRoute(std::string_view method, std::string_view path) {
  struct Fixed {
    std::string_view path;
    Route route;
    std::string_view method;
  };
  static constexpr Fixed kFixed[] = {
      {"/api/publish", Route::kPublish, "POST"}, {"/api/broadcast", Route::kBroadcast, "POST"},
      {"/api/send", Route::kSend, "POST"},       {"/api/disconnect", Route::kDisconnect, "POST"},
      {"/api/users", Route::kUsers, "GET"},      {"/api/channels", Route::kChannels, "GET"},
      {"/api/stats", Route::kStats, "GET"},      {"/metrics", Route::kMetrics, "GET"},
      {"/healthz", Route::kHealthz, "GET"},
  };
  static constexpr Fixed kPrefixed[] = {
      {"/api/publish/", Route::kPublishRaw, "POST"},
      {"/api/presence/", Route::kPresence, "GET"},
  };
  RouteMatch m;
  for (const Fixed& f : kFixed) {
    if (path == f.path) {
      m.route = f.route;
      m.allow = f.method;
      break;
    }
  }
  if (m.route == Route::kNone) {
    for (const Fixed& f : kPrefixed) {
      if (path.size() > f.path.size() && path.substr(0, f.path.size()) == f.path) {
        m.route = f.route;
        m.allow = f.method;
        m.param = path.substr(f.path.size());
        break;
      }
    }
  }
  m.methodAllowed = m.route != Route::kNone && method == m.allow;
  return m;
}

bool routeNeedsKey(std::string_view path) {
  return path == "/api" || path.substr(0, 5) == "/api/";
}

bool percentDecode(std::string_view in, std::string* out) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      *out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    *out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

bool bearerMatches(std::string_view authorization, std::string_view key) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() ||
      !http::equalsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme) ||
      (authorization[kScheme.size()] != ' ' && authorization[kScheme.size()] != '\t')) {
    return false;
  }
  std::string_view given = authorization.substr(kScheme.size());
  while (!given.empty() && (given.front() == ' ' || given.front() == '\t')) given.remove_prefix(1);
  return secretMatches(given, key);
}

// ---- Error and receipt bodies ----

std::string errorJson(std::string_view code, std::string_view message) {
  std::string out = "{\"ok\":false,";
  appendErrorObject(out, code, message);
  out += '}';
  return out;
}

std::string_view errorCodeForStatus(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 408:
      return "timeout";
    case 413:
    case 414:
    case 431:
      return "too_large";
    case 501:
      return "not_implemented";
    case 503:
      return "overloaded";
    case 505:
      return "http_version";
    default:
      return status >= 500 ? "internal" : "bad_request";
  }
}

int statusForReceiptError(std::string_view errorCode) {
  if (errorCode == "overloaded" || errorCode == "draining") return 503;
  if (errorCode == "bad_request" || errorCode == "bad_json") return 400;
  if (errorCode == "forbidden") return 403;
  if (errorCode == "not_found") return 404;
  if (errorCode == "too_large") return 413;
  return 500;
}

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
  *out = ApiCommand{};
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

std::string receiptBody(Route route, const ApiCommand& command,
                        const std::vector<Receipt>& receipts, int* status) {
  *status = 200;
  const Receipt* failed = nullptr;
  for (const Receipt& r : receipts) {
    if (!r.ok) {
      failed = &r;
      break;
    }
  }
  std::string out;
  if (!command.targetList) {
    if (failed != nullptr) {
      *status = statusForReceiptError(failed->errorCode);
      out = "{\"ok\":false,";
      appendReceiptError(out, *failed);
      out += '}';
      return out;
    }
    const Receipt empty;
    const Receipt& r = receipts.empty() ? empty : receipts[0];
    out = "{\"ok\":true,";
    switch (route) {
      case Route::kSend:
        appendStringField(out, "to", command.targets.empty() ? "" : command.targets[0]);
        out += ',';
        appendField(out, "online", r.online);
        out += ',';
        appendField(out, "matched", r.matched);
        break;
      case Route::kDisconnect:
        appendStringField(out, "user", command.targets.empty() ? "" : command.targets[0]);
        out += ',';
        appendField(out, "online", r.online);
        out += ',';
        appendField(out, "matched", r.matched);
        break;
      case Route::kBroadcast:
        appendDelivery(out, r, false);
        break;
      default:
        appendDelivery(out, r, true);
        break;
    }
    out += '}';
    return out;
  }
  // A list: one result per target, in the order given.
  if (failed != nullptr) {
    *status = statusForReceiptError(failed->errorCode);
    out = "{\"ok\":false,";
    appendReceiptError(out, *failed);
    out += ",\"results\":[";
  } else {
    out = "{\"ok\":true,\"results\":[";
  }
  const bool isSend = route == Route::kSend;
  // A send has one receipt for all its users (one shared frame), with a count per user.
  const size_t results = isSend ? command.targets.size() : receipts.size();
  for (size_t i = 0; i < command.targets.size() && i < results && !receipts.empty(); ++i) {
    Receipt perUser;
    if (isSend && receipts[0].ok) {
      const auto& counts = receipts[0].matchedPerUser;
      perUser.matched = i < counts.size() ? counts[i] : 0;
      perUser.online = perUser.matched > 0;
    }
    const Receipt& r = !isSend ? receipts[i] : receipts[0].ok ? perUser : receipts[0];
    if (i > 0) out += ',';
    out += '{';
    appendStringField(out, isSend ? "to" : "channel", command.targets[i]);
    out += ',';
    if (!r.ok) {
      out += "\"ok\":false,";
      appendReceiptError(out, r);
    } else if (isSend) {
      appendField(out, "online", r.online);
      out += ',';
      appendField(out, "matched", r.matched);
    } else {
      appendDelivery(out, r, true);
    }
    out += '}';
  }
  out += "]}";
  return out;
}

namespace {

// `"name":[{...},{...}]}`: one object per item, its fields written by fill(out, item).
template <class Item, class Fill>
void appendObjectsAndClose(std::string& out, std::string_view name, const std::vector<Item>& items,
                           Fill fill) {
  out += '"';
  out += name;
  out += "\":[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '{';
    fill(out, items[i]);
    out += '}';
  }
  out += "]}";
}

}  // namespace

std::string presenceJson(std::string_view channel, const std::vector<PresenceEntry>& entries) {
  std::string out = "{\"ok\":true,";
  appendStringField(out, "channel", channel);
  out += ',';
  appendObjectsAndClose(out, "users", entries, [](std::string& o, const PresenceEntry& e) {
    appendStringField(o, "user", e.user);
    o += ',';
    appendStringField(o, "name", e.name);
    o += ',';
    appendField(o, "conns", static_cast<uint64_t>(e.conns));
  });
  return out;
}

std::string usersJson(const std::vector<UserInfo>& users) {
  std::string out = "{\"ok\":true,";
  appendField(out, "count", static_cast<uint64_t>(users.size()));
  out += ',';
  appendObjectsAndClose(out, "users", users, [](std::string& o, const UserInfo& u) {
    appendStringField(o, "user", u.user);
    o += ',';
    appendField(o, "conns", static_cast<uint64_t>(u.conns));
  });
  return out;
}

std::string channelsJson(const std::vector<ChannelInfo>& channels) {
  std::string out = "{\"ok\":true,";
  appendObjectsAndClose(out, "channels", channels, [](std::string& o, const ChannelInfo& c) {
    appendStringField(o, "channel", c.channel);
    o += ',';
    appendField(o, "subscribers", c.subscribers);
    o += ',';
    appendField(o, "offset", c.offset);
  });
  return out;
}

// ---- Stats ----

std::string formatMicrosAsSeconds(uint64_t us) {
  std::string out = std::to_string(us / 1'000'000);
  uint64_t fraction = us % 1'000'000;
  if (fraction == 0) return out;
  std::string digits = fmt::format("{:06}", fraction);
  while (digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

namespace {

std::string formatSeconds(double seconds) {
  return std::isfinite(seconds) ? fmt::format("{}", seconds) : std::string("0");
}

template <typename Value>  // an integer count, or seconds as a double
void appendMetric(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, Value value) {
  fmt::format_to(std::back_inserter(out), "# HELP ringcast_{} {}\n# TYPE ringcast_{} {}\n", name,
                 help, name, type);
  fmt::format_to(std::back_inserter(out), "ringcast_{} {}\n", name, value);
}

void appendLoopMetric(std::string& out, std::string_view name, std::string_view type,
                      std::string_view help, const std::vector<uint64_t>& values) {
  fmt::format_to(std::back_inserter(out), "# HELP ringcast_{} {}\n# TYPE ringcast_{} {}\n", name,
                 help, name, type);
  for (size_t i = 0; i < values.size(); ++i) {
    fmt::format_to(std::back_inserter(out), "ringcast_{}{{loop=\"{}\"}} {}\n", name, i, values[i]);
  }
}

}  // namespace

std::string renderMetrics(const Stats& s) {
  std::string out;
  out.reserve(4096);
  appendMetric(out, "connections", "gauge", "Open client connections.", s.connections);
  appendMetric(out, "subscriptions", "gauge", "Channel subscriptions over all connections.",
               s.subscriptions);
  appendMetric(out, "messages_in_total", "counter",
               "Sends accepted for delivery (publishes, notices, direct messages).", s.messagesIn);
  appendMetric(out, "messages_out_total", "counter", "Frames queued to client sockets.",
               s.messagesOut);
  appendMetric(out, "bytes_out_total", "counter", "Bytes queued to client sockets.", s.bytesOut);
  appendMetric(out, "dropped_total", "counter",
               "Deliveries skipped or cut by the slow-consumer policy.", s.dropped);
  appendMetric(out, "slow_consumer_disconnects_total", "counter",
               "Connections closed as slow consumers.", s.slowConsumerDisconnects);
  appendMetric(out, "parked_total", "counter",
               "Sends that found the fan-out ring full and waited for room.", s.parked);
  appendMetric(out, "park_refused_total", "counter",
               "Parked sends refused with overloaded after the bound.", s.parkRefused);
  appendMetric(out, "deflate_messages_compressed_total", "counter",
               "Messages compressed for permessage-deflate (once each, on a loop).",
               s.framesCompressed);
  appendMetric(out, "deflate_compress_cpu_seconds_total", "counter",
               "Loop CPU time spent compressing them.", static_cast<double>(s.compressNs) / 1e9);
  appendMetric(out, "deflate_deliveries_total", "counter", "Deliveries that went out compressed.",
               s.messagesSentCompressed);
  appendMetric(out, "deflate_bytes_saved_total", "counter",
               "Wire bytes those deliveries saved against the uncompressed frames.",
               s.compressionBytesSaved);
  appendMetric(out, "ring_occupancy", "gauge", "Messages in the broadcast ring.", s.ringOccupancy);
  appendMetric(out, "ring_capacity", "gauge", "Slots in the broadcast ring.", s.ringCapacity);
  appendLoopMetric(out, "loop_connections", "gauge", "Open connections per loop.",
                   s.loopConnections);
  appendLoopMetric(out, "loop_iterations_total", "counter", "Event loop iterations per loop.",
                   s.loopIterations);

  constexpr std::string_view kHist = "ringcast_publish_to_write_seconds";
  fmt::format_to(std::back_inserter(out),
                 "# HELP {} Time from publish to the write of a delivery.\n# TYPE {} histogram\n",
                 kHist, kHist);
  size_t i = 0;
  for (uint64_t us : kLatencyBucketsUs) {
    uint64_t count = i < s.latencyBuckets.size() ? s.latencyBuckets[i] : 0;
    fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"{}\"}} {}\n", kHist,
                   formatMicrosAsSeconds(us), count);
    ++i;
  }
  fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"+Inf\"}} {}\n", kHist, s.latencyCount);
  fmt::format_to(std::back_inserter(out), "{}_sum {}\n", kHist, formatSeconds(s.latencySumSeconds));
  fmt::format_to(std::back_inserter(out), "{}_count {}\n", kHist, s.latencyCount);
  return out;
}

std::string renderStatsJson(const Stats& s) {
  std::string out = "{\"ok\":true,";
  const std::pair<std::string_view, uint64_t> counters[] = {
      {"connections", s.connections},
      {"subscriptions", s.subscriptions},
      {"messages_in", s.messagesIn},
      {"messages_out", s.messagesOut},
      {"bytes_out", s.bytesOut},
      {"dropped", s.dropped},
      {"slow_consumer_disconnects", s.slowConsumerDisconnects},
      {"ring_occupancy", s.ringOccupancy},
      {"ring_capacity", s.ringCapacity},
  };
  for (const auto& [name, value] : counters) {
    appendField(out, name, value);
    out += ',';
  }
  auto appendList = [&out](std::string_view name, const std::vector<uint64_t>& values) {
    fmt::format_to(std::back_inserter(out), "\"{}\":[", name);
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      out += std::to_string(values[i]);
    }
    out += "],";
  };
  appendList("loop_connections", s.loopConnections);
  appendList("loop_iterations", s.loopIterations);
  out += "\"publish_to_write\":{";
  appendField(out, "count", s.latencyCount);
  fmt::format_to(std::back_inserter(out), ",\"sum_seconds\":{},\"buckets\":[",
                 formatSeconds(s.latencySumSeconds));
  size_t i = 0;
  for (uint64_t us : kLatencyBucketsUs) {
    if (i > 0) out += ',';
    uint64_t count = i < s.latencyBuckets.size() ? s.latencyBuckets[i] : 0;
    fmt::format_to(std::back_inserter(out), "{{\"le_seconds\":{},\"count\":{}}}",
                   formatMicrosAsSeconds(us), count);
    ++i;
  }
  out += "]}}";
  return out;
}

// ---- ApiConnection ----

struct ApiConnection::Pending {
  uint64_t id = 0;
  bool keepAlive = true;
  bool ready = false;
  std::string response;  // the complete HTTP response, once ready
  // A send command waiting for its receipts.
  Route route = Route::kNone;
  ApiCommand command;  // targets (command.data is not kept past the Hub calls)
  std::vector<Receipt> receipts;
  size_t outstanding = 0;  // receipts not back yet
};

net::TcpConnection* acceptApiConnection(net::EventLoop& loop, int fd, Hub* hub,
                                        const ApiOptions* options) {
  return new ApiConnection(&loop, fd, hub, options);  // owned by the loop from here on
}

ApiConnection::ApiConnection(net::EventLoop* loop, int fd, Hub* hub, const ApiOptions* options)
    : OrderedReplyConnection(loop, fd), hub_(hub), options_(options), parser_(&options->limits) {
  armIdleDeadline();
}

ApiConnection::~ApiConnection() = default;

void ApiConnection::onData(uint8_t* data, size_t len) {
  if (stopParsing_) return;  // after an error or Connection: close, input is discarded
  armIdleDeadline();
  feedInput(data, len);
}

void ApiConnection::onDeadline(int64_t) {
  if (!pending_.empty()) {
    armIdleDeadline();  // still waiting for receipts: not idle
    return;
  }
  if (!input_.empty()) {
    // A request started and did not finish in time.
    Pending& slot = newSlot(false);
    finishError(slot, 408, "timeout", "request not completed in time");
    input_.clear();
    writeReady();
    return;
  }
  closeAfterFlush(options_->closeTimeoutMs);
}

void ApiConnection::onDrained() {
  if (inputHeld_ && mayTakeRequests()) resumeInput();
}

void ApiConnection::onClosed() {
  OrderedReplyConnection::onClosed();
  pending_.clear();
}

bool ApiConnection::mayTakeRequests() const {
  return pending_.size() < kMaxPendingResponses && queuedBytes() <= kMaxOutputBytes;
}

size_t ApiConnection::processInput(std::string_view buffer) {
  processing_ = true;
  size_t offset = 0;
  while (!stopParsing_ && isOpen()) {
    if (!mayTakeRequests()) {
      holdInput();
      break;
    }
    http::Request request;
    http::ParseResult r = parser_.parse(buffer.substr(offset), &request);
    if (r.status == http::ParseResult::kIncomplete) break;
    if (r.status == http::ParseResult::kError) {
      RC_LOG_DEBUG("c-{}-{}: bad API request: {} {}", loop()->id(), serial(), r.httpStatus,
                   r.reason);
      Pending& slot = newSlot(false);
      finishError(slot, r.httpStatus, errorCodeForStatus(r.httpStatus), r.reason);
      break;
    }
    offset += r.consumed;
    handleRequest(request);
    writeReady();
  }
  processing_ = false;
  writeReady();
  return offset;
}

ApiConnection::Pending& ApiConnection::newSlot(bool keepAlive) {
  auto slot = std::make_unique<Pending>();
  slot->id = nextId_++;
  slot->keepAlive = keepAlive;
  if (!keepAlive) {
    // This is the last response: read nothing more, close once it is written.
    stopParsing_ = true;
    closeWhenIdle_ = true;
  }
  pending_.push_back(std::move(slot));
  return *pending_.back();
}

ApiConnection::Pending* ApiConnection::findSlot(uint64_t id) {
  if (pending_.empty()) return nullptr;
  uint64_t first = pending_.front()->id;
  if (id < first || id - first >= pending_.size()) return nullptr;
  return pending_[id - first].get();
}

void ApiConnection::finish(Pending& slot, int status, std::string_view contentType,
                           std::string_view body, std::string_view extraName,
                           std::string_view extraValue) {
  std::array<http::Header, 2> headers = {http::Header{"Content-Type", contentType},
                                         http::Header{extraName, extraValue}};
  size_t count = extraName.empty() ? 1 : 2;
  http::appendResponse(slot.response, status, std::span<const http::Header>(headers.data(), count),
                       body, slot.keepAlive);
  slot.ready = true;
}

void ApiConnection::finishJson(Pending& slot, int status, std::string_view json) {
  finish(slot, status, kJsonType, json);
}

void ApiConnection::finishError(Pending& slot, int status, std::string_view code,
                                std::string_view message) {
  finish(slot, status, kJsonType, errorJson(code, message));
}

void ApiConnection::writeReady() {
  while (!pending_.empty() && pending_.front()->ready && isOpen()) {
    sendCopy(pending_.front()->response);
    pending_.pop_front();
  }
  if (!isOpen()) return;
  if (pending_.empty() && closeWhenIdle_) {
    closeAfterFlush(options_->closeTimeoutMs);
    return;
  }
  if (inputHeld_ && !processing_ && mayTakeRequests()) resumeInput();
}

void ApiConnection::armIdleDeadline() {
  if (options_->idleTimeoutMs > 0) setDeadline(loop()->nowMs() + options_->idleTimeoutMs);
}

void ApiConnection::handleRequest(const http::Request& request) {
  const bool serving = hub_->serving();
  // While draining, every answer closes its connection, so callers move to another instance.
  Pending& slot = newSlot(request.keepAlive && serving);
  if (routeNeedsKey(request.path) && !options_->apiKey.empty() &&
      !bearerMatches(request.header("Authorization"), options_->apiKey)) {
    finish(slot, 401, kJsonType, errorJson("unauthorized", "missing or wrong API key"),
           "WWW-Authenticate", "Bearer");
    return;
  }
  RouteMatch m = matchRoute(request.method, request.path);
  if (m.route == Route::kNone) {
    finishError(slot, 404, "not_found", "no such route");
    return;
  }
  if (!m.methodAllowed) {
    finish(slot, 405, kJsonType, errorJson("method_not_allowed", fmt::format("use {}", m.allow)),
           "Allow", m.allow);
    return;
  }
  switch (m.route) {
    case Route::kHealthz:
      if (serving && !hub_->healthy()) {
        finish(slot, 503, kTextType, "backend down");  // Redis unreachable: publishes refused
      } else {
        finish(slot, serving ? 200 : 503, kTextType, serving ? "ok" : "draining");
      }
      return;
    case Route::kMetrics:
    case Route::kStats: {
      slot.route = m.route;
      uint64_t id = slot.id;
      hub_->stats([this, weak = std::weak_ptr<char>(alive_), id](const Stats& stats) {
        if (!weak.expired()) onStats(id, stats);
      });
      return;
    }
    case Route::kUsers: {
      uint64_t id = slot.id;
      hub_->users([this, weak = std::weak_ptr<char>(alive_), id](std::vector<UserInfo> users) {
        if (!weak.expired()) onQuery(id, usersJson(users));
      });
      return;
    }
    case Route::kChannels: {
      uint64_t id = slot.id;
      hub_->channels(
          [this, weak = std::weak_ptr<char>(alive_), id](std::vector<ChannelInfo> channels) {
            if (!weak.expired()) onQuery(id, channelsJson(channels));
          });
      return;
    }
    case Route::kPresence: {
      std::string channel;
      if (!percentDecode(m.param, &channel) || !isValidChannelName(channel)) {
        finishError(slot, 400, "bad_request", "invalid channel name");
        return;
      }
      uint64_t id = slot.id;
      hub_->presence(channel, [this, weak = std::weak_ptr<char>(alive_), id,
                               channel](std::vector<PresenceEntry> entries) {
        if (!weak.expired()) onQuery(id, presenceJson(channel, entries));
      });
      return;
    }
    default:
      handleCommand(slot, m.route, m.param, request);
      return;
  }
}

void ApiConnection::handleCommand(Pending& slot, Route route, std::string_view param,
                                  const http::Request& request) {
  if (!hub_->serving()) {
    finishError(slot, 503, "draining", "the gateway is shutting down");
    return;
  }
  std::string scratch;  // the data of the raw route
  if (route == Route::kPublishRaw) {
    std::string channel;
    if (!percentDecode(param, &channel) || !isValidChannelName(channel)) {
      finishError(slot, 400, "bad_request", "invalid channel name");
      return;
    }
    if (ApiError e = rawBodyToData(request.body, request.header("Content-Type"), &scratch);
        !e.ok()) {
      finishError(slot, e.status, e.code, e.message);
      return;
    }
    slot.command.targets.push_back(std::move(channel));
    slot.command.data = scratch;
    route = Route::kPublish;
  } else if (ApiError e = parseCommandBody(route, request.body, &slot.command); !e.ok()) {
    finishError(slot, e.status, e.code, e.message);
    return;
  }

  const uint64_t id = slot.id;
  slot.route = route;
  const std::string_view data = slot.command.data;
  slot.command.data = {};  // points into the request or `scratch`, which die with this call
  // A broadcast is one send, and so is a direct message to any number of users.
  const size_t sends =
      route == Route::kBroadcast || route == Route::kSend ? 1 : slot.command.targets.size();
  slot.receipts.resize(sends);
  slot.outstanding = sends;
  for (size_t i = 0; i < sends; ++i) {
    // Copied (a short name stays in the string's own bytes): a receipt that arrives at once
    // may answer and free `slot`.
    const std::string target = route == Route::kBroadcast ? std::string() : slot.command.targets[i];
    ReceiptFn done = [this, weak = std::weak_ptr<char>(alive_), id, i](const Receipt& r) {
      if (!weak.expired()) onReceipt(id, i, r);
    };
    switch (route) {
      case Route::kPublish:
        hub_->publish(target, data, kApiSender, ReceiptWait::kDelivered, std::move(done));
        break;
      case Route::kBroadcast:
        hub_->broadcast(data, std::move(done));
        break;
      case Route::kSend: {
        const std::vector<std::string> recipients = slot.command.targets;  // as `target`
        hub_->send(recipients, data, kApiSender, std::move(done));
        break;
      }
      case Route::kDisconnect:
        hub_->disconnect(target, std::move(done));
        break;
      default:
        break;
    }
  }
}

void ApiConnection::onReceipt(uint64_t id, size_t index, const Receipt& receipt) {
  Pending* slot = findSlot(id);
  if (slot == nullptr || slot->ready || index >= slot->receipts.size()) return;
  slot->receipts[index] = receipt;
  if (--slot->outstanding > 0) return;
  int status = 200;
  std::string body = receiptBody(slot->route, slot->command, slot->receipts, &status);
  finishJson(*slot, status, body);
  if (!processing_) writeReady();
}

void ApiConnection::onQuery(uint64_t id, const std::string& body) {
  Pending* slot = findSlot(id);
  if (slot == nullptr || slot->ready) return;
  finishJson(*slot, 200, body);
  if (!processing_) writeReady();
}

void ApiConnection::onStats(uint64_t id, const Stats& stats) {
  Pending* slot = findSlot(id);
  if (slot == nullptr || slot->ready) return;
  if (slot->route == Route::kMetrics) {
    std::string text = renderMetrics(stats);
    hub_->appendMetrics(text);
    finish(*slot, 200, kMetricsType, text);
  } else {
    finishJson(*slot, 200, renderStatsJson(stats));
  }
  if (!processing_) writeReady();
}

}  // namespace ringcast::push
