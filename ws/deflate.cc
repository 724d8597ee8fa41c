#include "ws/deflate.h"

#include <zlib.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>

namespace ringcast::ws {
namespace {
// Output is grown by at most this much per inflate() call, so a bomb never makes the
// buffer jump far past the bound.
constexpr size_t kInflateChunkBytes = 16 << 10;
// raw deflate (negative: no zlib header), 32 KiB window, the largest RFC 7692 allows.
constexpr int kRawWindowBits = -15;
// zlib's default memLevel: 128 KiB of deflate state for a 1-byte-to-256-KiB message.
constexpr int kMemLevel = 8;
}  // namespace

Inflater::Inflater() : z_(new z_stream{}) {
  if (inflateInit2(z_, kRawWindowBits) != Z_OK) {
    delete z_;
    throw std::bad_alloc();
  }
}

Inflater::~Inflater() {
  inflateEnd(z_);
  delete z_;
}

Inflater::Result Inflater::feed(const uint8_t* in, size_t n, std::string* out, size_t maxOut) {
  if (ended_) return Result::kOk;
  z_->next_in = const_cast<Bytef*>(in);
  z_->avail_in = static_cast<uInt>(n);
  while (true) {
    if (out->size() > maxOut) return Result::kTooBig;
    const size_t room = std::min(kInflateChunkBytes, maxOut + 1 - out->size());
    const size_t before = out->size();
    out->resize(before + room);
    z_->next_out = reinterpret_cast<Bytef*>(out->data() + before);
    z_->avail_out = static_cast<uInt>(room);
    const int rc = inflate(z_, Z_SYNC_FLUSH);
    out->resize(before + room - z_->avail_out);
    if (rc == Z_STREAM_END) {
      ended_ = true;
      return out->size() > maxOut ? Result::kTooBig : Result::kOk;
    }
    // Past the bound wins over corrupt data further on: zlib may decode the next symbol
    // (and find it invalid) after filling the output, and whether it does depends on how
    // the input was cut, so this order gives the same result for every cut.
    if (out->size() > maxOut) return Result::kTooBig;
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_MEM_ERROR) return Result::kCorrupt;
    // Z_BUF_ERROR or Z_OK with output room left: all input is consumed.
    if (z_->avail_out != 0 && z_->avail_in == 0) return Result::kOk;
    if (rc == Z_BUF_ERROR && z_->avail_in == 0) return Result::kOk;
  }
}

size_t Inflater::approxHeapBytes() {
  return (size_t{1} << 15) + 7160;  // window + inflate_state (zlib 1.2.13 on x86-64)
}

namespace {

// One deflate stream per thread, reset for each message: deflateInit2 allocates and clears
// about 256 KiB of state, which cost several times the compression of a chat message itself.
// A reset stream has no context: each message is still compressed on its own.
class ThreadDeflater {
 public:
  ThreadDeflater() = default;
  ~ThreadDeflater() {
    if (ready_) deflateEnd(&z_);
  }
  ThreadDeflater(const ThreadDeflater&) = delete;
  ThreadDeflater& operator=(const ThreadDeflater&) = delete;

  // A stream at `level` with no history.
  z_stream& fresh(int level) {
    if (ready_ && level != level_) {
      deflateEnd(&z_);
      ready_ = false;
    }
    if (!ready_) {
      z_ = z_stream{};
      if (deflateInit2(&z_, level, Z_DEFLATED, kRawWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) !=
          Z_OK) {
        throw std::bad_alloc();
      }
      ready_ = true;
      level_ = level;
    } else {
      deflateReset(&z_);
    }
    return z_;
  }

 private:
  z_stream z_{};
  bool ready_ = false;
  int level_ = 0;
};

}  // namespace

void deflateMessage(std::string_view payload, int level, std::string* out) {
  thread_local ThreadDeflater deflater;
  z_stream& z = deflater.fresh(level);
  const size_t start = out->size();
  // Sync flush adds at most 5-6 bytes past deflateBound.
  const size_t bound = deflateBound(&z, payload.size()) + 16;
  out->resize(start + bound);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(payload.data()));
  z.avail_in = static_cast<uInt>(payload.size());
  z.next_out = reinterpret_cast<Bytef*>(out->data() + start);
  z.avail_out = static_cast<uInt>(bound);
  const int rc = deflate(&z, Z_SYNC_FLUSH);
  assert(rc == Z_OK && z.avail_in == 0);
  (void)rc;
  size_t produced = bound - z.avail_out;
  // A sync flush ends with an empty stored block, 00 00 FF FF: the receiver adds it back.
  assert(produced >= 4 && std::memcmp(out->data() + start + produced - 4, kDeflateTail, 4) == 0);
  out->resize(start + produced - 4);
}

}  // namespace ringcast::ws
