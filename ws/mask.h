// In-place XOR (un)masking of WebSocket payload bytes (RFC 6455 section 5.3). Pure; safe
// from any thread on buffers the caller owns.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringcast::ws {

// XORs data[0, len) with the 4-byte `key`, rotated as if `phase` payload bytes of the same
// frame came before this chunk, so the chunks of one frame can be unmasked as they arrive.
// Masking and unmasking are the same operation. No alignment is required.
void applyMask(uint8_t* data, size_t len, const uint8_t key[4], size_t phase);

}  // namespace ringcast::ws
