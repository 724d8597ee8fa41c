// SharedFrame: immutable, reference-counted bytes of one encoded WebSocket frame (or any
// byte string written to many sockets). Built once by the thread that encodes a message,
// then referenced by every write queue that sends it; freed by the last release().
//
// Thread safety: create() and the bytes are written by one thread before the frame is
// published; afterwards the bytes are read-only and acquire()/release() are safe from any
// thread. FrameRef is the RAII handle (move-only, like unique_ptr for one reference).
//
// Twin: a frame may carry a second encoding of the same message (the permessage-deflate
// frame), built at most once, lazily, by the first thread that wants it: claimTwin() lets
// exactly one caller build; until it publishes, the others see no twin and send this frame
// (an uncompressed frame is valid on every connection), so nobody waits. The twin is owned
// by this frame and freed with it.
//
// Messages: a frame may hold several whole WebSocket frames back to back (a loop joins the
// messages of one channel that it delivers in one pass, Shard::deliverRun); messages() says
// how many, so that a slow consumer's dropped count stays a count of messages.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string_view>
#include <utility>

namespace ringcast {

class SharedFrame {
 public:
  // Allocates a frame of `size` bytes with one reference owned by the caller. The bytes are
  // uninitialised; fill them through mutableData() before sharing the frame.
  static SharedFrame* create(uint32_t size) {
    void* mem = std::malloc(sizeof(SharedFrame) + size);
    if (mem == nullptr) throw std::bad_alloc();
    return new (mem) SharedFrame(size);
  }
  static SharedFrame* copyOf(std::string_view bytes) {
    SharedFrame* f = create(static_cast<uint32_t>(bytes.size()));
    if (!bytes.empty()) __builtin_memcpy(f->mutableData(), bytes.data(), bytes.size());
    return f;
  }

  void acquire() { refs_.fetch_add(1, std::memory_order_relaxed); }
  // n references in one atomic operation (a loop takes one per local subscriber at once).
  void acquireMany(uint32_t n) { refs_.fetch_add(n, std::memory_order_relaxed); }
  // Gives back n references taken with acquireMany; the caller still holds at least one.
  void releaseUnused(uint32_t n) { refs_.fetch_sub(n, std::memory_order_relaxed); }
  // The last release frees the frame. acq_rel: the freeing thread must see every write
  // made before other threads dropped their references.
  void release() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      if (SharedFrame* t = twin()) t->release();
      this->~SharedFrame();
      std::free(this);
    }
  }

  // The published twin, or nullptr (none built yet, being built, or none possible). The
  // pointer is borrowed: it lives as long as this frame. acquire: pairs with publishTwin.
  SharedFrame* twin() const {
    SharedFrame* t = twin_.load(std::memory_order_acquire);
    return t == kBuilding() || t == kNoTwin() ? nullptr : t;
  }
  // True for exactly one caller over the frame's life: that caller must publishTwin().
  bool claimTwin() {
    if (twin_.load(std::memory_order_relaxed) != nullptr) return false;
    SharedFrame* expected = nullptr;
    return twin_.compare_exchange_strong(expected, kBuilding(), std::memory_order_relaxed);
  }
  // Publishes the claimed twin (adopting its reference), or nullptr: "send the plain frame".
  // release: the twin's bytes are written before another thread can see the pointer.
  void publishTwin(SharedFrame* twin) {
    twin_.store(twin ? twin : kNoTwin(), std::memory_order_release);
  }

  const uint8_t* data() const { return bytes_; }
  uint8_t* mutableData() { return bytes_; }
  uint32_t size() const { return size_; }
  uint32_t messages() const { return messages_; }
  // Set by the thread that builds the frame, before it is shared.
  void setMessages(uint32_t n) { messages_ = n; }
  std::string_view view() const { return {reinterpret_cast<const char*>(bytes_), size_}; }
  uint32_t refCount() const { return refs_.load(std::memory_order_relaxed); }

 private:
  explicit SharedFrame(uint32_t size) : size_(size) {}
  // Sentinel values of twin_ (never valid frame addresses).
  static SharedFrame* kBuilding() { return reinterpret_cast<SharedFrame*>(uintptr_t{1}); }
  static SharedFrame* kNoTwin() { return reinterpret_cast<SharedFrame*>(uintptr_t{2}); }

  std::atomic<uint32_t> refs_{1};
  uint32_t size_;
  uint32_t messages_ = 1;
  std::atomic<SharedFrame*> twin_{nullptr};  // nullptr, kBuilding, kNoTwin or the twin
  uint8_t bytes_[];                          // flexible array member (GNU extension in C++)
};

// Owns one reference to a SharedFrame.
class FrameRef {
 public:
  FrameRef() = default;
  explicit FrameRef(SharedFrame* adopted) : f_(adopted) {}  // takes over one reference
  FrameRef(const FrameRef&) = delete;
  FrameRef& operator=(const FrameRef&) = delete;
  FrameRef(FrameRef&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  FrameRef& operator=(FrameRef&& o) noexcept {
    if (this != &o) {
      reset();
      f_ = std::exchange(o.f_, nullptr);
    }
    return *this;
  }
  ~FrameRef() { reset(); }

  // A second reference to the same frame.
  FrameRef share() const {
    if (f_) f_->acquire();
    return FrameRef(f_);
  }
  void reset() {
    if (f_) std::exchange(f_, nullptr)->release();
  }
  // Gives up ownership of the reference without releasing it (like unique_ptr::release).
  SharedFrame* detach() { return std::exchange(f_, nullptr); }
  SharedFrame* get() const { return f_; }
  SharedFrame* operator->() const { return f_; }
  explicit operator bool() const { return f_ != nullptr; }

 private:
  SharedFrame* f_ = nullptr;
};

}  // namespace ringcast
