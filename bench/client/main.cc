// ringcast-bench: the load-test client. Parses the command line and runs the coordinator,
// which forks the workers and reports.
#include "bench/client/coordinator.h"
#include "bench/client/options.h"

int main(int argc, char** argv) {
  const ringcast::bench::Options options = ringcast::bench::parseOptionsOrExit(argc, argv);
  return ringcast::bench::runCoordinator(options);
}
