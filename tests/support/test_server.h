// TestServer: runs the ringcast binary as a child process for black-box tests. start()
// spawns it with stdout and stderr on one pipe, waits for the `listen ws 127.0.0.1:PORT`
// line and returns the port; afterwards every line the server prints is forwarded to the
// test's stderr, prefixed with its pid, so a failing test shows the server's own account.
// The other `listen NAME 127.0.0.1:PORT` lines (api, publish) are recorded as well.
// Only the pid this object spawned is ever signalled, and never after it has been reaped.
//
// Thread safety: one thread owns a TestServer; an internal thread reads the pipe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace ringcast::test {

struct ExitStatus {
  enum class Kind { kExited, kSignaled, kKilledAfterTimeout, kStillRunning, kNotStarted };
  Kind kind = Kind::kNotStarted;
  int code = 0;    // exit code for kExited
  int signal = 0;  // terminating signal for kSignaled

  bool cleanExit() const { return kind == Kind::kExited && code == 0; }
  std::string describe() const;
};

class TestServer {
 public:
  static constexpr std::chrono::milliseconds kStartTimeout{10000};
  static constexpr std::chrono::milliseconds kStopTimeout{10000};

  // Spawns `binary args...` and waits for the listen line. On failure returns nullptr and
  // puts the reason and everything the process printed into *error.
  static std::unique_ptr<TestServer> start(const std::string& binary,
                                           const std::vector<std::string>& args, std::string* error,
                                           std::chrono::milliseconds timeout = kStartTimeout);
  ~TestServer();  // stop() unless already stopped
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  uint16_t port() const { return port_; }
  // The port of the `listen NAME 127.0.0.1:PORT` line for another listener ("api",
  // "publish"), waiting up to timeout for the line; 0 when it did not come.
  uint16_t listenPort(std::string_view name, std::chrono::milliseconds timeout = kStartTimeout);
  uint16_t apiPort() { return listenPort("api"); }
  uint16_t publishPort() { return listenPort("publish"); }
  pid_t pid() const { return pid_; }
  // True while the process has not exited (reaps it if it has).
  bool running();
  // Sends SIGTERM and returns at once; false if the process is already gone.
  bool terminate();
  // Waits for the process to exit; on timeout the process is left running and the result is
  // kStillRunning.
  ExitStatus waitExit(std::chrono::milliseconds timeout);
  // SIGKILL (a crash: no drain, no goodbye to clients) and reap. Idempotent like stop().
  ExitStatus kill();
  // SIGTERM, wait up to timeout, then SIGKILL. Idempotent: later calls return the first status.
  ExitStatus stop(std::chrono::milliseconds timeout = kStopTimeout);
  // Everything printed before the listen line (the start-up block).
  std::string startupOutput() const;

 private:
  TestServer() = default;
  void readLoop();
  bool reapNoHang();
  void killAndReap();  // SIGKILL the unreaped pid_ and wait for it

  pid_t pid_ = -1;
  bool reaped_ = false;  // waitpid() has returned for pid_; it must not be signalled again
  ExitStatus status_;    // valid once reaped_
  int pipeFd_ = -1;      // read end of the child's stdout+stderr
  uint16_t port_ = 0;
  std::thread reader_;

  mutable std::mutex mu_;       // guards the fields below, shared with reader_
  std::condition_variable cv_;  // signalled on the listen line and on pipe EOF
  std::string startup_;         // lines before the listen line
  bool listening_ = false;
  std::vector<std::pair<std::string, uint16_t>> otherPorts_;  // listen lines after the ws one
  bool pipeClosed_ = false;
};

}  // namespace ringcast::test
