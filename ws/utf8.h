// Utf8Validator: incremental UTF-8 validation (RFC 3629) for text messages that arrive in
// fragments and TCP chunks. One byte of state; no allocation. Fails fast: feed() returns
// false as soon as the bytes fed so far can no longer be the prefix of valid UTF-8
// (overlong forms, surrogates, code points above U+10FFFF, bad continuation bytes), so a
// bad text frame is rejected before the rest of it arrives.
//
// Pure; an instance belongs to one parser and is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringcast::ws {

class Utf8Validator {
 public:
  // Validates the next `n` bytes of the stream. Returns false if the stream is invalid (and
  // keeps returning false until reset()).
  bool feed(const uint8_t* p, size_t n);
  // True if the bytes fed so far are valid and end on a character boundary.
  bool complete() const { return state_ == kAccept; }
  // True while the stream is still a valid prefix.
  bool ok() const { return state_ != kReject; }
  void reset() { state_ = kAccept; }

  // DFA states are bit offsets into a 64-bit transition row (see utf8.cc).
  static constexpr uint8_t kAccept = 0;
  static constexpr uint8_t kReject = 6;

 private:
  uint8_t state_ = kAccept;
};

// True if `s` is complete, valid UTF-8.
bool isValidUtf8(std::string_view s);

// The block kernels behind feed(), which picks the best one the CPU supports at startup.
// Exposed so that tests and benchmarks can run each kernel the CPU has.
enum class Utf8Kernel : uint8_t { kScalar, kAvx2, kAvx512 };
bool utf8KernelSupported(Utf8Kernel kernel);
// isValidUtf8 through one kernel. REQUIRES: utf8KernelSupported(kernel).
bool isValidUtf8With(Utf8Kernel kernel, std::string_view s);

}  // namespace ringcast::ws
