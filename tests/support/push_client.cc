#include "tests/support/push_client.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace ringcast::test {
namespace {

using Clock = std::chrono::steady_clock;

// describe() shows at most this many frames; a failure message stays readable.
constexpr size_t kMaxDescribedFrames = 40;

Millis leftUntil(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
  return left.count() > 0 ? left : Millis{0};
}

bool hasFlag(const std::vector<std::string>& args, std::string_view flag) {
  return std::find(args.begin(), args.end(), flag) != args.end();
}

}  // namespace

::testing::AssertionResult startGateway(const std::vector<std::string>& extraArgs, Gateway* out) {
  const std::pair<const char*, const char*> defaults[] = {{"--listen", "127.0.0.1:0"},
                                                          {"--api-listen", "127.0.0.1:0"},
                                                          {"--publish-listen", "127.0.0.1:0"},
                                                          {"--threads", "2"}};
  std::vector<std::string> args;
  for (const auto& [flag, value] : defaults) {
    if (hasFlag(extraArgs, flag)) continue;
    args.emplace_back(flag);
    args.emplace_back(value);
  }
  // Without a token secret a test runs the gateway in dev mode (?user=NAME), which the
  // gateway only starts in when told so.
  if (!hasFlag(extraArgs, "--jwt-secret") && !hasFlag(extraArgs, "--jwt-secret-file") &&
      !hasFlag(extraArgs, "--dev")) {
    args.emplace_back("--dev");
  }
  args.insert(args.end(), extraArgs.begin(), extraArgs.end());
  std::string error;
  out->server = TestServer::start(RINGCAST_BIN, args, &error);
  if (!out->server) return ::testing::AssertionFailure() << error;
  out->wsPort = out->server->port();
  out->apiPort = out->server->apiPort();
  out->publishPort = out->server->publishPort();
  if (out->apiPort == 0 || out->publishPort == 0) {
    return ::testing::AssertionFailure()
           << "the server printed no `listen api` / `listen publish` line; start-up output:\n"
           << out->server->startupOutput();
  }
  return ::testing::AssertionSuccess();
}

// ---- Json ----

