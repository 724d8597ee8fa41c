#include "net/loop_group.h"

#include <pthread.h>
#include <sched.h>

#include <condition_variable>
#include <mutex>

#include "core/log.h"

namespace ringcast::net {
namespace {

std::vector<int> allowedCpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
  }
  return cpus;
}

}  // namespace

int LoopGroup::availableCpus() {
  int n = static_cast<int>(allowedCpus().size());
  return n > 0 ? n : 1;
}

LoopGroup::LoopGroup(int threads) {
  for (int i = 0; i < threads; ++i) loops_.push_back(std::make_unique<EventLoop>(i));
}

LoopGroup::~LoopGroup() {
  stop();
}

void LoopGroup::start(const std::function<void(EventLoop&)>& init) {
  std::vector<int> cpus = allowedCpus();
  std::mutex m;
  std::condition_variable cv;
  int ready = 0;
  for (size_t i = 0; i < loops_.size(); ++i) {
    EventLoop* loop = loops_[i].get();
    threads_.emplace_back([&, loop] {
      {
        std::lock_guard<std::mutex> lock(m);
        // init runs on the loop thread, before its first iteration.
        loop->queueInLoop([loop, &init, &m, &cv, &ready] {
          init(*loop);
          std::lock_guard<std::mutex> inner(m);
          ++ready;
          cv.notify_all();
        });
      }
      loop->run();
    });
    if (!cpus.empty() && cpus.size() > 1) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpus[i % cpus.size()], &one);
      pthread_setaffinity_np(threads_.back().native_handle(), sizeof one, &one);
    }
  }
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return ready == static_cast<int>(loops_.size()); });
}

void LoopGroup::stop() {
  for (auto& l : loops_) l->quit();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace ringcast::net
