#include "ws/handshake.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>
#include <span>

namespace ringcast::ws {

namespace {

using http::equalsIgnoreCase;

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr size_t kSha1Bytes = 20;
constexpr size_t kAcceptKeyChars = 28;  // Base64 of 20 bytes
constexpr size_t kKeyChars = 24;        // Base64 of the 16-byte nonce, with "==" padding

// The SHA-1 implementation, fetched from the default provider once per process; fetching per
// call would take a lock and a table lookup each time.
const EVP_MD* sha1OrDie() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    if (fetched == nullptr) {
      std::fprintf(stderr, "ringcast: OpenSSL has no SHA-1; the WebSocket handshake needs it\n");
      std::abort();
    }
    return fetched;
  }();
  return md;
}

// One digest context per thread, reused for every handshake on that thread.
struct DigestContext {
  DigestContext() : ctx(EVP_MD_CTX_new()) {}
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
  DigestContext(const DigestContext&) = delete;
  DigestContext& operator=(const DigestContext&) = delete;
  EVP_MD_CTX* ctx;
};

// Writes the 28 accept-key characters plus a NUL to `out`.
void computeAcceptKey(std::string_view key, char (&out)[kAcceptKeyChars + 1]) {
  thread_local DigestContext digest;
  unsigned char sha1[kSha1Bytes];
  unsigned int sha1Bytes = 0;
  if (digest.ctx == nullptr || EVP_DigestInit_ex2(digest.ctx, sha1OrDie(), nullptr) != 1 ||
      EVP_DigestUpdate(digest.ctx, key.data(), key.size()) != 1 ||
      EVP_DigestUpdate(digest.ctx, kGuid.data(), kGuid.size()) != 1 ||
      EVP_DigestFinal_ex(digest.ctx, sha1, &sha1Bytes) != 1 || sha1Bytes != kSha1Bytes) {
    std::fprintf(stderr, "ringcast: OpenSSL SHA-1 failed\n");
    std::abort();
  }
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out), sha1, kSha1Bytes);
}

bool isBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Everything acceptUpgrade needs from the headers, gathered in one pass.
struct UpgradeFields {
  std::string_view host, version, key, origin;
  size_t hostLines = 0, versionLines = 0, keyLines = 0, originLines = 0;
  bool upgradeWebsocket = false, connectionUpgrade = false;
};

bool listHas(std::string_view list, std::string_view token) {
  for (std::string_view e = http::nextListElement(&list); !e.empty();
       e = http::nextListElement(&list)) {
    if (equalsIgnoreCase(e, token)) return true;
  }
  return false;
}

UpgradeFields gatherFields(const http::Request& req) {
  UpgradeFields f;
  for (size_t i = 0; i < req.headerCount; ++i) {
    std::string_view name = req.headers[i].name, value = req.headers[i].value;
    auto first = [&](std::string_view* field, size_t* lines) {
      if ((*lines)++ == 0) *field = value;
    };
    if (equalsIgnoreCase(name, "Host")) {
      first(&f.host, &f.hostLines);
    } else if (equalsIgnoreCase(name, "Upgrade")) {
      f.upgradeWebsocket |= listHas(value, "websocket");
    } else if (equalsIgnoreCase(name, "Connection")) {
      f.connectionUpgrade |= listHas(value, "Upgrade");
    } else if (equalsIgnoreCase(name, "Sec-WebSocket-Version")) {
      first(&f.version, &f.versionLines);
    } else if (equalsIgnoreCase(name, "Sec-WebSocket-Key")) {
      first(&f.key, &f.keyLines);
    } else if (equalsIgnoreCase(name, "Origin")) {
      first(&f.origin, &f.originLines);
    }
  }
  return f;
}

// The server's first subprotocol that the client offered; empty when none.
std::string_view chooseSubprotocol(const http::Request& req, const HandshakeOptions& opts) {
  for (const std::string& mine : opts.subprotocols) {
    for (size_t i = 0; i < req.headerCount; ++i) {
      if (!equalsIgnoreCase(req.headers[i].name, "Sec-WebSocket-Protocol")) continue;
      std::string_view list = req.headers[i].value;
      for (std::string_view e = http::nextListElement(&list); !e.empty();
           e = http::nextListElement(&list)) {
        if (e == mine) return mine;
      }
    }
  }
  return {};
}

