// Black-box tests of the publisher side (docs/PROTOCOL.md): every HTTP API route with auth
// and every error status, keep-alive and pipelining, the TCP publish protocol (PUB, BCAST,
// SEND, PING, -ERR, lost sync), and the ringcast-pub tool end to end. The real binary runs
// as a child process with --api-key; subscribers are real /ws clients on loopback.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "push/api_tcp_parser.h"
#include "push/auth.h"
#include "tests/support/line_client.h"
#include "tests/support/push_client.h"

extern char** environ;

namespace ringcast::test {
namespace {

constexpr std::string_view kKey = "s3cret-key";
// A small body limit, so that 413 needs only a small request.
constexpr size_t kMaxMessageBytes = 4096;

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Requests below send "Host: t", a name the gateway is given with --api-host; a POST sends
// a JSON Content-Type unless `extra` names another.
std::string post(std::string_view path, std::string_view body, std::string_view extra = "") {
  const bool typed = contains(extra, "Content-Type:");
  return "POST " + std::string(path) + " HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
         std::string(kKey) + "\r\n" + (typed ? "" : "Content-Type: application/json\r\n") +
         std::string(extra) + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body);
}

std::string get(std::string_view path, std::string_view extra = "") {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

std::string command(std::string_view head, std::string_view payload) {
  return tcpCommand(head, payload);
}

std::string authGet(std::string_view path, std::string_view extra = "") {
  return get(path, "Authorization: Bearer " + std::string(kKey) + "\r\n" + std::string(extra));
}

// The first message `subscriber` gets is "ok" at offset 1: the commands refused before it
// published nothing.
void expectOnlyOk(PushClient& subscriber) {
  auto m = subscriber.nextOfType("message");
  ASSERT_TRUE(m) << subscriber.lastRead().describe();
  EXPECT_EQ(m->str("data"), "ok");
  EXPECT_EQ(m->u64("offset"), 1u) << "refused commands publish nothing";
}

struct ToolRun {
  int exitCode = -1;
  std::string out, err;
};

// The ringcast-pub binary, built next to ringcast.
std::string toolPath() {
  std::string bin = RINGCAST_BIN;
  return bin.substr(0, bin.rfind('/') + 1) + "ringcast-pub";
}

// Runs ringcast-pub with `args`, feeding `input` on stdin; waits for it to exit.
ToolRun runTool(const std::vector<std::string>& args, std::string_view input = "") {
  ToolRun run;
  const std::string path = toolPath();
  if (::access(path.c_str(), X_OK) != 0) {
    ADD_FAILURE() << path << " is missing: build the ringcast-pub target";
    return run;
  }
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return run;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<std::string> argvStrings = {path};
  argvStrings.insert(argvStrings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argvStrings) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn " << path << ": " << std::strerror(rc);
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    return run;
  }
  // Inputs and outputs are small: write all, then read each pipe to its end.
  ssize_t ignored = ::write(in[1], input.data(), input.size());
  (void)ignored;
  ::close(in[1]);
  for (auto [fd, into] : {std::pair{out[0], &run.out}, std::pair{err[0], &run.err}}) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) into->append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

class ApiIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(startGateway({"--api-key", std::string(kKey), "--max-message-size",
                              std::to_string(kMaxMessageBytes), "--api-host", "t"},
                             &gw_));
    api_ = std::make_unique<ApiClient>(gw_.apiPort, std::string(kKey));
  }

  std::unique_ptr<PushClient> client(std::string_view user) {
    auto c = std::make_unique<PushClient>();
    auto ok = c->connect(gw_.wsPort, "/ws?user=" + std::string(user));
    if (!ok) {
      ADD_FAILURE() << ok.message();
      return nullptr;
    }
    return c;
  }
  std::unique_ptr<PushClient> subscriber(std::string_view user, std::string_view channel) {
    auto c = client(user);
    if (c && !subscribeOk(*c, channel)) return nullptr;
    return c;
  }
  // A raw keep-alive connection to the API.
  std::unique_ptr<WsClient> raw() {
    auto c = std::make_unique<WsClient>();
    if (!c->connect(gw_.apiPort)) {
      ADD_FAILURE() << "connect to the API: " << c->error();
      return nullptr;
    }
    return c;
  }
  // A publish connection that has sent AUTH with the key (no reply is expected for it).
  std::unique_ptr<LineClient> feeder() {
    auto c = unauthenticatedFeeder();
    if (c && !c->send("AUTH " + std::string(kKey) + "\r\n")) {
      ADD_FAILURE() << "send AUTH";
      return nullptr;
    }
    return c;
  }
  std::unique_ptr<LineClient> unauthenticatedFeeder() {
    auto c = std::make_unique<LineClient>();
    if (!c->connect(gw_.publishPort)) {
      ADD_FAILURE() << "connect to the publish port";
      return nullptr;
    }
    return c;
  }
  // Asserts a JSON error response.
  static void expectError(const HttpResponse& r, int status, std::string_view code) {
    ASSERT_TRUE(r.complete) << r.error;
    EXPECT_EQ(r.status, status) << r.body;
    auto j = Json::parse(r.body);
    ASSERT_TRUE(j) << r.body;
    EXPECT_EQ(j->boolean("ok"), false) << r.body;
    EXPECT_EQ(j->errorCode(), code) << r.body;
    EXPECT_TRUE(j->str("/error/message").has_value()) << r.body;
    EXPECT_EQ(r.header("Content-Type"), "application/json");
  }
  std::string apiUrl() const { return "http://127.0.0.1:" + std::to_string(gw_.apiPort); }
  std::string tcpAddress() const { return "127.0.0.1:" + std::to_string(gw_.publishPort); }

  Gateway gw_;
  std::unique_ptr<ApiClient> api_;
};

