// EventLoop: one edge-triggered epoll reactor per thread (one loop per core).
//
// A loop owns everything registered with it for that thing's whole life: listeners,
// connections, their timers. Every fd is registered once with IN|OUT|RDHUP|ET and never
// modified (no EPOLL_CTL_MOD per write). Handlers drain until EAGAIN or until a per-wake-up
// budget runs out, in which case they go on the "owes a read" list and are served next
// iteration, so no edge is lost (nginx's `ready` flag).
//
// One iteration: epoll_wait -> dispatch events -> serve owed reads -> run queued tasks ->
// fire timers -> flush dirty connections (writev; many messages, one syscall) -> free what
// was closed during the iteration (nothing is freed while events still point at it).
//
// Flushing is budgeted too: at most kFlushBudget connections per iteration, in the order they
// became dirty; the rest wait (the next epoll_wait does not block) for the next iteration. A
// fan-out to 10,000 sockets costs ~50 ms of send calls; cut into chunks, the loop reads its
// sockets and drains the ring between chunks, so a message published meanwhile joins the
// writes of every connection not flushed yet instead of waiting for the whole pass to end
// (delivery latency about one pass, not two), and requests are answered meanwhile.
// Connections marked urgent (TcpConnection::setUrgentWrites: the publish APIs) are flushed in
// full every iteration, before the budgeted list.
//
// Input goes first while the wait is short: every kProbeIntervalNs of flushing, epoll is
// asked (without blocking) whether anything became readable. If so, and the oldest waiting
// connection became dirty less than kMaxFlushHoldNs ago, the flush stops there and the next
// iteration dispatches those events (they were taken from epoll: they are kept, and nothing
// closed is freed until they are dispatched). Under a stream of publishes each waiting socket
// then takes the next batch's frames into the same writev instead of one writev per batch;
// the hold bound (a few milliseconds) caps a socket's extra wait however hot the input is,
// and trades latency for batching under saturation (BENCHMARKS.md, "A flush that yields").
//
// Thread safety: queueInLoop(), runInLoop(), quit() and connectionCount() are safe from any
// thread.
// Everything else is for the loop's own thread (asserted in debug builds).
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/thread_owner.h"
#include "net/timer_wheel.h"

namespace ringcast::net {

class TcpConnection;

// Anything registered with the poller. `events` is the epoll event mask.
class Pollable {
 public:
  virtual void handleEvents(uint32_t events) = 0;

 protected:
  ~Pollable() = default;
};

// Work a loop does once per iteration besides its sockets (the fan-out's ring drain).
class IterationHook {
 public:
  // Whether runIteration() has work now: the loop then does not sleep in epoll_wait.
  // Called after the loop announced that it is about to sleep (see EventLoop::wakeIfSleeping).
  virtual bool hasPendingWork() = 0;
  virtual void runIteration() = 0;
  // The longest the loop may sleep in epoll_wait before runIteration() must run again
  // (-1: no limit). Work parked for a retry asks for a short poll instead of a busy loop.
  virtual int maxPollWaitMs() { return -1; }

 protected:
  ~IterationHook() = default;
};

class EventLoop {
 public:
  using Task = std::function<void()>;

  explicit EventLoop(int id);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs iterations until quit(). Call on the thread that will own the loop.
  void run();
  // Safe from any thread: run() returns after the current iteration.
  void quit();
  // Safe from any thread: `task` runs on the loop thread after the current batch of events.
  void queueInLoop(Task task);
  // Runs `task` now when called on the loop thread, else queues it.
  void runInLoop(Task task);

  // Safe from any thread: wakes the loop if it is (about to be) parked in epoll_wait. A
  // producer calls it after making work visible to the loop's IterationHook; with the
  // seq_cst fence on both sides, either the loop sees the work or the producer sees it asleep.
  void wakeIfSleeping();
  // Installs the per-iteration hook. REQUIRES: loop thread, before work arrives.
  void setIterationHook(IterationHook* hook) { hook_ = hook; }

  bool isInLoopThread() const { return owner_.isOwnedByCurrentThread(); }
  void assertInLoopThread() const { owner_.assertOwned(); }

  // Registers `fd` once, edge-triggered for reading and writing. `p` must outlive the
  // registration (unregister, or close the fd, before freeing it).
  void add(int fd, Pollable* p);
  void remove(int fd);

