// Free syscall wrappers for sockets (muduo's sockets:: namespace). Functions whose failure
// can only be a configuration error end in OrDie and exit with a clear message; the rest
// return -1 / false and leave errno set. Pure calls; any thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast::sockets {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  uint16_t port() const;
  void setPort(uint16_t port);
  std::string toString() const;  // "127.0.0.1:8080" or "[::1]:8080"
};

// Parses "HOST:PORT" with a numeric IPv4 or bracketed IPv6 host ("0.0.0.0:8080",
// "[::1]:0"; "localhost" means 127.0.0.1). Returns false on anything else.
bool parseAddress(std::string_view text, Address* out);

// A non-blocking, close-on-exec listening socket with SO_REUSEADDR and SO_REUSEPORT, so each
// loop can own a listener on the same port and the kernel spreads connections over them.
// Exits with a message naming the address when it cannot listen (port in use, bad address).
int listenReusePortOrDie(const Address& address);

// The address a bound socket actually got (resolves port 0).
Address localAddress(int fd);

void setNoDelay(int fd);

// Raises the soft RLIMIT_NOFILE to the hard limit and returns the soft limit in force.
uint64_t raiseOpenFileLimit();

}  // namespace ringcast::sockets
