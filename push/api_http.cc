#include "push/api_http.h"

#include <array>
#include <utility>

#include <fmt/format.h>

#include "core/log.h"
#include "net/url.h"

namespace ringcast::push {
namespace {

constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
// A slot or the unsent answers keep their buffers for reuse up to this size (a large answer,
// such as /metrics or a long channel list, gives its memory back).
constexpr size_t kKeptBufferBytes = 16 << 10;

}  // namespace

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
                                        const ApiOptions* options, net::ConnectionCap::Slot slot) {
  // Owned by the loop from here on.
  return new ApiConnection(&loop, fd, hub, options, std::move(slot));
}

ApiConnection::ApiConnection(net::EventLoop* loop, int fd, Hub* hub, const ApiOptions* options,
                             net::ConnectionCap::Slot slot)
    : OrderedReplyConnection(loop, fd),
      hub_(hub),
      options_(options),
      slot_(std::move(slot)),
      parser_(&options->limits) {
  // The first request is due within the deadline from the accept, as every later one is
  // from its first byte.
  requestDeadlineMs_ = loop->nowMs() + options_->requestTimeoutMs;
  armDeadline();
}

ApiConnection::~ApiConnection() = default;

void ApiConnection::onData(uint8_t* data, size_t len) {
  if (stopParsing_) return;  // after an error or Connection: close, input is discarded
  feedInput(data, len);
}

void ApiConnection::onDeadline(int64_t nowMs) {
  if (inputHeld_) {
    // Reading is paused by our own bounds: the client is not late. Its time starts again
    // when reading resumes.
    requestDeadlineMs_ = nowMs + options_->requestTimeoutMs;
    armDeadline();
    return;
  }
  if (requestDeadlineMs_ != 0) {
    // A request (or the first one) did not arrive whole in time, however steadily its bytes
    // trickled in.
    RC_LOG_DEBUG("c-{}-{}: API request not complete within {} ms", loop()->id(), serial(),
                 options_->requestTimeoutMs);
    countRefusal(PortRefusals::kApiTimeout);
    Pending& slot = newSlot(false);
    finishError(slot, 408, "timeout", "request not complete within --api-request-timeout");
    input_.clear();
    writeReady();
    return;
  }
  if (!pending_.empty()) {
    armDeadline();  // still waiting for receipts: not idle
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
  spare_.clear();
  unsent_.clear();
}

bool ApiConnection::mayTakeRequests() const {
  return pending_.size() < kMaxPendingResponses &&
         queuedBytes() + unsent_.size() <= kMaxOutputBytes;
}

size_t ApiConnection::processInput(std::string_view buffer) {
  processing_ = true;
  size_t offset = 0;
  size_t taken = 0;  // requests dispatched in this pass
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
    ++taken;
    handleRequest(request);
    writeReady();
  }
  processing_ = false;
  // `buffer` holds every byte not dispatched yet: what is left past `offset` is a request
  // under way. Its deadline runs from its first byte: from now when this pass finished the
  // one before it (or it is the first), else it keeps running, whatever bytes came.
  if (offset == buffer.size()) {
    requestDeadlineMs_ = 0;
  } else if (taken > 0 || requestDeadlineMs_ == 0) {
    requestDeadlineMs_ = loop()->nowMs() + options_->requestTimeoutMs;
  }
  writeReady();
  armDeadline();
  return offset;
}

ApiConnection::Pending& ApiConnection::newSlot(bool keepAlive) {
  std::unique_ptr<Pending> slot;
  if (spare_.empty()) {
    slot = std::make_unique<Pending>();
  } else {
    slot = std::move(spare_.back());
    spare_.pop_back();
  }
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
  // The oldest waiting answer: every one before it went to unsent_ already, so it is written
  // there directly (writeReady then moves an empty response).
  std::string& out = pending_.front().get() == &slot ? unsent_ : slot.response;
  http::appendResponse(out, status, std::span<const http::Header>(headers.data(), count), body,
                       slot.keepAlive);
  slot.ready = true;
}

void ApiConnection::finishJson(Pending& slot, int status, std::string_view json) {
  finish(slot, status, kJsonType, json);
}

void ApiConnection::finishError(Pending& slot, int status, std::string_view code,
                                std::string_view message) {
  finish(slot, status, kJsonType, errorJson(code, message));
}

void ApiConnection::recycle(std::unique_ptr<Pending> slot) {
  if (spare_.size() >= kMaxPendingResponses || slot->response.capacity() > kKeptBufferBytes) {
    return;  // freed
  }
  slot->ready = false;
  slot->response.clear();
  slot->route = Route::kNone;
  slot->command.targets.clear();
  slot->command.targetList = false;
  slot->command.data = {};
  slot->receipts.clear();
  slot->outstanding = 0;
  spare_.push_back(std::move(slot));
}

