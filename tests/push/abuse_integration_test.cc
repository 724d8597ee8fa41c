// The abuse suite (docs/SECURITY.md): the real binary with one loop thread, so the attacker
// and everybody else share one event loop, and one row per attack. While a row's attack runs,
// 20 healthy clients on the same loop keep doing round trips (ping -> pong) and receive a
// steady stream of messages published through the HTTP API. Each row checks the documented
// answer to its attack; every row then checks that the healthy clients' round trips stayed
// under kHealthyP99 at the 99th percentile, that each of them got every message once, in
// order, and nothing else (no notice an attacker made the gateway send).
//
// The rows run one after another (RUN_SERIAL; `ctest -R Abuse`), each against a fresh gateway;
// under a sanitizer the timing bound means nothing, so they carry `nosanitize`.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "push/auth.h"
#include "tests/support/eventually.h"
#include "tests/support/line_client.h"
#include "tests/support/push_client.h"

namespace ringcast::test {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kSecret = "abuse-suite-secret-0123456789abcdef0123";
constexpr size_t kHealthyClients = 20;
constexpr milliseconds kHealthyP99{250};
constexpr milliseconds kRoundEvery{10};    // every healthy client pings this often
constexpr milliseconds kPublishEvery{20};  // the healthy stream: about 50 messages/s
constexpr std::string_view kHealthyChannel = "healthy";
constexpr uint64_t kMiB = 1 << 20;

int64_t nowSec() {
  return static_cast<int64_t>(std::time(nullptr));
}

// A signed token for `user`, valid for an hour, with more claims when given (",\"send\":false").
std::string token(std::string_view user, std::string_view moreClaims = "") {
  return push::signToken(std::string(R"({"sub":")") + std::string(user) + R"(","exp":)" +
                             std::to_string(nowSec() + 3600) + std::string(moreClaims) + "}",
                         kSecret);
}

std::string wsPath(std::string_view user) {
  return "/ws?token=" + token(user);
}

// The 20 healthy clients and their traffic, on a thread of their own while an attack runs.
// An attack calls begin() when it starts (after any setup that is not the attack, such as
// 10,000 members joining a channel) and may call end() before a teardown that is not the
// attack either; the harness ends the traffic otherwise.
class HealthyTraffic {
 public:
  ~HealthyTraffic() { stopThread(); }

  // Traffic before and after the attack too, so that a stall it leaves behind counts.
  static constexpr milliseconds kMargin{200};

  // Starts the traffic, then waits kMargin.
  void begin() {
    if (thread_.joinable() || ended_) return;
    thread_ = std::thread([this] { run(); });
    std::this_thread::sleep_for(kMargin);
  }
  bool begun() const { return thread_.joinable() || ended_; }
  // Waits kMargin, stops the traffic and checks what the healthy clients saw (once).
  void end() {
    if (ended_ || !thread_.joinable()) return;
    std::this_thread::sleep_for(kMargin);
    result_ = stopAndCheck();
    ended_ = true;
  }
  const ::testing::AssertionResult& result() const { return result_; }

  // Connects and subscribes the healthy clients (no traffic yet).
  ::testing::AssertionResult connect(Gateway& gw) {
    api_ = std::make_unique<ApiClient>(gw.apiPort);
    for (size_t i = 0; i < kHealthyClients; ++i) {
      auto c = std::make_unique<PushClient>();
      auto connected = c->connect(gw.wsPort, wsPath("healthy" + std::to_string(i)));
      if (!connected) return connected << " (healthy client " << i << ")";
      c->send(R"({"op":"subscribe","channel":"healthy","id":"s"})");
      auto reply = c->nextOfType("reply");
      if (!reply || !reply->boolean("ok").value_or(false)) {
        return ::testing::AssertionFailure()
               << "healthy client " << i
               << " could not subscribe: " << (reply ? reply->text() : c->lastRead().describe());
      }
      clients_.push_back(std::move(c));
    }
    return ::testing::AssertionSuccess();
  }

 private:
  ::testing::AssertionResult stopAndCheck() {
    stopThread();
    if (!failure_.empty()) return ::testing::AssertionFailure() << failure_;
    if (published_ == 0) return ::testing::AssertionFailure() << "nothing was published";
    std::sort(rttMs_.begin(), rttMs_.end());
    const double p99 = rttMs_[rttMs_.size() * 99 / 100];
    if (p99 >= static_cast<double>(kHealthyP99.count())) {
      return ::testing::AssertionFailure()
             << "healthy round trips: p99 " << p99 << " ms over " << rttMs_.size() << " (bound "
             << kHealthyP99.count() << " ms), max " << rttMs_.back() << " ms";
    }
    for (size_t i = 0; i < clients_.size(); ++i) {
      bool found = false;
      const uint64_t last = published_;
      auto frames = clients_[i]->collectUntil(
          [last](const Json& f) {
            return f.type() == "message" && f.u64("offset").value_or(0) == last;
          },
          &found);
      if (!found) {
        return ::testing::AssertionFailure() << "healthy client " << i << " never got offset "
                                             << last << ": " << clients_[i]->lastRead().describe();
      }
      uint64_t want = 1;
      for (const Json& f : frames) {
        if (f.type() != "message" || f.str("channel") != kHealthyChannel) {
          // Nothing else is addressed to a healthy client: a notice here is one the
          // attacker made the gateway send.
          return ::testing::AssertionFailure()
                 << "healthy client " << i << " got " << f.text().substr(0, 300);
        }
        if (f.u64("offset") != want) {
          return ::testing::AssertionFailure()
                 << "healthy client " << i << ": offset " << f.u64("offset").value_or(0)
                 << ", wanted " << want << " (a message lost or doubled)";
        }
        ++want;
      }
      if (want != last + 1) {
        return ::testing::AssertionFailure()
               << "healthy client " << i << " got " << want - 1 << " of " << last;
      }
    }
    return ::testing::AssertionSuccess()
           << published_ << " messages, " << rttMs_.size() << " round trips, p99 " << p99 << " ms";
  }

  void stopThread() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

  void fail(std::string what) {
    if (failure_.empty()) failure_ = std::move(what);
    stop_.store(true);
  }

  // Rounds on a fixed schedule: each client's round trip is timed from when its round was
  // due, not from when it could be sent, so a loop that stalls for a second shows as a
  // second of late round trips for all 20 clients (no coordinated omission).
  void run() {
    uint64_t n = 0;
    auto due = Clock::now();
    auto nextPublish = due;
    while (!stop_.load()) {
      std::this_thread::sleep_until(due);  // pacing only: a late round starts at once
      const auto roundDue = due;
      due += kRoundEvery;
      if (roundDue >= nextPublish) {
        nextPublish += kPublishEvery;
        auto r = api_->post("/api/publish",
                            R"({"channel":"healthy","data":{"n":)" + std::to_string(++n) + "}}");
        if (r.status != 200) {
          fail("healthy publish " + std::to_string(n) + ": HTTP " + std::to_string(r.status) + " " +
               r.body + r.error);
          return;
        }
        published_ = n;
      }
      for (auto& c : clients_) c->send(R"({"op":"ping"})");
      for (size_t i = 0; i < clients_.size(); ++i) {
        auto pong = clients_[i]->until([](const Json& f) { return f.type() == "pong"; },
                                       milliseconds(5000));
        if (!pong) {
          fail("healthy client " + std::to_string(i) + ": no pong (" +
               clients_[i]->lastRead().describe() + ")");
          return;
        }
        rttMs_.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - roundDue).count());
      }
    }
  }