// ---- HTTP: sends ----

TEST_F(ApiIntegration, PublishCarriesDataByteForByteAndAnswersWithAReceipt) {
  auto alice = subscriber("alice", "news");
  ASSERT_TRUE(alice);
  const std::string data = R"({"t" : "h\u00e9 \"x\"", "n": [1, 2.50, 1e3]})";
  auto receipt = api_->postOk("/api/publish", R"({"channel":"news","data":)" + data + "}");
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->u64("offset"), 1u);
  EXPECT_EQ(receipt->u64("matched"), 1u);
  EXPECT_EQ(receipt->u64("queued"), 1u);
  EXPECT_EQ(receipt->u64("dropped"), 0u);
  auto m = alice->nextOfType("message");
  ASSERT_TRUE(m) << alice->lastRead().describe();
  EXPECT_EQ(m->str("channel"), "news");
  EXPECT_EQ(m->u64("offset"), 1u);
  EXPECT_EQ(m->str("from"), "api");
  EXPECT_TRUE(contains(m->text(), "\"data\":" + data)) << m->text();

  auto second = api_->postOk("/api/publish", R"({"channel":"news","data":2})");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->u64("offset"), 2u);
}

TEST_F(ApiIntegration, PublishToSeveralChannelsAnswersWithResults) {
  auto alice = subscriber("alice", "b");
  ASSERT_TRUE(alice);
  ASSERT_TRUE(publishOk(*api_, "a", "0"));
  auto r = api_->postOk("/api/publish", R"({"channels":["a","b"],"data":"x"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->arraySize("results"), 2u) << r->text();
  EXPECT_EQ(r->str("/results/0/channel"), "a");
  EXPECT_EQ(r->u64("/results/0/offset"), 2u);
  EXPECT_EQ(r->u64("/results/0/matched"), 0u);
  EXPECT_EQ(r->str("/results/1/channel"), "b");
  EXPECT_EQ(r->u64("/results/1/offset"), 1u);
  EXPECT_EQ(r->u64("/results/1/matched"), 1u);
  EXPECT_EQ(r->u64("/results/1/queued"), 1u);
  auto m = alice->nextOfType("message");
  ASSERT_TRUE(m);
  EXPECT_TRUE(contains(m->text(), R"("data":"x")")) << m->text();
}

TEST_F(ApiIntegration, RawPublishRouteFollowsTheContentType) {
  auto alice = subscriber("alice", "room:7");
  ASSERT_TRUE(alice);
  HttpResponse r = api_->post("/api/publish/room%3A7", "hello \"you\"\n", "text/plain");
  ASSERT_EQ(r.status, 200) << r.body;
  auto m = alice->nextOfType("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->str("data"), "hello \"you\"\n") << m->text();

  r = api_->post("/api/publish/room:7", "[1, 2]", "text/plain");
  ASSERT_EQ(r.status, 200) << r.body;
  m = alice->nextOfType("message");
  ASSERT_TRUE(m);
  EXPECT_TRUE(contains(m->text(), R"("data":[1, 2])")) << m->text();

  r = api_->post("/api/publish/room:7", " {\"a\": 1}\r\n", "application/json; charset=utf-8");
  ASSERT_EQ(r.status, 200) << r.body;
  auto receipt = Json::parse(r.body);
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->u64("offset"), 3u);
  m = alice->nextOfType("message");
  ASSERT_TRUE(m);
  EXPECT_TRUE(contains(m->text(), R"("data":{"a": 1})")) << m->text();

  expectError(api_->post("/api/publish/room:7", "not json", "application/json"), 400, "bad_json");
  expectError(api_->post("/api/publish/room:7", "\xff\xfe", "text/plain"), 400, "bad_request");
  expectError(api_->post("/api/publish/bad%20name", "x", "text/plain"), 400, "bad_request");
  EXPECT_TRUE(alice->drainFor(Millis{100}).empty());
}

