#include "bench/client/recovery_frames.h"

#include <charconv>

namespace ringcast::bench {
namespace {

// The envelope: everything before "data" (or the whole frame when it has none).
std::string_view envelope(std::string_view frame) {
  const size_t data = frame.find("\"data\":");
  return data == std::string_view::npos ? frame : frame.substr(0, data);
}

bool numberField(std::string_view env, std::string_view key, uint64_t* out) {
  const size_t at = env.find(key);
  if (at == std::string_view::npos) return false;
  const char* begin = env.data() + at + key.size();
  const auto [ptr, ec] = std::from_chars(begin, env.data() + env.size(), *out);
  return ec == std::errc() && ptr != begin;
}

void replaceAll(std::string* text, std::string_view what, std::string_view with) {
  for (size_t at = text->find(what); at != std::string::npos;
       at = text->find(what, at + with.size())) {
    text->replace(at, what.size(), with);
  }
}

}  // namespace

bool messageOffset(std::string_view frame, uint64_t* offset) {
  if (frame.substr(0, 17) != R"({"type":"message")") return false;
  return numberField(envelope(frame), R"("offset":)", offset);
}

bool subscribeReply(std::string_view frame, ReplyFields* out) {
  if (frame.substr(0, 15) != R"({"type":"reply")") return false;
  const std::string_view env = envelope(frame);
  if (env.find(R"("ok":true)") == std::string_view::npos) return false;
  if (!numberField(env, R"("offset":)", &out->offset)) return false;
  constexpr std::string_view kEpoch = R"("epoch":")";
  if (const size_t at = env.find(kEpoch); at != std::string_view::npos) {
    const size_t begin = at + kEpoch.size();
    const size_t end = env.find('"', begin);
    if (end != std::string_view::npos) out->epoch = std::string(env.substr(begin, end - begin));
  }
  if (env.find(R"("recovered":true)") != std::string_view::npos) {
    out->recovered = 1;
  } else if (env.find(R"("recovered":false)") != std::string_view::npos) {
    out->recovered = 0;
  }
  return true;
}

std::string fillSince(std::string_view templ, uint64_t offset, std::string_view epoch) {
  std::string out(templ);
  replaceAll(&out, "{offset}", std::to_string(offset));
  replaceAll(&out, "{epoch}", epoch);
  return out;
}

}  // namespace ringcast::bench
