#include "push/api_response.h"

#include "core/json.h"

namespace ringcast::push {
namespace {

// "error":{"code":..,"message":..}
void appendErrorObject(std::string& out, std::string_view code, std::string_view message) {
  out += "\"error\":{";
  json::appendStringField(out, "code", code);
  out += ',';
  json::appendStringField(out, "message", message);
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
    json::appendUintField(out, "offset", r.offset);
    if (!r.counted) return;
    out += ',';
  }
  if (!r.counted) {
    json::appendBoolField(out, "accepted", true);
    return;
  }
  json::appendUintField(out, "matched", r.matched);
  out += ',';
  json::appendUintField(out, "queued", r.queued);
  out += ',';
  json::appendUintField(out, "dropped", r.dropped);
}

}  // namespace

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
    case 415:
      return "unsupported_media_type";
    case 421:
      return "misdirected";
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

void appendReceiptBody(std::string& out, Route route, const ApiCommand& command,
                       std::span<const Receipt> receipts, int* status) {
  *status = 200;
  const Receipt* failed = nullptr;
  for (const Receipt& r : receipts) {
    if (!r.ok) {
      failed = &r;
      break;
    }
  }
  if (!command.targetList) {
    if (failed != nullptr) {
      *status = statusForReceiptError(failed->errorCode);
      out += "{\"ok\":false,";
      appendReceiptError(out, *failed);
      out += '}';
      return;
    }
    const Receipt empty;
    const Receipt& r = receipts.empty() ? empty : receipts[0];
    out += "{\"ok\":true,";
    switch (route) {
      case Route::kSend:
        json::appendStringField(out, "to", command.targets.empty() ? "" : command.targets[0]);
        out += ',';
        json::appendBoolField(out, "online", r.online);
        out += ',';
        json::appendUintField(out, "matched", r.matched);
        break;
      case Route::kDisconnect:
        json::appendStringField(out, "user", command.targets.empty() ? "" : command.targets[0]);
        out += ',';
        json::appendBoolField(out, "online", r.online);
        out += ',';
        json::appendUintField(out, "matched", r.matched);
        break;
      case Route::kBroadcast:
        appendDelivery(out, r, false);
        break;
      default:
        appendDelivery(out, r, true);
        break;
    }
    out += '}';
    return;
  }
  // A list: one result per target, in the order given.
  if (failed != nullptr) {
    *status = statusForReceiptError(failed->errorCode);
    out += "{\"ok\":false,";
    appendReceiptError(out, *failed);
    out += ",\"results\":[";
  } else {
    out += "{\"ok\":true,\"results\":[";
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
    json::appendStringField(out, isSend ? "to" : "channel", command.targets[i]);
    out += ',';
    if (!r.ok) {
      out += "\"ok\":false,";
      appendReceiptError(out, r);
    } else if (isSend) {
      json::appendBoolField(out, "online", r.online);
      out += ',';
      json::appendUintField(out, "matched", r.matched);
    } else {
      appendDelivery(out, r, true);
    }
    out += '}';
  }
  out += "]}";
}

std::string receiptBody(Route route, const ApiCommand& command,
                        const std::vector<Receipt>& receipts, int* status) {
  std::string out;
  appendReceiptBody(out, route, command, receipts, status);
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
  json::appendStringField(out, "channel", channel);
  out += ',';
  appendObjectsAndClose(out, "users", entries, [](std::string& o, const PresenceEntry& e) {
    json::appendStringField(o, "user", e.user);
    o += ',';
    json::appendStringField(o, "name", e.name);
    o += ',';
    json::appendUintField(o, "conns", e.conns);
  });
  return out;
}

std::string usersJson(const std::vector<UserInfo>& users) {
  std::string out = "{\"ok\":true,";
  json::appendUintField(out, "count", users.size());
  out += ',';
  appendObjectsAndClose(out, "users", users, [](std::string& o, const UserInfo& u) {
    json::appendStringField(o, "user", u.user);
    o += ',';
    json::appendUintField(o, "conns", u.conns);
  });
  return out;
}

std::string channelsJson(const std::vector<ChannelInfo>& channels) {
  std::string out = "{\"ok\":true,";
  appendObjectsAndClose(out, "channels", channels, [](std::string& o, const ChannelInfo& c) {
    json::appendStringField(o, "channel", c.channel);
    o += ',';
    json::appendUintField(o, "subscribers", c.subscribers);
    o += ',';
    json::appendUintField(o, "offset", c.offset);
  });
  return out;
}
}  // namespace ringcast::push
