// TlsSession: the TLS state of one non-blocking socket (an OpenSSL SSL on the socket's fd),
// owned by its TcpConnection. It only turns calls into OpenSSL results; when to call is the
// connection's business (the same edges as plain TCP: every call runs until OpenSSL wants
// more from the socket, which then brings a new edge).
//
// Writes are handed over a record at a time (up to kRecordBytes). When the socket is full,
// OpenSSL has already sealed the record and must be called again with the same bytes; the
// session keeps a copy of them (only while blocked) and counts them as taken, so the caller's
// queue may drop or reorder what follows without cutting the TLS stream.
//
// Thread safety: loop-owned, like its connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/tls_context.h"

namespace ringcast::net {

class TlsSession {
 public:
  enum class Role : uint8_t { kServer, kClient };
  enum class Io : uint8_t {
    kOk,         // some bytes moved (or the handshake finished)
    kWantRead,   // wait for the readable edge
    kWantWrite,  // wait for the writable edge
    kEof,        // the peer closed (close_notify or TCP EOF)
    kError,      // protocol or socket error: close the connection
  };
  struct Result {
    Io io;
    size_t bytes;  // bytes read, or bytes taken from the caller for writing
  };

  // A session on the connected socket `fd` (not owned). Null when OpenSSL is out of memory.
  // `serverName` (client role) goes into SNI when it is a host name.
  static std::unique_ptr<TlsSession> create(const TlsContext& context, int fd, Role role,
                                            std::string_view serverName = {});
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Drives the handshake; kOk once it is done (then established() holds).
  Io handshake();
  bool established() const { return established_; }
  // The handshake failed because the peer sent a plain HTTP request to the TLS port.
  bool peerSpokePlainHttp() const { return plainHttp_; }

  // Reads decrypted bytes into buf (up to len). kOk with bytes > 0, or why nothing came.
  Result read(uint8_t* buf, size_t len);
  // Writes the bytes kept from a write that blocked. kOk when none are left.
  Io writePending();
  bool hasPendingWrite() const { return pendingLen_ > pendingOffset_; }
  // Takes up to len (at most kRecordBytes) bytes. REQUIRES: !hasPendingWrite().
  Result write(const uint8_t* data, size_t len);
  // Queues close_notify for the peer (best effort: not retried if the socket is full).
  void shutdown();

  // After the handshake: whether the kernel encrypts (tx) and decrypts (rx) for us.
  bool ktlsSend() const;
  bool ktlsReceive() const;
  // "TLSv1.3 TLS_AES_256_GCM_SHA384 alpn=http/1.1 ktls tx=off rx=off", for logs.
  std::string describe() const;

  // Which edge the connection waits for besides the obvious one (TLS 1.2 renegotiation or a
  // 1.3 KeyUpdate may make a read write, or a write read). Kept here, not in the connection,
  // so a plain TCP connection does not pay for them.
  bool writeWantedByRead = false;  // a read returned WANT_WRITE: retry it on the writable edge
  bool readWantedByWrite = false;  // a write returned WANT_READ: retry it on the readable edge

  // Plaintext bytes per TLS record (RFC 8446 5.1): a write larger than this is cut anyway.
  static constexpr size_t kRecordBytes = 16 * 1024;

 private:
  explicit TlsSession(SSL* ssl) : ssl_(ssl) {}
  Io classify(int ret);

  SSL* ssl_;
  bool established_ = false;
  bool plainHttp_ = false;
  std::unique_ptr<uint8_t[]> pending_;  // a blocked write's bytes; only while blocked
  uint32_t pendingLen_ = 0;
  uint32_t pendingOffset_ = 0;  // of them, already written
};

}  // namespace ringcast::net