TEST_F(ApiIntegration, BroadcastReachesEveryConnection) {
  auto alice = client("alice");
  auto bob = client("bob");
  ASSERT_TRUE(alice && bob);
  auto r = api_->postOk("/api/broadcast", R"({"data":{"notice":"maintenance"}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->u64("matched"), 2u);
  EXPECT_EQ(r->u64("queued"), 2u);
  for (PushClient* c : {alice.get(), bob.get()}) {
    auto n = c->nextOfType("notice");
    ASSERT_TRUE(n) << c->lastRead().describe();
    EXPECT_TRUE(contains(n->text(), R"("data":{"notice":"maintenance"})")) << n->text();
  }
}

TEST_F(ApiIntegration, SendTellsWhetherTheUserIsOnline) {
  auto bob = client("bob");
  ASSERT_TRUE(bob);
  auto r = api_->postOk("/api/send", R"({"to":"bob","data":{"text":"psst"}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str("to"), "bob");
  EXPECT_EQ(r->boolean("online"), true);
  EXPECT_EQ(r->u64("matched"), 1u);
  auto d = bob->nextOfType("direct");
  ASSERT_TRUE(d) << bob->lastRead().describe();
  EXPECT_EQ(d->str("from"), "api");
  EXPECT_EQ(d->str("to"), "bob");
  EXPECT_TRUE(contains(d->text(), R"("data":{"text":"psst"})")) << d->text();

  r = api_->postOk("/api/send", R"({"to":"carol","data":1})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text(), R"({"ok":true,"to":"carol","online":false,"matched":0})");

  r = api_->postOk("/api/send", R"({"to":["carol","bob"],"data":2})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->arraySize("results"), 2u) << r->text();
  EXPECT_EQ(r->str("/results/0/to"), "carol");
  EXPECT_EQ(r->boolean("/results/0/online"), false);
  EXPECT_EQ(r->str("/results/1/to"), "bob");
  EXPECT_EQ(r->boolean("/results/1/online"), true);
  EXPECT_EQ(r->u64("/results/1/matched"), 1u);
}

TEST_F(ApiIntegration, DisconnectClosesTheUsersSocketsWith1008) {
  auto bob = client("bob");
  auto bob2 = client("bob");
  ASSERT_TRUE(bob && bob2);
  auto r = api_->postOk("/api/disconnect", R"({"user":"bob"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->boolean("online"), true) << r->text();
  for (PushClient* c : {bob.get(), bob2.get()}) {
    EXPECT_FALSE(c->next());
    ASSERT_TRUE(c->lastRead().ok()) << c->lastRead().describe();
    EXPECT_EQ(c->lastRead().frame.closeCode(), 1008);
    EXPECT_EQ(c->lastRead().frame.closeReason(), "disconnected");
  }
  r = api_->postOk("/api/disconnect", R"({"user":"nobody"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->boolean("online"), false) << r->text();
}

// ---- HTTP: queries ----

TEST_F(ApiIntegration, PresenceUsersChannelsAndStats) {
  auto alice = subscriber("alice", "room:7");
  auto alice2 = subscriber("alice", "room:7");
  auto bob = subscriber("bob", "room:7");
  ASSERT_TRUE(alice && alice2 && bob);
  ASSERT_TRUE(publishOk(*api_, "room:7", "1"));

  auto p = api_->getOk("/api/presence/room:7");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->str("channel"), "room:7");
  ASSERT_EQ(p->arraySize("users"), 2u) << p->text();
  EXPECT_TRUE(contains(p->text(), R"({"user":"alice","name":)")) << p->text();
  EXPECT_TRUE(contains(p->text(), R"("conns":2)")) << p->text();

  auto empty = api_->getOk("/api/presence/nobody-here");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->arraySize("users"), 0u);

  auto users = api_->getOk("/api/users");
  ASSERT_TRUE(users);
  EXPECT_EQ(users->u64("count"), 2u) << users->text();
  EXPECT_EQ(users->arraySize("users"), 2u) << users->text();

  auto channels = api_->getOk("/api/channels");
  ASSERT_TRUE(channels);
  EXPECT_TRUE(contains(channels->text(), R"({"channel":"room:7","subscribers":3,"offset":1})"))
      << channels->text();

  auto stats = api_->getOk("/api/stats");
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->u64("connections"), 3u) << stats->text();
  EXPECT_EQ(stats->u64("subscriptions"), 3u) << stats->text();
  EXPECT_GE(stats->u64("messages_in").value_or(0), 1u) << stats->text();
  EXPECT_GE(stats->u64("messages_out").value_or(0), 3u) << stats->text();
  EXPECT_EQ(stats->u64("dropped"), 0u) << stats->text();
}

TEST_F(ApiIntegration, MetricsAndHealthzNeedNoKey) {
  ApiClient anonymous(gw_.apiPort);
  HttpResponse h = anonymous.get("/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok");
  ASSERT_TRUE(publishOk(*api_, "news", "1"));
  HttpResponse m = anonymous.get("/metrics");
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_TRUE(contains(m.header("Content-Type").value_or(""), "text/plain; version=0.0.4"));
  for (const char* line :
       {"# TYPE ringcast_messages_in_total counter\n", "# TYPE ringcast_connections gauge\n",
        "# TYPE ringcast_publish_to_write_seconds histogram\n",
        "ringcast_publish_to_write_seconds_bucket{le=\"+Inf\"} ",
        "ringcast_publish_to_write_seconds_sum ", "ringcast_publish_to_write_seconds_count ",
        "ringcast_loop_connections{loop=\"0\"} ", "ringcast_loop_connections{loop=\"1\"} "}) {
    EXPECT_TRUE(contains(m.body, line)) << line << " missing in\n" << m.body;
  }
  EXPECT_FALSE(contains(m.body, "ringcast_messages_in_total 0\n")) << m.body;
}

// ---- HTTP: errors ----

TEST_F(ApiIntegration, EveryApiRouteNeedsTheKey) {
  ApiClient anonymous(gw_.apiPort);
  ApiClient wrong(gw_.apiPort, "s3cret-kex");
  ApiClient longer(gw_.apiPort, std::string(kKey) + "x");
  for (ApiClient* c : {&anonymous, &wrong, &longer}) {
    for (const char* path : {"/api/users", "/api/channels", "/api/stats", "/api/presence/x"}) {
      HttpResponse r = c->get(path);
      expectError(r, 401, "unauthorized");
      EXPECT_TRUE(contains(r.header("WWW-Authenticate").value_or(""), "Bearer")) << path;
    }
    for (const char* path :
         {"/api/publish", "/api/publish/x", "/api/broadcast", "/api/send", "/api/disconnect"}) {
      expectError(c->post(path, R"({"channel":"x","to":"x","user":"x","data":1})"), 401,
                  "unauthorized");
    }
  }
  auto channels = api_->getOk("/api/channels");
  ASSERT_TRUE(channels);
  EXPECT_EQ(channels->arraySize("channels"), 0u) << "a refused publish must not publish";
}

TEST_F(ApiIntegration, UnknownRouteWrongMethodAndBadBodies) {
  expectError(api_->get("/api/nothing"), 404, "not_found");
  expectError(api_->get("/"), 404, "not_found");
  HttpResponse r = api_->get("/api/publish");
  expectError(r, 405, "method_not_allowed");
  EXPECT_EQ(r.header("Allow"), "POST");
  r = api_->post("/api/users", "{}");
  expectError(r, 405, "method_not_allowed");
  EXPECT_EQ(r.header("Allow"), "GET");

  expectError(api_->post("/api/publish", "{\"channel\":"), 400, "bad_json");
  expectError(api_->post("/api/publish", R"({"channel":"news"})"), 400, "bad_request");
  expectError(api_->post("/api/publish", R"({"channel":"no spaces","data":1})"), 400,
              "bad_request");
  expectError(api_->post("/api/publish", R"([1])"), 400, "bad_request");
  expectError(api_->post("/api/send", R"({"to":[],"data":1})"), 400, "bad_request");
  expectError(api_->post("/api/disconnect", R"({"who":"bob"})"), 400, "bad_request");
  expectError(api_->post("/api/publish", "{\"channel\":\"a\",\"data\":\"\xff\"}"), 400,
              "bad_request");
  auto channels = api_->getOk("/api/channels");
  ASSERT_TRUE(channels);
  EXPECT_EQ(channels->arraySize("channels"), 0u) << channels->text();
}

TEST_F(ApiIntegration, BodyOverTheMessageLimitIs413AndCloses) {
  auto c = raw();
  ASSERT_TRUE(c);
  const std::string body =
      R"({"channel":"a","data":")" + std::string(kMaxMessageBytes, 'x') + "\"}";
  HttpResponse r = c->request(post("/api/publish", body));
  expectError(r, 413, "too_large");
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_TRUE(c->waitEof());
}

TEST_F(ApiIntegration, MalformedRequestIs400AndCloses) {
  auto c = raw();
  ASSERT_TRUE(c);
  HttpResponse r = c->request("GET /healthz HTTP/1.1\nHost: t\n\n");
  ASSERT_TRUE(r.complete) << r.error;
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(c->waitEof());
}

// ---- HTTP: connection handling ----

TEST_F(ApiIntegration, FivePipelinedRequestsAnswerInOrder) {
  auto alice = subscriber("alice", "p");
  auto c = raw();
  ASSERT_TRUE(alice && c);
  std::string batch;
  for (int i = 1; i <= 3; ++i)
    batch += post("/api/publish", R"({"channel":"p","data":)" + std::to_string(i) + "}");
  batch += authGet("/api/channels");
  batch += post("/api/publish/p", "4", "Content-Type: application/json\r\n");
  ASSERT_TRUE(c->sendRaw(batch));
  for (uint64_t i = 1; i <= 5; ++i) {
    HttpResponse r = c->readHttpResponse();
    ASSERT_TRUE(r.complete) << i << ": " << r.error;
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("Connection"), "keep-alive");
    auto j = Json::parse(r.body);
    ASSERT_TRUE(j) << r.body;
    if (i == 4) {
      EXPECT_TRUE(contains(r.body, R"({"channel":"p","subscribers":1,"offset":3})")) << r.body;
    } else {
      EXPECT_EQ(j->u64("offset"), i < 4 ? i : 4) << r.body;
    }
  }
  for (uint64_t i = 1; i <= 4; ++i) {
    auto m = alice->nextOfType("message");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->u64("offset"), i);
    EXPECT_TRUE(contains(m->text(), "\"data\":" + std::to_string(i))) << m->text();
  }
}

