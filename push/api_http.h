// The internal HTTP publish/admin API (--api-listen): HTTP/1.1 with keep-alive and
// pipelining, JSON in and out, routes and shapes as in docs/PROTOCOL.md. Each accepted socket
// is one ApiConnection on its loop; it parses requests, calls the Hub, and answers strictly
// in request order even though the Hub's receipts come back later (a queue of pending
// responses, filled in as receipts arrive, written from the front as soon as it is ready).
//
// Bounds: one request's size comes from ApiOptions::limits (the body limit is
// --max-message-size); at most kMaxPendingResponses requests may wait for receipts, and at
// most kMaxOutputBytes may sit unread in the write queue, before the connection stops
// reading; a keep-alive connection idle for idleTimeoutMs is closed.
//
// Thread safety: an ApiConnection is loop-owned, like its TcpConnection base. ApiOptions is
// built before the loops start and is const while they run. The free functions below are
// pure and safe from any thread (they are exposed for tests).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/event_loop.h"
#include "net/http_parser.h"
#include "push/client_protocol.h"
#include "push/hub.h"
#include "push/ordered_reply_connection.h"

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

// Settings shared by every API connection; const once the loops run.
struct ApiOptions {
  std::string apiKey;              // empty: no auth; else every /api/ route needs Bearer apiKey
  http::Limits limits;             // limits.maxBodyBytes = --max-message-size
  int64_t closeTimeoutMs = 5'000;  // linger for the peer's FIN after our last response
  int64_t idleTimeoutMs = 60'000;  // close a keep-alive connection silent this long
};

// Takes ownership of the accepted socket `fd` and serves the API on it until it closes.
// `hub` and `options` must outlive every connection. Returns the connection (owned by the
// loop), for the caller to put TLS on it. REQUIRES: on loop's thread.
net::TcpConnection* acceptApiConnection(net::EventLoop& loop, int fd, Hub* hub,
                                        const ApiOptions* options);

class ApiConnection final : public OrderedReplyConnection {
 public:
  // Requests that may wait for receipts on one connection before it stops reading.
  static constexpr size_t kMaxPendingResponses = 64;
  // Unread response bytes (a pipelining client that does not read) before it stops reading.
  static constexpr uint64_t kMaxOutputBytes = 4 << 20;

  // REQUIRES: on loop's thread; hub and options outlive the connection.
  ApiConnection(net::EventLoop* loop, int fd, Hub* hub, const ApiOptions* options);
  ~ApiConnection() override;

 protected:
  void onData(uint8_t* data, size_t len) override;
  void onDeadline(int64_t nowMs) override;
  void onDrained() override;
  void onClosed() override;

 private:
  struct Pending;

  // Parses and dispatches complete requests from `buffer` while the bounds allow; returns the
  // bytes consumed.
  size_t processInput(std::string_view buffer) override;
  bool mayTakeRequests() const;
  void handleRequest(const http::Request& request);
  // A send route (publish, broadcast, send, disconnect): parse the body, call the Hub.
  void handleCommand(Pending& slot, Route route, std::string_view param,
                     const http::Request& request);
  // A new slot at the back of the queue.
  Pending& newSlot(bool keepAlive);
  void finishJson(Pending& slot, int status, std::string_view json);
  void finishError(Pending& slot, int status, std::string_view code, std::string_view message);
  void finish(Pending& slot, int status, std::string_view contentType, std::string_view body,
              std::string_view extraName = {}, std::string_view extraValue = {});
  // One receipt for target `index` of the slot with id `id` came back.
  void onReceipt(uint64_t id, size_t index, const Receipt& receipt);
  void onStats(uint64_t id, const Stats& stats);
  // A query's answer (users, channels, presence) came back: the JSON body of a 200.
  void onQuery(uint64_t id, const std::string& body);
  Pending* findSlot(uint64_t id);
  // Writes every ready response at the front of the queue, in order.
  void writeReady() override;
  void armIdleDeadline();

  Hub* const hub_;
  const ApiOptions* const options_;
  http::RequestParser parser_;
  std::deque<std::unique_ptr<Pending>> pending_;  // responses in request order
  uint64_t nextId_ = 1;                           // id of the next slot
};

// ---- Pure helpers (exposed for tests) ----

struct RouteMatch {
  Route route = Route::kNone;
  bool methodAllowed = false;
  std::string_view allow;  // the route's method, for 405's Allow field
  std::string_view param;  // {channel} as sent (still percent-encoded)
};
RouteMatch matchRoute(std::string_view method, std::string_view path);
// Routes under /api/ need the API key; /metrics and /healthz do not.
bool routeNeedsKey(std::string_view path);

// Decodes %XX escapes. Returns false on a malformed escape.
bool percentDecode(std::string_view in, std::string* out);

// True when `authorization` is "Bearer <key>" (scheme case-insensitive). The comparison takes
// time that depends on the key's length only, never on where the first difference is.
bool bearerMatches(std::string_view authorization, std::string_view key);

// {"ok":false,"error":{"code":..,"message":..}}
std::string errorJson(std::string_view code, std::string_view message);
// The error code word for an HTTP error status (400 -> "bad_request", 413 -> "too_large").
std::string_view errorCodeForStatus(int status);
// The HTTP status for a Receipt's errorCode ("overloaded" -> 503).
int statusForReceiptError(std::string_view errorCode);

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

// The response to a send command once every receipt is in: the JSON body, and the status
// (200, or the first failed receipt's status). `receipts[i]` answers `command.targets[i]`
// (broadcast has one receipt and no targets).
std::string receiptBody(Route route, const ApiCommand& command,
                        const std::vector<Receipt>& receipts, int* status);
// GET /api/presence/{channel}, /api/users, /api/channels.
std::string presenceJson(std::string_view channel, const std::vector<PresenceEntry>& entries);
std::string usersJson(const std::vector<UserInfo>& users);
std::string channelsJson(const std::vector<ChannelInfo>& channels);

// GET /metrics: Prometheus text exposition format 0.0.4.
std::string renderMetrics(const Stats& stats);
// GET /api/stats: one JSON object.
std::string renderStatsJson(const Stats& stats);
// "0.0001" for 100 us: exact decimal seconds.
std::string formatMicrosAsSeconds(uint64_t us);

}  // namespace ringcast::push
