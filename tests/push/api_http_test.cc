// The HTTP API: its pure helpers (routes, auth, bodies, error and receipt JSON, Prometheus
// text), then ApiConnection over a socketpair with a scripted Hub, which answers receipts in
// whatever order a test chooses.
#include "push/api_http.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/json.h"
#include "net/event_loop.h"

namespace ringcast::push {
namespace {

// ---- Routes and auth ----

TEST(ApiRoutes, MatchesEveryRouteWithItsMethod) {
  struct Case {
    const char* method;
    const char* path;
    Route route;
    const char* param;
  };
  const Case cases[] = {
      {"POST", "/api/publish", Route::kPublish, ""},
      {"POST", "/api/publish/news", Route::kPublishRaw, "news"},
      {"POST", "/api/publish/room%3A7", Route::kPublishRaw, "room%3A7"},
      {"POST", "/api/broadcast", Route::kBroadcast, ""},
      {"POST", "/api/send", Route::kSend, ""},
      {"POST", "/api/disconnect", Route::kDisconnect, ""},
      {"GET", "/api/presence/room:7", Route::kPresence, "room:7"},
      {"GET", "/api/users", Route::kUsers, ""},
      {"GET", "/api/channels", Route::kChannels, ""},
      {"GET", "/api/stats", Route::kStats, ""},
      {"GET", "/metrics", Route::kMetrics, ""},
      {"GET", "/healthz", Route::kHealthz, ""},
  };
  for (const Case& c : cases) {
    RouteMatch m = matchRoute(c.method, c.path);
    EXPECT_EQ(m.route, c.route) << c.path;
    EXPECT_TRUE(m.methodAllowed) << c.path;
    EXPECT_EQ(m.allow, c.method) << c.path;
    EXPECT_EQ(m.param, c.param) << c.path;
  }
}

TEST(ApiRoutes, WrongMethodNamesTheAllowedOne) {
  RouteMatch m = matchRoute("GET", "/api/publish");
  EXPECT_EQ(m.route, Route::kPublish);
  EXPECT_FALSE(m.methodAllowed);
  EXPECT_EQ(m.allow, "POST");
  m = matchRoute("POST", "/healthz");
  EXPECT_FALSE(m.methodAllowed);
  EXPECT_EQ(m.allow, "GET");
  m = matchRoute("HEAD", "/api/presence/x");
  EXPECT_EQ(m.route, Route::kPresence);
  EXPECT_FALSE(m.methodAllowed);
}

TEST(ApiRoutes, UnknownPathsMatchNothing) {
  for (const char* path : {"/", "/api", "/api/", "/api/publish/", "/api/presence/", "/api/publishx",
                           "/api/users/", "/API/users", "/metricsx", "/ws"}) {
    RouteMatch m = matchRoute("GET", path);
    EXPECT_EQ(m.route, Route::kNone) << path;
    EXPECT_FALSE(m.methodAllowed) << path;
  }
}

TEST(ApiRoutes, OnlyApiPathsNeedTheKey) {
  EXPECT_TRUE(routeNeedsKey("/api/publish"));
  EXPECT_TRUE(routeNeedsKey("/api/nothing-here"));
  EXPECT_TRUE(routeNeedsKey("/api"));
  EXPECT_FALSE(routeNeedsKey("/metrics"));
  EXPECT_FALSE(routeNeedsKey("/healthz"));
  EXPECT_FALSE(routeNeedsKey("/apix"));
}

TEST(ApiAuth, BearerKeyMustMatchExactly) {
  EXPECT_TRUE(bearerMatches("Bearer s3cret", "s3cret"));
  EXPECT_TRUE(bearerMatches("bearer s3cret", "s3cret"));
  EXPECT_TRUE(bearerMatches("BEARER   s3cret", "s3cret"));
  EXPECT_FALSE(bearerMatches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(bearerMatches("Bearer s3cret2", "s3cret"));
  EXPECT_FALSE(bearerMatches("Bearer S3cret", "s3cret"));
  EXPECT_FALSE(bearerMatches("Bearers3cret", "s3cret"));
  EXPECT_FALSE(bearerMatches("Basic s3cret", "s3cret"));
  EXPECT_FALSE(bearerMatches("s3cret", "s3cret"));
  EXPECT_FALSE(bearerMatches("", "s3cret"));
  EXPECT_FALSE(bearerMatches("Bearer ", ""));
}

// ---- Bodies ----

TEST(ApiBodies, ErrorJsonShapeAndCodes) {
  std::string e = errorJson("bad_json", "say \"what\"");
  EXPECT_EQ(e, R"({"ok":false,"error":{"code":"bad_json","message":"say \"what\""}})");
  EXPECT_TRUE(json::isValidJson(e));
  EXPECT_EQ(errorCodeForStatus(400), "bad_request");
  EXPECT_EQ(errorCodeForStatus(401), "unauthorized");
  EXPECT_EQ(errorCodeForStatus(404), "not_found");
  EXPECT_EQ(errorCodeForStatus(405), "method_not_allowed");
  EXPECT_EQ(errorCodeForStatus(413), "too_large");
  EXPECT_EQ(errorCodeForStatus(431), "too_large");
  EXPECT_EQ(errorCodeForStatus(503), "overloaded");
  EXPECT_EQ(statusForReceiptError("overloaded"), 503);
  EXPECT_EQ(statusForReceiptError("bad_request"), 400);
  EXPECT_EQ(statusForReceiptError("something new"), 500);
}

TEST(ApiBodies, JsonContentTypes) {
  EXPECT_TRUE(isJsonContentType("application/json"));
  EXPECT_TRUE(isJsonContentType("Application/JSON; charset=utf-8"));
  EXPECT_TRUE(isJsonContentType("application/vnd.api+json"));
  EXPECT_FALSE(isJsonContentType("text/plain"));
  EXPECT_FALSE(isJsonContentType(""));
  EXPECT_FALSE(isJsonContentType("application/jsonx"));
  EXPECT_FALSE(isJsonContentType("+json"));
}

TEST(ApiBodies, RawBodyWithJsonContentTypeIsTheJsonValue) {
  std::string data;
  ASSERT_TRUE(rawBodyToData(" {\"a\" : [1, 2.50]}\n", "application/json", &data).ok());
  EXPECT_EQ(data, "{\"a\" : [1, 2.50]}");
  ApiError e = rawBodyToData("hello", "application/json", &data);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.code, "bad_json");
  EXPECT_EQ(rawBodyToData("", "application/json", &data).status, 400);
}

