// LineClient: a blocking line-oriented client for the TCP publish protocol (docs/PROTOCOL.md,
// "TCP publish protocol"), on loopback, for black-box tests.
//
// Thread safety: one thread drives a LineClient.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace ringcast::test {

// One TCP protocol command with its payload: "PUB news 2\r\nhi\r\n".
inline std::string tcpCommand(std::string_view head, std::string_view payload) {
  return std::string(head) + " " + std::to_string(payload.size()) + "\r\n" + std::string(payload) +
         "\r\n";
}

class LineClient {
 public:
  ~LineClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connect(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // The next line without its CRLF; "<EOF>" when the server closed, "<TIMEOUT>" otherwise.
  std::string line(std::chrono::milliseconds timeout = std::chrono::milliseconds{5000}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (size_t eol = in_.find("\r\n"); eol != std::string::npos) {
        std::string l = in_.substr(0, eol);
        in_.erase(0, eol + 2);
        return l;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "<TIMEOUT>";
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) return in_.empty() ? "<EOF>" : std::exchange(in_, "") + "<EOF>";
      in_.append(buf, static_cast<size_t>(n));
    }
  }
  // True when nothing arrives within `window`.
  bool silent(std::chrono::milliseconds window) { return line(window) == "<TIMEOUT>"; }

 private:
  int fd_ = -1;
  std::string in_;
};

}  // namespace ringcast::test
