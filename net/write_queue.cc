#include "net/write_queue.h"

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>

namespace ringcast::net {

void WriteQueue::grow() {
  const uint32_t newCapacity = capacity_ == 1 ? kInitialCapacity : capacity_ * 2;
  auto* fresh = static_cast<Entry*>(std::malloc(sizeof(Entry) * newCapacity));
  if (fresh == nullptr) throw std::bad_alloc();
  for (uint32_t i = 0; i < count_; ++i) fresh[i] = at(i);
  if (capacity_ > 1) std::free(ring_);
  ring_ = fresh;
  capacity_ = newCapacity;
  head_ = 0;
}

// Idle connections keep no array: most of a gateway's sockets are idle most of the time, and
// a small malloc per burst costs less than holding one per socket.
void WriteQueue::releaseRing() {
  if (capacity_ > 1) std::free(ring_);
  one_ = {};
  capacity_ = 1;
  head_ = 0;
}

void WriteQueue::push(FrameRef frame) {
  if (frame->size() == 0) return;
  if (count_ == capacity_) grow();
  SharedFrame* f = frame.detach();  // the queue now owns the reference
  bytes_ += f->size();
  at(count_) = Entry{f, 0};
  ++count_;
}

int WriteQueue::fill(iovec* iov, int max) const {
  int n = 0;
  for (uint32_t i = 0; i < count_ && n < max; ++i, ++n) {
    const Entry& e = at(i);
    iov[n].iov_base = const_cast<uint8_t*>(e.frame->data() + e.offset);
    iov[n].iov_len = e.frame->size() - e.offset;
  }
  return n;
}

size_t WriteQueue::copyFront(uint8_t* out, size_t max) const {
  size_t copied = 0;
  for (uint32_t i = 0; i < count_ && copied < max; ++i) {
    const Entry& e = at(i);
    const size_t n = std::min<size_t>(e.frame->size() - e.offset, max - copied);
    std::memcpy(out + copied, e.frame->data() + e.offset, n);
    copied += n;
  }
  return copied;
}

void WriteQueue::consume(size_t n) {
  assert(n <= bytes_);
  bytes_ -= n;
  while (n > 0) {
    Entry& e = at(0);
    size_t left = e.frame->size() - e.offset;
    if (n < left) {
      e.offset += static_cast<uint32_t>(n);
      return;
    }
    n -= left;
    e.frame->release();
    head_ = (head_ + 1) & (capacity_ - 1);
    --count_;
  }
  if (count_ == 0) releaseRing();
}

size_t WriteQueue::dropQueued(bool keepPartial, const SharedFrame* uncounted,
                              bool* uncountedDropped) {
  uint32_t keep = (keepPartial && count_ > 0 && at(0).offset > 0) ? 1 : 0;
  size_t dropped = 0;
  if (uncountedDropped != nullptr) *uncountedDropped = false;
  while (count_ > keep) {
    Entry& e = at(count_ - 1);
    bytes_ -= e.frame->size() - e.offset;
    if (uncounted != nullptr && e.frame == uncounted) {
      if (uncountedDropped != nullptr) *uncountedDropped = true;
    } else {
      dropped += e.frame->messages();
    }
    e.frame->release();
    --count_;
  }
  if (count_ == 0) releaseRing();
  return dropped;
}

}  // namespace ringcast::net