  std::unique_ptr<ApiClient> api_;
  std::vector<std::unique_ptr<PushClient>> clients_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  // Written by the traffic thread only, read after it joined.
  std::vector<double> rttMs_;
  uint64_t published_ = 0;
  std::string failure_;
  bool ended_ = false;
  ::testing::AssertionResult result_ = ::testing::AssertionFailure() << "the attack never began";
};

// One attack: the gateway's extra flags, and the attack itself, which checks the documented
// answer with EXPECT_*/ASSERT_* while the healthy traffic runs.
struct Attack {
  const char* name;
  std::vector<std::string> flags;
  std::function<void(Gateway&, HealthyTraffic&)> run;
};
void PrintTo(const Attack& a, std::ostream* os) {
  *os << a.name;
}

// --- the attacks ---------------------------------------------------------------------------

// Forged identities: every one refused at the upgrade with 401 and its documented reason.
void forgedIdentity(Gateway& gw, HealthyTraffic& healthy) {
  healthy.begin();
  const std::string claims = R"({"sub":"mallory","exp":)" + std::to_string(nowSec() + 3600) + "}";
  std::string badSignature = push::signToken(claims, "not-the-secret-0123456789abcdef0123");
  const std::string noneAlg = push::base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." +
                              push::base64UrlEncode(claims) + ".";
  const std::string expired =
      push::signToken(R"({"sub":"mallory","exp":)" + std::to_string(nowSec() - 10) + "}", kSecret);
  const std::string api =
      push::signToken(R"({"sub":"api","exp":)" + std::to_string(nowSec() + 3600) + "}", kSecret);
  struct Case {
    std::string path;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"/ws?user=mallory", "missing token"},  // dev-mode naming without --dev
      {"/ws?token=" + badSignature, "bad signature"}, {"/ws?token=" + noneAlg, "unsupported alg"},
      {"/ws?token=" + expired, "token expired"},      {"/ws?token=" + api, "invalid sub"},
  };
  for (int round = 0; round < 20; ++round) {
    for (const Case& c : cases) {
      PushClient client;
      HttpResponse r = client.open(gw.wsPort, c.path);
      ASSERT_EQ(r.status, 401) << c.path << ": " << r.body;
      EXPECT_NE(r.body.find(c.reason), std::string::npos) << c.path << ": " << r.body;
    }
  }
}