TEST_F(ApiIntegration, KeepAliveServesManyRequestsOnOneConnectionUntilConnectionClose) {
  auto c = raw();
  ASSERT_TRUE(c);
  for (int i = 0; i < 20; ++i) {
    HttpResponse r = c->request(i % 2 ? get("/healthz") : authGet("/api/users"));
    ASSERT_TRUE(r.complete) << i << ": " << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Connection"), "keep-alive");
  }
  HttpResponse r = c->request(get("/healthz", "Connection: close\r\n"));
  ASSERT_TRUE(r.complete) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_TRUE(c->waitEof());
}

// ---- TCP protocol ----

TEST_F(ApiIntegration, TcpPubBcastSendDeliverAndPingAnswersPong) {
  auto alice = subscriber("alice", "news");
  ASSERT_TRUE(alice);
  auto f = feeder();
  ASSERT_TRUE(f);
  const std::string text = "line one\r\nline \"two\"";
  ASSERT_TRUE(f->send(command("PUB news", text) + command("PUB news", R"({"a": 1})") +
                      command("BCAST", "[]") + command("SEND alice", "hi") + "PING\r\n"));
  EXPECT_EQ(f->line(), "PONG");
  auto m = alice->nextOfType("message");
  ASSERT_TRUE(m) << alice->lastRead().describe();
  EXPECT_EQ(m->str("data"), text);
  EXPECT_EQ(m->str("from"), "api");
  m = alice->nextOfType("message");
  ASSERT_TRUE(m);
  EXPECT_TRUE(contains(m->text(), R"("data":{"a": 1})")) << m->text();
  auto n = alice->nextOfType("notice");
  ASSERT_TRUE(n);
  EXPECT_TRUE(contains(n->text(), R"("data":[])")) << n->text();
  auto d = alice->nextOfType("direct");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->str("data"), "hi");
  EXPECT_TRUE(f->silent(Millis{100})) << "success has no reply";
}

