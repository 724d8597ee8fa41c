// ringcast: parse the flags (a node without --node-id is named host-pid), print them, run the
// gateway until SIGINT/SIGTERM (SIGHUP reloads the TLS certificate).
#include <signal.h>

#include "core/flags.h"
#include "core/log.h"
#include "push/gateway.h"

int main(int argc, char** argv) {
  ringcast::Flags flags = ringcast::parseFlagsOrDie(argc, argv);
  if (flags.nodeId.empty()) flags.nodeId = ringcast::defaultNodeId();
  ringcast::LogLevel level;
  ringcast::parseLogLevel(flags.logLevel, &level);  // validated by the flag parser
  ringcast::setLogLevel(level);

  // Writes to a socket the peer closed must fail with EPIPE, not kill the process.
  signal(SIGPIPE, SIG_IGN);
  // Block the stop and reload signals before any thread starts: every loop thread inherits
  // the mask and the main thread takes them with sigwait().
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ringcast::push::Gateway gateway(flags);
  return gateway.run();
}
