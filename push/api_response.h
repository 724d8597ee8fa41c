// The JSON the internal HTTP API answers with (docs/PROTOCOL.md, "HTTP API"): error bodies and
// the status that goes with them, the body of a send command once its receipts are in, and
// the bodies of the queries. Pure functions of their arguments, safe from any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "push/api_request.h"
#include "push/api_routes.h"
#include "push/hub.h"

namespace ringcast::push {

// {"ok":false,"error":{"code":..,"message":..}}
std::string errorJson(std::string_view code, std::string_view message);
// The error code word for an HTTP error status (400 -> "bad_request", 413 -> "too_large").
std::string_view errorCodeForStatus(int status);
// The HTTP status for a Receipt's errorCode ("overloaded" -> 503).
int statusForReceiptError(std::string_view errorCode);

// The response to a send command once every receipt is in: the JSON body, and the status
// (200, or the first failed receipt's status). `receipts[i]` answers `command.targets[i]`
// (broadcast has one receipt and no targets).
std::string receiptBody(Route route, const ApiCommand& command,
                        const std::vector<Receipt>& receipts, int* status);
// The same, appended to `out` (a buffer the caller reuses).
void appendReceiptBody(std::string& out, Route route, const ApiCommand& command,
                       std::span<const Receipt> receipts, int* status);
// GET /api/presence/{channel}, /api/users, /api/channels.
std::string presenceJson(std::string_view channel, const std::vector<PresenceEntry>& entries);
std::string usersJson(const std::vector<UserInfo>& users);
std::string channelsJson(const std::vector<ChannelInfo>& channels);

}  // namespace ringcast::push
