#include "tests/support/test_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

extern char** environ;

#include "tests/support/child_process.h"

namespace ringcast::test {
namespace {

using Clock = std::chrono::steady_clock;

// The exact start-up line that carries the port (the server's contract).
constexpr std::string_view kListenPrefix = "listen ws 127.0.0.1:";
// How often waitExit() polls waitpid(); short enough not to slow shutdown tests.
constexpr std::chrono::milliseconds kReapPollInterval{5};

ExitStatus fromWaitStatus(int ws) {
  ExitStatus s;
  if (WIFEXITED(ws)) {
    s.kind = ExitStatus::Kind::kExited;
    s.code = WEXITSTATUS(ws);
  } else if (WIFSIGNALED(ws)) {
    s.kind = ExitStatus::Kind::kSignaled;
    s.signal = WTERMSIG(ws);
  }
  return s;
}

std::optional<uint16_t> parsePort(std::string_view digits) {
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  unsigned port = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port == 0 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

std::optional<uint16_t> parseListenLine(std::string_view line) {
  if (line.substr(0, kListenPrefix.size()) != kListenPrefix) return std::nullopt;
  return parsePort(line.substr(kListenPrefix.size()));
}

// "listen api 127.0.0.1:PORT" -> {"api", PORT}.
std::optional<std::pair<std::string, uint16_t>> parseOtherListenLine(std::string_view line) {
  constexpr std::string_view kListen = "listen ";
  constexpr std::string_view kLoopback = " 127.0.0.1:";
  if (line.substr(0, kListen.size()) != kListen) return std::nullopt;
  line.remove_prefix(kListen.size());
  size_t at = line.find(kLoopback);
  if (at == 0 || at == std::string_view::npos) return std::nullopt;
  auto port = parsePort(line.substr(at + kLoopback.size()));
  if (!port) return std::nullopt;
  return std::make_pair(std::string(line.substr(0, at)), *port);
}

}  // namespace

std::string ExitStatus::describe() const {
  switch (kind) {
    case Kind::kExited:
      return "exited with status " + std::to_string(code);
    case Kind::kSignaled:
      return std::string("killed by signal ") + std::to_string(signal) + " (" + strsignal(signal) +
             ")";
    case Kind::kKilledAfterTimeout:
      return "did not exit after SIGTERM; killed with SIGKILL";
    case Kind::kStillRunning:
      return "still running";
    case Kind::kNotStarted:
      break;
  }
  return "not running";
}

std::unique_ptr<TestServer> TestServer::start(const std::string& binary,
                                              const std::vector<std::string>& args,
                                              std::string* error,
                                              std::chrono::milliseconds timeout) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    *error = std::string("pipe2: ") + std::strerror(errno);
    return nullptr;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawnattr_t attr;
  initChildSpawnAttr(&attr);

  std::vector<std::string> argvStrings;
  argvStrings.push_back(binary);
  argvStrings.insert(argvStrings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argvStrings) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::unique_ptr<TestServer> server(new TestServer());
  int rc = posix_spawn(&server->pid_, binary.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    server->pid_ = -1;
    server->reaped_ = true;
    *error = "posix_spawn " + binary + ": " + std::strerror(rc);
    return nullptr;
  }
  server->pipeFd_ = fds[0];
  server->reader_ = std::thread([s = server.get()] { s->readLoop(); });

  bool ready;
  {
    std::unique_lock lock(server->mu_);
    ready = server->cv_.wait_for(lock, timeout,
                                 [&] { return server->listening_ || server->pipeClosed_; });
    ready = server->listening_;
  }
  if (!ready) {
    std::string why = server->pipeClosed_ ? "exited before printing the listen line"
                                          : "printed no `listen ws 127.0.0.1:PORT` line within " +
                                                std::to_string(timeout.count()) + " ms";
    ExitStatus st = server->stop(std::chrono::milliseconds(2000));
    *error = binary + " " + why + " (" + st.describe() + "); output:\n" + server->startupOutput();
    return nullptr;
  }
  return server;
}

TestServer::~TestServer() {
  stop();
}

void TestServer::readLoop() {
  std::string pending;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(pipeFd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      std::lock_guard lock(mu_);
      if (listening_) {
        if (auto other = parseOtherListenLine(line)) {
          otherPorts_.push_back(*other);
          cv_.notify_all();
        }
        std::fprintf(stderr, "[ringcast %d] %s\n", static_cast<int>(pid_), line.c_str());
      } else if (auto port = parseListenLine(line)) {
        port_ = *port;
        listening_ = true;
        cv_.notify_all();
      } else {
        startup_ += line;
        startup_ += '\n';
      }
    }
  }
  std::lock_guard lock(mu_);
  if (!pending.empty()) {
    if (listening_) {
      std::fprintf(stderr, "[ringcast %d] %s\n", static_cast<int>(pid_), pending.c_str());
    } else {
      startup_ += pending;
    }
  }
  pipeClosed_ = true;
  cv_.notify_all();
}

bool TestServer::reapNoHang() {
  if (reaped_) return true;
  int ws = 0;
  pid_t r = ::waitpid(pid_, &ws, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = fromWaitStatus(ws);
  }
  return reaped_;
}

uint16_t TestServer::listenPort(std::string_view name, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  uint16_t port = 0;
  cv_.wait_for(lock, timeout, [&] {
    for (const auto& [n, p] : otherPorts_) {
      if (n == name) port = p;
    }
    return port != 0 || pipeClosed_;
  });
  return port;
}

bool TestServer::running() {
  return pid_ > 0 && !reapNoHang();
}

bool TestServer::terminate() {
  if (pid_ <= 0 || reapNoHang()) return false;
  return ::kill(pid_, SIGTERM) == 0;
}

ExitStatus TestServer::waitExit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!reapNoHang()) {
    if (Clock::now() >= deadline) return ExitStatus{ExitStatus::Kind::kStillRunning};
    std::this_thread::sleep_for(kReapPollInterval);
  }
  return status_;
}

void TestServer::killAndReap() {
  ::kill(pid_, SIGKILL);
  int ws = 0;
  while (::waitpid(pid_, &ws, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  status_ = fromWaitStatus(ws);
}

ExitStatus TestServer::kill() {
  if (pid_ > 0 && !reapNoHang()) killAndReap();
  return status_;
}

ExitStatus TestServer::stop(std::chrono::milliseconds timeout) {
  if (pid_ > 0 && !reapNoHang()) {
    ::kill(pid_, SIGTERM);
    if (waitExit(timeout).kind == ExitStatus::Kind::kStillRunning) {
      killAndReap();
      status_.kind = ExitStatus::Kind::kKilledAfterTimeout;
    }
  }
  // The child held the only write end, so the reader sees EOF once the process is gone.
  if (reader_.joinable()) reader_.join();
  if (pipeFd_ >= 0) {
    ::close(pipeFd_);
    pipeFd_ = -1;
  }
  return status_;
}

std::string TestServer::startupOutput() const {
  std::lock_guard lock(mu_);
  return startup_;
}

}  // namespace ringcast::test