TEST_F(ApiIntegration, TcpErrorsKeepAnInSyncStreamUsable) {
  auto alice = subscriber("alice", "news");
  auto f = feeder();
  ASSERT_TRUE(alice && f);
  ASSERT_TRUE(f->send(command("PUB bad!name", "x") + command("PUB news", "\xff\xfe") +
                      "FOO\r\nPUB news " + std::to_string(kMaxMessageBytes + 1) + "\r\n"));
  EXPECT_EQ(f->line(), "-ERR invalid channel name");
  EXPECT_EQ(f->line(), "-ERR not utf-8");
  EXPECT_EQ(f->line(), "-ERR unknown command");
  EXPECT_EQ(f->line(), "-ERR payload too large");
  // The refused payload is skipped unbuffered; the stream goes on after it.
  ASSERT_TRUE(f->send(std::string(kMaxMessageBytes + 1, 'z') + "\r\n" + command("PUB news", "ok") +
                      "PING\r\n"));
  EXPECT_EQ(f->line(), "PONG");
  expectOnlyOk(*alice);
}

TEST_F(ApiIntegration, TcpPingAfterAThousandPubsComesOnceAllWereAccepted) {
  auto alice = subscriber("alice", "bulk");
  auto f = feeder();
  ASSERT_TRUE(alice && f);
  std::string batch;
  for (int i = 1; i <= 1000; ++i) batch += command("PUB bulk", std::to_string(i));
  batch += "PING\r\n";
  ASSERT_TRUE(f->send(batch));
  EXPECT_EQ(f->line(), "PONG");
  // PONG means every PUB before it has its receipt: all 1000 have offsets now.
  auto channels = api_->getOk("/api/channels");
  ASSERT_TRUE(channels);
  EXPECT_TRUE(contains(channels->text(), R"("channel":"bulk","subscribers":1,"offset":1000})"))
      << channels->text();
  bool found = false;
  std::vector<Json> frames = alice->collectUntil(
      [](const Json& j) { return j.u64("offset") == 1000u; }, &found, Millis{20000});
  ASSERT_TRUE(found) << frames.size() << " frames";
  uint64_t expected = 1;
  for (const Json& j : frames) {
    if (j.type() != "message") continue;
    EXPECT_EQ(j.u64("offset"), expected);
    EXPECT_TRUE(contains(j.text(), "\"data\":" + std::to_string(expected))) << j.text();
    ++expected;
  }
  EXPECT_EQ(expected, 1001u);
  EXPECT_TRUE(f->silent(Millis{100}));
}

