#include "core/json.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

namespace ringcast::json {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Bytes appendString must escape: '"', '\' and the C0 controls.
constexpr bool needsEscape(unsigned char c) {
  return c < 0x20 || c == '"' || c == '\\';
}

constexpr bool isWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Where a scalar token ends for simdjson's stage 1: at whitespace, a structural character
// or a quote.
constexpr bool endsToken(char c) {
  return isWhitespace(c) || c == '[' || c == ']' || c == '{' || c == '}' || c == ':' || c == ',' ||
         c == '"';
}

constexpr bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// RFC 8259 section 6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
bool isNumberToken(std::string_view t) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < t.size() && isDigit(t[i])) ++i;
    return i > start;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && t[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == t.size();
}

// A number token that simdjson may refuse although the grammar allows it: 19 bytes or more
// (integers from 2^63 on need 19 digits), or with an exponent. Shorter tokens without an
// exponent are below 10^18 in magnitude, which simdjson always represents.
bool mayBeOutOfRange(std::string_view t) {
  return t.size() >= 19 || t.find_first_of("eE") != std::string_view::npos;
}

// True when simdjson's number parser accepts the grammatical number token `t`, decided from
// the text alone (no parse, so an invalid document with many such tokens costs one pass):
// an integer (no fraction, no exponent) must fit int64 (negative) or uint64; any other number
// must not overflow a double (simdjson refuses infinities; an underflow reads as 0).
bool simdjsonRepresents(std::string_view t) {
  const char* first = t.data();
  const char* last = t.data() + t.size();
  if (t.find_first_of(".eE") == std::string_view::npos) {
    if (t[0] == '-') {
      int64_t v = 0;
      return std::from_chars(first, last, v).ec == std::errc();
    }
    uint64_t v = 0;
    return std::from_chars(first, last, v).ec == std::errc();
  }
  double v = 0;
  const auto r = std::from_chars(first, last, v);
  if (r.ec == std::errc()) return true;
  if (r.ec != std::errc::result_out_of_range) return false;
  // Out of range: an overflow (refused) or an underflow (read as 0), told apart by the sign
  // of the number's decimal magnitude, the leading digit's position plus the exponent.
  const size_t expAt = t.find_first_of("eE");
  const std::string_view mantissa = t.substr(t[0] == '-' ? 1 : 0, expAt - (t[0] == '-' ? 1 : 0));
  const size_t nonZero = mantissa.find_first_not_of("0.");
  if (nonZero == std::string_view::npos) return true;  // zero is never out of range
  const size_t dot = std::min(mantissa.find('.'), mantissa.size());
  int64_t magnitude = nonZero < dot ? static_cast<int64_t>(dot - nonZero) - 1
                                    : -static_cast<int64_t>(nonZero - dot);
  if (expAt != std::string_view::npos) {
    size_t k = expAt + 1;
    const bool negative = t[k] == '-';
    if (t[k] == '-' || t[k] == '+') ++k;
    int64_t exponent = 0;
    constexpr int64_t kSaturated = int64_t{1} << 40;  // far beyond any token's length
    for (; k < t.size() && exponent < kSaturated; ++k) exponent = exponent * 10 + (t[k] - '0');
    magnitude += negative ? -exponent : exponent;
  }
  return magnitude < 0;
}

}  // namespace

struct Parser::Impl {
  std::unique_ptr<char[]> buf;  // copy of the input followed by SIMDJSON_PADDING zero bytes
  size_t bufBytes = 0;          // allocated size of buf, padding included
  std::string_view text;        // the caller's input of the last successful parse()
  bool lastParseOk = false;     // the last parse() succeeded (rawMembers may run)
  simdjson::dom::parser dom;
  simdjson::ondemand::parser ondemand;

