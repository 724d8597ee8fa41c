#include "tests/support/raw_deflate.h"

#include <zlib.h>

#include <cstring>
#include <stdexcept>

namespace ringcast::test {
namespace {
constexpr char kTail[4] = {0x00, 0x00, char(0xFF), char(0xFF)};
}  // namespace

std::string compressMessage(std::string_view payload, int level, int windowBits,
                            std::string_view dictionary) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, -windowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  if (!dictionary.empty() &&
      deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dictionary.data()),
                           static_cast<uInt>(dictionary.size())) != Z_OK) {
    throw std::runtime_error("deflateSetDictionary failed");
  }
  std::string out(deflateBound(&z, payload.size()) + 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(payload.data()));
  z.avail_in = static_cast<uInt>(payload.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_SYNC_FLUSH);
  const size_t produced = out.size() - z.avail_out;
  deflateEnd(&z);
  if (rc != Z_OK || z.avail_in != 0 || produced < 4 ||
      std::memcmp(out.data() + produced - 4, kTail, 4) != 0) {
    throw std::runtime_error("deflate did not end with a sync flush");
  }
  out.resize(produced - 4);
  return out;
}

std::optional<std::string> inflateMessage(std::string_view compressed, int windowBits,
                                          size_t maxBytes) {
  z_stream z{};
  if (inflateInit2(&z, -windowBits) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  std::string in(compressed);
  in.append(kTail, 4);
  z.next_in = reinterpret_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  int rc;
  int dataType = 0;  // of the last call that made progress (a Z_BUF_ERROR call clears it)
  for (;;) {
    char chunk[64 << 10];
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    rc = inflate(&z, Z_SYNC_FLUSH);
    out.append(chunk, sizeof chunk - z.avail_out);
    if (rc == Z_BUF_ERROR && z.avail_in == 0) {
      rc = Z_OK;  // all input used, nothing pending
      break;
    }
    dataType = z.data_type;
    if (rc != Z_OK || out.size() > maxBytes || (z.avail_in == 0 && z.avail_out != 0)) break;
  }
  // Complete: the stream ended, or the appended empty stored block ended exactly at a block
  // boundary (zlib adds 128 to data_type there).
  const bool complete = rc == Z_STREAM_END || (rc == Z_OK && (dataType & 128));
  inflateEnd(&z);
  if (!complete || out.size() > maxBytes) return std::nullopt;
  return out;
}

std::string zeroBomb(size_t mebibytes) {
  // Each piece ends byte-aligned on a sync flush, and its back-references reach only zeros,
  // so pieces concatenate into one valid stream.
  const std::string piece = compressMessage(std::string(size_t{1} << 20, '\0'), 9);
  std::string bomb;
  bomb.reserve((piece.size() + 4) * mebibytes);
  for (size_t i = 0; i < mebibytes; ++i) {
    bomb += piece;
    bomb.append(kTail, 4);
  }
  bomb.resize(bomb.size() - 4);  // the last tail is the receiver's to add
  return bomb;
}

}  // namespace ringcast::test
