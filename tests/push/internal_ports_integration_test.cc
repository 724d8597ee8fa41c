// Black-box tests of the internal ports' edges (docs/SECURITY.md): the HTTP API refuses what a
// browser page could send (a foreign Origin, a Host that names another server, a JSON route
// without a JSON Content-Type), an API request must arrive whole within
// --api-request-timeout however its bytes trickle, a silent TCP publish connection is closed
// after --publish-idle-timeout, and each internal listener has its own connection cap. The
// real binary runs as a child process; every client is a real socket on loopback.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/line_client.h"
#include "tests/support/push_client.h"

namespace ringcast::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string hostOf(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

std::string get(std::string_view path, std::string_view headers) {
  return "GET " + std::string(path) + " HTTP/1.1\r\n" + std::string(headers) + "\r\n";
}

std::string post(std::string_view path, std::string_view headers, std::string_view body) {
  return "POST " + std::string(path) + " HTTP/1.1\r\n" + std::string(headers) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

std::string errorCode(const HttpResponse& r) {
  auto json = Json::parse(r.body);
  if (!json) return "<not JSON: " + r.body + ">";
  return json->str("/error/code").value_or("<no error code>");
}

// One request on a fresh connection.
HttpResponse once(uint16_t port, std::string_view request) {
  WsClient c;
  if (!c.connect(port)) {
    HttpResponse failed;
    failed.error = "connect: " + c.error();
    return failed;
  }
  return c.request(request);
}

class InternalPorts : public ::testing::Test {
 protected:
  void start(const std::vector<std::string>& flags) { ASSERT_TRUE(startGateway(flags, &gw_)); }
  std::string host() const { return "Host: " + hostOf(gw_.apiPort) + "\r\n"; }
  // The value of `family{reason="reason"}` in /metrics (asked on `via`, else on a new
  // connection), or -1 when it is missing.
  long refused(std::string_view family, std::string_view reason, WsClient* via = nullptr) {
    HttpResponse r = via != nullptr ? via->request(get("/metrics", host()))
                                    : once(gw_.apiPort, get("/metrics", host()));
    const std::string line = std::string(family) + "{reason=\"" + std::string(reason) + "\"} ";
    const size_t at = r.body.find(line);
    return at == std::string::npos ? -1 : std::atol(r.body.c_str() + at + line.size());
  }
  static constexpr std::string_view kJson = "Content-Type: application/json\r\n";
  static constexpr std::string_view kPublishBody = R"({"channel":"news","data":1})";

  Gateway gw_;
};

TEST_F(InternalPorts, ApiRefusesAnOriginThatIsNotListed) {
  start({"--api-allowed-origins", "https://admin.example,http://localhost:3000"});
  const uint16_t port = gw_.apiPort;

  HttpResponse r = once(port, get("/healthz", host() + "Origin: https://evil.example\r\n"));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(errorCode(r), "forbidden");
  EXPECT_TRUE(contains(r.body, "--api-allowed-origins")) << r.body;
  // A listed scheme and host on another port is another origin; so is a sandboxed page.
  EXPECT_EQ(once(port, get("/healthz", host() + "Origin: https://admin.example:8443\r\n")).status,
            403);
  EXPECT_EQ(once(port, get("/healthz", host() + "Origin: null\r\n")).status, 403);
  r = once(port,
           post("/api/publish", host() + std::string(kJson) + "Origin: http://evil.example\r\n",
                kPublishBody));
  EXPECT_EQ(r.status, 403) << r.body;

  // Listed origins (host compared case-insensitively, the default port implied) are served.
  r = once(port, post("/api/publish",
                      host() + std::string(kJson) + "Origin: https://ADMIN.example:443\r\n",
                      kPublishBody));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(once(port, get("/healthz", host() + "Origin: http://localhost:3000\r\n")).status, 200);
  // Without an Origin (services, curl, Prometheus), as before.
  EXPECT_EQ(once(port, get("/metrics", host())).status, 200);
  EXPECT_EQ(refused("ringcast_api_refused_total", "origin"), 4);
  EXPECT_EQ(refused("ringcast_api_refused_total", "host"), 0);
}

TEST_F(InternalPorts, ApiWithoutTheFlagRefusesEveryOrigin) {
  start({});
  HttpResponse r =
      once(gw_.apiPort, get("/healthz", host() + "Origin: http://" + hostOf(gw_.apiPort) + "\r\n"));
  EXPECT_EQ(r.status, 403) << "even the API's own address as an Origin is a browser page";
  EXPECT_EQ(once(gw_.apiPort, get("/healthz", host())).status, 200);
}

TEST_F(InternalPorts, ApiHostMustNameTheListenerOrAConfiguredName) {
  start({"--api-host", "api.internal,metrics.internal:9100"});
  const uint16_t port = gw_.apiPort;
  auto status = [&](std::string_view hostHeader) {
    return once(port, get("/healthz", "Host: " + std::string(hostHeader) + "\r\n")).status;
  };
  // The listener's own address, and localhost on the port of a loopback listener.
  EXPECT_EQ(status(hostOf(port)), 200);
  EXPECT_EQ(status("localhost:" + std::to_string(port)), 200);
  EXPECT_EQ(status("LocalHost:" + std::to_string(port)), 200);
  // Configured names: NAME with any port, NAME:PORT with that port only.
  EXPECT_EQ(status("api.internal"), 200);
  EXPECT_EQ(status("API.Internal:" + std::to_string(port)), 200);
  EXPECT_EQ(status("metrics.internal:9100"), 200);
  EXPECT_EQ(status("metrics.internal:9101"), 421);
  // A rebound DNS name, our address on another port, another address.
  HttpResponse r =
      once(port, get("/metrics", "Host: attacker.example:" + std::to_string(port) + "\r\n"));
  EXPECT_EQ(r.status, 421) << r.body;
  EXPECT_EQ(errorCode(r), "misdirected");
  EXPECT_EQ(status("127.0.0.1:" + std::to_string(port == 65535 ? 1 : port + 1)), 421);
  EXPECT_EQ(status("127.0.0.2:" + std::to_string(port)), 421);
  EXPECT_EQ(status("localhost"), 421);
  r = once(port,
           post("/api/publish", "Host: attacker.example\r\n" + std::string(kJson), kPublishBody));
  EXPECT_EQ(r.status, 421) << r.body;
  // HTTP/1.0 without Host, as haproxy's `option httpchk GET /healthz` sends it.
  r = once(port, "GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(refused("ringcast_api_refused_total", "host"), 6);
}

// The last Host a connection was allowed is remembered for its next requests: one keep-alive
// connection that switches to another Host is still refused, and switching back is served.
TEST_F(InternalPorts, ApiHostIsCheckedOnEveryRequestOfAKeepAliveConnection) {
  start({});
  WsClient c;
  ASSERT_TRUE(c.connect(gw_.apiPort)) << c.error();
  const std::string ours = "Host: " + hostOf(gw_.apiPort) + "\r\n";
  EXPECT_EQ(c.request(get("/healthz", ours)).status, 200);
  EXPECT_EQ(c.request(get("/healthz", ours)).status, 200);
  HttpResponse r =
      c.request(get("/healthz", "Host: attacker.example:" + std::to_string(gw_.apiPort) + "\r\n"));
  EXPECT_EQ(r.status, 421) << r.body;
  EXPECT_EQ(c.request(get("/healthz", ours)).status, 200);
  EXPECT_EQ(refused("ringcast_api_refused_total", "host"), 1);
}

TEST_F(InternalPorts, JsonRoutesNeedAJsonContentType) {
  start({});
  const uint16_t port = gw_.apiPort;
  // No Content-Type, a form, text: what a page can post without a preflight.
  HttpResponse r = once(port, post("/api/publish", host(), kPublishBody));
  EXPECT_EQ(r.status, 415) << r.body;
  EXPECT_EQ(errorCode(r), "unsupported_media_type");
  EXPECT_EQ(once(port, post("/api/broadcast",
                            host() + "Content-Type: application/x-www-form-urlencoded\r\n",
                            R"({"data":1})"))
                .status,
            415);
  EXPECT_EQ(once(port, post("/api/send", host() + "Content-Type: text/plain\r\n",
                            R"({"to":"a","data":1})"))
                .status,
            415);
  EXPECT_EQ(once(port, post("/api/disconnect", host() + "Content-Type: application/jsonx\r\n",
                            R"({"user":"a"})"))
                .status,
            415);
  // application/json in any case, with parameters.
  r = once(port, post("/api/publish", host() + "Content-Type: Application/JSON; charset=utf-8\r\n",
                      kPublishBody));
  EXPECT_EQ(r.status, 200) << r.body;
  r = once(port, post("/api/broadcast", host() + "content-type: application/json\r\n",
                      R"({"data":"hi"})"));
  EXPECT_EQ(r.status, 200) << r.body;
  // The raw route carries any body as documented: text stays text.
  r = once(port, post("/api/publish/news", host() + "Content-Type: text/plain\r\n", "hello"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(refused("ringcast_api_refused_total", "content_type"), 4);
}

TEST_F(InternalPorts, ASlowlorisGets408AtTheDeadlineWhileOthersAreServed) {
  constexpr milliseconds kDeadline{1000};
  start({"--api-request-timeout", "1s"});
  const uint16_t port = gw_.apiPort;
  WsClient normal;
  ASSERT_TRUE(normal.connect(port));

  // Headers that would take 30 s at one byte every 100 ms: the total deadline, not an idle
  // timer that each byte restarts, must end them.
  const std::string request =
      get("/healthz", host() + "X-Padding: " + std::string(300, 'p') + "\r\n");
  WsClient slow;
  ASSERT_TRUE(slow.connect(port));
  const auto started = Clock::now();
  size_t sent = 0;
  int served = 0;
  bool answered = false;
  while (sent < request.size() && Clock::now() - started < milliseconds{10'000}) {
    if (!slow.sendRaw(std::string_view(request).substr(sent, 1))) break;  // closed by then
    ++sent;
    // The well-behaved client keeps its round trips meanwhile.
    HttpResponse ok = normal.request(get("/healthz", host()));
    EXPECT_EQ(ok.status, 200) << ok.error;
    served += ok.status == 200;
    // One byte every 100 ms: the wait for the server's answer is the trickle's pace.
    if (slow.readable(milliseconds{100})) {
      answered = true;
      break;
    }
  }
  ASSERT_TRUE(answered) << "no answer after " << sent << " bytes";
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
  HttpResponse r = slow.readHttpResponse();
  EXPECT_EQ(r.status, 408) << r.body << r.error;
  EXPECT_EQ(errorCode(r), "timeout");
  EXPECT_LT(sent, request.size());
  // Due at 1 s from the accept (deadline resolution 50 ms, plus a loaded machine's slack).
  EXPECT_GE(elapsed.count(), kDeadline.count() - 60) << sent << " bytes";
  EXPECT_LT(elapsed.count(), kDeadline.count() + 1500) << sent << " bytes";
  EXPECT_TRUE(slow.waitEof());
  EXPECT_GE(served, 5);
  EXPECT_EQ(normal.request(get("/healthz", host())).status, 200);
  EXPECT_EQ(refused("ringcast_api_refused_total", "timeout"), 1);
}

TEST_F(InternalPorts, EachApiRequestHasItsOwnDeadline) {
  start({"--api-request-timeout", "500ms"});
  WsClient c;
  ASSERT_TRUE(c.connect(gw_.apiPort));
  // Requests that each complete in time keep a connection alive past one deadline...
  const auto started = Clock::now();
  while (Clock::now() - started < milliseconds{800}) {
    ASSERT_EQ(c.request(get("/healthz", host())).status, 200);
    ASSERT_FALSE(c.readable(milliseconds{100}));
  }
  // ...and a request begun later is timed from its own first byte.
  ASSERT_TRUE(c.sendRaw("GET /healthz HTTP/1.1\r\n"));
  const auto begun = Clock::now();
  HttpResponse r = c.readHttpResponse(milliseconds{5000});
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - begun);
  EXPECT_EQ(r.status, 408);
  EXPECT_GE(elapsed.count(), 440);
  EXPECT_TRUE(c.waitEof());
}

TEST_F(InternalPorts, ASilentPublishConnectionIsClosedAfterTheIdleDeadline) {
  start({"--publish-idle-timeout", "500ms"});
  LineClient silent;
  ASSERT_TRUE(silent.connect(gw_.publishPort));
  LineClient pinger;
  ASSERT_TRUE(pinger.connect(gw_.publishPort));
  const auto started = Clock::now();
  // A feeder that PINGs every 200 ms outlives several idle deadlines.
  while (Clock::now() - started < milliseconds{1200}) {
    ASSERT_TRUE(pinger.send("PING\r\n"));
    ASSERT_EQ(pinger.line(), "PONG");
    ASSERT_TRUE(pinger.silent(milliseconds{200}));
  }
  EXPECT_EQ(silent.line(), "-ERR idle timeout");
  EXPECT_EQ(silent.line(), "<EOF>");
  EXPECT_TRUE(pinger.send("PING\r\n"));
  EXPECT_EQ(pinger.line(), "PONG");
  EXPECT_EQ(refused("ringcast_publish_refused_total", "idle"), 1);
}

TEST_F(InternalPorts, ApiConnectionCapRefusesTheOneOverAndAcceptsAfterAClose) {
  start({"--api-max-connections", "2", "--max-connections", "100"});
  const uint16_t port = gw_.apiPort;
  std::vector<std::unique_ptr<WsClient>> open;
  for (int i = 0; i < 2; ++i) {
    open.push_back(std::make_unique<WsClient>());
    ASSERT_TRUE(open.back()->connect(port));
    ASSERT_EQ(open.back()->request(get("/healthz", host())).status, 200);
  }
  WsClient third;
  ASSERT_TRUE(third.connect(port));
  HttpResponse r = third.readHttpResponse();
  EXPECT_EQ(r.status, 503) << r.error;
  EXPECT_EQ(errorCode(r), "overloaded");
  EXPECT_TRUE(contains(r.body, "--api-max-connections")) << r.body;
  EXPECT_TRUE(third.waitEof());
  // The WebSocket listener has its own cap: clients still connect there.
  PushClient ws;
  EXPECT_TRUE(ws.connect(gw_.wsPort, "/ws?user=alice"));

  open.pop_back();  // one closes: its place is free once the gateway sees the FIN
  const auto deadline = Clock::now() + milliseconds{5000};
  int status = 0;
  while (status != 200 && Clock::now() < deadline) {
    status = once(port, get("/healthz", host())).status;
  }
  EXPECT_EQ(status, 200);
  EXPECT_EQ(open.front()->request(get("/healthz", host())).status, 200);
  // Asked on the connection still open: a new one could find the cap full again until the
  // gateway has seen the last probe's FIN.
  EXPECT_GE(refused("ringcast_api_refused_total", "connections", open.front().get()), 1);
}

TEST_F(InternalPorts, PublishConnectionCapRefusesTheOneOverAndAcceptsAfterAClose) {
  start({"--publish-max-connections", "2"});
  std::vector<std::unique_ptr<LineClient>> open;
  for (int i = 0; i < 2; ++i) {
    open.push_back(std::make_unique<LineClient>());
    ASSERT_TRUE(open.back()->connect(gw_.publishPort));
    ASSERT_TRUE(open.back()->send("PING\r\n"));
    ASSERT_EQ(open.back()->line(), "PONG");
  }
  LineClient third;
  ASSERT_TRUE(third.connect(gw_.publishPort));
  EXPECT_EQ(third.line(), "-ERR too many connections");
  EXPECT_EQ(third.line(), "<EOF>");

  open.pop_back();
  const auto deadline = Clock::now() + milliseconds{5000};
  std::string answer;
  while (answer != "PONG" && Clock::now() < deadline) {
    LineClient again;
    ASSERT_TRUE(again.connect(gw_.publishPort));
    answer = again.send("PING\r\n") ? again.line() : "<send failed>";
  }
  EXPECT_EQ(answer, "PONG");
  EXPECT_GE(refused("ringcast_publish_refused_total", "connections"), 1);
}

}  // namespace
}  // namespace ringcast::test