// More commands in one write than may wait for answers (PublishConnection::
// kMaxQueuedReplies): input is held and resumed several times within one pass, while
// answers come back at once; the commands kept at each hold must all be carried out.
TEST_F(ApiIntegration, TcpPingAfterMoreCommandsThanTheReplyBoundInOneWriteComesOnceAllAreIn) {
  auto f = feeder();
  ASSERT_TRUE(f);
  constexpr int kPubs = 5000;
  std::string batch;
  for (int i = 1; i <= kPubs; ++i) batch += command("PUB held", std::to_string(i));
  batch += "PING\r\n";
  ASSERT_TRUE(f->send(batch));
  EXPECT_EQ(f->line(), "PONG");
  auto channels = api_->getOk("/api/channels");
  ASSERT_TRUE(channels);
  EXPECT_TRUE(contains(channels->text(), R"("channel":"held","subscribers":0,"offset":5000})"))
      << channels->text();
}

TEST_F(ApiIntegration, TcpStreamOutOfSyncGetsErrThenClose) {
  auto f = feeder();
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->send("PING\r\nPUB news zz\r\n" + command("PUB news", "ok")));
  EXPECT_EQ(f->line(), "PONG");
  EXPECT_EQ(f->line(), "-ERR bad length");
  EXPECT_EQ(f->line(), "<EOF>");
  auto channels = api_->getOk("/api/channels");
  ASSERT_TRUE(channels);
  EXPECT_EQ(channels->arraySize("channels"), 0u) << "nothing after the lost sync is published";

  auto g = feeder();
  ASSERT_TRUE(g);
  ASSERT_TRUE(g->send(std::string(2000, 'A')));
  EXPECT_EQ(g->line(), "-ERR line too long");
  EXPECT_EQ(g->line(), "<EOF>");
}

TEST_F(ApiIntegration, TcpWrongArgumentCountStaysInSyncAndReadsNoPayload) {
  auto alice = subscriber("alice", "news");
  auto f = feeder();
  ASSERT_TRUE(alice && f);
  // "PUB 4" announces no payload: the PING after it is the next command, not 4 bytes of one.
  ASSERT_TRUE(f->send("PUB 4\r\nPING\r\nSEND\r\nPUB news extra 2\r\nBCAST\r\n" +
                      command("PUB news", "ok") + "PING\r\n"));
  EXPECT_EQ(f->line(), "-ERR wrong number of arguments");
  EXPECT_EQ(f->line(), "PONG");
  EXPECT_EQ(f->line(), "-ERR wrong number of arguments");
  EXPECT_EQ(f->line(), "-ERR wrong number of arguments");
  EXPECT_EQ(f->line(), "-ERR wrong number of arguments");
  EXPECT_EQ(f->line(), "PONG");
  expectOnlyOk(*alice);
}