  // Copies `text` into buf, then SIMDJSON_PADDING zero bytes.
  void copyIn(std::string_view input) {
    const size_t need = input.size() + simdjson::SIMDJSON_PADDING;
    if (bufBytes > kRetainBytes + simdjson::SIMDJSON_PADDING && input.size() <= kRetainBytes) {
      // The last input was large: release its buffers now that a small one arrived.
      buf.reset();
      bufBytes = 0;
      dom = simdjson::dom::parser();
      ondemand = simdjson::ondemand::parser();
    }
    if (need > bufBytes) {
      buf = std::make_unique<char[]>(need);
      bufBytes = need;
    }
    std::memcpy(buf.get(), input.data(), input.size());
    std::memset(buf.get() + input.size(), 0, simdjson::SIMDJSON_PADDING);
  }

  simdjson::error_code domParse(size_t len, simdjson::dom::element* root) {
    return dom.parse(reinterpret_cast<const uint8_t*>(buf.get()), len, false).get(*root);
  }

  // Overwrites, in buf[0, len), every number token simdjson refuses although RFC 8259 allows
  // it with "{}" and spaces (same length, so every offset stays put). Returns false when such
  // a token breaks the grammar (the document is invalid) and true otherwise, setting
  // *replaced to whether anything was overwritten. Tokens are found the way simdjson's stage
  // 1 finds them: outside strings, runs that end at whitespace, a structural character or a
  // quote. Replacing a value by another value cannot turn invalid JSON into valid JSON, and
  // the caller parses the result again, so this scan does not need to validate anything else.
  bool replaceUnrepresentableNumbers(size_t len, bool* replaced) {
    char* p = buf.get();
    *replaced = false;
    bool inString = false;
    for (size_t i = 0; i < len; ++i) {
      const char c = p[i];
      if (inString) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          inString = false;
        }
        continue;
      }
      if (c == '"') {
        inString = true;
        continue;
      }
      if (endsToken(c)) continue;
      size_t end = i;
      while (end < len && !endsToken(p[end])) ++end;
      const std::string_view token(p + i, end - i);
      if ((c == '-' || isDigit(c)) && mayBeOutOfRange(token)) {
        if (!isNumberToken(token)) return false;
        if (simdjsonRepresents(token)) continue;
        std::memset(p + i, ' ', token.size());
        p[i] = '{';
        p[i + 1] = '}';  // size >= 2: one-byte number tokens are always representable
        *replaced = true;
      }
      i = end - 1;
    }
    return true;
  }
};

Parser::Parser() : impl_(std::make_unique<Impl>()) {}
Parser::~Parser() = default;

bool Parser::parse(std::string_view text, simdjson::dom::element* root) {
  Impl& m = *impl_;
  m.lastParseOk = false;
  m.copyIn(text);
  if (m.domParse(text.size(), root) != simdjson::SUCCESS) {
    // simdjson's error codes for one document may differ between its implementations, so
    // any failure gets the number check, not only NUMBER_ERROR.
    bool replaced = false;
    if (!m.replaceUnrepresentableNumbers(text.size(), &replaced) || !replaced) return false;
    if (m.domParse(text.size(), root) != simdjson::SUCCESS) return false;
    // The DOM lives in the parser's own storage, so buf can go back to the input's bytes,
    // which rawMembers() reads.
    std::memcpy(m.buf.get(), text.data(), text.size());
  }
  m.text = text;
  m.lastParseOk = true;
  return true;
}

bool Parser::rawMembers(std::span<const std::string_view> keys, std::span<std::string_view> raw) {
  Impl& m = *impl_;
  std::fill(raw.begin(), raw.end(), std::string_view());
  if (!m.lastParseOk) return false;
  using simdjson::ondemand::json_type;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  const simdjson::padded_string_view input(m.buf.get(), m.text.size(), m.bufBytes);
  if (m.ondemand.iterate(input).get(doc) || doc.get_object().get(object)) return false;
  size_t found = 0;
  for (auto member : object) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (std::move(member).get(field) || field.unescaped_key().get(key)) return false;
    const auto it = std::find(keys.begin(), keys.end(), key);
    const size_t index = it - keys.begin();
    if (it == keys.end() || !raw[index].empty()) continue;  // the value is skipped unread
    simdjson::ondemand::value value = field.value();
    json_type type;
    if (value.type().get(type)) return false;
    std::string_view span;
    if (type == json_type::object) {
      simdjson::ondemand::object inner;
      if (value.get_object().get(inner) || inner.raw_json().get(span)) return false;
    } else if (type == json_type::array) {
      simdjson::ondemand::array inner;
      if (value.get_array().get(inner) || inner.raw_json().get(span)) return false;
    } else {
      span = value.raw_json_token();
    }
    // simdjson's spans run to the next token, so they may end in whitespace; a JSON value
    // never does, so trimming it leaves exactly the value's bytes.
    span = trimWhitespace(span);
    raw[index] = m.text.substr(span.data() - m.buf.get(), span.size());
    if (++found == keys.size()) break;
  }
  return true;
}

