// Raw DEFLATE for black-box permessage-deflate tests (RFC 7692 7.2), written on zlib
// directly and sharing no code with ws/deflate.*, so a bug there cannot mirror itself here.
// compressMessage() is what a client does to a message (7.2.1: compress, then remove the
// trailing 00 00 FF FF of the sync flush); inflateMessage() is what a receiver does (7.2.2:
// append 00 00 FF FF, then inflate). Pure functions, safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ringcast::test {

// The payload of a compressed message: raw deflate with a 2^windowBits window (9..15),
// sync-flushed, the trailing 00 00 FF FF removed. With a preset `dictionary` the output may
// refer back into it, which a receiver without that dictionary must reject (invalid data).
std::string compressMessage(std::string_view payload, int level = 6, int windowBits = 15,
                            std::string_view dictionary = {});
// The inflated message, or nullopt when `compressed` (tail appended) is not valid deflate
// data for a 2^windowBits window (8..15) or inflates past maxBytes.
std::optional<std::string> inflateMessage(std::string_view compressed, int windowBits = 15,
                                          size_t maxBytes = size_t{64} << 20);
// A decompression bomb: a valid compressed payload (as compressMessage() makes them) that
// inflates to `mebibytes` MiB of zero bytes while being about 1 KiB per MiB on the wire.
std::string zeroBomb(size_t mebibytes);

}  // namespace ringcast::test