TEST(ApiBodies, RawBodyOtherwiseFollowsTheDataRule) {
  std::string data;
  ASSERT_TRUE(rawBodyToData("hello \"you\"\r\n", "text/plain", &data).ok());
  EXPECT_EQ(data, "\"hello \\\"you\\\"\\u000d\\u000a\"");
  ASSERT_TRUE(rawBodyToData("[1,2]", "", &data).ok());
  EXPECT_EQ(data, "[1,2]");
  ASSERT_TRUE(rawBodyToData("", "", &data).ok());
  EXPECT_EQ(data, "\"\"");
  ApiError e = rawBodyToData(std::string_view("\xff\xfe", 2), "", &data);
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.code, "bad_request");
  EXPECT_EQ(rawBodyToData(std::string_view("\"\xc3\"", 3), "application/json", &data).status, 400);
}

TEST(ApiBodies, PublishCarriesDataByteForByte) {
  ApiCommand c;
  const std::string body =
      R"({ "data" : {"t" : "h\u00e9", "n": 1.50e3, "big": 123456789012345678901234},)"
      R"( "channel":"room:7"})";
  ASSERT_TRUE(parseCommandBody(Route::kPublish, body, &c).ok());
  EXPECT_EQ(c.data, R"({"t" : "h\u00e9", "n": 1.50e3, "big": 123456789012345678901234})");
  ASSERT_EQ(c.targets.size(), 1u);
  EXPECT_EQ(c.targets[0], "room:7");
  EXPECT_FALSE(c.targetList);

  ASSERT_TRUE(parseCommandBody(Route::kPublish, R"({"channel":"a","data":"x\ny"})", &c).ok());
  EXPECT_EQ(c.data, R"("x\ny")");
  ASSERT_TRUE(parseCommandBody(Route::kPublish, R"({"channel":"a","data":null})", &c).ok());
  EXPECT_EQ(c.data, "null");
}