// What a web page can make a browser send to the publish port: the BCAST in the body of its
// POST must never be carried out.
TEST_F(ApiIntegration, TcpHttpRequestGetsOneErrLineAndIsClosedBeforeItsBody) {
  const std::string err = "-ERR " + std::string(push::kTcpHttpError);
  auto alice = client("alice");
  auto f = feeder();
  ASSERT_TRUE(alice && f);
  const std::string body = command("BCAST", "smuggled");
  ASSERT_TRUE(
      f->send("POST / HTTP/1.1\r\nHost: 127.0.0.1:8082\r\nContent-Type: text/plain\r\n"
              "Content-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body));
  EXPECT_EQ(f->line(), err);
  EXPECT_EQ(f->line(), "<EOF>");
  // The first notice alice gets is the one sent after it.
  auto g = feeder();
  ASSERT_TRUE(g);
  ASSERT_TRUE(g->send(command("BCAST", "after") + "PING\r\n"));
  EXPECT_EQ(g->line(), "PONG");
  auto n = alice->nextOfType("notice");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->str("data"), "after");

  // A GET is answered as soon as its method and a space are in, without waiting for its line.
  auto h = feeder();
  ASSERT_TRUE(h);
  ASSERT_TRUE(h->send("GET "));
  EXPECT_EQ(h->line(), err);
  EXPECT_EQ(h->line(), "<EOF>");
}

TEST_F(ApiIntegration, TcpWithAKeyTheFirstCommandMustBeAuth) {
  const std::string authFirst = "-ERR unauthorized: the first command must be AUTH <key>";
  auto alice = subscriber("alice", "news");
  ASSERT_TRUE(alice);
  // A command with a payload is refused as soon as its line is in: the payload never comes.
  auto f = unauthenticatedFeeder();
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->send("PUB news 4000\r\n"));
  EXPECT_EQ(f->line(), authFirst);
  EXPECT_EQ(f->line(), "<EOF>");
  for (std::string_view first :
       {"PING\r\n", "FOO\r\nAUTH s3cret-key\r\n", "AUTH\r\n", "PUB news 0\r\n\r\n"}) {
    f = unauthenticatedFeeder();
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->send(first));
    EXPECT_EQ(f->line(), authFirst) << first;
    EXPECT_EQ(f->line(), "<EOF>") << first;
  }
  // A wrong key, and a wrong key after the right one.
  for (std::string_view auth : {"AUTH s3cret-kez\r\n", "AUTH s3cret-key\r\nAUTH s3cret\r\n"}) {
    f = unauthenticatedFeeder();
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->send(std::string(auth) + command("PUB news", "sneaked") + "PING\r\n"));
    EXPECT_EQ(f->line(), "-ERR unauthorized: wrong key") << auth;
    EXPECT_EQ(f->line(), "<EOF>") << auth;
  }
  // HTTP is named as such, key or not.
  f = unauthenticatedFeeder();
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->send("POST / HTTP/1.1\r\n"));
  EXPECT_EQ(f->line(), "-ERR " + std::string(push::kTcpHttpError));
  // The right key: accepted without a reply, and the stream works.
  f = unauthenticatedFeeder();
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->send("AUTH " + std::string(kKey) + "\r\nPING\r\n" + command("PUB news", "ok") +
                      "PING\r\n"));
  EXPECT_EQ(f->line(), "PONG");
  EXPECT_EQ(f->line(), "PONG");
  expectOnlyOk(*alice);
}

TEST(ApiTcpWithoutKey, NeedsNoAuthAndAcceptsOne) {
  Gateway gw;
  ASSERT_TRUE(startGateway({}, &gw));
  for (std::string_view stream : {"PING\r\n", "AUTH anything\r\nPING\r\n"}) {
    LineClient f;
    ASSERT_TRUE(f.connect(gw.publishPort));
    ASSERT_TRUE(f.send(stream));
    EXPECT_EQ(f.line(), "PONG") << stream;
  }
}

// ---- ringcast-pub ----

