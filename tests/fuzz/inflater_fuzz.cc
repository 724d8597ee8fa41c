// libFuzzer target for ws::Inflater, which inflates client messages under a size bound
// (RFC 7692 7.2.2; a decompression bomb must stop at the bound). Input layout:
//   byte 0     bit 0 set: round trip; the rest of the input is a message that
//              ws::deflateMessage compresses (level from bits 1-3) and the Inflater must give
//              back exactly. Clear: the rest is arbitrary compressed data.
//   byte 1     the output bound: 0 .. 255 * 257 bytes (byte * 257), so small bounds and
//              bounds past zlib's 16 KiB steps are both reached
//   bytes 2-3  slice sizes (each byte + 1), used in turn to cut the data into feed() calls
//   bytes 4-   the data
// Arbitrary data is inflated twice, in slices and in one piece: both must give the same
// result, never more than bound + 1 bytes, and kTooBig only past the bound.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ws/deflate.h"

namespace {

using ringcast::ws::Inflater;

constexpr size_t kHeaderBytes = 4;
constexpr size_t kRoundTripBound = size_t{1} << 20;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Feeds data in slices of sizes[0], sizes[1], sizes[0], ... (whole when a size is 0), then
// the message end; stops at the first result that is not kOk.
Inflater::Result inflateAll(std::string_view data, size_t s0, size_t s1, size_t maxOut,
                            std::string* out) {
  Inflater inflater;
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t pos = 0;
  for (size_t slice = 0; pos < data.size(); ++slice) {
    const size_t want = (slice % 2 ? s1 : s0);
    const size_t n = want == 0 ? data.size() - pos : std::min(want, data.size() - pos);
    const Inflater::Result r = inflater.feed(p + pos, n, out, maxOut);
    check(out->size() <= maxOut + 1);
    if (r != Inflater::Result::kOk) return r;
    pos += n;
  }
  const Inflater::Result r = inflater.finish(out, maxOut);
  check(out->size() <= maxOut + 1);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeaderBytes) return 0;
  const bool roundTrip = data[0] & 1;
  const size_t maxOut = size_t{data[1]} * 257;
  const size_t s0 = size_t{data[2]} + 1, s1 = size_t{data[3]} + 1;
  std::string_view body(reinterpret_cast<const char*>(data) + kHeaderBytes, size - kHeaderBytes);
  if (roundTrip) {
    std::string compressed;
    ringcast::ws::deflateMessage(body, 1 + ((data[0] >> 1) & 7), &compressed);
    std::string out;
    check(inflateAll(compressed, s0, s1, kRoundTripBound, &out) == Inflater::Result::kOk);
    check(out == body);
    return 0;
  }
  std::string sliced, whole;
  const Inflater::Result a = inflateAll(body, s0, s1, maxOut, &sliced);
  const Inflater::Result b = inflateAll(body, 0, 0, maxOut, &whole);
  check(a == b);
  if (a == Inflater::Result::kTooBig) check(sliced.size() > maxOut && whole.size() > maxOut);
  if (a == Inflater::Result::kOk) check(sliced == whole && whole.size() <= maxOut);
  return 0;
}