std::optional<Json> Json::parse(std::string_view text) {
  Json j;
  j.text_ = std::string(text);
  j.parser_ = std::make_unique<simdjson::dom::parser>();
  if (j.parser_->parse(j.text_.data(), j.text_.size(), true).get(j.root_) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return j;
}

std::optional<simdjson::dom::element> Json::at(std::string_view key) const {
  simdjson::dom::element e;
  if (!key.empty() && key.front() == '/') {
    if (root_.at_pointer(key).get(e) != simdjson::SUCCESS) return std::nullopt;
    return e;
  }
  simdjson::dom::object obj;
  if (root_.get(obj) != simdjson::SUCCESS) return std::nullopt;
  if (obj[key].get(e) != simdjson::SUCCESS) return std::nullopt;
  return e;
}

bool Json::has(std::string_view key) const {
  return at(key).has_value();
}

std::optional<std::string> Json::str(std::string_view key) const {
  auto e = at(key);
  std::string_view v;
  if (!e || e->get(v) != simdjson::SUCCESS) return std::nullopt;
  return std::string(v);
}

std::optional<uint64_t> Json::u64(std::string_view key) const {
  auto e = at(key);
  uint64_t v = 0;
  if (!e || e->get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

std::optional<int64_t> Json::i64(std::string_view key) const {
  auto e = at(key);
  int64_t v = 0;
  if (!e || e->get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

std::optional<bool> Json::boolean(std::string_view key) const {
  auto e = at(key);
  bool v = false;
  if (!e || e->get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

std::optional<size_t> Json::arraySize(std::string_view key) const {
  auto e = at(key);
  simdjson::dom::array a;
  if (!e || e->get(a) != simdjson::SUCCESS) return std::nullopt;
  return a.size();
}

std::string describe(const std::vector<Json>& frames) {
  std::string out = std::to_string(frames.size()) + " frame(s)";
  for (size_t i = 0; i < frames.size() && i < kMaxDescribedFrames; ++i) {
    out += "\n  " + frames[i].text().substr(0, 300);
  }
  if (frames.size() > kMaxDescribedFrames) out += "\n  ...";
  return out;
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// ---- PushClient ----

HttpResponse PushClient::open(uint16_t port, std::string_view path) {
  if (!ws_.connect(port)) {
    HttpResponse r;
    r.error = ws_.error();
    return r;
  }
  return ws_.handshake(path);
}

::testing::AssertionResult PushClient::connect(uint16_t port, std::string_view path) {
  HttpResponse r = open(port, path);
  if (r.status != 101) {
    return ::testing::AssertionFailure() << "upgrade at " << path << " got status " << r.status
                                         << " " << r.reason << " " << r.body << r.error;
  }
  welcome_ = next();
  if (!welcome_) {
    return ::testing::AssertionFailure()
           << "no welcome frame at " << path << ": " << lastRead_.describe();
  }
  if (welcome_->type() != "welcome") {
    return ::testing::AssertionFailure() << "first frame is not a welcome: " << welcome_->text();
  }
  return ::testing::AssertionSuccess();
}

std::string PushClient::loopId() const {
  std::string c = conn();
  if (c.rfind("c-", 0) != 0) return "";
  size_t dash = c.find('-', 2);
  if (dash == std::string::npos || dash == 2 || dash + 1 == c.size()) return "";
  return c.substr(2, dash - 2);
}

std::optional<Json> PushClient::next(Millis timeout) {
  if (!backlog_.empty()) {
    Json j = std::move(backlog_.front());
    backlog_.pop_front();
    return j;
  }
  const auto deadline = Clock::now() + timeout;
  while (true) {
    ReadResult r = ws_.readFrame(leftUntil(deadline));
    if (r.ok() && r.frame.opcode == op::kPing) {
      ++pingsSeen_;
      if (answerPings_) ws_.sendFrame(op::kPong, r.frame.payload);
      continue;
    }
    if (r.ok() && r.frame.opcode == op::kPong) continue;
    if (r.ok() && r.frame.opcode == op::kText) {
      if (auto j = Json::parse(r.frame.payload)) return j;
      r.status = ReadStatus::kBadFrame;
      r.error = "text frame is not JSON: " + r.frame.payload.substr(0, 200);
    }
    lastRead_ = std::move(r);
    return std::nullopt;
  }
}

std::optional<Json> PushClient::until(const std::function<bool(const Json&)>& pred,
                                      Millis timeout) {
  for (auto it = backlog_.begin(); it != backlog_.end(); ++it) {
    if (pred(*it)) {
      Json j = std::move(*it);
      backlog_.erase(it);
      return j;
    }
  }
  const auto deadline = Clock::now() + timeout;
  std::deque<Json> skipped;
  skipped.swap(backlog_);  // empty, so next() reads the socket
  std::optional<Json> found;
  while (auto j = next(leftUntil(deadline))) {
    if (pred(*j)) {
      found = std::move(j);
      break;
    }
    skipped.push_back(std::move(*j));
  }
  backlog_.swap(skipped);
  return found;
}

std::optional<Json> PushClient::nextOfType(std::string_view type, Millis timeout) {
  return until([&](const Json& j) { return j.type() == type; }, timeout);
}

std::optional<Json> PushClient::request(std::string_view command, Millis timeout) {
  if (!send(command)) {
    ADD_FAILURE() << "sending " << command << " failed: " << ws_.error();
    return std::nullopt;
  }
  return until(
      [](const Json& j) {
        std::string t = j.type();
        return t == "reply" || t == "pong" || t == "presence";
      },
      timeout);
}

std::vector<Json> PushClient::drainFor(Millis window) {
  std::vector<Json> out(std::make_move_iterator(backlog_.begin()),
                        std::make_move_iterator(backlog_.end()));
  backlog_.clear();
  const auto deadline = Clock::now() + window;
  while (auto j = next(leftUntil(deadline))) out.push_back(std::move(*j));
  return out;
}

std::vector<Json> PushClient::collectUntil(const std::function<bool(const Json&)>& pred,
                                           bool* found, Millis timeout) {
  *found = false;
  std::vector<Json> out;
  const auto deadline = Clock::now() + timeout;
  while (auto j = next(leftUntil(deadline))) {
    out.push_back(std::move(*j));
    if (pred(out.back())) {
      *found = true;
      break;
    }
  }
  return out;
}

std::unique_ptr<PushClient> connectedClient(uint16_t port, std::string_view path) {
  auto c = std::make_unique<PushClient>();
  auto ok = c->connect(port, path);
  if (!ok) {
    ADD_FAILURE() << ok.message();
    return nullptr;
  }
  return c;
}

std::vector<std::unique_ptr<PushClient>> connectOnEveryLoop(uint16_t port, std::string_view path,
                                                            size_t loops, int maxAttempts) {
  std::map<std::string, std::unique_ptr<PushClient>> byLoop;
  for (int i = 0; i < maxAttempts && byLoop.size() < loops; ++i) {
    auto c = std::make_unique<PushClient>();
    if (!c->connect(port, path)) continue;
    std::string loop = c->loopId();
    if (!byLoop.count(loop)) byLoop.emplace(loop, std::move(c));
  }
  std::vector<std::unique_ptr<PushClient>> out;
  for (auto& [loop, c] : byLoop) out.push_back(std::move(c));
  return out;
}

// ---- ApiClient ----

HttpResponse ApiClient::roundTrip(const std::string& request) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!conn_) {
      conn_ = std::make_unique<WsClient>();
      if (!conn_->connect(port_)) {
        HttpResponse r;
        r.error = "connect to the API: " + conn_->error();
        conn_.reset();
        return r;
      }
    }
    HttpResponse r = conn_->request(request, WsClient::kBulkTimeout);
    if (!r.complete && r.closedEarly && attempt == 0) {
      conn_.reset();  // the server ended the keep-alive connection; one fresh try
      continue;
    }
    auto connection = r.header("Connection");
    if (!r.complete || (connection && (*connection == "close" || *connection == "Close"))) {
      conn_.reset();
    }
    return r;
  }
  return {};
}

HttpResponse ApiClient::post(std::string_view path, std::string_view body,
                             std::string_view contentType) {
  HeaderList headers = {{"Host", "127.0.0.1:" + std::to_string(port_)},
                        {"Content-Type", std::string(contentType)},
                        {"Content-Length", std::to_string(body.size())}};
  if (!key_.empty()) headers.emplace_back("Authorization", "Bearer " + key_);
  std::string request = buildRequest("POST", path, headers);
  request.append(body);
  return roundTrip(request);
}

HttpResponse ApiClient::get(std::string_view path) {
  HeaderList headers = {{"Host", "127.0.0.1:" + std::to_string(port_)}};
  if (!key_.empty()) headers.emplace_back("Authorization", "Bearer " + key_);
  return roundTrip(buildRequest("GET", path, headers));
}

std::optional<uint64_t> ApiClient::metric(std::string_view name) {
  HttpResponse r = get("/metrics");
  if (r.status != 200) return std::nullopt;
  std::istringstream lines(r.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
        line[name.size()] == ' ') {
      return std::stoull(line.substr(name.size() + 1));
    }
  }
  return std::nullopt;
}

uint64_t rssBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      uint64_t kb = 0;
      in >> kb;
      return kb * 1024;
    }
    in.ignore(4096, '\n');
  }
  return 0;
}

namespace {

std::optional<Json> okBody(std::string_view what, const HttpResponse& r) {
  if (r.status != 200) {
    ADD_FAILURE() << what << " answered " << r.status << " " << r.reason << " " << r.body
                  << r.error;
    return std::nullopt;
  }
  auto j = Json::parse(r.body);
  if (!j || j->boolean("ok") != true) {
    ADD_FAILURE() << what << " answered a body without \"ok\":true: " << r.body;
    return std::nullopt;
  }
  return j;
}

}  // namespace

std::optional<Json> ApiClient::postOk(std::string_view path, std::string_view body) {
  return okBody(std::string("POST ") + std::string(path) + " " + std::string(body.substr(0, 200)),
                post(path, body));
}

std::optional<Json> ApiClient::getOk(std::string_view path) {
  return okBody(std::string("GET ") + std::string(path), get(path));
}

std::optional<Json> subscribeOk(PushClient& c, std::string_view channel,
                                std::string_view extraMembers) {
  std::string cmd =
      "{\"op\":\"subscribe\",\"channel\":" + quoted(channel) + std::string(extraMembers) + "}";
  auto reply = c.request(cmd);
  if (!reply) {
    ADD_FAILURE() << c.user() << ": no reply to " << cmd << ": " << c.lastRead().describe();
    return std::nullopt;
  }
  if (reply->type() != "reply" || reply->boolean("ok") != true ||
      reply->str("channel") != std::string(channel)) {
    ADD_FAILURE() << c.user() << ": " << cmd << " got " << reply->text();
    return std::nullopt;
  }
  return reply;
}

std::optional<Json> publishOk(ApiClient& api, std::string_view channel, std::string_view dataJson) {
  return api.postOk("/api/publish",
                    "{\"channel\":" + quoted(channel) + ",\"data\":" + std::string(dataJson) + "}");
}

}  // namespace ringcast::test