  int id() const { return id_; }
  // Monotonic milliseconds, read once per iteration.
  int64_t nowMs() const { return nowMs_; }
  // Monotonic nanoseconds and wall-clock milliseconds of the same moment (right after
  // epoll_wait returned), for what the iteration's handlers stamp in bulk.
  int64_t nowNs() const { return nowNs_; }
  int64_t wallNowMs() const { return wallNowMs_; }
  TimerWheel& timers() { return timers_; }

  // The loop's shared read buffer: every connection reads into it, so an idle connection
  // keeps no read buffer of its own. Valid until the handler returns.
  uint8_t* readBuffer() { return readBuffer_.get(); }
  static constexpr size_t kReadBufferBytes = 256 * 1024;
  // Connections flushed per iteration (~2.5 ms of loopback send calls).
  static constexpr size_t kFlushBudget = 512;
  // How often a flush looks for ready input, and how long a dirty connection may be passed
  // over for it (see the file comment).
  static constexpr int64_t kProbeIntervalNs = 10'000;
  static constexpr int64_t kMaxFlushHoldNs = 5'000'000;

  // Connection bookkeeping (called by TcpConnection).
  void attach(TcpConnection* conn);        // a new live connection owned by this loop
  void markDirty(TcpConnection* conn);     // has queued bytes: flush at the end of an iteration
  void owesRead(TcpConnection* conn);      // hit its read budget with data left: serve next time
  void destroyLater(TcpConnection* conn);  // closed: unlinked now, freed after the iteration

  // Live connections on this loop. Safe from any thread (a relaxed snapshot).
  size_t connectionCount() const { return liveCount_.load(std::memory_order_relaxed); }
  // Iterations run so far (a load indicator). Safe from any thread (a relaxed snapshot).
  uint64_t iterations() const { return iterations_.load(std::memory_order_relaxed); }
  // Calls fn for every live connection (fn may close connections).
  void forEachConnection(const std::function<void(TcpConnection&)>& fn);

 private:
  static void fireConnectionDeadline(TimerNode* node, int64_t nowMs);
  void wakeup();
  void runQueuedTasks();
  void serveOwedReads();
  void flushDirty();
  // A non-blocking epoll_wait appending to the held events; true if one is more than EPOLLOUT.
  bool inputReady();
  // When dirty_[i] became dirty. REQUIRES: i >= dirtyHead_, not below the last call's i
  // since the last dropFlushedFront().
  int64_t dirtySinceNs(size_t i);
  void dropFlushedFront();  // dirty_[0, dirtyHead_) and their marks
  void freeClosed();
  int pollTimeoutMs() const;

  ThreadOwner owner_;
  const int id_;
  int epollFd_;
  int wakeFd_;
  // Reading the eventfd just clears the wake-up.
  struct WakeReader final : Pollable {
    explicit WakeReader(int f) : fd(f) {}
    void handleEvents(uint32_t) override;
    int fd;
  } wakeReader_;
  std::atomic<bool> quit_{false};
  int64_t nowMs_;
  int64_t nowNs_;
  int64_t wallNowMs_;
  TimerWheel timers_;
  std::unique_ptr<uint8_t[]> readBuffer_;
  std::vector<epoll_event> events_;
  int heldEvents_ = 0;  // events_[0, heldEvents_): taken by inputReady(), dispatched next

  std::mutex tasksMutex_;
  std::vector<Task> tasks_;  // guarded by tasksMutex_
  std::atomic<bool> sleeping_{false};
  IterationHook* hook_ = nullptr;
  std::atomic<uint64_t> iterations_{0};  // written by the loop only

  TcpConnection* liveHead_ = nullptr;        // intrusive list of live connections
  std::atomic<size_t> liveCount_{0};         // written by the loop only; read by anyone
  std::vector<TcpConnection*> urgentDirty_;  // flushed in full every iteration, first
  // [dirtyHead_, end) wait for a flush, oldest first; null: closed while waiting.
  std::vector<TcpConnection*> dirty_;
  size_t dirtyHead_ = 0;
  // When the waiting connections became dirty, one mark per iteration rather than a time per
  // entry: dirty_[first, the next mark's first) were added in the iteration of time ns.
  struct DirtyMark {
    size_t first;
    int64_t ns;
  };
  std::vector<DirtyMark> dirtyMarks_;
  size_t markHead_ = 0;  // at or before the mark of dirty_[dirtyHead_]
  std::vector<TcpConnection*> owedReads_;
  std::vector<TcpConnection*> closed_;
};

}  // namespace ringcast::net
