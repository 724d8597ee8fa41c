#include "net/socket_ops.h"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace ringcast::sockets {

uint16_t Address::port() const {
  if (storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

void Address::setPort(uint16_t port) {
  if (storage.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
  }
}

std::string Address::toString() const {
  char host[INET6_ADDRSTRLEN] = "?";
  if (storage.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, host,
              sizeof host);
    return fmt::format("[{}]:{}", host, port());
  }
  inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, host, sizeof host);
  return fmt::format("{}:{}", host, port());
}

bool parseAddress(std::string_view text, Address* out) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 >= text.size()) return false;
  std::string_view host = text.substr(0, colon);
  std::string_view portText = text.substr(colon + 1);
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc() || ptr != portText.data() + portText.size() || port > 65535) return false;
  *out = Address{};
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    std::string h(host.substr(1, host.size() - 2));
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&out->storage);
    a6->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, h.c_str(), &a6->sin6_addr) != 1) return false;
    out->length = sizeof(sockaddr_in6);
  } else {
    std::string h = host == "localhost" ? std::string("127.0.0.1") : std::string(host);
    auto* a4 = reinterpret_cast<sockaddr_in*>(&out->storage);
    a4->sin_family = AF_INET;
    if (inet_pton(AF_INET, h.c_str(), &a4->sin_addr) != 1) return false;
    out->length = sizeof(sockaddr_in);
  }
  out->setPort(static_cast<uint16_t>(port));
  return true;
}

int listenReusePortOrDie(const Address& address) {
  int fd = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fmt::print(stderr, "ringcast: socket() for {} failed: {}\n", address.toString(),
               std::strerror(errno));
    std::exit(1);
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (::bind(fd, address.get(), address.length) != 0) {
    fmt::print(stderr, "ringcast: cannot listen on {}: {}\n", address.toString(),
               std::strerror(errno));
    std::exit(1);
  }
  // The kernel caps the backlog at net.core.somaxconn; ask for the most it allows, since
  // connection storms are normal for a push gateway (a deploy reconnects every client).
  if (::listen(fd, SOMAXCONN > 4096 ? SOMAXCONN : 4096) != 0) {
    fmt::print(stderr, "ringcast: listen() on {} failed: {}\n", address.toString(),
               std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

Address localAddress(int fd) {
  Address a;
  a.length = sizeof a.storage;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.length);
  return a;
}

void setNoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

uint64_t raiseOpenFileLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur;
}

}  // namespace ringcast::sockets
