#include "bench/client/coordinator.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/core.h>

#include "bench/client/cpu_usage.h"
#include "bench/client/delivery_ledger.h"
#include "bench/client/ipc.h"
#include "bench/client/publisher.h"
#include "bench/client/report.h"
#include "bench/client/worker.h"
#include "core/clock.h"
#include "net/loop_group.h"
#include "net/socket_ops.h"

namespace ringcast::bench {
namespace {

constexpr int kPollMs = 20;
constexpr int64_t kProgressEveryMs = 500;
// After stop/finish: how long workers may take to close and report before they are killed.
constexpr int64_t kResultTimeoutMs = 10'000;

struct Child {
  pid_t pid = -1;
  int ctrlFd = -1;  // parent -> child
  int outFd = -1;   // child -> parent
  MessageReader reader;
  Counters snapshot;
  bool reported = false;  // sent at least one snapshot
  bool hasResult = false;
  bool gone = false;  // its pipe closed
  Stats result;
  std::string fatal;
};

uint64_t expectedUnique(const Options& o, const std::vector<uint64_t>& expected);

enum class Phase { kConnecting, kSettling, kMeasuring, kAcks, kDelivering, kStopping };

// The fanout publishers: one loop thread of the parent and its PublisherShard.
struct Publishers {
  WorkerContext ctx;
  std::unique_ptr<PublisherShard> shard;  // destroyed after the loop (see runWorker)
  std::unique_ptr<net::LoopGroup> group;

  template <class Fn>
  void post(Fn fn) {
    PublisherShard* s = shard.get();
    group->loop(0).queueInLoop([s, fn] { fn(*s); });
  }
};

class Coordinator {
 public:
  explicit Coordinator(const Options& o) : o_(o) { report_.options = &o_; }
  int run();

 private:
  bool forkWorkers();
  void startPublishers();
  void readChildren(int timeoutMs);
  Counters sum() const;
  // CPU ns of each --server-pid now (-1 for a pid that is gone).
  std::vector<int64_t> cpuOfServers() const {
    std::vector<int64_t> out;
    for (int pid : o_.serverPids) out.push_back(processCpuNs(pid));
    return out;
  }
  void sendAll(MsgType type, std::string_view payload = {});
  void goPhase();
  void endWindow(MsgType type, std::string_view payload);
  void fail(std::string message);
  void progress(const Counters& s, bool final);
  std::string noConnectionMessage(const Counters& s) const;
  void collect();
  std::string reap(Child& c);

  const Options& o_;
  std::vector<Child> children_;
  std::unique_ptr<DeliveryLedger> ledger_;  // --delivery-window
  Publishers pub_;
  RunReport report_;
  int signalFd_ = -1;
  bool signalled_ = false;
  Phase phase_ = Phase::kConnecting;
  int64_t startNs_ = 0, settledNs_ = 0, goNs_ = 0, endNs_ = 0, phaseNs_ = 0;
  // Per --server-pid: CPU ns at the start, when publishing began and when it ended.
  std::vector<int64_t> serverCpuStart_, serverCpuGo_, serverCpuEnd_;
  int64_t selfCpuGo_ = 0, selfCpuEnd_ = 0;
  int64_t cpuEndNs_ = 0;  // when the window's CPU times were read (fanout: after the drain)
  uint64_t lastUnique_ = 0;
  uint64_t expectedUnique_ = 0;  // fanout: what a complete delivery adds up to
  int64_t lastProgressMs_ = 0;
  uint64_t lastReceived_ = 0;
  int64_t lastRateNs_ = 0;
  bool progressShown_ = false;
};

int Coordinator::run() {
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGUSR1);
  // Blocked before the fork, so workers inherit the mask: a Ctrl-C reaches the parent
  // (through signalfd) and the workers finish the way the parent tells them.
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  signalFd_ = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
  for (int pid : o_.serverPids) {
    serverCpuStart_.push_back(processCpuNs(pid));
    if (serverCpuStart_.back() < 0) {
      fmt::print(stderr, "ringcast-bench: --server-pid {}: no such process\n", pid);
      return 2;
    }
  }
  startNs_ = monotonicNs();
  if (o_.mode == Mode::kFanout && o_.deliveryWindow > 0) {
    ledger_ =
        DeliveryLedger::create(static_cast<size_t>(o_.procs) * static_cast<size_t>(o_.threads));
    if (!ledger_) return 1;
  }
  if (!forkWorkers()) return 1;
  if (o_.mode == Mode::kFanout) startPublishers();

