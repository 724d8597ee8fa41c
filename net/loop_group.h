// LoopGroup: starts N EventLoop threads, pins each to one CPU of the process's affinity
// mask (so `taskset` still decides which CPUs the gateway may use), and stops and joins
// them in order.
//
// Thread safety: start(), stop() and the destructor are for the main thread. loop(i) may be
// read from any thread once start() returned (the loops live until stop()).
#pragma once

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "net/event_loop.h"

namespace ringcast::net {

class LoopGroup {
 public:
  explicit LoopGroup(int threads);
  ~LoopGroup();

  // Starts the threads; `init` runs first thing on each loop thread (set up listeners and
  // per-loop state there). Returns when every loop has run its init.
  void start(const std::function<void(EventLoop&)>& init);
  // Asks every loop to quit and joins the threads.
  void stop();

  int size() const { return static_cast<int>(loops_.size()); }
  EventLoop& loop(int i) { return *loops_[static_cast<size_t>(i)]; }

  // The number of CPUs this process may run on.
  static int availableCpus();

 private:
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::thread> threads_;
};

}  // namespace ringcast::net
