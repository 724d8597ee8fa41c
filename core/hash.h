// Hashing for channel and user keys: xxHash's XXH3 (fast on short keys, well distributed).
// StringHash is a transparent hasher, so maps keyed by std::string can be searched with a
// std::string_view without building a string. Pure; any thread.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace ringcast {

inline uint64_t hashKey(std::string_view key) {
  return XXH3_64bits(key.data(), key.size());
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return static_cast<size_t>(hashKey(s)); }
  size_t operator()(const std::string& s) const { return static_cast<size_t>(hashKey(s)); }
};

}  // namespace ringcast