// A send naming 1,000 users (one victim 17 times) with nearly 1 MiB of data: one frame for
// all of them, the victim gets it once and stays connected, the gateway's memory barely moves.
void amplifiedSend(Gateway& gw, HealthyTraffic& healthy) {
  healthy.begin();
  PushClient victim;
  ASSERT_TRUE(victim.connect(gw.wsPort, wsPath("victim")));
  PushClient attacker;
  ASSERT_TRUE(attacker.connect(gw.wsPort, wsPath("mallory")));
  std::string to = "[";
  for (int i = 0; i < 17; ++i) to += R"("victim",)";
  for (int i = 0; i < 983; ++i) to += "\"nobody" + std::to_string(i) + "\",";
  to.back() = ']';
  const std::string data(900 * 1024, 'x');
  const uint64_t before = rssBytes(gw.server->pid());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        attacker.send(R"({"op":"send","id":"a","to":)" + to + R"(,"data":")" + data + R"("})"));
    auto reply = attacker.nextOfType("reply");
    ASSERT_TRUE(reply) << attacker.lastRead().describe();
    EXPECT_TRUE(reply->boolean("ok").value_or(false)) << reply->text().substr(0, 300);
  }
  const uint64_t after = rssBytes(gw.server->pid());
  // 1,000 copies would be 900 MiB; three sends of one shared frame stay within a few MiB.
  EXPECT_LT(after, before + 32 * kMiB) << "RSS grew from " << before << " to " << after;
  for (int i = 0; i < 3; ++i) {
    auto m = victim.nextOfType("direct");
    ASSERT_TRUE(m) << "victim: " << victim.lastRead().describe();
    EXPECT_EQ(m->str("from"), "mallory");
  }
  // Once per send, whatever the repetition: nothing more, and still connected.
  auto more = victim.drainFor(milliseconds(300));
  for (const Json& f : more) EXPECT_NE(f.type(), "direct") << f.text().substr(0, 200);
  auto pong = victim.request(R"({"op":"ping"})");
  ASSERT_TRUE(pong) << "victim closed: " << victim.lastRead().describe();
  EXPECT_EQ(pong->type(), "pong");
}

