// FixedPool: blocks of one size for what every connection holds for its whole life (its
// WsConnection, its Session), carved from slabs mapped for the purpose and reused through a
// free list.
//
// Why not the general heap: those objects are the bulk of an idle gateway's memory, and
// there each one carries the allocator's header and rounding, and sits between the
// short-lived allocations of the handshakes and first messages that were in flight when it
// was made. Those leave holes that stay resident beside every connection (about 50 B per
// connection at 18,000, measured with malloc_stats). Here the blocks are packed, and slabs
// hold nothing else.
//
// Memory: slabs are kept for reuse once mapped (the pool holds what its peak of live blocks
// needed; untouched pages of a slab are not resident). Under AddressSanitizer the pool is
// plain operator new/delete, so use-after-free and leaks of these objects are still found.
//
// Thread safety: allocate() and release() may be called from any thread (a mutex around a
// free-list pop or push; nothing slow is done under it but mapping a new slab, once per
// kSlabBytes of blocks).
#pragma once

#include <sys/mman.h>

#include <cassert>
#include <cstddef>
#include <mutex>
#include <new>

namespace ringcast {

#if defined(__SANITIZE_ADDRESS__)
#define RINGCAST_POOL_USES_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RINGCAST_POOL_USES_HEAP 1
#endif
#endif

template <size_t kObjectBytes>
class FixedPool {
 public:
  static constexpr size_t kBlockBytes = (kObjectBytes + 7) & ~size_t{7};
  static constexpr size_t kSlabBytes = 256 * 1024;
  static_assert(kBlockBytes >= sizeof(void*) && kBlockBytes <= kSlabBytes);

  static void* allocate() {
#ifdef RINGCAST_POOL_USES_HEAP
    return ::operator new(kObjectBytes);
#else
    return instance().pop();
#endif
  }
  // For a class's operator new: `bytes` is always kObjectBytes (the class is not derived from).
  static void* allocateFor(size_t bytes) {
    assert(bytes == kObjectBytes);
    (void)bytes;
    return allocate();
  }
  static void release(void* p) noexcept {
#ifdef RINGCAST_POOL_USES_HEAP
    ::operator delete(p);
#else
    if (p != nullptr) instance().push(p);
#endif
  }

 private:
  struct FreeBlock {
    FreeBlock* next;
  };

  // Never destroyed: blocks may be released during exit, after static destructors ran.
  static FixedPool& instance() {
    static FixedPool* pool = new FixedPool;
    return *pool;
  }

  void* pop() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (free_ == nullptr) {
      if (fresh_ == freshEnd_) mapSlab();
      void* block = fresh_;
      fresh_ += kBlockBytes;
      return block;
    }
    FreeBlock* block = free_;
    free_ = block->next;
    return block;
  }

  void push(void* p) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    auto* block = static_cast<FreeBlock*>(p);
    block->next = free_;
    free_ = block;
  }

  // Blocks are handed out from the slab's start as needed, so its pages are touched only
  // as far as blocks were used.
  void mapSlab() {
    void* slab =
        ::mmap(nullptr, kSlabBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (slab == MAP_FAILED) throw std::bad_alloc();
    fresh_ = static_cast<char*>(slab);
    freshEnd_ = fresh_ + kSlabBytes / kBlockBytes * kBlockBytes;
  }

  std::mutex mutex_;
  FreeBlock* free_ = nullptr;  // released blocks, the most recent first
  char* fresh_ = nullptr;      // never-used blocks of the newest slab
  char* freshEnd_ = nullptr;
};

}  // namespace ringcast