TEST(ApiBodies, PublishToAListOfChannels) {
  ApiCommand c;
  ASSERT_TRUE(
      parseCommandBody(Route::kPublish, R"({"channels":["a","b","c"],"data":[1]})", &c).ok());
  EXPECT_TRUE(c.targetList);
  EXPECT_EQ(c.targets, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(c.data, "[1]");
}

TEST(ApiBodies, PublishBodyErrors) {
  struct Case {
    const char* body;
    int status;
    const char* code;
  };
  const Case cases[] = {
      {"", 400, "bad_json"},
      {"{", 400, "bad_json"},
      {R"({"channel":"a","data":})", 400, "bad_json"},
      {"[1,2]", 400, "bad_request"},
      {R"({"channel":"a"})", 400, "bad_request"},
      {R"({"data":1})", 400, "bad_request"},
      {R"({"channel":"bad name","data":1})", 400, "bad_request"},
      {R"({"channel":"","data":1})", 400, "bad_request"},
      {R"({"channel":7,"data":1})", 400, "bad_request"},
      {R"({"channel":["a"],"data":1})", 400, "bad_request"},
      {R"({"channels":[],"data":1})", 400, "bad_request"},
      {R"({"channels":"a","data":1})", 400, "bad_request"},
      {R"({"channels":["a",1],"data":1})", 400, "bad_request"},
      {R"({"channel":"a","channels":["b"],"data":1})", 400, "bad_request"},
  };
  for (const Case& c : cases) {
    ApiCommand cmd;
    ApiError e = parseCommandBody(Route::kPublish, c.body, &cmd);
    EXPECT_EQ(e.status, c.status) << c.body;
    EXPECT_EQ(e.code, c.code) << c.body;
    EXPECT_FALSE(e.message.empty()) << c.body;
  }
  ApiCommand cmd;
  ApiError e =
      parseCommandBody(Route::kPublish, std::string_view("{\"channel\":\"\xff\"}", 15), &cmd);
  EXPECT_EQ(e.status, 400);
}

TEST(ApiBodies, TooManyTargetsIsRefused) {
  std::string body = R"({"data":1,"channels":[)";
  for (size_t i = 0; i <= kMaxTargetsPerCommand; ++i)
    body += (i ? ",\"c" : "\"c") + std::to_string(i) + "\"";
  body += "]}";
  ApiCommand c;
  EXPECT_EQ(parseCommandBody(Route::kPublish, body, &c).status, 400);
}

TEST(ApiBodies, SendBroadcastAndDisconnect) {
  ApiCommand c;
  ASSERT_TRUE(parseCommandBody(Route::kSend, R"({"to":"bob","data":{"x":1}})", &c).ok());
  EXPECT_EQ(c.targets, std::vector<std::string>{"bob"});
  EXPECT_FALSE(c.targetList);
  EXPECT_EQ(c.data, R"({"x":1})");
  ASSERT_TRUE(parseCommandBody(Route::kSend, R"({"to":["a","b"],"data":2})", &c).ok());
  EXPECT_TRUE(c.targetList);
  EXPECT_EQ(c.targets.size(), 2u);
  // Each user once, in the order first named: one frame and one result per user.
  ASSERT_TRUE(parseCommandBody(Route::kSend, R"({"to":["b","a","b","b","a"],"data":2})", &c).ok());
  EXPECT_EQ(c.targets, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(parseCommandBody(Route::kSend, R"({"to":[],"data":2})", &c).status, 400);
  EXPECT_EQ(parseCommandBody(Route::kSend, R"({"to":"no space","data":2})", &c).status, 400);
  EXPECT_EQ(parseCommandBody(Route::kSend, R"({"data":2})", &c).status, 400);

  ASSERT_TRUE(parseCommandBody(Route::kBroadcast, R"({"data":"hi all"})", &c).ok());
  EXPECT_TRUE(c.targets.empty());
  EXPECT_EQ(c.data, R"("hi all")");
  EXPECT_EQ(parseCommandBody(Route::kBroadcast, R"({"text":"hi"})", &c).status, 400);

  ASSERT_TRUE(parseCommandBody(Route::kDisconnect, R"({"user":"bob"})", &c).ok());
  EXPECT_EQ(c.targets, std::vector<std::string>{"bob"});
  EXPECT_EQ(parseCommandBody(Route::kDisconnect, R"({"user":["bob"]})", &c).status, 400);
  EXPECT_EQ(parseCommandBody(Route::kDisconnect, R"({})", &c).status, 400);
}

// ---- Receipts and queries ----

Receipt delivered(uint64_t offset, uint64_t matched, uint64_t queued, uint64_t dropped) {
  Receipt r;
  r.offset = offset;
  r.matched = matched;
  r.queued = queued;
  r.dropped = dropped;
  return r;
}

Receipt overloaded() {
  Receipt r;
  r.ok = false;
  r.errorCode = "overloaded";
  r.errorMessage = "ring full";
  return r;
}

TEST(ApiReceipts, SingleShapes) {
  int status = 0;
  ApiCommand c;
  c.targets = {"news"};
  EXPECT_EQ(receiptBody(Route::kPublish, c, {delivered(42, 10, 9, 1)}, &status),
            R"({"ok":true,"offset":42,"matched":10,"queued":9,"dropped":1})");
  EXPECT_EQ(status, 200);

  c.targets = {"bob"};
  Receipt offline;
  EXPECT_EQ(receiptBody(Route::kSend, c, {offline}, &status),
            R"({"ok":true,"to":"bob","online":false,"matched":0})");
  Receipt online;
  online.online = true;
  online.matched = 2;
  EXPECT_EQ(receiptBody(Route::kDisconnect, c, {online}, &status),
            R"({"ok":true,"user":"bob","online":true,"matched":2})");

  ApiCommand none;
  EXPECT_EQ(receiptBody(Route::kBroadcast, none, {delivered(0, 5, 5, 0)}, &status),
            R"({"ok":true,"matched":5,"queued":5,"dropped":0})");
}

TEST(ApiReceipts, FailedReceiptGivesItsStatus) {
  int status = 0;
  ApiCommand c;
  c.targets = {"news"};
  std::string body = receiptBody(Route::kPublish, c, {overloaded()}, &status);
  EXPECT_EQ(status, 503);
  EXPECT_EQ(body, R"({"ok":false,"error":{"code":"overloaded","message":"ring full"}})");
}

TEST(ApiReceipts, ListsAnswerWithResultsInOrder) {
  int status = 0;
  ApiCommand c;
  c.targets = {"a", "b"};
  c.targetList = true;
  EXPECT_EQ(
      receiptBody(Route::kPublish, c, {delivered(1, 1, 1, 0), delivered(7, 2, 1, 1)}, &status),
      R"({"ok":true,"results":[{"channel":"a","offset":1,"matched":1,"queued":1,)"
      R"("dropped":0},{"channel":"b","offset":7,"matched":2,"queued":1,"dropped":1}]})");
  EXPECT_EQ(status, 200);

  // A send to a list is one receipt with a count per user.
  Receipt on;
  on.online = true;
  on.matched = 3;
  on.matchedPerUser = {3, 0};
  EXPECT_EQ(receiptBody(Route::kSend, c, {on}, &status),
            R"({"ok":true,"results":[{"to":"a","online":true,"matched":3},)"
            R"({"to":"b","online":false,"matched":0}]})");

  std::string body =
      receiptBody(Route::kPublish, c, {delivered(1, 1, 1, 0), overloaded()}, &status);
  EXPECT_EQ(status, 503);
  EXPECT_TRUE(json::isValidJson(body)) << body;
  EXPECT_NE(body.find(R"("ok":false,"error":{"code":"overloaded")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"({"channel":"b","ok":false,"error":{"code":"overloaded")"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find(R"({"channel":"a","offset":1)"), std::string::npos) << body;
}

TEST(ApiQueries, PresenceUsersChannelsShapes) {
  EXPECT_EQ(presenceJson("room:7", {{"alice", "Alice \"A\"", 2}}),
            R"({"ok":true,"channel":"room:7","users":[{"user":"alice","name":"Alice \"A\"",)"
            R"("conns":2}]})");
  EXPECT_EQ(presenceJson("x", {}), R"({"ok":true,"channel":"x","users":[]})");
  EXPECT_EQ(usersJson({{"a", 1}, {"b", 3}}),
            R"({"ok":true,"count":2,"users":[{"user":"a","conns":1},{"user":"b","conns":3}]})");
  EXPECT_EQ(channelsJson({{"news", 10, 42}}),
            R"({"ok":true,"channels":[{"channel":"news","subscribers":10,"offset":42}]})");
}

// ---- Stats ----

Stats sampleStats() {
  Stats s;
  s.connections = 12;
  s.subscriptions = 30;
  s.messagesIn = 100;
  s.messagesOut = 2500;
  s.bytesOut = 123456;
  s.dropped = 4;
  s.slowConsumerDisconnects = 1;
  s.joinedFrames = 40;
  s.joinedDeliveries = 800;
  s.ringOccupancy = 5;
  s.ringCapacity = 65536;
  s.loopConnections = {7, 5};
  s.loopIterations = {1000, 900};
  for (size_t i = 0; i < std::size(kLatencyBucketsUs); ++i)
    s.latencyBuckets.push_back(10 * (i + 1));
  s.latencyCount = 140;
  s.latencySumSeconds = 0.25;
  return s;
}

TEST(ApiMetrics, MicrosAsExactSeconds) {
  EXPECT_EQ(formatMicrosAsSeconds(100), "0.0001");
  EXPECT_EQ(formatMicrosAsSeconds(250), "0.00025");
  EXPECT_EQ(formatMicrosAsSeconds(2500), "0.0025");
  EXPECT_EQ(formatMicrosAsSeconds(1000000), "1");
  EXPECT_EQ(formatMicrosAsSeconds(1500000), "1.5");
  EXPECT_EQ(formatMicrosAsSeconds(0), "0");
}

TEST(ApiMetrics, PrometheusTextHasEveryFamilyWithHelpAndType) {
  std::string text = renderMetrics(sampleStats());
  for (const char* line : {
           "# TYPE ringcast_connections gauge\nringcast_connections 12\n",
           "# TYPE ringcast_subscriptions gauge\nringcast_subscriptions 30\n",
           "# TYPE ringcast_messages_in_total counter\nringcast_messages_in_total 100\n",
           "# TYPE ringcast_messages_out_total counter\nringcast_messages_out_total 2500\n",
           "ringcast_bytes_out_total 123456\n",
           "ringcast_dropped_total 4\n",
           "ringcast_slow_consumer_disconnects_total 1\n",
           "# TYPE ringcast_joined_frames_total counter\nringcast_joined_frames_total 40\n",
           "ringcast_joined_deliveries_total 800\n",
           "ringcast_ring_occupancy 5\n",
           "ringcast_ring_capacity 65536\n",
           "# TYPE ringcast_loop_connections gauge\nringcast_loop_connections{loop=\"0\"} 7\n"
           "ringcast_loop_connections{loop=\"1\"} 5\n",
           "ringcast_loop_iterations_total{loop=\"1\"} 900\n",
           "# TYPE ringcast_publish_to_write_seconds histogram\n",
           "ringcast_publish_to_write_seconds_bucket{le=\"0.0001\"} 10\n",
           "ringcast_publish_to_write_seconds_bucket{le=\"0.00025\"} 20\n",
           "ringcast_publish_to_write_seconds_bucket{le=\"1\"} 130\n",
           "ringcast_publish_to_write_seconds_bucket{le=\"+Inf\"} 140\n",
           "ringcast_publish_to_write_seconds_sum 0.25\n",
           "ringcast_publish_to_write_seconds_count 140\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing:\n" << line << "\nin:\n" << text;
  }
}

// A metric name per the exposition format: [a-zA-Z_:][a-zA-Z0-9_:]*. Returns its length at
// the start of `s` (0 when there is none).
size_t metricNameLength(std::string_view s) {
  auto first = [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  };
  auto rest = [&](char c) { return first(c) || std::isdigit(static_cast<unsigned char>(c)); };
  if (s.empty() || !first(s[0])) return 0;
  size_t n = 1;
  while (n < s.size() && rest(s[n])) ++n;
  return n;
}

// Splits a sample line `name{label="value"} number` (label optional); false if malformed.
bool parseSample(std::string_view line, std::string* name) {
  size_t n = metricNameLength(line);
  if (n == 0) return false;
  *name = std::string(line.substr(0, n));
  line.remove_prefix(n);
  if (!line.empty() && line[0] == '{') {
    size_t close = line.find('}');
    if (close == std::string_view::npos) return false;
    std::string_view label = line.substr(1, close - 1);
    size_t eq = label.find('=');
    if (eq == std::string_view::npos || metricNameLength(label) != eq) return false;
    std::string_view value = label.substr(eq + 1);
    if (value.size() < 2 || value.front() != '"' || value.back() != '"' ||
        value.substr(1, value.size() - 2).find_first_of("\"\\") != std::string_view::npos) {
      return false;
    }
    line.remove_prefix(close + 1);
  }
  if (line.size() < 2 || line[0] != ' ') return false;
  std::string number(line.substr(1));
  char* end = nullptr;
  std::strtod(number.c_str(), &end);
  return end == number.c_str() + number.size() &&
         number.find_first_not_of("0123456789.e-") == std::string::npos;
}

TEST(ApiMetrics, SampleParserRejectsMalformedLines) {
  std::string name;
  EXPECT_TRUE(parseSample("a_total 1", &name));
  EXPECT_EQ(name, "a_total");
  EXPECT_TRUE(parseSample("a{le=\"0.1\"} 2.5e-05", &name));
  EXPECT_FALSE(parseSample("a 1 2", &name));
  EXPECT_FALSE(parseSample("a{le=0.1} 2", &name));
  EXPECT_FALSE(parseSample("1a 2", &name));
  EXPECT_FALSE(parseSample("a nan", &name));
}

TEST(ApiMetrics, EverySampleFollowsTheExpositionGrammarAndItsFamilyIsDeclared) {
  std::string text = renderMetrics(sampleStats());
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  std::set<std::string> helped, typed;
  std::string histogram;
  size_t samples = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string_view line = std::string_view(text).substr(start, end - start);
    start = end + 1;
    if (line.substr(0, 7) == "# HELP ") {
      std::string_view rest = line.substr(7);
      size_t n = metricNameLength(rest);
      ASSERT_GT(n, 0u) << line;
      ASSERT_GT(rest.size(), n + 1) << "HELP without text: " << line;
      EXPECT_TRUE(helped.insert(std::string(rest.substr(0, n))).second) << "HELP twice: " << line;
    } else if (line.substr(0, 7) == "# TYPE ") {
      std::string_view rest = line.substr(7);
      size_t n = metricNameLength(rest);
      std::string family(rest.substr(0, n));
      std::string_view type = rest.substr(n);
      EXPECT_TRUE(type == " counter" || type == " gauge" || type == " histogram") << line;
      EXPECT_TRUE(helped.count(family)) << "TYPE before HELP: " << line;
      EXPECT_TRUE(typed.insert(family).second) << "TYPE twice: " << line;
      if (type == " histogram") histogram = family;
      if (type == " counter") {
        EXPECT_EQ(family.substr(family.size() - 6), "_total") << line;
      }
    } else {
      std::string family;
      ASSERT_TRUE(parseSample(line, &family)) << "not a sample: " << line;
      if (!histogram.empty() && family.rfind(histogram, 0) == 0) family = histogram;
      EXPECT_TRUE(typed.count(family)) << "sample before its TYPE: " << line;
      ++samples;
    }
  }
  EXPECT_EQ(histogram, "ringcast_publish_to_write_seconds");
  // 20 plain families (4 of them permessage-deflate's, 3 of the per-connection limits, 2 of
  // joined frames), 2 + 2 per-loop samples, 13 + 1 buckets, _sum and _count.
  EXPECT_EQ(samples, 20u + 4u + std::size(kLatencyBucketsUs) + 1 + 2);
}

TEST(ApiMetrics, EmptyStatsStillRenderAValidHistogram) {
  std::string text = renderMetrics(Stats{});
  EXPECT_NE(text.find("ringcast_publish_to_write_seconds_bucket{le=\"0.0001\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("ringcast_publish_to_write_seconds_bucket{le=\"+Inf\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("ringcast_publish_to_write_seconds_sum 0\n"), std::string::npos);
  EXPECT_EQ(text.find("loop=\""), std::string::npos);
}

TEST(ApiMetrics, StatsJsonHasTheDocumentedFields) {
  std::string body = renderStatsJson(sampleStats());
  ASSERT_TRUE(json::isValidJson(body)) << body;
  for (const char* field :
       {R"("ok":true)", R"("connections":12)", R"("subscriptions":30)", R"("messages_in":100)",
        R"("messages_out":2500)", R"("dropped":4)", R"("loop_connections":[7,5])",
        R"("sum_seconds":0.25)", R"({"le_seconds":0.0001,"count":10})"}) {
    EXPECT_NE(body.find(field), std::string::npos) << field << " in " << body;
  }
}

// ---- ApiConnection over a socketpair ----

// A Hub that records every call and keeps the receipt callbacks, so a test decides when and
// in which order they run. Everything here is touched on the loop thread only.
class ScriptedHub final : public Hub {
 public:
  struct Call {
    std::string kind, target, data, from;
    ReceiptFn done;
  };
  std::vector<Call> calls;
  std::vector<std::function<void(const Stats&)>> statsCalls;
  std::atomic<bool> servingFlag{true};

  void publish(std::string_view channel, std::string_view dataJson, std::string_view from,
               ReceiptWait, ReceiptFn done) override {
    calls.push_back({"publish", std::string(channel), std::string(dataJson), std::string(from),
                     std::move(done)});
  }
  void broadcast(std::string_view dataJson, ReceiptFn done) override {
    calls.push_back({"broadcast", "", std::string(dataJson), "", std::move(done)});
  }
  void send(const std::vector<std::string>& users, std::string_view dataJson, std::string_view from,
            ReceiptFn done) override {
    std::string names;
    for (const std::string& u : users) names += (names.empty() ? "" : ",") + u;
    calls.push_back({"send", names, std::string(dataJson), std::string(from), std::move(done)});
  }
  void disconnect(std::string_view user, ReceiptFn done) override {
    calls.push_back({"disconnect", std::string(user), "", "", std::move(done)});
  }
  void stats(std::function<void(const Stats&)> done) override {
    statsCalls.push_back(std::move(done));
  }
  void presence(std::string_view channel,
                std::function<void(std::vector<PresenceEntry>)> done) override {
    if (channel == "room:7") return done({{"alice", "Alice", 2}});
    done({});
  }
  void users(std::function<void(std::vector<UserInfo>)> done) override { done({{"alice", 2}}); }
  void channels(std::function<void(std::vector<ChannelInfo>)> done) override {
    done({{"room:7", 2, 9}});
  }
  bool serving() const override { return servingFlag.load(); }
};

// How long a test waits to see that nothing is written.
constexpr std::chrono::milliseconds kQuiet{100};

struct Response {
  int status = 0;
  std::string headers;  // the header block, status line included
  std::string body;
};

class ApiConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0);
    options_.idleTimeoutMs = 10'000;
    options_.closeTimeoutMs = 1'000;
    options_.limits.maxBodyBytes = 4096;
    options_.access.names.push_back({"x", 0});  // the Host the requests below send
    thread_ = std::thread([this] { loop_.run(); });
  }
  void TearDown() override {
    loop_.quit();
    thread_.join();
    if (fds_[1] >= 0) ::close(fds_[1]);
  }
  template <class Fn>
  void onLoop(Fn fn) {
    std::promise<void> done;
    loop_.queueInLoop([&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }
  void start() {
    onLoop([&] { acceptApiConnection(loop_, fds_[0], &hub_, &options_); });
  }
  void write(std::string_view bytes) {
    size_t off = 0;
    for (int i = 0; i < 5000 && off < bytes.size(); ++i) {
      ssize_t n = ::write(fds_[1], bytes.data() + off, bytes.size() - off);
      if (n > 0) {
        off += static_cast<size_t>(n);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    ASSERT_EQ(off, bytes.size());
  }
  // Waits up to 5 s for `pred` (evaluated on the loop thread).
  template <class Pred>
  bool waitFor(Pred pred) {
    for (int i = 0; i < 2500; ++i) {
      bool ok = false;
      onLoop([&] { ok = pred(); });
      if (ok) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }
  // Reads `n` complete responses (Content-Length framed), or fewer on EOF or after `timeout`.
  std::vector<Response> readResponses(size_t n,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::vector<Response> out;
    char buf[65536];
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n && !eof_ && std::chrono::steady_clock::now() < deadline) {
      while (out.size() < n) {
        size_t end = pending_.find("\r\n\r\n");
        if (end == std::string::npos) break;
        Response r;
        r.headers = pending_.substr(0, end + 2);
        r.status = std::atoi(pending_.substr(9, 3).c_str());
        size_t length = 0;
        if (size_t at = r.headers.find("Content-Length: "); at != std::string::npos) {
          length = static_cast<size_t>(std::atol(r.headers.c_str() + at + 16));
        }
        if (pending_.size() < end + 4 + length) break;
        r.body = pending_.substr(end + 4, length);
        pending_.erase(0, end + 4 + length);
        out.push_back(std::move(r));
      }
      if (out.size() == n) break;
      ssize_t r = ::read(fds_[1], buf, sizeof buf);
      if (r > 0) {
        pending_.append(buf, static_cast<size_t>(r));
      } else if (r == 0) {
        eof_ = true;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    return out;
  }
  // True when the peer sees EOF within 5 s (after any bytes still buffered).
  bool sawEof() {
    readResponses(1000);
    return eof_ && pending_.empty();
  }
  // Runs the receipt of call i with r.
  void answer(size_t i, const Receipt& r) {
    onLoop([&] {
      ASSERT_LT(i, hub_.calls.size());
      hub_.calls[i].done(r);
    });
  }
  // A JSON body unless `extra` names another Content-Type.
  static std::string post(std::string_view path, std::string_view body,
                          std::string_view extra = "") {
    const bool typed = extra.find("Content-Type:") != std::string_view::npos;
    return std::string("POST ") + std::string(path) + " HTTP/1.1\r\nHost: x\r\n" +
           (typed ? "" : "Content-Type: application/json\r\n") + std::string(extra) +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
  }
  static std::string get(std::string_view path, std::string_view extra = "") {
    return std::string("GET ") + std::string(path) + " HTTP/1.1\r\nHost: x\r\n" +
           std::string(extra) + "\r\n";
  }

  net::EventLoop loop_{0};
  std::thread thread_;
  int fds_[2] = {-1, -1};
  ScriptedHub hub_;
  ApiOptions options_;
  std::string pending_;  // bytes read, not yet a whole response
  bool eof_ = false;
};

TEST_F(ApiConnectionTest, PipelinedResponsesKeepRequestOrderWhateverTheReceiptOrder) {
  start();
  write(post("/api/publish", R"({"channel":"a","data":1})") +
        post("/api/publish/b", "hello", "Content-Type: text/plain\r\n") + get("/api/users") +
        post("/api/send", R"({"to":"bob","data":{"x" : 1}})"));
  ASSERT_TRUE(waitFor([&] { return hub_.calls.size() == 3; }));
  onLoop([&] {
    EXPECT_EQ(hub_.calls[0].kind, "publish");
    EXPECT_EQ(hub_.calls[0].target, "a");
    EXPECT_EQ(hub_.calls[0].data, "1");
    EXPECT_EQ(hub_.calls[0].from, "api");
    EXPECT_EQ(hub_.calls[1].target, "b");
    EXPECT_EQ(hub_.calls[1].data, "\"hello\"");
    EXPECT_EQ(hub_.calls[2].kind, "send");
    EXPECT_EQ(hub_.calls[2].data, R"({"x" : 1})");
  });
  // Nothing may be written before the first receipt, although /api/users is ready.
  answer(2, Receipt{});
  answer(1, delivered(5, 1, 1, 0));
  EXPECT_TRUE(readResponses(1, kQuiet).empty());
  answer(0, delivered(3, 2, 2, 0));
  std::vector<Response> r = readResponses(4);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].body, R"({"ok":true,"offset":3,"matched":2,"queued":2,"dropped":0})");
  EXPECT_EQ(r[1].body, R"({"ok":true,"offset":5,"matched":1,"queued":1,"dropped":0})");
  EXPECT_EQ(r[2].body, R"({"ok":true,"count":1,"users":[{"user":"alice","conns":2}]})");
  EXPECT_EQ(r[3].body, R"({"ok":true,"to":"bob","online":false,"matched":0})");
  for (const Response& x : r) {
    EXPECT_EQ(x.status, 200);
    EXPECT_NE(x.headers.find("Content-Type: application/json"), std::string::npos);
    EXPECT_NE(x.headers.find("Connection: keep-alive"), std::string::npos);
  }
}

TEST_F(ApiConnectionTest, MultiChannelPublishWaitsForEveryReceipt) {
  start();
  write(post("/api/publish", R"({"channels":["a","b"],"data":"x"})"));
  ASSERT_TRUE(waitFor([&] { return hub_.calls.size() == 2; }));
  answer(1, delivered(2, 0, 0, 0));
  EXPECT_TRUE(readResponses(1, kQuiet).empty());
  answer(0, overloaded());
  std::vector<Response> r = readResponses(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 503);
  EXPECT_TRUE(json::isValidJson(r[0].body)) << r[0].body;
  EXPECT_NE(r[0].body.find(R"({"channel":"b","offset":2)"), std::string::npos) << r[0].body;
}

TEST_F(ApiConnectionTest, OverloadedReceiptIs503) {
  start();
  write(post("/api/broadcast", R"({"data":"hi"})"));
  ASSERT_TRUE(waitFor([&] { return hub_.calls.size() == 1; }));
  answer(0, overloaded());
  std::vector<Response> r = readResponses(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 503);
  EXPECT_EQ(r[0].body, R"({"ok":false,"error":{"code":"overloaded","message":"ring full"}})");
}

TEST_F(ApiConnectionTest, ErrorStatusesAndKeepAlive) {
  options_.apiKey = "k3y";
  start();
  write(get("/api/users") + get("/api/users", "Authorization: Bearer nope\r\n") + get("/healthz") +
        get("/api/nothing", "Authorization: Bearer k3y\r\n") + get("/nothing") +
        get("/api/publish", "Authorization: Bearer k3y\r\n") +
        post("/api/publish", "{", "Authorization: Bearer k3y\r\n") +
        get("/api/presence/bad%20name", "Authorization: Bearer k3y\r\n") +
        get("/api/presence/room%3A7", "Authorization: Bearer k3y\r\n") +
        post("/api/publish/x", std::string_view("\xff", 1), "Authorization: Bearer k3y\r\n"));
  std::vector<Response> r = readResponses(10);
  ASSERT_EQ(r.size(), 10u);
  EXPECT_EQ(r[0].status, 401);
  EXPECT_NE(r[0].headers.find("WWW-Authenticate: Bearer"), std::string::npos);
  EXPECT_EQ(r[0].body,
            R"({"ok":false,"error":{"code":"unauthorized","message":"missing or wrong API key"}})");
  EXPECT_EQ(r[1].status, 401);
  EXPECT_EQ(r[2].status, 200);
  EXPECT_EQ(r[2].body, "ok");
  EXPECT_EQ(r[3].status, 404);
  EXPECT_EQ(r[4].status, 404);
  EXPECT_NE(r[4].body.find("\"not_found\""), std::string::npos);
  EXPECT_EQ(r[5].status, 405);
  EXPECT_NE(r[5].headers.find("Allow: POST\r\n"), std::string::npos);
  EXPECT_EQ(r[6].status, 400);
  EXPECT_NE(r[6].body.find("\"bad_json\""), std::string::npos);
  EXPECT_EQ(r[7].status, 400);
  EXPECT_EQ(r[8].status, 200);
  EXPECT_EQ(
      r[8].body,
      R"({"ok":true,"channel":"room:7","users":[{"user":"alice","name":"Alice","conns":2}]})");
  EXPECT_EQ(r[9].status, 400);
  for (const Response& x : r) EXPECT_NE(x.headers.find("keep-alive"), std::string::npos);
  onLoop([&] { EXPECT_TRUE(hub_.calls.empty()); });
}

TEST_F(ApiConnectionTest, ParserErrorAnswersInOrderThenCloses) {
  start();
  write(post("/api/publish", R"({"channel":"a","data":1})") + "BROKEN\r\n\r\n" + get("/healthz"));
  ASSERT_TRUE(waitFor([&] { return hub_.calls.size() == 1; }));
  EXPECT_TRUE(readResponses(1, kQuiet).empty());
  answer(0, delivered(1, 0, 0, 0));
  std::vector<Response> r = readResponses(3);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(r[1].status, 400);
  EXPECT_NE(r[1].headers.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(sawEof());
}

TEST_F(ApiConnectionTest, BodyOverTheLimitIs413) {
  start();
  write(post("/api/publish/a", std::string(5000, 'x')));
  std::vector<Response> r = readResponses(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 413);
  EXPECT_NE(r[0].body.find("\"too_large\""), std::string::npos);
  EXPECT_TRUE(sawEof());
}

TEST_F(ApiConnectionTest, ConnectionCloseIsHonoured) {
  start();
  write(get("/healthz", "Connection: close\r\n") + get("/healthz"));
  std::vector<Response> r = readResponses(2);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].headers.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(sawEof());
}

TEST_F(ApiConnectionTest, DrainingRefusesSendsAndClosesAfterEachAnswer) {
  hub_.servingFlag = false;
  start();
  write(post("/api/publish", R"({"channel":"a","data":1})"));
  std::vector<Response> r = readResponses(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 503);
  EXPECT_NE(r[0].headers.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(sawEof());
  onLoop([&] { EXPECT_TRUE(hub_.calls.empty()); });
}

TEST_F(ApiConnectionTest, HealthzIs503WhileDraining) {
  hub_.servingFlag = false;
  start();
  write(get("/healthz"));
  std::vector<Response> r = readResponses(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 503);
  EXPECT_EQ(r[0].body, "draining");
}

TEST_F(ApiConnectionTest, StatsAndMetricsComeFromTheHub) {
  start();
  write(get("/api/stats") + get("/metrics"));
  ASSERT_TRUE(waitFor([&] { return hub_.statsCalls.size() == 2; }));
  onLoop([&] {
    hub_.statsCalls[1](sampleStats());
    hub_.statsCalls[0](sampleStats());
  });
  std::vector<Response> r = readResponses(2);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].body, renderStatsJson(sampleStats()));
  EXPECT_EQ(r[1].body, renderMetrics(sampleStats()));
  EXPECT_NE(r[1].headers.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
}

TEST_F(ApiConnectionTest, StopsReadingAtThePendingBoundAndResumes) {
  start();
  const size_t total = ApiConnection::kMaxPendingResponses + 36;
  std::string requests;
  for (size_t i = 0; i < total; ++i) {
    requests += post("/api/publish", R"({"channel":"c)" + std::to_string(i) + R"(","data":1})");
  }
  write(requests);
  ASSERT_TRUE(waitFor([&] { return hub_.calls.size() == ApiConnection::kMaxPendingResponses; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  onLoop([&] { EXPECT_EQ(hub_.calls.size(), ApiConnection::kMaxPendingResponses); });
  for (size_t i = 0; i < total; ++i) {
    ASSERT_TRUE(waitFor([&] { return hub_.calls.size() > i; })) << i;
    answer(i, delivered(i + 1, 0, 0, 0));
  }
  std::vector<Response> r = readResponses(total);
  ASSERT_EQ(r.size(), total);
  for (size_t i = 0; i < total; ++i) {
    EXPECT_NE(r[i].body.find("\"offset\":" + std::to_string(i + 1) + ","), std::string::npos)
        << i << ": " << r[i].body;
  }
  onLoop([&] {
    for (size_t i = 0; i < total; ++i) EXPECT_EQ(hub_.calls[i].target, "c" + std::to_string(i));
  });
}

TEST_F(ApiConnectionTest, ReceiptAfterTheConnectionIsGoneIsIgnored) {
  start();
  write(post("/api/publish", R"({"channel":"a","data":1})"));
  ASSERT_TRUE(waitFor([&] { return hub_.calls.size() == 1; }));
  ::close(fds_[1]);
  fds_[1] = -1;
  ASSERT_TRUE(waitFor([&] { return loop_.connectionCount() == 0; }));
  onLoop([] {});                     // one more iteration: the connection has been freed
  answer(0, delivered(1, 0, 0, 0));  // would touch freed memory without the liveness token
  onLoop([&] { EXPECT_EQ(loop_.connectionCount(), 0u); });
}

TEST_F(ApiConnectionTest, IdleKeepAliveConnectionIsClosed) {
  options_.idleTimeoutMs = 100;
  start();
  write(get("/healthz"));
  std::vector<Response> r = readResponses(1);
  ASSERT_EQ(r.size(), 1u);
  auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(sawEof());
  EXPECT_GE(std::chrono::steady_clock::now() - begin, std::chrono::milliseconds(50));
}

TEST_F(ApiConnectionTest, GoAwayAnswersWhatWasReadThenCloses) {
  start();
  write(post("/api/publish", R"({"channel":"a","data":1})"));
  ASSERT_TRUE(waitFor([&] { return hub_.calls.size() == 1; }));
  onLoop([&] {
    loop_.forEachConnection([](net::TcpConnection& c) { static_cast<ApiConnection&>(c).goAway(); });
  });
  answer(0, delivered(1, 0, 0, 0));
  std::vector<Response> r = readResponses(1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_TRUE(sawEof());
}

}  // namespace
}  // namespace ringcast::push
