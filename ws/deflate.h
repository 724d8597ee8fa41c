// zlib for permessage-deflate (RFC 7692 7.2): a bounded streaming Inflater for client
// messages and deflateMessage() for server messages. zlib rather than libdeflate because
// client messages arrive frame by frame and must be inflated with a running bound (a
// decompression bomb is stopped after maxOut bytes, not after it has been expanded);
// libdeflate only inflates whole buffers into a caller-sized output. BENCHMARKS.md has
// the compression-side comparison.
//
// Thread safety: an Inflater belongs to one connection's parser (its loop); deflateMessage
// is safe from any thread (each thread has its own zlib stream, reset for every message).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

struct z_stream_s;

namespace ringcast::ws {

// The 4 bytes a sync flush ends with; the sender strips them, the receiver appends them.
inline constexpr uint8_t kDeflateTail[4] = {0x00, 0x00, 0xFF, 0xFF};

class Inflater {
 public:
  enum class Result : uint8_t { kOk, kTooBig, kCorrupt };

  Inflater();  // raw inflate with a 15-bit window (accepts any client window)
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Inflates in[0, n) and appends the output to *out. kTooBig as soon as out->size()
  // would pass maxOut (at most maxOut + 1 bytes are ever written), kCorrupt on invalid
  // deflate data. After a final block (BFINAL) any further input is ignored.
  Result feed(const uint8_t* in, size_t n, std::string* out, size_t maxOut);
  // The end of the message: feeds kDeflateTail.
  Result finish(std::string* out, size_t maxOut) { return feed(kDeflateTail, 4, out, maxOut); }

  // Heap bytes zlib holds for one inflater (for metrics and the memory note above).
  static size_t approxHeapBytes();

 private:
  z_stream_s* z_;
  bool ended_ = false;
};

// Raw deflate of one whole message without context (the thread's stream, reset: sync
// flush, the trailing kDeflateTail removed), appended to *out. `level` is zlib's 1..9. Each
// thread that compresses keeps one zlib deflate state (about 256 KiB) for its lifetime.
void deflateMessage(std::string_view payload, int level, std::string* out);

}  // namespace ringcast::ws
