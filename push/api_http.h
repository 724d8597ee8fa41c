// The internal HTTP publish/admin API (--api-listen): HTTP/1.1 with keep-alive and
// pipelining, JSON in and out, routes and shapes as in docs/PROTOCOL.md. Each accepted socket
// is one ApiConnection on its loop; it parses requests, calls the Hub, and answers strictly
// in request order even though the Hub's receipts come back later (a queue of pending
// responses, filled in as receipts arrive, written from the front as soon as it is ready).
//
// Bounds: one request's size comes from ApiOptions::limits (the body limit is
// --max-message-size); at most kMaxPendingResponses requests may wait for receipts, and at
// most kMaxOutputBytes may sit unread in the write queue, before the connection stops
// reading. Time: each request must arrive whole within requestTimeoutMs of its first byte (the
// first request, of the accept), however steadily its bytes come: past it, 408 and close; a
// keep-alive connection idle for idleTimeoutMs between requests is closed. Who may call is
// checked first (api_access.h): a listed Origin or none (else 403), a Host that names this
// listener (else 421); a JSON route needs a JSON Content-Type (else 415). The listener's
// connection cap (a Slot held for the connection's life) is apart from the WebSocket one.
//
// Thread safety: an ApiConnection is loop-owned, like its TcpConnection base. ApiOptions is
// built before the loops start and is const while they run. The pure parts live beside it:
// api_routes.h (routes and the key), api_request.h (request bodies), api_response.h (response
// JSON) and api_metrics.h (/metrics and /api/stats).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/connection_cap.h"
#include "net/event_loop.h"
#include "net/http_parser.h"
#include "push/api_access.h"
#include "push/api_metrics.h"
#include "push/api_request.h"
#include "push/api_response.h"
#include "push/api_routes.h"
#include "push/hub.h"
#include "push/ordered_reply_connection.h"
#include "push/port_refusals.h"

namespace ringcast::push {

// Settings shared by every API connection; const once the loops run.
struct ApiOptions {
  std::string apiKey;                 // empty: no auth; else every /api/ route needs Bearer apiKey
  http::Limits limits;                // limits.maxBodyBytes = --max-message-size
  int64_t closeTimeoutMs = 5'000;     // linger for the peer's FIN after our last response
  int64_t idleTimeoutMs = 60'000;     // close a keep-alive connection silent this long
  int64_t requestTimeoutMs = 10'000;  // --api-request-timeout: one request, headers and body
  ApiAccessRules access;              // --api-allowed-origins, --api-host, the bound address
  PortRefusals* refusals = nullptr;   // counted here and shown in /metrics; null: not counted
};

// Takes ownership of the accepted socket `fd` and serves the API on it until it closes.
// `hub` and `options` must outlive every connection. Returns the connection (owned by the
// loop), for the caller to put TLS on it. REQUIRES: on loop's thread.
// `slot` is the connection's share of the listener's cap, held until it is freed.
net::TcpConnection* acceptApiConnection(net::EventLoop& loop, int fd, Hub* hub,
                                        const ApiOptions* options,
                                        net::ConnectionCap::Slot slot = {});

class ApiConnection final : public OrderedReplyConnection {
 public:
  // Requests that may wait for receipts on one connection before it stops reading.
  static constexpr size_t kMaxPendingResponses = 64;
  // Unread response bytes (a pipelining client that does not read) before it stops reading.
  static constexpr uint64_t kMaxOutputBytes = 4 << 20;

  // REQUIRES: on loop's thread; hub and options outlive the connection.
  ApiConnection(net::EventLoop* loop, int fd, Hub* hub, const ApiOptions* options,
                net::ConnectionCap::Slot slot = {});
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
  // Moves every ready response at the front of the queue, in order, to unsent_, and has the
  // loop queue unsent_ on the socket right before it writes (onFlush): the answers of a pass,
  // and the receipts that come back in the same iteration, go out as one copy and one frame,
  // not one each.
  void writeReady() override;
  void onFlush() override { sendUnsent(); }
  void sendUnsent();
  // A written slot goes back to spare_ (its strings and vectors keep their capacity).
  void recycle(std::unique_ptr<Pending> slot);
  // The request deadline while one is due, else the keep-alive idle deadline.
  void armDeadline();
  void countRefusal(PortRefusals::Reason reason);
  // apiHostAllowed, with the last allowed Host of this connection remembered.
  bool hostAllowed(std::string_view host);

  Hub* const hub_;
  const ApiOptions* const options_;
  net::ConnectionCap::Slot slot_;  // this connection's place under the listener's cap
  http::RequestParser parser_;
  int64_t requestDeadlineMs_ = 0;  // when the request under way must be whole; 0: none due
  std::deque<std::unique_ptr<Pending>> pending_;  // responses in request order
  std::vector<std::unique_ptr<Pending>> spare_;   // written slots, reused by newSlot
  std::string allowedHost_;                       // the last Host header allowed on this connection
  std::string body_;     // a receipt's JSON body, built here for its response (reused)
  std::string unsent_;   // ready responses, in order, not yet queued on the socket
  uint64_t nextId_ = 1;  // id of the next slot
};

}  // namespace ringcast::push
