// libFuzzer target for ws::negotiateDeflate, the permessage-deflate offer parser. The input is
// one or more Sec-WebSocket-Extensions field values separated by '\n'. The answer must be
// empty exactly when nothing was negotiated, otherwise the fixed form with the negotiated
// window echoed; and the answer, offered back, must be accepted as it stands (it names only
// parameters the server understands, with valid values).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ws/permessage_deflate.h"

namespace {

using ringcast::ws::DeflateParams;
using ringcast::ws::negotiateDeflate;

constexpr size_t kMaxLines = 16;
constexpr std::string_view kBase =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  while (lines.size() < kMaxLines) {
    const size_t end = input.find('\n');
    lines.push_back(input.substr(0, end));
    if (end == std::string_view::npos) break;
    input.remove_prefix(end + 1);
  }
  std::string response = "left over";
  const DeflateParams params = negotiateDeflate(lines, &response);
  check(params.serverMaxWindowBits >= ringcast::ws::kMinWindowBits &&
        params.serverMaxWindowBits <= ringcast::ws::kMaxWindowBits);
  if (!params.enabled) {
    check(response.empty());
    check(params.serverMaxWindowBits == ringcast::ws::kMaxWindowBits);
    return 0;
  }
  check(response.substr(0, kBase.size()) == kBase);
  const std::string_view rest = std::string_view(response).substr(kBase.size());
  check(rest.empty() ||
        rest == "; server_max_window_bits=" + std::to_string(params.serverMaxWindowBits));
  // The answer is itself an acceptable offer that negotiates the same thing.
  std::string again;
  const std::string_view answer = response;
  const DeflateParams echoed = negotiateDeflate({&answer, 1}, &again);
  check(echoed.enabled && echoed.serverMaxWindowBits == params.serverMaxWindowBits);
  check(again == response);
  return 0;
}
