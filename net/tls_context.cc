#include "net/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace ringcast::net {
namespace {

// ALPN wire format: one length byte, then the name.
constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// The oldest error OpenSSL queued on this thread, as text (and the queue cleared).
std::string opensslError(const char* what) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return std::string(what) + ": " + (code != 0 ? text : "unknown error");
}

// The server answers "http/1.1" when the client offers it; otherwise it picks no protocol
// and goes on (a client that offers only h2 learns from the missing ALPN answer).
int selectAlpn(SSL*, const unsigned char** out, unsigned char* outLen, const unsigned char* in,
               unsigned int inLen, void*) {
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outLen, kAlpnHttp11, sizeof kAlpnHttp11, in, inLen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// The settings both sides share.
SSL_CTX* newContext(const SSL_METHOD* method, bool ktls) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // TcpConnection hands SSL_write up to one record of the write queue at a time, gathered
  // into a staging buffer that may move between a retry and the call that blocked, and takes
  // what was written (partial writes); buffers are freed whenever they are empty, so an idle
  // connection holds no 16 KiB read or write buffer.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  uint64_t options = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
  if (ktls) options |= SSL_OP_ENABLE_KTLS;
  SSL_CTX_set_options(ctx, options);
  // Read ahead: one read() takes every record the socket holds instead of a header and a
  // body per record. OpenSSL 3.0 moves receiving into the kernel only without it (and for
  // TLS 1.2 only), so it stays off when kernel TLS is asked for.
  SSL_CTX_set_read_ahead(ctx, ktls ? 0 : 1);
  return ctx;
}

}  // namespace

std::shared_ptr<const TlsContext> TlsContext::loadServer(const TlsOptions& o, std::string* error) {
  SSL_CTX* ctx = newContext(TLS_server_method(), o.ktls);
  if (ctx == nullptr) {
    *error = opensslError("SSL_CTX_new");
    return nullptr;
  }
  std::shared_ptr<const TlsContext> owner(new TlsContext(ctx, true));
  if (SSL_CTX_use_certificate_chain_file(ctx, o.certFile.c_str()) != 1) {
    *error = opensslError(("certificate " + o.certFile).c_str());
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, o.keyFile.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = opensslError(("key " + o.keyFile).c_str());
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    *error = opensslError("the key does not match the certificate");
    return nullptr;
  }
  SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, nullptr);
  // No server-side session cache: it grows with every client. Resumption still works
  // through stateless tickets; one per connection (a reconnecting client uses one).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 1);
  return owner;
}

std::shared_ptr<const TlsContext> TlsContext::insecureClient(bool ktls) {
  SSL_CTX* ctx = newContext(TLS_client_method(), ktls);
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_alpn_protos(ctx, kAlpnHttp11, sizeof kAlpnHttp11);
  return std::shared_ptr<const TlsContext>(new TlsContext(ctx, false));
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

SSL* TlsContext::newSsl() const {
  return SSL_new(ctx_);
}

std::unique_ptr<TlsCredentials> TlsCredentials::loadOrDie(const TlsOptions& options) {
  std::string error;
  auto first = TlsContext::loadServer(options, &error);
  if (first == nullptr) {
    std::fprintf(stderr, "ringcast: --tls-cert/--tls-key: %s\n", error.c_str());
    std::exit(2);
  }
  return std::unique_ptr<TlsCredentials>(new TlsCredentials(options, std::move(first)));
}

std::shared_ptr<const TlsContext> TlsCredentials::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

bool TlsCredentials::reload(std::string* error) {
  auto fresh = TlsContext::loadServer(options_, error);  // outside the lock: reads files
  if (fresh == nullptr) return false;
  std::shared_ptr<const TlsContext> old;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    old = std::exchange(current_, std::move(fresh));
  }
  return true;  // `old` is released here, outside the lock; live SSLs hold their own reference
}

}  // namespace ringcast::net
