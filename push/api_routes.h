// The routes of the internal HTTP API (docs/PROTOCOL.md, "HTTP API") and who may call them:
// which route a method and path name, which routes need the API key, and the key check
// itself. Pure functions of their arguments, safe from any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace ringcast::push {

// The API routes (docs/PROTOCOL.md, "HTTP API").
enum class Route : uint8_t {
  kNone,
  kPublish,     // POST /api/publish
  kPublishRaw,  // POST /api/publish/{channel}
  kBroadcast,   // POST /api/broadcast
  kSend,        // POST /api/send
  kDisconnect,  // POST /api/disconnect
  kPresence,    // GET /api/presence/{channel}
  kUsers,       // GET /api/users
  kChannels,    // GET /api/channels
  kStats,       // GET /api/stats
  kMetrics,     // GET /metrics
  kHealthz,     // GET /healthz
};

struct RouteMatch {
  Route route = Route::kNone;
  bool methodAllowed = false;
  std::string_view allow;  // the route's method, for 405's Allow field
  std::string_view param;  // {channel} as sent (still percent-encoded)
};
RouteMatch matchRoute(std::string_view method, std::string_view path);
// Routes under /api/ need the API key; /metrics and /healthz do not.
bool routeNeedsKey(std::string_view path);

// True when `authorization` is "Bearer <key>" (scheme case-insensitive). The comparison takes
// time that depends on the key's length only, never on where the first difference is.
bool bearerMatches(std::string_view authorization, std::string_view key);

}  // namespace ringcast::push
