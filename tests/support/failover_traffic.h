// Traffic for tests that take a node away while messages flow:
// - ResumingSubscriber: one /ws client of one channel, read on its own thread. When its
//   connection ends (its node died) it connects again, to the next port of its list, retrying
//   within a deadline, and subscribes with `since` = {the last offset it saw, the epoch}, as
//   docs/PROTOCOL.md tells a client to. It keeps every offset it was sent, across all its
//   connections, so a test can assert zero loss, zero duplicates and order end to end.
// - SteadyPublisher: POST /api/publish {"m":k} for k = 1..count at a steady rate, through a
//   list of API ports in turn, on its own thread; every publish must be accepted with offset k
//   (it is the channel's only publisher, so the cluster's offsets are its own count).
//
// Thread safety: one thread owns each object; its accessors may be called from that thread
// while the object's own thread runs.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/push_client.h"

namespace ringcast::test {

class ResumingSubscriber {
 public:
  // How long a lost subscriber keeps trying to get back in (a load balancer may need a few
  // health checks to take a dead node out).
  static constexpr Millis kReconnectWindow{15000};

  ResumingSubscriber(std::vector<uint16_t> ports, std::string user, std::string channel);
  ~ResumingSubscriber();  // stop()
  ResumingSubscriber(const ResumingSubscriber&) = delete;
  ResumingSubscriber& operator=(const ResumingSubscriber&) = delete;

  // Connects to the first port that takes the client and subscribes, on the caller's thread;
  // then reads on its own thread.
  ::testing::AssertionResult start();
  // True once the subscriber was sent offset `last`; false at the timeout or when it gave up.
  bool waitForOffset(uint64_t last, Millis timeout);
  void stop();

  // Offsets 1..last, each once, in order, each message carrying {"m":offset}; and nothing
  // went wrong on the way (a refused resubscribe, a recovery:false, a lost reconnect).
  ::testing::AssertionResult gotExactlyInOrder(uint64_t last) const;
  int reconnects() const;
  // The port of the connection it holds now (which the last reconnect reached).
  uint16_t port() const;

 private:
  // Connects to ports_[turn_ % size] and subscribes (with since after the first time).
  bool connectAndSubscribe(std::string* why);
  void readLoop();
  void fail(std::string why);

  const std::vector<uint16_t> ports_;
  const std::string user_;
  const std::string channel_;
  std::unique_ptr<PushClient> client_;  // only the reading thread touches it after start()
  std::string epoch_;                   // from the first subscribe reply
  size_t turn_ = 0;
  int nextId_ = 1;
  std::atomic<bool> stopping_{false};
  std::thread reader_;

  mutable std::mutex mu_;  // guards the members below, shared with reader_
  std::condition_variable cv_;
  std::vector<uint64_t> offsets_;  // every message offset received, in arrival order
  std::string failure_;            // the first thing that went wrong; "" while all is well
  int reconnects_ = 0;
  uint16_t port_ = 0;
  bool gaveUp_ = false;
};

class SteadyPublisher {
 public:
  SteadyPublisher(std::vector<uint16_t> apiPorts, std::string channel, uint64_t count,
                  Millis interval);
  ~SteadyPublisher();  // stops after the publish in flight, joins
  SteadyPublisher(const SteadyPublisher&) = delete;
  SteadyPublisher& operator=(const SteadyPublisher&) = delete;

  void start();
  // True once `k` publishes were accepted; false at the timeout or after a failure.
  bool waitPublished(uint64_t k, Millis timeout);
  // Waits for the last publish; every one accepted with offset k, or what went wrong.
  ::testing::AssertionResult finish(Millis timeout);
  uint64_t published() const { return published_.load(); }

 private:
  void run();

  const std::vector<uint16_t> apiPorts_;
  const std::string channel_;
  const uint64_t count_;
  const Millis interval_;
  std::thread thread_;
  std::atomic<uint64_t> published_{0};
  std::atomic<bool> done_{false};
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;  // guards failure_
  std::string failure_;
};

}  // namespace ringcast::test
