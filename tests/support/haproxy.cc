#include "tests/support/haproxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/child_process.h"

namespace ringcast::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kStartTimeout{10000};
constexpr std::chrono::milliseconds kStopTimeout{5000};
constexpr std::chrono::milliseconds kPollInterval{10};

bool acceptsConnections(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// The words of `line` and the indentation before the first.
std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string indentOf(const std::string& line) {
  return line.substr(0, line.find_first_not_of(' '));
}

std::string join(const std::vector<std::string>& w) {
  std::string s;
  for (const std::string& x : w) s += (s.empty() ? "" : " ") + x;
  return s;
}

}  // namespace

bool Haproxy::installed() {
  return ::access(kBinary, X_OK) == 0;
}

std::unique_ptr<Haproxy> Haproxy::start(const std::string& config, uint16_t frontendPort,
                                        std::string* error) {
  std::unique_ptr<Haproxy> h(new Haproxy());
  char tmpl[] = "/tmp/ringcast-haproxy-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    *error = std::string("mkdtemp: ") + std::strerror(errno);
    return nullptr;
  }
  h->dir_ = tmpl;
  h->port_ = frontendPort;
  const std::string path = h->dir_ + "/haproxy.cfg";
  std::ofstream(path) << config;
  h->pid_ = spawnChild({kBinary, "-db", "-f", path}, h->dir_ + "/haproxy.log", error);
  if (h->pid_ < 0) return nullptr;
  const auto deadline = Clock::now() + kStartTimeout;
  while (!acceptsConnections(frontendPort)) {
    if (!h->running() || Clock::now() >= deadline) {
      *error = fmt::format("haproxy did not listen on 127.0.0.1:{}; its output:\n{}\nconfig:\n{}",
                           frontendPort, h->log(), config);
      return nullptr;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return h;
}

bool Haproxy::running() {
  if (pid_ <= 0) return false;
  int ws = 0;
  if (::waitpid(pid_, &ws, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

Haproxy::~Haproxy() {
  if (running()) {
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + kStopTimeout;
    while (running() && Clock::now() < deadline) std::this_thread::sleep_for(kPollInterval);
    if (running()) {
      ::kill(pid_, SIGKILL);
      int ws = 0;
      ::waitpid(pid_, &ws, 0);
    }
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string Haproxy::log() const {
  std::ifstream in(dir_ + "/haproxy.log");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string loopbackConfig(const std::string& config, uint16_t frontendPort,
                           const std::vector<HaproxyNode>& nodes, std::string* error) {
  std::istringstream in(config);
  std::string out;
  size_t servers = 0;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> w = words(line);
    if (!w.empty() && w[0] == "bind" && w.size() >= 2) {
      w[1] = fmt::format("127.0.0.1:{}", frontendPort);
      line = indentOf(line) + join(w);
    } else if (!w.empty() && w[0] == "server") {
      if (servers >= nodes.size() || w.size() < 6 || w[3] != "check" || w[4] != "port") {
        *error =
            "unexpected server line (or more than " + std::to_string(nodes.size()) + "): " + line;
        return "";
      }
      w[2] = fmt::format("127.0.0.1:{}", nodes[servers].wsPort);
      w[5] = std::to_string(nodes[servers].apiPort);
      line = indentOf(line) + join(w);
      ++servers;
    }
    out += line + "\n";
  }
  if (servers != nodes.size()) {
    *error = fmt::format("{} server lines for {} nodes", servers, nodes.size());
    return "";
  }
  return out;
}

}  // namespace ringcast::test