  while (true) {
    readChildren(kPollMs);
    const Counters s = sum();
    const int64_t now = monotonicNs();
    bool allReported = true, allResults = true;
    for (Child& c : children_) {
      allReported &= c.reported || c.gone;
      allResults &= c.hasResult || c.gone;
      if (!c.fatal.empty() && report_.fatal.empty()) fail("worker: " + c.fatal);
      if (c.gone && !c.hasResult && phase_ != Phase::kStopping && report_.fatal.empty()) {
        const pid_t pid = c.pid;
        fail(fmt::format("worker process {} ended unexpectedly ({})", pid, reap(c)));
      }
    }
    if (!report_.fatal.empty() && phase_ != Phase::kStopping) {
      endWindow(MsgType::kStop, {});
      continue;
    }
    progress(s, false);
    switch (phase_) {
      case Phase::kConnecting: {
        if (signalled_) {
          fail("interrupted before every connection was open");
          break;
        }
        const bool workersSettled = o_.mode == Mode::kHandshake || (allReported && s.pending == 0);
        if (!workersSettled) break;
        if (o_.mode != Mode::kHandshake && s.openNow == 0) {
          fail(noConnectionMessage(s));
          break;
        }
        if (o_.mode == Mode::kFanout) {
          Counters p;
          if (!pub_.shard->snapshot(&p) || p.pending > 0) break;
          if (p.openNow < o_.publishConns) {
            fail(fmt::format("{} of {} publisher connections to {} failed:\n{}",
                             o_.publishConns - p.openNow, o_.publishConns,
                             o_.publishOverWs ? o_.publishWs.text : o_.publishUrl.text,
                             describeFailures(p)));
            break;
          }
          if (settledNs_ == 0) settledNs_ = now;
          if (s.readyNow < s.openNow) {
            if (now - settledNs_ > o_.timeoutMs * 1'000'000) {
              fail(
                  fmt::format("{} of {} subscribers never received a frame containing "
                              "--ready-match '{}'",
                              s.openNow - s.readyNow, s.openNow, o_.readyMatch));
            }
            break;
          }
          phase_ = Phase::kSettling;
          phaseNs_ = now;
          break;
        }
        goPhase();
        break;
      }
      case Phase::kSettling:
        if (now - phaseNs_ >= o_.settleMs * 1'000'000) goPhase();
        break;
      case Phase::kMeasuring: {
        const int64_t lengthMs = o_.mode == Mode::kIdle ? o_.holdMs : o_.durationMs;
        bool timeUp = lengthMs > 0 && now - goNs_ >= lengthMs * 1'000'000;
        if (o_.mode == Mode::kFanout && o_.messages > 0) {
          pub_.shard->requestSnapshot();
          Counters p;
          timeUp |= pub_.shard->snapshot(&p) && p.published >= o_.messages;
        }
        if (o_.mode == Mode::kHandshake &&
            s.gaveUp == static_cast<uint64_t>(o_.procs * o_.threads) && s.opened == 0) {
          fail(noConnectionMessage(s));
          break;
        }
        if (!timeUp && !signalled_) break;
        report_.interrupted = signalled_ && !(o_.mode == Mode::kIdle && o_.holdMs == 0);
        if (o_.mode == Mode::kFanout) {
          pub_.post([](PublisherShard& p) { p.stop(); });
          endNs_ = now;
          phase_ = Phase::kAcks;
          phaseNs_ = now;
          break;
        }
        endWindow(MsgType::kStop, {});
        break;
      }
      case Phase::kAcks: {
        pub_.shard->requestSnapshot();
        Counters p;
        pub_.shard->snapshot(&p);
        if (p.publishInflight > 0 && now - phaseNs_ < o_.drainTimeoutMs * 1'000'000) break;
        pub_.group->stop();
        report_.expected = pub_.shard->expected();
        report_.publisher = pub_.shard->stats();
        expectedUnique_ = expectedUnique(o_, report_.expected);
        phase_ = Phase::kDelivering;
        phaseNs_ = now;
        lastUnique_ = s.unique;
        break;
      }
      case Phase::kDelivering: {
        const bool complete = s.subscribers == o_.conns - o_.stalled && s.unique >= expectedUnique_;
        if (s.unique != lastUnique_) {
          lastUnique_ = s.unique;
          phaseNs_ = now;
        }
        const bool stalled = now - phaseNs_ >= o_.drainTimeoutMs * 1'000'000;
        if (!complete && !stalled && !signalled_) break;
        std::string payload(reinterpret_cast<const char*>(report_.expected.data()),
                            report_.expected.size() * sizeof(uint64_t));
        endWindow(MsgType::kFinish, payload);
        break;
      }
      case Phase::kStopping:
        if (allResults || now - phaseNs_ >= kResultTimeoutMs * 1'000'000) {
          collect();
          progress(s, true);
          if (!o_.jsonPath.empty()) {
            FILE* f = std::fopen(o_.jsonPath.c_str(), "we");
            if (f == nullptr) {
              fmt::print(stderr, "ringcast-bench: --json {}: {}\n", o_.jsonPath,
                         std::strerror(errno));
            } else {
              const std::string json = formatJson(report_);
              std::fwrite(json.data(), 1, json.size(), f);
              std::fclose(f);
            }
          }
          const std::string text = formatReport(report_);
          std::fwrite(text.data(), 1, text.size(), stdout);
          std::fflush(stdout);
          if (!report_.fatal.empty()) {
            fmt::print(stderr, "ringcast-bench: {}\n", report_.fatal);
            return 1;
          }
          return 0;
        }
        break;
    }
  }
}

bool Coordinator::forkWorkers() {
  const pid_t parent = ::getpid();
  for (int k = 0; k < o_.procs; ++k) {
    int ctrl[2], out[2];
    if (::pipe2(ctrl, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
      fmt::print(stderr, "ringcast-bench: pipe: {}\n", std::strerror(errno));
      return false;
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
      fmt::print(stderr, "ringcast-bench: fork: {}\n", std::strerror(errno));
      return false;
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) _exit(1);
      for (const Child& c : children_) {
        ::close(c.ctrlFd);
        ::close(c.outFd);
      }
      ::close(ctrl[1]);
      ::close(out[0]);
      ::close(signalFd_);
      sockets::raiseOpenFileLimit();
      // Before the worker's loop threads exist: they inherit it (nice is per thread).
      if (o_.mode == Mode::kFanout && o_.readerNice > 0 &&
          ::setpriority(PRIO_PROCESS, 0, o_.readerNice) != 0) {
        fmt::print(stderr, "ringcast-bench: --reader-nice {}: {}\n", o_.readerNice,
                   std::strerror(errno));
      }
      std::fflush(stdout);
      _exit(runWorker(o_, k, ctrl[0], out[1], ledger_.get()));
    }
    ::close(ctrl[0]);
    ::close(out[1]);
    Child c;
    c.pid = pid;
    c.ctrlFd = ctrl[1];
    c.outFd = out[0];
    children_.push_back(std::move(c));
  }
  return true;
}

void Coordinator::startPublishers() {
  pub_.ctx.options = &o_;
  pub_.ctx.ledger = ledger_.get();
  pub_.ctx.target = &o_.publishTargets.front();
  pub_.ctx.upgradeHead = upgradeHead(o_.publishWs, o_.headers);
  pub_.ctx.frameLimits.maxMessageBytes = 1 << 20;
  if (pub_.ctx.target->tls) pub_.ctx.tls = net::TlsContext::insecureClient(o_.ktls);
  Shard::Plan plan;
  plan.slots = o_.publishConns;
  plan.concurrency = o_.publishConns;
  pub_.group = std::make_unique<net::LoopGroup>(1);
  pub_.group->start([this, plan](net::EventLoop& loop) {
    pub_.shard = std::make_unique<PublisherShard>(&loop, &pub_.ctx, plan);
    pub_.shard->start();
  });
}

void Coordinator::readChildren(int timeoutMs) {
  std::vector<pollfd> fds;
  for (const Child& c : children_) fds.push_back({c.gone ? -1 : c.outFd, POLLIN, 0});
  fds.push_back({signalFd_, POLLIN, 0});
  ::poll(fds.data(), fds.size(), timeoutMs);
  if (fds.back().revents & POLLIN) {
    signalfd_siginfo info;
    while (::read(signalFd_, &info, sizeof info) == sizeof info) signalled_ = true;
  }
  for (size_t i = 0; i < children_.size(); ++i) {
    Child& c = children_[i];
    if (c.gone || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    if (!c.reader.readFrom(c.outFd)) c.gone = true;
    MsgType type;
    std::string payload;
    while (c.reader.next(&type, &payload)) {
      if (type == MsgType::kSnapshot && payload.size() == sizeof(Counters)) {
        std::memcpy(&c.snapshot, payload.data(), sizeof(Counters));
        c.reported = true;
      } else if (type == MsgType::kResult) {
        c.hasResult = c.result.readFrom(payload);
        if (!c.hasResult) c.fatal = "unreadable result";
      } else if (type == MsgType::kFatal) {
        c.fatal = payload;
      }
    }
  }
  if (pub_.shard && pub_.group && phase_ < Phase::kAcks) pub_.shard->requestSnapshot();
}

Counters Coordinator::sum() const {
  Counters s;
  for (const Child& c : children_) s.merge(c.hasResult ? c.result.c : c.snapshot);
  return s;
}

void Coordinator::sendAll(MsgType type, std::string_view payload) {
  for (Child& c : children_) {
    if (!c.gone) writeMessage(c.ctrlFd, type, payload);
  }
}

void Coordinator::goPhase() {
  const int64_t now = monotonicNs();
  report_.connectSec = (now - startNs_) / 1e9;
  if (o_.mode == Mode::kIdle || o_.mode == Mode::kFanout) {
    const Counters s = sum();
    if (o_.mode == Mode::kIdle) {
      fmt::print("holding {} connections\n", s.openNow);
      std::fflush(stdout);
    }
    if (!o_.readyFile.empty()) {
      if (FILE* f = std::fopen(o_.readyFile.c_str(), "we")) {
        fmt::print(f, "{}\n", s.openNow);
        std::fclose(f);
      } else {
        fmt::print(stderr, "ringcast-bench: --ready-file {}: {}\n", o_.readyFile,
                   std::strerror(errno));
      }
    }
  }
  if (o_.mode == Mode::kFanout) {
    // What the readers run at, read back from the workers (not the option: a refused
    // setpriority shows here).
    for (const Child& c : children_) {
      errno = 0;
      const int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(c.pid));
      if (errno == 0) report_.readerNice = std::max(report_.readerNice, nice);
    }
  }
  serverCpuGo_ = cpuOfServers();
  selfCpuGo_ = selfCpuNs();
  goNs_ = monotonicNs();
  sendAll(MsgType::kGo);
  if (pub_.shard) pub_.post([](PublisherShard& p) { p.go(); });
  phase_ = Phase::kMeasuring;
}

void Coordinator::endWindow(MsgType type, std::string_view payload) {
  const int64_t now = monotonicNs();
  if (goNs_ != 0 && endNs_ == 0) endNs_ = now;
  cpuEndNs_ = now;
  if (goNs_ != 0) serverCpuEnd_ = cpuOfServers();
  selfCpuEnd_ = selfCpuNs();
  if (goNs_ == 0) sendAll(MsgType::kGo);  // a failed start: let workers close and report
  sendAll(type, payload);
  if (pub_.group && phase_ < Phase::kAcks) {
    pub_.post([](PublisherShard& p) { p.stop(); });
    pub_.group->stop();
    report_.publisher = pub_.shard->stats();
  }
  phase_ = Phase::kStopping;
  phaseNs_ = now;
}

void Coordinator::fail(std::string message) {
  if (report_.fatal.empty()) report_.fatal = std::move(message);
}

std::string Coordinator::noConnectionMessage(const Counters& s) const {
  std::string m = fmt::format("could not open any WebSocket to {}", o_.url.text);
  if (s.failures[static_cast<size_t>(Failure::kRejected)] > 0) {
    for (size_t i = 0; i < CodeCounts::kSlots; ++i) {
      if (s.rejectedStatus.count[i] == 0) continue;
      m +=
          fmt::format("; the server rejected the handshake with HTTP {}", s.rejectedStatus.code[i]);
      break;
    }
  } else if (s.failures[static_cast<size_t>(Failure::kRefused)] > 0) {
    m += "; connection refused (is the server running on that port?)";
  }
  std::string failures = describeFailures(s);
  if (!failures.empty() && failures.back() == '\n') failures.pop_back();
  return m + ":\n" + failures;
}

void Coordinator::progress(const Counters& s, bool final) {
  if (!o_.progress) return;
  if (final) {
    if (progressShown_) fmt::print(stderr, "\r\x1b[K");
    return;
  }
  const int64_t nowMs = monotonicMs();
  if (nowMs - lastProgressMs_ < kProgressEveryMs) return;
  lastProgressMs_ = nowMs;
  const int64_t now = monotonicNs();
  const uint64_t done = o_.mode == Mode::kHandshake ? s.cycles
                        : o_.mode == Mode::kFanout  ? s.deliveries
                                                    : s.received;
  const double perSec =
      lastRateNs_ == 0 ? 0 : (done - lastReceived_) * 1e9 / static_cast<double>(now - lastRateNs_);
  lastReceived_ = done;
  lastRateNs_ = now;
  const char* phase = phase_ == Phase::kConnecting  ? "connecting"
                      : phase_ == Phase::kMeasuring ? "running"
                      : phase_ == Phase::kStopping  ? "closing"
                                                    : "draining";
  fmt::print(stderr, "\r\x1b[K[{:6.1f}s] {} | open {} pending {} failed {} lost {} | {:.0f}/s",
             (now - startNs_) / 1e9, phase, s.openNow, s.pending, s.failed(), s.lostOpen(), perSec);
  progressShown_ = true;
}

std::string Coordinator::reap(Child& c) {
  int status = 0;
  pid_t r;
  while ((r = ::waitpid(c.pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (r != c.pid) return "not reaped";
  c.pid = -1;
  if (WIFSIGNALED(status)) {
    return fmt::format("killed by signal {}, {}", WTERMSIG(status), strsignal(WTERMSIG(status)));
  }
  return fmt::format("exit status {}", WEXITSTATUS(status));
}

void Coordinator::collect() {
  for (Child& c : children_) {
    if (!c.hasResult && c.pid > 0) {
      ::kill(c.pid, SIGKILL);  // a worker that did not report in time
      if (report_.fatal.empty()) fail(fmt::format("worker {} did not report its results", c.pid));
    }
  }
  for (Child& c : children_) {
    if (c.pid > 0) reap(c);
    if (c.hasResult) report_.workers.merge(c.result);
    ::close(c.ctrlFd);
    ::close(c.outFd);
  }
  report_.windowSec = goNs_ != 0 && endNs_ > goNs_ ? (endNs_ - goNs_) / 1e9 : 0;
  const Counters& w = report_.workers.c;
  if (w.lastDeliveryNs > goNs_ && goNs_ != 0)
    report_.deliverySec = (w.lastDeliveryNs - goNs_) / 1e9;
  report_.cpuSec = goNs_ != 0 && cpuEndNs_ > goNs_ ? (cpuEndNs_ - goNs_) / 1e9 : 0;
  report_.clientCpuWindowNs = (selfCpuEnd_ - selfCpuGo_) + w.cpuWindowNs;
  report_.clientCpuTotalNs = selfCpuNs() + childrenCpuNs();
  const size_t pids = o_.serverPids.size();
  if (pids > 0 && serverCpuGo_.size() == pids && serverCpuEnd_.size() == pids) {
    const std::vector<int64_t> now = cpuOfServers();
    report_.serverCpuWindowNs = report_.serverCpuTotalNs = 0;
    for (size_t i = 0; i < pids; ++i) {
      const int64_t window =
          serverCpuGo_[i] >= 0 && serverCpuEnd_[i] >= 0 ? serverCpuEnd_[i] - serverCpuGo_[i] : 0;
      report_.serverCpuWindowPerPidNs.push_back(window);
      report_.serverCpuWindowNs += window;
      const int64_t last = now[i] >= 0 ? now[i] : serverCpuEnd_[i];
      if (last >= 0 && serverCpuStart_[i] >= 0)
        report_.serverCpuTotalNs += last - serverCpuStart_[i];
    }
  }
}

// What all subscribers together should receive once, when every one of them is ready:
// for each channel, its subscribers times what the publishers got accepted on it.
uint64_t expectedUnique(const Options& o, const std::vector<uint64_t>& expected) {
  const uint32_t k = o.channels.count();
  std::vector<uint64_t> perChannel(k, 0);
  for (size_t i = 0; i < expected.size(); ++i) perChannel[i % k] += expected[i];
  const std::vector<uint64_t> readers = readersPerChannel(o);
  uint64_t total = 0;
  for (uint32_t c = 0; c < k; ++c) total += perChannel[c] * readers[c];
  return total;
}

}  // namespace

int runCoordinator(const Options& o) {
  Coordinator c(o);
  return c.run();
}

}  // namespace ringcast::bench
