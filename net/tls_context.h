// TlsContext: one OpenSSL 3 SSL_CTX with the settings every ringcast TLS connection uses:
// TLS 1.2 or newer, partial writes into a moving buffer (the write queue is staged into
// records by TcpConnection), buffers released while a connection is idle
// (SSL_MODE_RELEASE_BUFFERS), no renegotiation, ALPN "http/1.1", and kernel TLS
// (SSL_OP_ENABLE_KTLS) when asked for and the kernel has it.
//
// A server context holds one certificate chain and key; a client context (the load client)
// verifies nothing: it measures the gateway, it does not authenticate it.
//
// TlsCredentials holds the server context new connections get, and replaces it on reload
// (SIGHUP): connections that already exist keep the context they started with, since every
// SSL holds its own reference to its SSL_CTX.
//
// Thread safety: a TlsContext is immutable once built; newSsl() is safe from any thread.
// TlsCredentials::current() is safe from any thread; reload() is for the main thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace ringcast::net {

struct TlsOptions {
  std::string certFile;  // PEM certificate chain (server only)
  std::string keyFile;   // PEM private key (server only)
  bool ktls = true;      // ask OpenSSL for kernel TLS (used when the kernel allows it)
};

class TlsContext {
 public:
  // Loads the certificate chain and key. Returns null with *error set when either cannot be
  // read or they do not belong together.
  static std::shared_ptr<const TlsContext> loadServer(const TlsOptions& options,
                                                      std::string* error);
  // A client context that does not verify the server's certificate.
  static std::shared_ptr<const TlsContext> insecureClient(bool ktls);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A new SSL for one connection (it keeps its own reference to this context).
  // Returns null when OpenSSL is out of memory.
  SSL* newSsl() const;
  bool isServer() const { return server_; }

 private:
  TlsContext(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}

  SSL_CTX* ctx_;  // one reference owned
  bool server_;
};

class TlsCredentials {
 public:
  // Loads the first context; a startup failure is fatal (prints why, exits 2).
  static std::unique_ptr<TlsCredentials> loadOrDie(const TlsOptions& options);

  // The context for a connection accepted now. Safe from any thread (a short lock around
  // copying one shared pointer; loading files happens outside it).
  std::shared_ptr<const TlsContext> current() const;
  // Reads the certificate and key files again. On success new connections get the new
  // context; on failure the old one stays and *error says why. Main thread.
  bool reload(std::string* error);
  const TlsOptions& options() const { return options_; }

 private:
  TlsCredentials(TlsOptions options, std::shared_ptr<const TlsContext> first)
      : options_(std::move(options)), current_(std::move(first)) {}

  const TlsOptions options_;
  mutable std::mutex mutex_;
  std::shared_ptr<const TlsContext> current_;  // guarded by mutex_
};

}  // namespace ringcast::net
