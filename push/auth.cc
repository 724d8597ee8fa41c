#include "push/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "core/json.h"
#include "push/client_protocol.h"

namespace ringcast::push {
namespace {

using simdjson::dom::element;

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr size_t kHmacBytes = 32;  // SHA-256
constexpr std::string_view kHeaderJson = R"({"alg":"HS256","typ":"JWT"})";

constexpr std::array<int8_t, 256> makeDecodeTable() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = int8_t(i);
  return table;
}
constexpr std::array<int8_t, 256> kDecode = makeDecodeTable();

std::array<unsigned char, kHmacBytes> hmacSha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, kHmacBytes> mac{};
  unsigned int macBytes = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &macBytes);
  return mac;
}

AuthResult refuse(std::string_view reason) {
  AuthResult r;
  r.reason = reason;
  return r;
}

// Reads a NumericDate: an integer, or a fraction rounded down; clamped to int64_t.
bool readNumericDate(element value, int64_t* out) {
  int64_t i;
  uint64_t u;
  double d;
  if (value.get_int64().get(i) == simdjson::SUCCESS) {
    *out = i;
  } else if (value.get_uint64().get(u) == simdjson::SUCCESS) {
    *out = std::numeric_limits<int64_t>::max();
  } else if (value.get_double().get(d) == simdjson::SUCCESS) {
    d = std::floor(d);
    if (d >= 9.2e18) {
      *out = std::numeric_limits<int64_t>::max();
    } else if (d <= -9.2e18) {
      *out = std::numeric_limits<int64_t>::min();
    } else {
      *out = static_cast<int64_t>(d);
    }
  } else {
    return false;  // not a number, or one simdjson cannot represent (core/json.h)
  }
  return true;
}

// True when some member name appears twice. RFC 7519 section 4 lets a parser either reject
// such a JWT or take the last member; rejecting leaves no doubt about which one counts.
bool hasDuplicateNames(simdjson::dom::object object) {
  std::vector<std::string_view> names;
  names.reserve(object.size());
  for (simdjson::dom::key_value_pair member : object) names.push_back(member.key);
  std::sort(names.begin(), names.end());
  return std::adjacent_find(names.begin(), names.end()) != names.end();
}

bool readPatterns(element value, std::vector<std::string>* out) {
  simdjson::dom::array list;
  if (value.get_array().get(list)) return false;
  out->reserve(list.size());
  for (element entry : list) {
    std::string_view pattern;
    if (entry.get_string().get(pattern) || !isValidChannelPattern(pattern)) return false;
    out->emplace_back(pattern);
  }
  return true;
}

// "aud" (RFC 7519 section 4.1.3): a string, or an array of strings, one equal to `want`.
bool audienceMatches(simdjson::dom::object object, std::string_view want) {
  simdjson::dom::element aud;
  if (object.at_key("aud").get(aud)) return false;
  std::string_view text;
  if (aud.get_string().get(text) == simdjson::SUCCESS) return text == want;
  simdjson::dom::array list;
  if (aud.get_array().get(list)) return false;
  for (simdjson::dom::element item : list) {
    if (item.get_string().get(text) == simdjson::SUCCESS && text == want) return true;
  }
  return false;
}

}  // namespace

