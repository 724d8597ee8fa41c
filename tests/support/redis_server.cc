#include "tests/support/redis_server.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/child_process.h"
#include "tests/support/free_port.h"

namespace ringcast::test {
namespace {

constexpr std::chrono::milliseconds kStartTimeout{10000};
constexpr std::chrono::milliseconds kPollInterval{10};
constexpr int kSpawnAttempts = 5;  // a free port can be taken by someone else before we bind

std::string flatten(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(r->str, r->len);
    case REDIS_REPLY_ERROR:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ARRAY: {
      std::string s;
      for (size_t i = 0; i < r->elements; ++i) {
        if (i > 0) s += '\n';
        s += flatten(r->element[i]);
      }
      return s;
    }
  }
  return "";
}

}  // namespace

std::unique_ptr<RedisServer> RedisServer::start(std::string* error) {
  return start(Options{}, error);
}

std::unique_ptr<RedisServer> RedisServer::start(const Options& options, std::string* error) {
  std::unique_ptr<RedisServer> server(new RedisServer());
  server->options_ = options;
  char tmpl[] = "/tmp/ringcast-redis-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    *error = std::string("mkdtemp: ") + std::strerror(errno);
    return nullptr;
  }
  server->dir_ = tmpl;
  for (int attempt = 0; attempt < kSpawnAttempts; ++attempt) {
    server->port_ = freeLoopbackPort();
    if (server->spawn(error)) return server;
  }
  return nullptr;
}

RedisServer::~RedisServer() {
  kill();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool RedisServer::spawn(std::string* error) {
  std::vector<std::string> args = {"redis-server", "--port", std::to_string(port_), "--bind",
                                   "127.0.0.1", "--dir", dir_, "--save", "", "--appendonly",
                                   options_.appendOnly ? "yes" : "no", "--logfile",
                                   dir_ + "/redis.log", "--daemonize", "no",
                                   // DEBUG SLEEP lets tests hold the server mid-reply.
                                   "--enable-debug-command", "local"};
  args.insert(args.end(), options_.extraArgs.begin(), options_.extraArgs.end());
  pid_ = spawnChild(args, "/dev/null", error);
  if (pid_ < 0) return false;
  if (waitForPing(kStartTimeout)) return true;
  kill();
  std::ifstream log(dir_ + "/redis.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  *error = "redis-server on port " + std::to_string(port_) + " did not answer PING; log:\n" + text;
  return false;
}

bool RedisServer::waitForPing(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return false;
    if (command({"PING"}) == "PONG") return true;
    std::this_thread::sleep_for(kPollInterval);
  }
  return false;
}

bool RedisServer::running() {
  if (pid_ <= 0) return false;
  int ws;
  if (::waitpid(pid_, &ws, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void RedisServer::waitDead(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      int ws;
      ::waitpid(pid_, &ws, 0);
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void RedisServer::stop(std::chrono::milliseconds timeout) {
  if (!running()) return;
  ::kill(pid_, SIGTERM);
  waitDead(timeout);
}

void RedisServer::kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  waitDead(std::chrono::milliseconds(5000));
}

bool RedisServer::restart(std::string* error) {
  stop();
  // The port was ours a moment ago; a listener in TIME_WAIT does not block a new bind.
  return spawn(error);
}

std::string RedisServer::command(const std::vector<std::string>& args) const {
  timeval tv{2, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (c == nullptr || c->err) {
    if (c != nullptr) redisFree(c);
    return "(down)";
  }
  redisSetTimeout(c, tv);
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  std::string out = r != nullptr ? flatten(r) : "(down)";
  if (r != nullptr) freeReplyObject(r);
  redisFree(c);
  return out;
}

int64_t RedisServer::infoNumber(const std::string& section, const std::string& field) const {
  std::string info = command({"INFO", section});
  std::string key = field + ":";
  size_t at = info.find(key);
  if (at == std::string::npos) return -1;
  return std::strtoll(info.c_str() + at + key.size(), nullptr, 10);
}

}  // namespace ringcast::test