void appendString(std::string& out, std::string_view utf8) {
  out.push_back('"');
  size_t runStart = 0;
  for (size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (!needsEscape(c)) continue;
    out.append(utf8.data() + runStart, i - runStart);
    runStart = i + 1;
    if (c == '"' || c == '\\') {
      const char escaped[2] = {'\\', static_cast<char>(c)};
      out.append(escaped, 2);
    } else {
      const char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
      out.append(escaped, 6);
    }
  }
  out.append(utf8.data() + runStart, utf8.size() - runStart);
  out.push_back('"');
}

namespace {
// Keys up to this long (every key the gateway writes) are built on the stack and appended
// at once: one append, not three, on the path of every message and every receipt.
constexpr size_t kShortKeyBytes = 32;

// Writes `"name":` at `at` (room for name.size() + 3 bytes); returns its end.
char* writeKey(char* at, std::string_view name) {
  *at++ = '"';
  std::memcpy(at, name.data(), name.size());
  at += name.size();
  *at++ = '"';
  *at++ = ':';
  return at;
}
}  // namespace

void appendKey(std::string& out, std::string_view name) {
  if (name.size() > kShortKeyBytes) {
    out.push_back('"');
    out.append(name);
    out.append("\":", 2);
    return;
  }
  char buf[kShortKeyBytes + 3];
  out.append(buf, static_cast<size_t>(writeKey(buf, name) - buf));
}

void appendStringField(std::string& out, std::string_view name, std::string_view utf8) {
  appendKey(out, name);
  appendString(out, utf8);
}

namespace {
constexpr size_t kDecimalBytes = 24;  // 20 digits of a uint64_t, or a sign and 19 of an int64_t

template <typename Int>
void appendNumberField(std::string& out, std::string_view name, Int value) {
  char buf[kShortKeyBytes + 3 + kDecimalBytes];
  if (name.size() > kShortKeyBytes) {
    appendKey(out, name);
    out.append(buf, static_cast<size_t>(std::to_chars(buf, buf + kDecimalBytes, value).ptr - buf));
    return;
  }
  char* digits = writeKey(buf, name);
  const char* end = std::to_chars(digits, digits + kDecimalBytes, value).ptr;
  out.append(buf, static_cast<size_t>(end - buf));
}
}  // namespace

void appendUintField(std::string& out, std::string_view name, uint64_t value) {
  appendNumberField(out, name, value);
}

void appendIntField(std::string& out, std::string_view name, int64_t value) {
  appendNumberField(out, name, value);
}

void appendBoolField(std::string& out, std::string_view name, bool value) {
  appendKey(out, name);
  out.append(value ? "true" : "false");
}

bool isValidUtf8(std::string_view bytes) {
  return simdjson::validate_utf8(bytes.data(), bytes.size());
}

bool isValidJson(std::string_view text) {
  thread_local Parser parser;
  simdjson::dom::element root;
  return parser.parse(text, &root);
}

std::string_view trimWhitespace(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && isWhitespace(text[begin])) ++begin;
  while (end > begin && isWhitespace(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

bool dataFromBytes(std::string_view bytes, std::string* outJson) {
  if (!isValidUtf8(bytes)) return false;
  if (isValidJson(bytes)) {
    outJson->assign(trimWhitespace(bytes));
  } else {
    outJson->clear();
    appendString(*outJson, bytes);
  }
  return true;
}

}  // namespace ringcast::json
