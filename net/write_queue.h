// WriteQueue: the bytes queued for one socket, as references to SharedFrames plus the
// offset already written of the first one. Encoded frames are shared by every subscriber;
// the queue only holds references, so queueing a broadcast costs no copy.
//
// An empty queue owns no memory (idle connections must stay small), nor does a queue of one
// frame (the common case of a broadcast reaching a socket that keeps up: the frame waits in
// place, no array is allocated and freed for it). From the second frame on it is a ring
// that grows by doubling and is given back whenever the queue drains.
//
// Thread safety: owned by one connection on one loop. Unit-testable without sockets.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "core/shared_frame.h"

namespace ringcast::net {

class WriteQueue {
 public:
  WriteQueue() : one_{} {}
  ~WriteQueue() { clear(); }
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  void push(FrameRef frame);
  bool empty() const { return count_ == 0; }
  size_t frames() const { return count_; }
  // Bytes not yet written.
  uint64_t bytes() const { return bytes_; }

  // Fills up to `max` iovecs with the unwritten bytes, in order. Returns how many.
  int fill(iovec* iov, int max) const;
  // Copies up to `max` unwritten bytes, in order, to `out` (a TLS record is built from many
  // small frames). Returns how many.
  size_t copyFront(uint8_t* out, size_t max) const;
  // Drops `n` written bytes from the front (n <= bytes()).
  void consume(size_t n);
  // Drops every queued frame except, if `keepPartial`, a partly written first one (the
  // byte stream must not be cut mid-frame). Returns the number of messages dropped (a frame
  // counts SharedFrame::messages()), not counting `uncounted` (a frame the caller tracks,
  // such as its own notice), and says in
  // *uncountedDropped whether that one was among them.
  size_t dropQueued(bool keepPartial, const SharedFrame* uncounted = nullptr,
                    bool* uncountedDropped = nullptr);
  void clear() { dropQueued(false); }
  // Heap bytes the queue holds (its ring; none for one frame or none). For tests.
  size_t heapBytes() const { return capacity_ > 1 ? capacity_ * sizeof(Entry) : 0; }

 private:
  struct Entry {
    SharedFrame* frame;  // one reference owned by the queue
    uint32_t offset;     // bytes of it already written
  };
  void grow();
  void releaseRing();
  Entry& at(uint32_t i) { return capacity_ == 1 ? one_ : ring_[(head_ + i) & (capacity_ - 1)]; }
  const Entry& at(uint32_t i) const {
    return capacity_ == 1 ? one_ : ring_[(head_ + i) & (capacity_ - 1)];
  }

  static constexpr uint32_t kInitialCapacity = 4;  // of the ring; a power of two

  union {
    Entry one_;    // capacity_ == 1: the queue's one entry, in place
    Entry* ring_;  // capacity_ > 1: a ring of capacity_ entries
  };
  uint32_t capacity_ = 1;
  uint32_t head_ = 0;
  uint32_t count_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace ringcast::net
