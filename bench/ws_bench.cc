// Micro-benchmarks of the ws/ frame layer: header parsing of many small frames, in-place
// unmasking and UTF-8 validation, each next to memcpy of the same size as the yardstick.
// The target: unmasking and validating 64 KiB runs at least half as fast as memcpy.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "ws/deflate.h"
#include "ws/frame_parser.h"
#include "ws/frame_writer.h"
#include "ws/mask.h"
#include "ws/utf8.h"

namespace ringcast::ws {
namespace {

struct CountingSink {
  size_t messages = 0;
  bool onMessage(Opcode, std::string_view) {
    ++messages;
    return true;
  }
  bool onPing(std::string_view) { return true; }
  bool onPong(std::string_view) { return true; }
  bool onClose(uint16_t, std::string_view) { return true; }
  void onError(CloseCode, std::string_view) {}
};

// A stream of 1024 masked binary frames with 16-byte payloads, parsed again each iteration
// (the payload is unmasked in place, which leaves the headers intact).
void BM_FrameHeaderParse(benchmark::State& state) {
  constexpr int kFrames = 1024;
  std::string stream;
  for (int i = 0; i < kFrames; ++i) {
    appendClientFrame(stream, Opcode::kBinary, true, "0123456789abcdef", 0x01020304u + i);
  }
  FrameLimits limits;
  FrameParser parser(Role::kServer, &limits);
  CountingSink sink;
  for (auto _ : state) {
    parser.consume(reinterpret_cast<uint8_t*>(stream.data()), stream.size(), sink);
  }
  if (sink.messages != static_cast<size_t>(kFrames) * state.iterations()) {
    state.SkipWithError("frames lost");
  }
  state.SetItemsProcessed(state.iterations() * kFrames);  // items/s = frames/s
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(stream.size()));
}
BENCHMARK(BM_FrameHeaderParse);

void BM_ApplyMask(benchmark::State& state) {
  std::vector<uint8_t> buf(state.range(0), 0x5A);
  const uint8_t key[4] = {0x37, 0xFA, 0x21, 0x3D};
  for (auto _ : state) {
    applyMask(buf.data(), buf.size(), key, 0);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ApplyMask)->Arg(64)->Arg(4096)->Arg(65536);

void BM_Memcpy(benchmark::State& state) {
  std::vector<uint8_t> src(state.range(0), 0x5A), dst(state.range(0));
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Memcpy)->Arg(64)->Arg(4096)->Arg(65536);

constexpr size_t kTextBytes = 64 * 1024;

std::string asciiText() {
  std::string s;
  while (s.size() < kTextBytes) s += "The quick brown fox jumps over the lazy dog. 0123456789\n";
  s.resize(kTextBytes);
  return s;
}

// Latin, Greek, Cyrillic, CJK and emoji: 1- to 4-byte characters, cut on a boundary.
std::string mixedText() {
  const std::string line =
      "Gr\xC3\xBC\xC3\x9F"
      "e, \xCE\xBA\xCE\xB1\xCE\xBB\xCE\xB7\xCE\xBC\xCE\xAD\xCF\x81\xCE\xB1 "
      "\xD0\xBC\xD0\xB8\xD1\x80 \xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C "
      "\xF0\x9F\x98\x80\xF0\x9F\x9A\x80 caf\xC3\xA9 \xE2\x82\xAC"
      "10\n";
  std::string s;
  while (s.size() + line.size() <= kTextBytes) s += line;
  while (s.size() < kTextBytes) s += 'x';
  return s;
}

void runValidator(benchmark::State& state, const std::string& text) {
  if (!isValidUtf8(text)) state.SkipWithError("invalid input");
  for (auto _ : state) {
    Utf8Validator v;
    bool ok = v.feed(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}

void runIsValid(benchmark::State& state, const std::string& text) {
  for (auto _ : state) {
    bool ok = isValidUtf8(text);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}

void BM_Utf8ValidatorAscii(benchmark::State& state) {
  runValidator(state, asciiText());
}
void BM_Utf8ValidatorMixed(benchmark::State& state) {
  runValidator(state, mixedText());
}
void BM_IsValidUtf8Ascii(benchmark::State& state) {
  runIsValid(state, asciiText());
}
void BM_IsValidUtf8Mixed(benchmark::State& state) {
  runIsValid(state, mixedText());
}
BENCHMARK(BM_Utf8ValidatorAscii);
BENCHMARK(BM_Utf8ValidatorMixed);
BENCHMARK(BM_IsValidUtf8Ascii);
BENCHMARK(BM_IsValidUtf8Mixed);

// Each block kernel this CPU runs (0 scalar DFA, 1 AVX2, 2 AVX-512) on the mixed text.
void BM_Utf8KernelMixed(benchmark::State& state) {
  const auto kernel = static_cast<Utf8Kernel>(state.range(0));
  if (!utf8KernelSupported(kernel)) {
    state.SkipWithError("kernel not supported by this CPU");
    return;
  }
  const std::string text = mixedText();
  for (auto _ : state) {
    bool ok = isValidUtf8With(kernel, text);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_Utf8KernelMixed)->Arg(0)->Arg(1)->Arg(2);

// The validator fed in 1 KiB chunks, as text arrives from a socket.
void BM_Utf8ValidatorMixedChunked(benchmark::State& state) {
  const std::string text = mixedText();
  constexpr size_t kChunk = 1024;
  for (auto _ : state) {
    Utf8Validator v;
    bool ok = true;
    for (size_t i = 0; i < text.size(); i += kChunk) {
      ok &= v.feed(reinterpret_cast<const uint8_t*>(text.data()) + i, kChunk);
    }
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_Utf8ValidatorMixedChunked);

}  // namespace
}  // namespace ringcast::ws

// permessage-deflate: one message compressed for every connection that negotiated it (the
// server's cost per message, whatever the subscriber count). A chat message of JSON text.
static void BM_DeflateMessage(benchmark::State& state) {
  std::string payload =
      R"({"type":"message","channel":"lobby","offset":12345,"from":"alice","ts":1764633600000,)"
      R"("data":{"type":"text","text":"Are we still on for the design review this afternoon? )"
      R"(I moved it to the large meeting room because the small one is booked."}})";
  while (payload.size() < static_cast<size_t>(state.range(0))) payload += payload;
  payload.resize(static_cast<size_t>(state.range(0)));
  std::string out;
  for (auto _ : state) {
    out.clear();
    ringcast::ws::deflateMessage(payload, 1, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_DeflateMessage)->Arg(420)->Arg(4096);