TEST_F(ApiIntegration, RingcastPubSpeaksTheHttpApi) {
  auto alice = subscriber("alice", "news");
  ASSERT_TRUE(alice);
  const std::vector<std::string> base = {"--api", apiUrl(), "--api-key", std::string(kKey)};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = base;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };

  ToolRun run = runTool(with({"publish", "news", R"({"a" : 1})"}));
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(run.out, "{\"ok\":true,\"offset\":1,\"matched\":1,\"queued\":1,\"dropped\":0}\n");
  auto m = alice->nextOfType("message");
  ASSERT_TRUE(m);
  EXPECT_TRUE(contains(m->text(), R"("data":{"a" : 1})")) << m->text();

  run = runTool(with({"publish", "news", "plain text"}));
  EXPECT_EQ(run.exitCode, 0) << run.err;
  m = alice->nextOfType("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->str("data"), "plain text");

  run = runTool(with({"publish", "news", "-"}), "from stdin\n");
  EXPECT_EQ(run.exitCode, 0) << run.err;
  m = alice->nextOfType("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->str("data"), "from stdin\n");

  run = runTool(with({"send", "alice", "[1,2]"}));
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(run.out, "{\"ok\":true,\"to\":\"alice\",\"online\":true,\"matched\":1}\n");
  auto d = alice->nextOfType("direct");
  ASSERT_TRUE(d);
  EXPECT_TRUE(contains(d->text(), R"("data":[1,2])")) << d->text();

  run = runTool(with({"broadcast", "42"}));
  EXPECT_EQ(run.exitCode, 0) << run.err;
  ASSERT_TRUE(alice->nextOfType("notice"));

  for (std::vector<std::string> query :
       {std::vector<std::string>{"presence", "news"}, {"users"}, {"channels"}, {"stats"}}) {
    run = runTool(with(query));
    EXPECT_EQ(run.exitCode, 0) << query[0] << ": " << run.err;
    auto j = Json::parse(run.out);
    ASSERT_TRUE(j) << query[0] << ": " << run.out;
    EXPECT_EQ(j->boolean("ok"), true) << run.out;
  }
  run = runTool(with({"presence", "news"}));
  EXPECT_TRUE(contains(run.out, R"("users":[{"user":"alice")")) << run.out;

  run = runTool(with({"disconnect", "alice"}));
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_TRUE(contains(run.out, R"("online":true)")) << run.out;
}

TEST_F(ApiIntegration, RingcastPubReportsErrorsWithItsExitStatus) {
  ToolRun run = runTool({"--api", apiUrl(), "users"});
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_TRUE(contains(run.out, "\"unauthorized\"")) << run.out;
  EXPECT_TRUE(contains(run.err, "401")) << run.err;

  run = runTool({"--api", apiUrl(), "--api-key", std::string(kKey), "publish", "bad name", "1"});
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_TRUE(contains(run.out, "\"bad_request\"")) << run.out;

  // A port nobody listens on: the listener of a stopped gateway.
  Gateway other;
  ASSERT_TRUE(startGateway({}, &other));
  const std::string deadUrl = "http://127.0.0.1:" + std::to_string(other.apiPort);
  other.server->stop();
  run = runTool({"--api", deadUrl, "stats"});
  EXPECT_EQ(run.exitCode, 3);
  EXPECT_TRUE(contains(run.err, "cannot connect")) << run.err;

  run = runTool({"--api", apiUrl(), "--tcp", tcpAddress(), "stats"});
  EXPECT_EQ(run.exitCode, 2) << run.err;
  run = runTool({"publish", "only-a-channel"});
  EXPECT_EQ(run.exitCode, 2) << run.err;
  run = runTool({"--help"});
  EXPECT_EQ(run.exitCode, 0);
  for (const char* option :
       {"--api", "--tcp", "--api-key", "--timeout", "publish", "broadcast", "send", "disconnect",
        "presence", "users", "channels", "stats", "token"}) {
    EXPECT_TRUE(contains(run.out, option)) << option;
  }
}

TEST_F(ApiIntegration, RingcastPubSpeaksTheTcpProtocol) {
  auto alice = subscriber("alice", "news");
  ASSERT_TRUE(alice);
  const std::string key = std::string(kKey);
  ToolRun run = runTool({"--tcp", tcpAddress(), "publish", "news", "no key"});
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_TRUE(contains(run.out, R"("code":"unauthorized")")) << run.out;
  EXPECT_TRUE(contains(run.err, "-ERR unauthorized")) << run.err;
  run = runTool({"--tcp", tcpAddress(), "--api-key", "two words", "publish", "news", "x"});
  EXPECT_EQ(run.exitCode, 2) << run.err;

  run = runTool({"--tcp", tcpAddress(), "--api-key", key, "publish", "news", "over tcp"});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  EXPECT_EQ(run.out, "{\"ok\":true}\n");
  auto m = alice->nextOfType("message");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->str("data"), "over tcp");

  run = runTool({"--tcp", tcpAddress(), "--api-key", key, "send", "alice", "{\"x\":1}"});
  EXPECT_EQ(run.exitCode, 0) << run.err;
  auto d = alice->nextOfType("direct");
  ASSERT_TRUE(d);
  EXPECT_TRUE(contains(d->text(), R"("data":{"x":1})")) << d->text();

  run = runTool({"--tcp", tcpAddress(), "--api-key", key, "publish", "bad!", "x"});
  EXPECT_EQ(run.exitCode, 1);
  EXPECT_TRUE(contains(run.out, "\"ok\":false")) << run.out;
  EXPECT_TRUE(contains(run.err, "-ERR invalid channel name")) << run.err;
}

TEST(RingcastPubToken, SignsATokenTheGatewayAccepts) {
  ToolRun run = runTool({"token", "--secret", "topsecret", "--sub", "alice", "--name", "Alice",
                         "--subs", "news,room:*", "--pubs", "room:*", "--exp-in", "1h"});
  ASSERT_EQ(run.exitCode, 0) << run.err;
  ASSERT_FALSE(run.out.empty());
  ASSERT_EQ(run.out.back(), '\n');
  std::string token = run.out.substr(0, run.out.size() - 1);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  push::AuthResult a = push::verifyToken(token, "topsecret", now);
  ASSERT_TRUE(a.ok) << a.reason;
  EXPECT_EQ(a.identity.user, "alice");
  EXPECT_EQ(a.identity.name, "Alice");
  EXPECT_EQ(a.identity.subs, (std::vector<std::string>{"news", "room:*"}));
  EXPECT_EQ(a.identity.pubs, (std::vector<std::string>{"room:*"}));
  EXPECT_TRUE(a.identity.canSend);
  EXPECT_GE(a.identity.expSec, now + 3590);
  EXPECT_LE(a.identity.expSec, now + 3610);
  EXPECT_FALSE(push::verifyToken(token, "other", now).ok);
  EXPECT_FALSE(push::verifyToken(token, "topsecret", now + 3700).ok) << "expired after 1h";

  run = runTool({"token", "--secret", "s", "--sub", "bad name"});
  EXPECT_EQ(run.exitCode, 2);
  run = runTool({"token", "--sub", "alice"});
  EXPECT_EQ(run.exitCode, 2) << "--secret is required";
}

}  // namespace
}  // namespace ringcast::test
