#include "push/api_routes.h"

#include "core/secret.h"
#include "net/http_parser.h"

namespace ringcast::push {

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

}  // namespace ringcast::push
