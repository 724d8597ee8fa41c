// Comparing what a caller sent with a configured secret (an API key) without telling, by
// the time it takes, how much of it was right. Pure; any thread.
#pragma once

#include <cstddef>
#include <string_view>

namespace ringcast {

// True when `given` equals `secret` and `secret` is not empty. Constant time in the
// secret's length: every secret byte is compared whatever `given` is.
inline bool secretMatches(std::string_view given, std::string_view secret) {
  unsigned diff = given.size() != secret.size() ? 1u : 0u;
  for (size_t i = 0; i < secret.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= g ^ static_cast<unsigned char>(secret[i]);
  }
  return diff == 0 && !secret.empty();
}

}  // namespace ringcast
