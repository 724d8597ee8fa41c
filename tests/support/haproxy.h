// Haproxy: Debian's real haproxy (/usr/sbin/haproxy) as a child process in front of ringcast
// nodes on loopback. start() writes the configuration to a temporary directory, runs haproxy
// in the foreground (-db) with its output in that directory's haproxy.log, and waits until
// the frontend port accepts TCP connections. The destructor stops it (SIGTERM, then SIGKILL)
// and removes the directory. Only the pid this object spawned is ever signalled.
//
// loopbackConfig() turns the deployment configuration of docs/haproxy.cfg (addresses of a
// real network) into one for nodes on 127.0.0.1, changing nothing but the addresses, so
// the tested configuration is the documented one.
//
// Thread safety: one thread owns a Haproxy.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ringcast::test {

class Haproxy {
 public:
  static constexpr const char* kBinary = "/usr/sbin/haproxy";
  // True when kBinary exists and is executable.
  static bool installed();

  static std::unique_ptr<Haproxy> start(const std::string& config, uint16_t frontendPort,
                                        std::string* error);
  ~Haproxy();
  Haproxy(const Haproxy&) = delete;
  Haproxy& operator=(const Haproxy&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log() const;  // what haproxy printed so far

 private:
  Haproxy() = default;
  bool running();

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string dir_;
};

struct HaproxyNode {
  uint16_t wsPort = 0;   // where its `server` line sends clients
  uint16_t apiPort = 0;  // where its `check port` asks for /healthz
};

// `config` with `bind ADDR:PORT` as 127.0.0.1:frontendPort and the i-th `server NAME
// ADDR:PORT check port P ...` line as 127.0.0.1:nodes[i].wsPort, port nodes[i].apiPort.
// "" with the reason in *error when the number of server lines is not nodes.size() or a line
// has another shape.
std::string loopbackConfig(const std::string& config, uint16_t frontendPort,
                           const std::vector<HaproxyNode>& nodes, std::string* error);

}  // namespace ringcast::test
