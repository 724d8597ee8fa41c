// RedisServer: a real `redis-server` child process for tests, on a free loopback port with
// its own temporary data directory (removed by the destructor). start() waits until the
// server answers PING; stop()/kill() end it (SIGTERM / SIGKILL) and restart() brings it back
// on the same port, with the same directory (so a test that asks for persistence finds its
// data again). Only the pid this object spawned is ever signalled.
//
// command() is a small blocking client (hiredis) for test assertions.
//
// Thread safety: one thread owns a RedisServer.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ringcast::test {

class RedisServer {
 public:
  struct Options {
    bool appendOnly = false;             // --appendonly yes (data survives restart())
    std::vector<std::string> extraArgs;  // more redis-server arguments
  };

  // Starts redis-server; nullptr with the reason in *error on failure.
  static std::unique_ptr<RedisServer> start(std::string* error);
  static std::unique_ptr<RedisServer> start(const Options& options, std::string* error);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  bool running();

  // SIGTERM and wait (SIGKILL after the timeout). Idempotent.
  void stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  // SIGKILL and wait.
  void kill();
  // Starts the server again on the same port and directory; false (with *error) on failure.
  bool restart(std::string* error);

  // Runs one command on a fresh blocking connection and returns the reply flattened to text:
  // strings and status as is, integers in decimal, nil as "(nil)", errors as "ERR ...",
  // arrays as their elements joined by '\n'. "(down)" when no connection could be made.
  std::string command(const std::vector<std::string>& args) const;
  // A field of INFO (e.g. "total_commands_processed"), or -1.
  int64_t infoNumber(const std::string& section, const std::string& field) const;

 private:
  RedisServer() = default;
  bool spawn(std::string* error);
  bool waitForPing(std::chrono::milliseconds timeout);
  void waitDead(std::chrono::milliseconds timeout);

  Options options_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string dir_;  // temporary data directory; its redis.log has the server's output
};

}  // namespace ringcast::test