// HTTP sent to the TCP publish port (what a web page can make a browser do): refused with
// its -ERR line and closed at once; the BCAST hidden in the body is never carried out.
void httpOnTheTcpPort(Gateway& gw, HealthyTraffic& healthy) {
  healthy.begin();
  const std::string body = tcpCommand("BCAST", R"({"text":"owned"})");
  for (const char* head : {"POST /api/broadcast HTTP/1.1", "GET / HTTP/1.1", "PUT /x HTTP/1.0"}) {
    LineClient c;
    ASSERT_TRUE(c.connect(gw.publishPort));
    ASSERT_TRUE(c.send(std::string(head) + "\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n" +
                       "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    EXPECT_EQ(c.line(),
              "-ERR HTTP request on the TCP publish port (the HTTP API is on --api-listen)")
        << head;
    EXPECT_EQ(c.line(), "<EOF>") << head;
  }
  // The healthy clients' check finds a notice if the hidden BCAST was carried out.
}

// A raw POST to the API with the given extra header lines.
std::string apiPost(uint16_t port, std::string_view path, std::string_view headers,
                    std::string_view body) {
  return "POST " + std::string(path) + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\n" + std::string(headers) + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

// What a browser page can make a browser send to the API: a request with an Origin, one to
// a rebound DNS name, a "simple" request without a JSON type. Each refused as documented;
// the healthy clients' check finds a notice if one got through.
void crossOriginApi(Gateway& gw, HealthyTraffic& healthy) {
  healthy.begin();
  const uint16_t port = gw.apiPort;
  const std::string body = R"({"data":{"text":"owned"}})";
  const std::string json = "Content-Type: application/json\r\n";
  struct Case {
    std::string request;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {apiPost(port, "/api/broadcast", json + "Origin: https://evil.example\r\n", body), 403,
       "forbidden"},
      {"POST /api/broadcast HTTP/1.1\r\nHost: evil.example:" + std::to_string(port) + "\r\n" +
           json + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
       421, "misdirected"},
      {apiPost(port, "/api/broadcast", "Content-Type: text/plain\r\n", body), 415,
       "unsupported_media_type"},
  };
  for (int round = 0; round < 20; ++round) {
    for (const Case& c : cases) {
      WsClient conn;
      ASSERT_TRUE(conn.connect(port));
      HttpResponse r = conn.request(c.request);
      ASSERT_EQ(r.status, c.status) << c.request << "\n" << r.body << r.error;
      EXPECT_NE(r.body.find(c.code), std::string::npos) << r.body;
    }
  }
}

// 100 API connections trickling their requests one byte every 100 ms: each gets 408 when
// --api-request-timeout (1 s here) has passed since it connected, and is closed.
void apiSlowloris(Gateway& gw, HealthyTraffic& healthy) {
  healthy.begin();
  constexpr size_t kSlow = 100;
  const std::string request =
      apiPost(gw.apiPort, "/api/broadcast", "Content-Type: application/json\r\n",
              R"({"data":{"text":"slow"}})");
  std::vector<std::unique_ptr<WsClient>> slow;
  for (size_t i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<WsClient>());
    ASSERT_TRUE(slow.back()->connect(gw.apiPort));
  }
  const auto started = Clock::now();
  std::vector<bool> answered(kSlow, false);
  size_t left = kSlow;
  for (size_t sent = 0; left > 0 && sent < request.size(); ++sent) {
    for (size_t i = 0; i < kSlow; ++i) {
      if (answered[i]) continue;
      if (slow[i]->readable(milliseconds{0}) ||
          !slow[i]->sendRaw(std::string_view(request).substr(sent, 1))) {
        answered[i] = true;
        --left;
      }
    }
    std::this_thread::sleep_for(milliseconds{100});  // the trickle's pace
  }
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
  EXPECT_EQ(left, 0u) << "still open after " << elapsed.count() << " ms";
  EXPECT_LT(elapsed.count(), 3000);
  for (size_t i = 0; i < kSlow; ++i) {
    HttpResponse r = slow[i]->readHttpResponse();
    EXPECT_EQ(r.status, 408) << i << ": " << r.body << r.error;
    EXPECT_TRUE(slow[i]->waitEof()) << i;
  }
}

// One 16 KiB message to each of 4,000 new channels (64 MiB): the history stays within its
// budget meanwhile, and once --history-ttl has passed the channels are forgotten and the
// memory is given back.
void channelCreationFlood(Gateway& gw, HealthyTraffic& healthy) {
  healthy.begin();
  ApiClient api(gw.apiPort);
  const uint64_t before = rssBytes(gw.server->pid());
  const std::string data = test::quoted(std::string(16 * 1024, 'f'));
  uint64_t peakHistory = 0;
  for (int i = 0; i < 4000; ++i) {
    ASSERT_TRUE(publishOk(api, "flood-" + std::to_string(i), data)) << i;
    if (i % 500 == 499)
      peakHistory = std::max(peakHistory, api.metric("ringcast_history_bytes").value_or(0));
  }
  EXPECT_LE(peakHistory, 16 * kMiB) << "--max-history-memory 16MiB";
  // Only the healthy channel, which has subscribers, is left.
  EXPECT_TRUE(eventually([&] { return api.metric("ringcast_channels") == 1u; },
                         std::chrono::milliseconds(10'000)))
      << "channels left: " << api.metric("ringcast_channels").value_or(0);
  uint64_t after = 0;
  EXPECT_TRUE(eventually([&] {
    after = rssBytes(gw.server->pid());
    return after < before + 16 * kMiB;
  })) << "RSS "
      << before << " before the flood, " << after << " after it";
}

// `count` copies of a client command as masked text frames, to be sent in one write.
std::string pipelined(WsClient& ws, std::string_view command, size_t count) {
  std::string bytes;
  for (size_t i = 0; i < count; ++i) {
    bytes += encodeFrame(op::kText, command, true, 0, true, ws.nextMaskKey());
  }
  return bytes;
}

// Sends as much of `bytes` as the gateway reads within `timeout` (it stops reading a
// connection that is over its limits); how much went out is not the point.
void flood(PushClient& c, const std::string& bytes, milliseconds timeout = milliseconds(2000)) {
  (void)c.ws().sendRaw(bytes, 64 * 1024, milliseconds(0), timeout);
}

// Waits for the close frame of an attacker, skipping whatever replies came before it.
std::optional<ReadResult> closeFrame(PushClient& c, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    ReadResult r = c.ws().readFrame(milliseconds(1000));
    if (r.status == ReadStatus::kFrame && r.frame.isClose()) return r;
    if (r.closedTcp()) return r;
  }
  return std::nullopt;
}

// A reply flood: presence of a 500-member channel, pipelined by a client that never reads.
// It stops being read once its replies pass --max-outbuf: what is queued for clients stays
// within the limit plus one reply, and the gateway's memory barely moves.
void replyFlood(Gateway& gw, HealthyTraffic& healthy) {
  std::vector<std::unique_ptr<PushClient>> members;
  for (int i = 0; i < 500; ++i) {
    members.push_back(std::make_unique<PushClient>());
    ASSERT_TRUE(members.back()->connect(
        gw.wsPort, wsPath("member-" + std::to_string(i) + "-" + std::string(100, 'm'))));
    ASSERT_TRUE(subscribeOk(*members.back(), "crowd"));
  }
  healthy.begin();
  PushClient attacker;
  ASSERT_TRUE(attacker.connect(gw.wsPort, wsPath("mallory")));
  std::string burst;
  for (int i = 0; i < 4000; ++i) {
    burst += encodeFrame(op::kText, R"({"op":"presence","channel":"crowd","id":1})", true, 0, true,
                         attacker.ws().nextMaskKey());
  }
  ApiClient api(gw.apiPort);
  const uint64_t before = rssBytes(gw.server->pid());
  ASSERT_TRUE(attacker.ws().sendRaw(burst));
  const uint64_t bound = (1 << 20) + (128 << 10);  // --max-outbuf and the reply that crossed it
  uint64_t queued = 0;
  EXPECT_TRUE(eventually([&] {
    queued = api.metric("ringcast_client_queued_bytes").value_or(0);
    return queued > (1 << 20);
  })) << "the attacker's queue never filled: "
      << queued;
  for (int i = 0; i < 10; ++i) {
    queued = api.metric("ringcast_client_queued_bytes").value_or(0);
    EXPECT_LE(queued, bound);
  }
  const uint64_t after = rssBytes(gw.server->pid());
  // 4,000 replies of ~60 KiB would be ~240 MiB.
  EXPECT_LT(after, before + 32 * kMiB) << "RSS grew from " << before << " to " << after;
}

// `presence` of a 10,000-member channel, then 100,000 of them pipelined by a client that
// never reads: one reply carries 1000 users and the total; the flood is cut by the rate
// limit (1008) and the queue bound, and holds little memory.
void presenceFlood(Gateway& gw, HealthyTraffic& healthy) {
  constexpr size_t kMembers = 10'000;
  std::vector<std::unique_ptr<WsClient>> members;
  for (size_t i = 0; i < kMembers; ++i) {
    auto m = std::make_unique<WsClient>();
    ASSERT_TRUE(m->connect(gw.wsPort)) << i;
    HttpResponse r = m->handshake(wsPath("member" + std::to_string(i)));
    ASSERT_EQ(r.status, 101) << i << ": " << r.body;
    ASSERT_TRUE(m->sendText(R"({"op":"subscribe","channel":"big"})"));
    members.push_back(std::move(m));
  }
  ApiClient api(gw.apiPort);
  ASSERT_TRUE(eventually([&] {
    return api.metric("ringcast_subscriptions").value_or(0) >= kMembers + kHealthyClients;
  })) << api.metric("ringcast_subscriptions").value_or(0);
  healthy.begin();
  PushClient attacker;
  ASSERT_TRUE(attacker.connect(gw.wsPort, wsPath("mallory")));
  auto one = attacker.request(R"({"op":"presence","channel":"big","id":1})");
  ASSERT_TRUE(one) << attacker.lastRead().describe();
  EXPECT_EQ(one->arraySize("users"), 1000u) << one->text().substr(0, 200);
  EXPECT_EQ(one->u64("total"), kMembers) << one->text().substr(0, 200);

  const uint64_t before = rssBytes(gw.server->pid());
  flood(attacker, pipelined(attacker.ws(), R"({"op":"presence","channel":"big"})", 100'000));
  const uint64_t after = rssBytes(gw.server->pid());
  EXPECT_LT(after, before + 32 * kMiB) << "RSS grew from " << before << " to " << after;
  auto closed = closeFrame(attacker, milliseconds(15'000));
  ASSERT_TRUE(closed) << "the flooding client is still connected";
  ASSERT_TRUE(closed->frame.isClose()) << closed->describe();
  EXPECT_EQ(closed->frame.closeCode(), 1008);
  EXPECT_EQ(closed->frame.closeReason(), "rate limit exceeded");
  healthy.end();  // 10,000 members leaving at once is not the attack
}

// Subscriptions to 100,000 channels on one connection (--command-rate off, so the cap alone
// answers): the first --max-subscriptions succeed, the rest get too_many_subscriptions, and
// closing the connection costs little.
void subscriptionFlood(Gateway& gw, HealthyTraffic& healthy) {
  healthy.begin();
  constexpr size_t kTries = 100'000;
  PushClient attacker;
  ASSERT_TRUE(attacker.connect(gw.wsPort, wsPath("mallory")));
  std::string bytes;
  for (size_t i = 0; i < kTries; ++i) {
    bytes += encodeFrame(op::kText,
                         R"({"op":"subscribe","id":1,"channel":"s)" + std::to_string(i) + R"("})",
                         true, 0, true, attacker.ws().nextMaskKey());
  }
  // The replies are read while the subscriptions go out, so the queue bound never applies.
  std::thread reader;
  size_t ok = 0, refused = 0;
  std::string other;
  std::atomic<bool> sent{false};
  reader = std::thread([&] {
    while (ok + refused < kTries) {
      auto r = attacker.nextOfType("reply", milliseconds(sent.load() ? 2000 : 10'000));
      if (!r) break;
      if (r->boolean("ok").value_or(false)) {
        ++ok;
      } else if (r->errorCode() == "too_many_subscriptions") {
        ++refused;
      } else if (other.empty()) {
        other = r->text();
      }
    }
  });
  EXPECT_TRUE(attacker.ws().sendRaw(bytes, 64 * 1024));
  sent.store(true);
  reader.join();
  EXPECT_EQ(ok, 1024u) << other;
  EXPECT_EQ(refused, kTries - 1024) << other;
  auto pong = attacker.request(R"({"op":"ping"})");  // the connection stays
  ASSERT_TRUE(pong) << attacker.lastRead().describe();
  EXPECT_EQ(pong->type(), "pong");
  attacker.ws().sendClose(1000);
  ApiClient api(gw.apiPort);
  EXPECT_TRUE(eventually([&] {
    return api.metric("ringcast_subscriptions") == uint64_t{kHealthyClients};
  })) << api.metric("ringcast_subscriptions").value_or(0);
}

// Pipelines `commands` on `attacker` and reads until the gateway closes it: the answers
// must be some served ones (`servedType`), then only rate_limited replies, then close 1008
// "rate limit exceeded" after CommandLimiter::kMaxRefused refusals.
void expectFloodClosed(PushClient& attacker, const std::vector<std::string>& commands,
                       std::string_view servedType) {
  std::string burst;
  for (const std::string& c : commands) {
    burst += encodeFrame(op::kText, c, true, 0, true, attacker.ws().nextMaskKey());
  }
  ASSERT_TRUE(attacker.ws().sendRaw(burst));
  int served = 0, limited = 0;
  while (auto f = attacker.next()) {
    if (f->errorCode() == "rate_limited") {
      ++limited;
    } else {
      ASSERT_EQ(limited, 0) << "served after refusals began: " << f->text();
      EXPECT_EQ(f->type(), servedType) << f->text();
      ++served;
    }
  }
  const ReadResult& end = attacker.lastRead();
  ASSERT_TRUE(end.ok() && end.frame.isClose()) << end.describe();
  EXPECT_EQ(end.frame.closeCode(), 1008);
  EXPECT_EQ(end.frame.closeReason(), "rate limit exceeded");
  // The default bucket: 200 at once, then 100/s while the flood is read.
  EXPECT_GE(served, 200);
  EXPECT_LT(served, 400);
}

// A command flood: 2,000 pipelined pings; the bucket serves its burst, refuses the rest with
// rate_limited and closes the connection at the 100th refusal.
void commandFlood(Gateway& gw, HealthyTraffic& healthy) {
  healthy.begin();
  PushClient attacker;
  ASSERT_TRUE(attacker.connect(gw.wsPort, wsPath("mallory")));
  std::vector<std::string> pings(2000, R"({"op":"ping","id":1})");
  expectFloodClosed(attacker, pings, "pong");
}

// A join/leave storm: subscribe/unsubscribe pairs on one channel, pipelined; bounded by the
// same bucket (each is a command), then closed.
void joinLeaveStorm(Gateway& gw, HealthyTraffic& healthy) {
  healthy.begin();
  PushClient watcher;
  ASSERT_TRUE(watcher.connect(gw.wsPort, wsPath("watcher")));
  ASSERT_TRUE(subscribeOk(watcher, "storm", R"(,"presence":true)"));
  PushClient attacker;
  ASSERT_TRUE(attacker.connect(gw.wsPort, wsPath("mallory")));
  std::vector<std::string> storm;
  for (int i = 0; i < 1000; ++i) {
    storm.push_back(R"({"op":"subscribe","channel":"storm","id":1})");
    storm.push_back(R"({"op":"unsubscribe","channel":"storm","id":2})");
  }
  expectFloodClosed(attacker, storm, "reply");
  // The watcher saw a bounded number of joins and leaves, then the storm ended.
  auto events = watcher.drainFor(milliseconds(200));
  EXPECT_LT(events.size(), 400u);
}

// 200 connections whose tokens expire in two seconds, all at once: each is closed with 4401
// "token expired" when its exp passes (one that refreshed in time stays), and the healthy
// clients, whose tokens are good for an hour, notice nothing.
void expiredToken(Gateway& gw, HealthyTraffic& healthy) {
  constexpr size_t kExpiring = 200;
  const int64_t exp = nowSec() + 2;
  auto expiring = [&](std::string_view user) {
    return "/ws?token=" + push::signToken(std::string(R"({"sub":")") + std::string(user) +
                                              R"(","exp":)" + std::to_string(exp) + "}",
                                          kSecret);
  };
  std::vector<std::unique_ptr<PushClient>> clients;
  for (size_t i = 0; i < kExpiring; ++i) {
    clients.push_back(std::make_unique<PushClient>());
    ASSERT_TRUE(clients.back()->connect(gw.wsPort, expiring("short" + std::to_string(i)))) << i;
  }
  PushClient refreshed;
  ASSERT_TRUE(refreshed.connect(gw.wsPort, expiring("renewer")));
  healthy.begin();
  auto reply =
      refreshed.request(R"({"op":"refresh","id":"r","token":")" + token("renewer") + R"("})");
  ASSERT_TRUE(reply) << refreshed.lastRead().describe();
  EXPECT_TRUE(reply->boolean("ok").value_or(false)) << reply->text();
  for (size_t i = 0; i < kExpiring; ++i) {
    auto more = clients[i]->next(milliseconds(5000));
    ASSERT_FALSE(more) << i << ": " << more->text();
    const ReadResult& end = clients[i]->lastRead();
    ASSERT_TRUE(end.ok() && end.frame.isClose()) << i << ": " << end.describe();
    EXPECT_EQ(end.frame.closeCode(), 4401) << i;
    EXPECT_EQ(end.frame.closeReason(), "token expired") << i;
  }
  // Closed when exp passed (whole seconds: from exp to exp + 1 s, plus a loaded machine's
  // slack), not before.
  EXPECT_GE(nowSec(), exp);
  EXPECT_LE(nowSec(), exp + 3);
  auto pong = refreshed.request(R"({"op":"ping"})");
  ASSERT_TRUE(pong) << "the refreshed connection was closed: " << refreshed.lastRead().describe();
  EXPECT_EQ(pong->type(), "pong");
}

const std::vector<Attack>& attacks() {
  static const std::vector<Attack> table = {
      {"ForgedIdentity", {}, forgedIdentity},
      {"AmplifiedSend", {}, amplifiedSend},
      {"HttpOnTheTcpPort", {}, httpOnTheTcpPort},
      {"CrossOriginApiRequest", {}, crossOriginApi},
      {"ApiSlowloris", {"--api-request-timeout", "1s"}, apiSlowloris},
      {"ReplyFlood", {"--command-rate", "0"}, replyFlood},
      {"PresenceFloodOnA10000MemberChannel", {}, presenceFlood},
      {"SubscriptionFlood", {"--command-rate", "0"}, subscriptionFlood},
      {"CommandFlood", {}, commandFlood},
      {"JoinLeaveStorm", {}, joinLeaveStorm},
      {"ExpiredToken", {}, expiredToken},
      {"ChannelCreationFlood",
       {"--history-ttl", "1s", "--max-history-memory", "16MiB"},
       channelCreationFlood},
  };
  return table;
}

// --- the suite -----------------------------------------------------------------------------

class Abuse : public ::testing::TestWithParam<Attack> {};

TEST_P(Abuse, AnswersAsDocumentedAndHealthyClientsKeepTheirRoundTrips) {
  const Attack& attack = GetParam();
  std::vector<std::string> flags = {"--threads", "1", "--jwt-secret", std::string(kSecret)};
  flags.insert(flags.end(), attack.flags.begin(), attack.flags.end());
  Gateway gw;
  ASSERT_TRUE(startGateway(flags, &gw));
  HealthyTraffic healthy;
  ASSERT_TRUE(healthy.connect(gw));
  attack.run(gw, healthy);
  ASSERT_TRUE(healthy.begun()) << "the attack never called begin()";
  healthy.end();
  EXPECT_TRUE(healthy.result());
  if (healthy.result()) std::cerr << attack.name << ": " << healthy.result().message() << "\n";
}

INSTANTIATE_TEST_SUITE_P(Attacks, Abuse, ::testing::ValuesIn(attacks()),
                         [](const ::testing::TestParamInfo<Attack>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace ringcast::test