void ApiConnection::sendUnsent() {
  if (unsent_.empty()) return;
  sendCopy(unsent_);
  unsent_.clear();
  if (unsent_.capacity() > kKeptBufferBytes) std::string().swap(unsent_);
}

void ApiConnection::writeReady() {
  while (!pending_.empty() && pending_.front()->ready && isOpen()) {
    unsent_ += pending_.front()->response;
    recycle(std::move(pending_.front()));
    pending_.pop_front();
  }
  if (!isOpen()) return;
  if (pending_.empty() && closeWhenIdle_) {
    sendUnsent();
    closeAfterFlush(options_->closeTimeoutMs);
    return;
  }
  if (processing_) return;  // the pass's end sends what it answered
  if (!unsent_.empty()) flushSoon();
  if (inputHeld_ && mayTakeRequests()) resumeInput();
}

bool ApiConnection::hostAllowed(std::string_view host) {
  // A client names the same Host in every request: the last one allowed is remembered (the
  // rules do not change while the connection lives).
  if (!allowedHost_.empty() && host == allowedHost_) return true;
  if (!apiHostAllowed(host, options_->access)) return false;
  allowedHost_.assign(host);
  return true;
}

void ApiConnection::countRefusal(PortRefusals::Reason reason) {
  if (options_->refusals != nullptr) options_->refusals->count(reason);
}

void ApiConnection::armDeadline() {
  if (stopParsing_ || !isOpen()) return;  // closing: closeAfterFlush's linger deadline rules
  if (requestDeadlineMs_ != 0) {
    setDeadline(requestDeadlineMs_);
  } else if (options_->idleTimeoutMs > 0) {
    setDeadline(loop()->nowMs() + options_->idleTimeoutMs);
  } else {
    clearDeadline();
  }
}

void ApiConnection::handleRequest(const http::Request& request) {
  const bool serving = hub_->serving();
  // While draining, every answer closes its connection, so callers move to another instance.
  Pending& slot = newSlot(request.keepAlive && serving);
  // A browser page may not drive the API: one that names itself (Origin) must be listed, and
  // one that reached us through a rebound DNS name has a Host that is not ours.
  if (request.headerLines("Origin") > 0 &&
      !apiOriginAllowed(request.header("Origin"), options_->access)) {
    countRefusal(PortRefusals::kApiOrigin);
    finishError(slot, 403, "forbidden",
                "cross-origin request: this Origin is not in --api-allowed-origins");
    return;
  }
  if (request.headerLines("Host") > 0 && !hostAllowed(request.header("Host"))) {
    countRefusal(PortRefusals::kApiHost);
    finishError(slot, 421, "misdirected",
                "the Host header names neither this listener nor an --api-host name");
    return;
  }
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
      } else if (serving && hub_->memoryHigh()) {
        finish(slot, 503, kTextType, "memory high");  // near --max-memory: new work refused
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
      if (!net::percentDecode(m.param, net::UrlPart::kPath, &channel) ||
          !isValidChannelName(channel)) {
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
      // A JSON body must say so: a browser can send text/plain or a form without asking
      // first, never application/json.
      if (m.route != Route::kPublishRaw && !isJsonContentType(request.header("Content-Type"))) {
        countRefusal(PortRefusals::kApiContentType);
        finishError(slot, 415, "unsupported_media_type",
                    "the body must be sent with Content-Type: application/json");
        return;
      }
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
    if (!net::percentDecode(param, net::UrlPart::kPath, &channel) || !isValidChannelName(channel)) {
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
  // The one receipt of a single send is answered from as it is, not copied into the slot.
  std::span<const Receipt> receipts(&receipt, 1);
  if (slot->receipts.size() > 1) {
    slot->receipts[index] = receipt;
    if (--slot->outstanding > 0) return;
    receipts = slot->receipts;
  }
  slot->outstanding = 0;
  int status = 200;
  body_.clear();
  appendReceiptBody(body_, slot->route, slot->command, receipts, &status);
  finishJson(*slot, status, body_);
  if (body_.capacity() > kKeptBufferBytes) std::string().swap(body_);
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
    if (options_->refusals != nullptr) options_->refusals->appendMetrics(text);
    finish(*slot, 200, kMetricsType, text);
  } else {
    finishJson(*slot, 200, renderStatsJson(stats));
  }
  if (!processing_) writeReady();
}

}  // namespace ringcast::push