std::string base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (bytes.size() - i == 1) {
    const uint32_t v = byte(i) << 16;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (bytes.size() - i == 2) {
    const uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

bool base64UrlDecode(std::string_view text, std::string* out) {
  if (text.size() % 4 == 1) return false;
  out->clear();
  out->reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int8_t v = kDecode[static_cast<unsigned char>(c)];
    if (v < 0) return false;
    acc = (acc << 6 | static_cast<uint32_t>(v)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Canonical form: the bits left over after the last whole byte are zero, so each byte
  // string has exactly one encoding (a flipped character always changes the bytes).
  return (acc & ((1u << bits) - 1)) == 0;
}

bool isValidChannelPattern(std::string_view pattern) {
  if (pattern == "*") return true;
  if (!pattern.empty() && pattern.back() == '*') pattern.remove_suffix(1);
  return isValidChannelName(pattern);
}

bool channelAllowed(std::string_view channel, const std::vector<std::string>& patterns) {
  for (const std::string& p : patterns) {
    if (!p.empty() && p.back() == '*') {
      if (channel.starts_with(std::string_view(p).substr(0, p.size() - 1))) return true;
    } else if (channel == p) {
      return true;
    }
  }
  return false;
}

std::string signToken(std::string_view payloadJson, std::string_view secret) {
  std::string token = base64UrlEncode(kHeaderJson);
  token.push_back('.');
  token += base64UrlEncode(payloadJson);
  const auto mac = hmacSha256(secret, token);
  token.push_back('.');
  token += base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return token;
}

AuthResult verifyToken(std::string_view jwt, std::string_view secret, int64_t nowSec,
                       const TokenClaims& required) {
  thread_local json::Parser parser;
  if (secret.empty()) return refuse("no secret");
  const size_t dot1 = jwt.find('.');
  const size_t dot2 = dot1 == std::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos) {
    return refuse("malformed token");
  }
  const std::string_view signedPart = jwt.substr(0, dot2);
  std::string header, payload, signature;
  if (!base64UrlDecode(jwt.substr(0, dot1), &header) ||
      !base64UrlDecode(jwt.substr(dot1 + 1, dot2 - dot1 - 1), &payload) ||
      !base64UrlDecode(jwt.substr(dot2 + 1), &signature)) {
    return refuse("malformed token");
  }

  element root;
  simdjson::dom::object object;
  if (!parser.parse(header, &root) || root.get_object().get(object) || hasDuplicateNames(object)) {
    return refuse("malformed token");
  }
  std::string_view alg;
  if (object.at_key("alg").get_string().get(alg) || alg != "HS256") {
    return refuse("unsupported alg");
  }

  const auto mac = hmacSha256(secret, signedPart);
  if (signature.size() != mac.size() ||
      CRYPTO_memcmp(signature.data(), mac.data(), mac.size()) != 0) {
    return refuse("bad signature");
  }

  if (!parser.parse(payload, &root) || root.get_object().get(object) || hasDuplicateNames(object)) {
    return refuse("malformed token");
  }
  AuthResult result;
  Identity& id = result.identity;
  element value;
  if (object.at_key("exp").get(value) == simdjson::SUCCESS) {
    if (!readNumericDate(value, &id.expSec)) return refuse("invalid exp");
    if (id.expSec <= nowSec) return refuse("token expired");
  }
  if (object.at_key("nbf").get(value) == simdjson::SUCCESS) {
    int64_t nbf;
    if (!readNumericDate(value, &nbf)) return refuse("invalid nbf");
    if (nbf > nowSec) return refuse("token not yet valid");
  }
  std::string_view text;
  if (object.at_key("sub").get(value)) return refuse("missing sub");
  if (value.get_string().get(text) || !isClaimableUserName(text)) return refuse("invalid sub");
  id.user.assign(text);
  if (!required.issuer.empty() && (object.at_key("iss").get(value) ||
                                   value.get_string().get(text) || text != required.issuer)) {
    return refuse("wrong iss");
  }
  if (!required.audience.empty() && !audienceMatches(object, required.audience)) {
    return refuse("wrong aud");
  }
  if (object.at_key("name").get(value) == simdjson::SUCCESS) {
    if (value.get_string().get(text) || !isValidDisplayName(text)) {
      return refuse("invalid name");
    }
    id.name.assign(text);
  }
  if (object.at_key("subs").get(value) == simdjson::SUCCESS) {
    if (!readPatterns(value, &id.subs)) return refuse("invalid subs");
    id.hasSubs = true;
  }
  if (object.at_key("pubs").get(value) == simdjson::SUCCESS) {
    if (!readPatterns(value, &id.pubs)) return refuse("invalid pubs");
    id.hasPubs = true;
  }
  if (object.at_key("send").get(value) == simdjson::SUCCESS && value.get_bool().get(id.canSend)) {
    return refuse("invalid send");
  }
  result.ok = true;
  return result;
}

}  // namespace ringcast::push
