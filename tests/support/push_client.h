// What the black-box tests of the push gateway use on top of TestServer and WsClient:
// - Gateway: the ringcast binary on loopback with ephemeral ports for all three listeners.
// - Json: one received frame or response body, its exact text plus a simdjson DOM over it.
// - PushClient: a /ws client that speaks the JSON protocol (docs/PROTOCOL.md). It answers
//   the server's pings unless told not to, and keeps frames it skipped while looking for a
//   particular one in a backlog, so nothing that arrived is lost to a later check.
// - ApiClient: a keep-alive HTTP/1.1 client for the internal API.
//
// Thread safety: one thread drives each object.
#pragma once

#include <simdjson.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/test_server.h"
#include "tests/support/ws_client.h"

namespace ringcast::test {

// The ringcast binary with --listen, --api-listen and --publish-listen on 127.0.0.1:0,
// --threads 2 and the caller's extra flags (a later flag overrides an earlier one).
struct Gateway {
  std::unique_ptr<TestServer> server;
  uint16_t wsPort = 0;
  uint16_t apiPort = 0;
  uint16_t publishPort = 0;
};
::testing::AssertionResult startGateway(const std::vector<std::string>& extraArgs, Gateway* out);

// A JSON text with its DOM. Member lookups take a member name of the top-level object
// ("offset") or a JSON Pointer ("/error/code").
class Json {
 public:
  // nullopt when `text` is not one JSON value.
  static std::optional<Json> parse(std::string_view text);

  const std::string& text() const { return text_; }
  simdjson::dom::element root() const { return root_; }
  bool has(std::string_view key) const;
  // The string at key; nullopt when absent or not a string.
  std::optional<std::string> str(std::string_view key) const;
  // The unsigned integer at key; nullopt when absent or not one.
  std::optional<uint64_t> u64(std::string_view key) const;
  std::optional<int64_t> i64(std::string_view key) const;
  std::optional<bool> boolean(std::string_view key) const;
  // The number of elements of the array at key; nullopt when absent or not an array.
  std::optional<size_t> arraySize(std::string_view key) const;
  // Shorthands: "type", and "/error/code" of a failed reply ("" when absent).
  std::string type() const { return str("type").value_or(""); }
  std::string errorCode() const { return str("/error/code").value_or(""); }

 private:
  std::optional<simdjson::dom::element> at(std::string_view key) const;

  std::string text_;
  std::unique_ptr<simdjson::dom::parser> parser_;  // owns the DOM root_ points into
  simdjson::dom::element root_;
};

// Frames as one line each, for failure messages.
std::string describe(const std::vector<Json>& frames);

class PushClient {
 public:
  static constexpr Millis kWait{5000};  // for frames that must arrive

  // TCP connect plus the upgrade request for `path` ("/ws?user=alice"); returns the HTTP
  // response, which carries the refusal (status and body) when there is one.
  HttpResponse open(uint16_t port, std::string_view path);
  // open(), then a 101 and a welcome frame.
  ::testing::AssertionResult connect(uint16_t port, std::string_view path);

  // The welcome frame's members; "" before a successful connect().
  std::string user() const { return welcomeMember("user"); }
  std::string conn() const { return welcomeMember("conn"); }
  std::string epoch() const { return welcomeMember("epoch"); }
  // The loop part of the connection name "c-<loop>-<n>"; "" when it has another shape.
  std::string loopId() const;

  bool send(std::string_view text) { return ws_.sendText(text); }
  // The next text frame as JSON (the backlog first). Pings are answered (unless disabled)
  // and counted on the way. nullopt on timeout, close frame, EOF or a frame that is not
  // JSON; lastRead() tells which.
  std::optional<Json> next(Millis timeout = kWait);
  // The first frame (backlog first) for which pred holds; the others read on the way stay
  // in the backlog, in order.
  std::optional<Json> until(const std::function<bool(const Json&)>& pred, Millis timeout = kWait);
  std::optional<Json> nextOfType(std::string_view type, Millis timeout = kWait);
  // Sends `command` and waits for its answer: the first reply, pong or presence frame.
  std::optional<Json> request(std::string_view command, Millis timeout = kWait);
  // The backlog plus every frame that arrives within `window`.
  std::vector<Json> drainFor(Millis window);
  // The backlog plus every frame up to and including the first one for which pred holds
  // (which must arrive within timeout; otherwise *found stays false).
  std::vector<Json> collectUntil(const std::function<bool(const Json&)>& pred, bool* found,
                                 Millis timeout = kWait);

  void setAnswerPings(bool answer) { answerPings_ = answer; }
  int pingsSeen() const { return pingsSeen_; }
  const ReadResult& lastRead() const { return lastRead_; }
  WsClient& ws() { return ws_; }

 private:
  std::string welcomeMember(std::string_view key) const {
    return welcome_ ? welcome_->str(key).value_or("") : "";
  }

  WsClient ws_;
  std::optional<Json> welcome_;
  std::deque<Json> backlog_;
  bool answerPings_ = true;
  int pingsSeen_ = 0;
  ReadResult lastRead_;
};

// A client connected at `path` (open, 101, welcome); nullptr after a test failure naming why.
std::unique_ptr<PushClient> connectedClient(uint16_t port, std::string_view path);

// Opens connections at `path` until there is one on each of `loops` different loops (as the
// welcome's conn name tells), at most maxAttempts; extra ones are closed. The result is
// ordered by loop id and shorter than `loops` when the attempts ran out.
std::vector<std::unique_ptr<PushClient>> connectOnEveryLoop(uint16_t port, std::string_view path,
                                                            size_t loops = 2, int maxAttempts = 64);

class ApiClient {
 public:
  explicit ApiClient(uint16_t port, std::string apiKey = {})
      : port_(port), key_(std::move(apiKey)) {}

  HttpResponse post(std::string_view path, std::string_view body,
                    std::string_view contentType = "application/json");
  HttpResponse get(std::string_view path);
  // post()/get() expecting 200 and a JSON body with "ok":true; nullopt (after a test
  // failure naming the response) otherwise.
  std::optional<Json> postOk(std::string_view path, std::string_view body);
  std::optional<Json> getOk(std::string_view path);
  // The value of the first sample of `name` in GET /metrics, labels included
  // ("ringcast_channels", `ringcast_memory_refused_total{kind="send"}`); nullopt when absent
  // or the server does not answer.
  std::optional<uint64_t> metric(std::string_view name);

 private:
  HttpResponse roundTrip(const std::string& request);

  uint16_t port_;
  std::string key_;
  std::unique_ptr<WsClient> conn_;  // keep-alive; reopened after the server closes it
};

// Sends {"op":"subscribe","channel":channel<extraMembers>} (extraMembers such as
// `,"presence":true`) and expects an ok reply for that channel; returns it, or nullopt after
// a test failure.
std::optional<Json> subscribeOk(PushClient& c, std::string_view channel,
                                std::string_view extraMembers = "");
// POST /api/publish {"channel":channel,"data":dataJson}; the receipt, or nullopt after a
// test failure.
std::optional<Json> publishOk(ApiClient& api, std::string_view channel, std::string_view dataJson);

// VmRSS of process `pid` in bytes (0 when unreadable).
uint64_t rssBytes(pid_t pid);

// JSON string literal for `s` (quotes and backslashes escaped; tests use plain ASCII).
std::string quoted(std::string_view s);

}  // namespace ringcast::test