void appendRejection(std::string& out, int status, std::string_view reason,
                     std::span<const http::Header> extra) {
  http::Header headers[4];
  size_t n = 0;
  for (const http::Header& h : extra) headers[n++] = h;
  headers[n++] = {"Content-Type", "text/plain; charset=utf-8"};
  std::string body;
  body.reserve(reason.size() + 1);
  body.append(reason);
  body.push_back('\n');
  http::appendResponse(out, status, std::span(headers, n), body, /*keepAlive=*/false);
}

HandshakeResult refuse(int status, std::string_view reason,
                       std::span<const http::Header> extra = {}) {
  HandshakeResult result;
  result.status = status;
  result.reason = reason;
  appendRejection(result.response, status, reason, extra);
  return result;
}

const http::Header kAllowGet[] = {{"Allow", "GET"}};
const http::Header kUpgradeRequired[] = {{"Upgrade", "websocket"},
                                         {"Connection", "Upgrade, close"}};
const http::Header kVersionRequired[] = {
    {"Upgrade", "websocket"}, {"Connection", "Upgrade, close"}, {"Sec-WebSocket-Version", "13"}};

}  // namespace

std::string acceptKey(std::string_view secWebSocketKey) {
  char out[kAcceptKeyChars + 1];
  computeAcceptKey(secWebSocketKey, out);
  return std::string(out, kAcceptKeyChars);
}

bool isValidKey(std::string_view key) {
  if (key.size() != kKeyChars || key[kKeyChars - 2] != '=' || key[kKeyChars - 1] != '=') {
    return false;
  }
  for (size_t i = 0; i < kKeyChars - 2; ++i) {
    if (!isBase64Char(key[i])) return false;
  }
  return true;
}

HandshakeResult acceptUpgrade(const http::Request& req, const HandshakeOptions& opts) {
  if (req.method != "GET") return refuse(405, "WebSocket upgrade needs GET", kAllowGet);
  if (req.versionMinor < 1) return refuse(400, "WebSocket upgrade needs HTTP/1.1");
  UpgradeFields f = gatherFields(req);
  if (f.hostLines != 1 || f.host.empty()) return refuse(400, "missing or repeated Host header");
  if (!f.upgradeWebsocket || !f.connectionUpgrade) {
    return refuse(426, "this URL speaks WebSocket only", kUpgradeRequired);
  }
  if (f.versionLines != 1 || f.version != "13") {
    return refuse(426, "unsupported Sec-WebSocket-Version", kVersionRequired);
  }
  if (f.keyLines != 1 || !isValidKey(f.key)) return refuse(400, "invalid Sec-WebSocket-Key");
  if (f.originLines > 0 && opts.originAllowed && !opts.originAllowed(f.origin, f.host)) {
    return refuse(403, "origin not allowed");
  }

  HandshakeResult result;
  result.status = 101;
  result.subprotocol = chooseSubprotocol(req, opts);
  std::string extensions;
  if (opts.perMessageDeflate) {
    std::string_view offers[http::kMaxHeaders];
    size_t n = 0;
    for (size_t i = 0; i < req.headerCount; ++i) {
      if (equalsIgnoreCase(req.headers[i].name, "Sec-WebSocket-Extensions")) {
        offers[n++] = req.headers[i].value;
      }
    }
    result.deflate = negotiateDeflate(std::span(offers, n), &extensions);
  }
  char accept[kAcceptKeyChars + 1];
  computeAcceptKey(f.key, accept);
  http::Header headers[5] = {
      {"Upgrade", "websocket"},
      {"Connection", "Upgrade"},
      {"Sec-WebSocket-Accept", std::string_view(accept, kAcceptKeyChars)},
  };
  size_t count = 3;
  if (!result.subprotocol.empty())
    headers[count++] = {"Sec-WebSocket-Protocol", result.subprotocol};
  if (!extensions.empty()) headers[count++] = {"Sec-WebSocket-Extensions", extensions};
  http::appendResponse(result.response, 101, std::span(headers, count), {}, false);
  return result;
}

std::string rejectResponse(int status, std::string_view reason) {
  std::string out;
  appendRejection(out, status, reason, {});
  return out;
}

}  // namespace ringcast::ws
