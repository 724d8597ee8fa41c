#include "net/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/clock.h"
#include "core/log.h"
#include "net/tcp_connection.h"

namespace ringcast::net {
namespace {

constexpr int kMaxEventsPerWait = 1024;

}  // namespace

void EventLoop::fireConnectionDeadline(TimerNode* node, int64_t nowMs) {
  // Every node in a loop's wheel is a TcpConnection (the only timer user).
  static_cast<TcpConnection*>(node)->fireDeadline(nowMs);
}

EventLoop::EventLoop(int id)
    : id_(id),
      epollFd_(::epoll_create1(EPOLL_CLOEXEC)),
      wakeFd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      wakeReader_(wakeFd_),
      nowMs_(monotonicMs()),
      nowNs_(monotonicNs()),
      wallNowMs_(wallMs()),
      timers_(nowMs_, &fireConnectionDeadline),
      readBuffer_(new uint8_t[kReadBufferBytes]),
      events_(kMaxEventsPerWait) {
  if (epollFd_ < 0 || wakeFd_ < 0) {
    RC_LOG_ERROR("loop {}: epoll/eventfd creation failed: {}", id, std::strerror(errno));
    std::abort();
  }
  add(wakeFd_, &wakeReader_);
}

EventLoop::~EventLoop() {
  owner_.adoptByCurrentThread();  // the loop thread has ended; whoever destroys us owns us
  forEachConnection([](TcpConnection& c) { c.closeNow(); });
  freeClosed();
  ::close(wakeFd_);
  ::close(epollFd_);
}

void EventLoop::add(int fd, Pollable* p) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = p;
  if (::epoll_ctl(epollFd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    RC_LOG_ERROR("loop {}: epoll_ctl(ADD, {}) failed: {}", id_, fd, std::strerror(errno));
  }
}

void EventLoop::remove(int fd) {
  ::epoll_ctl(epollFd_, EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::run() {
  owner_.adoptByCurrentThread();
  setThreadLoopId(id_);
  while (!quit_.load(std::memory_order_acquire)) {
    int n = heldEvents_;
    if (n > 0) {
      heldEvents_ = 0;  // taken while the last flush looked for input
    } else {
      sleeping_.store(true, std::memory_order_seq_cst);
      // Pairs with the fence in wakeIfSleeping(): either that producer sees the flag and
      // wakes us, or pollTimeoutMs() below sees its work through the hook and does not block.
      std::atomic_thread_fence(std::memory_order_seq_cst);
      n = ::epoll_wait(epollFd_, events_.data(), static_cast<int>(events_.size()), pollTimeoutMs());
      sleeping_.store(false, std::memory_order_relaxed);
    }
    nowNs_ = monotonicNs();
    nowMs_ = nowNs_ / 1'000'000;
    wallNowMs_ = wallMs();
    for (int i = 0; i < n; ++i) {
      static_cast<Pollable*>(events_[i].data.ptr)->handleEvents(events_[i].events);
    }
    serveOwedReads();
    runQueuedTasks();
    if (hook_ != nullptr) hook_->runIteration();
    timers_.advance(nowMs_);
    flushDirty();
    if (heldEvents_ == 0) freeClosed();  // held events may point at what closed meanwhile
    iterations_.store(iterations_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
}

int EventLoop::pollTimeoutMs() const {
  if (!owedReads_.empty() || dirtyHead_ < dirty_.size()) return 0;
  if (hook_ != nullptr && hook_->hasPendingWork()) return 0;
  {
    std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(tasksMutex_));
    if (!tasks_.empty()) return 0;
  }
  int64_t t = timers_.msUntilNextTick(monotonicMs());
  if (hook_ != nullptr) {
    const int cap = hook_->maxPollWaitMs();
    if (cap >= 0 && (t < 0 || t > cap)) t = cap;
  }
  return t < 0 ? -1 : static_cast<int>(t);
}

void EventLoop::quit() {
  quit_.store(true, std::memory_order_release);
  if (!isInLoopThread()) wakeup();
}

void EventLoop::WakeReader::handleEvents(uint32_t) {
  uint64_t value;
  while (::read(fd, &value, sizeof value) > 0) {
  }
}

void EventLoop::wakeIfSleeping() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_relaxed)) wakeup();
}

void EventLoop::wakeup() {
  uint64_t one = 1;
  ssize_t ignored = ::write(wakeFd_, &one, sizeof one);
  (void)ignored;
}

void EventLoop::queueInLoop(Task task) {
  {
    std::lock_guard<std::mutex> lock(tasksMutex_);
    tasks_.push_back(std::move(task));
  }
  // Wake only a loop that sleeps (or may be about to): a busy loop runs the task at the end
  // of its iteration anyway. seq_cst pairs with the store before epoll_wait.
  if (!isInLoopThread() && sleeping_.load(std::memory_order_seq_cst)) wakeup();
}

void EventLoop::runInLoop(Task task) {
  if (isInLoopThread()) {
    task();
  } else {
    queueInLoop(std::move(task));
  }
}

void EventLoop::runQueuedTasks() {
  std::vector<Task> batch;
  {
    std::lock_guard<std::mutex> lock(tasksMutex_);
    batch.swap(tasks_);
  }
  for (Task& t : batch) t();
}

void EventLoop::attach(TcpConnection* conn) {
  conn->liveNext_ = liveHead_;
  conn->livePrev_ = nullptr;
  if (liveHead_ != nullptr) liveHead_->livePrev_ = conn;
  liveHead_ = conn;
  liveCount_.store(liveCount_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void EventLoop::forEachConnection(const std::function<void(TcpConnection&)>& fn) {
  assertInLoopThread();
  for (TcpConnection* c = liveHead_; c != nullptr;) {
    TcpConnection* next = c->liveNext_;  // fn may close (unlink) c
    fn(*c);
    c = next;
  }
}

void EventLoop::markDirty(TcpConnection* conn) {
  if (conn->dirty_) return;
  conn->dirty_ = true;
  if (conn->urgent_) {
    urgentDirty_.push_back(conn);
    return;
  }
  if (dirtyMarks_.empty() || dirtyMarks_.back().ns != nowNs_) {
    dirtyMarks_.push_back({dirty_.size(), nowNs_});
  }
  dirty_.push_back(conn);
}

void EventLoop::owesRead(TcpConnection* conn) {
  if (conn->owesRead_) return;
  conn->owesRead_ = true;
  owedReads_.push_back(conn);
}

void EventLoop::destroyLater(TcpConnection* conn) {
  if (conn->livePrev_ != nullptr) {
    conn->livePrev_->liveNext_ = conn->liveNext_;
  } else {
    liveHead_ = conn->liveNext_;
  }
  if (conn->liveNext_ != nullptr) conn->liveNext_->livePrev_ = conn->livePrev_;
  conn->liveNext_ = conn->livePrev_ = nullptr;
  liveCount_.store(liveCount_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  closed_.push_back(conn);
}

void EventLoop::serveOwedReads() {
  if (owedReads_.empty()) return;
  std::vector<TcpConnection*> batch;
  batch.swap(owedReads_);
  for (TcpConnection* c : batch) {
    if (c->state_ == TcpConnection::State::kClosed || !c->owesRead_) continue;
    c->handleRead(true);  // read until EAGAIN: the edge that brought the data is gone
  }
}

void EventLoop::flushDirty() {
  // flush() may close a connection (closed ones stay allocated until freeClosed()) or make
  // one dirty again (appended: flushed in a later chunk).
  auto flushOne = [](TcpConnection* c) {
    if (c == nullptr) return;  // closed while it waited
    if (c->flushHook_) {
      c->flushHook_ = false;
      if (c->state_ == TcpConnection::State::kOpen) c->onFlush();  // may queue (still dirty)
    }
    c->dirty_ = false;
    if (c->state_ != TcpConnection::State::kClosed && !c->writeBlocked_) c->flush();
  };
  for (size_t i = 0; i < urgentDirty_.size(); ++i) flushOne(urgentDirty_[i]);
  urgentDirty_.clear();
  const size_t end = std::min(dirty_.size(), dirtyHead_ + kFlushBudget);
  size_t i = dirtyHead_;
  int64_t probeAtNs = monotonicNs() + kProbeIntervalNs;
  while (i < end) {
    flushOne(dirty_[i++]);
    if (i == end) continue;
    const int64_t now = monotonicNs();
    if (now < probeAtNs) continue;
    probeAtNs = now + kProbeIntervalNs;
    if (now - dirtySinceNs(i) < kMaxFlushHoldNs && inputReady()) break;
  }
  dirtyHead_ = i;
  // Amortized: the flushed front is dropped once it is half of the list.
  if (dirtyHead_ >= dirty_.size() / 2) dropFlushedFront();
}

int64_t EventLoop::dirtySinceNs(size_t i) {
  while (markHead_ + 1 < dirtyMarks_.size() && dirtyMarks_[markHead_ + 1].first <= i) ++markHead_;
  return dirtyMarks_[markHead_].ns;
}

void EventLoop::dropFlushedFront() {
  if (dirtyHead_ == dirty_.size()) {
    dirty_.clear();
    dirtyMarks_.clear();
  } else {
    dirty_.erase(dirty_.begin(), dirty_.begin() + static_cast<ptrdiff_t>(dirtyHead_));
    dirtyMarks_.erase(dirtyMarks_.begin(), dirtyMarks_.begin() + static_cast<ptrdiff_t>(markHead_));
    // Marks of the dropped part end up at 0; dirtySinceNs() steps to the last of them.
    for (DirtyMark& m : dirtyMarks_) m.first = m.first > dirtyHead_ ? m.first - dirtyHead_ : 0;
  }
  dirtyHead_ = 0;
  markHead_ = 0;
}

bool EventLoop::inputReady() {
  const int room = static_cast<int>(events_.size()) - heldEvents_;
  if (room <= 0) return false;
  const int n = ::epoll_wait(epollFd_, events_.data() + heldEvents_, room, 0);
  bool readable = false;
  for (int i = heldEvents_; i < heldEvents_ + n; ++i) {
    readable |= (events_[i].events & ~static_cast<uint32_t>(EPOLLOUT)) != 0;
  }
  heldEvents_ += std::max(n, 0);
  return readable;  // only room to write again is no reason to stop writing
}

void EventLoop::freeClosed() {
  if (closed_.empty()) return;
  // A closed connection may still sit on the owes-a-read list; drop it from there first.
  // The same for the dirty list (its waiting part: the flushed front is dropped with it).
  auto isClosed = [](TcpConnection* c) { return c->state_ == TcpConnection::State::kClosed; };
  std::erase_if(owedReads_, isClosed);
  dropFlushedFront();
  // Nulled, not erased: the marks keep their positions.
  for (TcpConnection*& c : dirty_) {
    if (c != nullptr && isClosed(c)) c = nullptr;
  }
  for (TcpConnection* c : closed_) delete c;
  closed_.clear();
}

}  // namespace ringcast::net
