#include "net/tls_session.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>

#include "core/log.h"

namespace ringcast::net {
namespace {

// SNI carries host names only (RFC 6066 3), never an address literal.
bool isHostName(std::string_view name) {
  if (name.empty()) return false;
  std::string text(name);
  in6_addr any;
  return inet_pton(AF_INET, text.c_str(), &any) != 1 &&
         inet_pton(AF_INET6, text.c_str(), &any) != 1;
}

}  // namespace

std::unique_ptr<TlsSession> TlsSession::create(const TlsContext& context, int fd, Role role,
                                               std::string_view serverName) {
  SSL* ssl = context.newSsl();
  if (ssl == nullptr) return nullptr;
  std::unique_ptr<TlsSession> session(new TlsSession(ssl));
  if (SSL_set_fd(ssl, fd) != 1) return nullptr;  // a socket BIO: the one kernel TLS needs
  if (role == Role::kServer) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
    if (isHostName(serverName)) SSL_set_tlsext_host_name(ssl, std::string(serverName).c_str());
  }
  return session;
}

TlsSession::~TlsSession() {
  SSL_free(ssl_);
}

TlsSession::Io TlsSession::classify(int ret) {
  const int err = SSL_get_error(ssl_, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return Io::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Io::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Io::kEof;
    default:
      break;
  }
  // The error queue is per thread and shared by every connection of the loop: read it
  // and empty it here, or the next connection's SSL_get_error would see this one's error.
  const unsigned long code = ERR_peek_error();
  const int reason = ERR_GET_REASON(code);
  if (!established_ && (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST)) {
    plainHttp_ = true;
  }
  Io io = Io::kError;
  if ((err == SSL_ERROR_SYSCALL && code == 0) || reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    io = Io::kEof;  // TCP EOF without close_notify
  }
  if (code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    RC_LOG_DEBUG("tls: {}", text);
  } else if (err == SSL_ERROR_SYSCALL && errno != 0) {
    RC_LOG_DEBUG("tls: socket error {}", std::strerror(errno));
  }
  ERR_clear_error();
  return io;
}

TlsSession::Io TlsSession::handshake() {
  if (established_) return Io::kOk;
  const int ret = SSL_do_handshake(ssl_);
  if (ret == 1) {
    established_ = true;
    return Io::kOk;
  }
  return classify(ret);
}

TlsSession::Result TlsSession::read(uint8_t* buf, size_t len) {
  size_t n = 0;
  const int ret = SSL_read_ex(ssl_, buf, len, &n);
  if (ret == 1) return {Io::kOk, n};
  return {classify(ret), 0};
}

TlsSession::Io TlsSession::writePending() {
  while (pendingOffset_ < pendingLen_) {
    size_t n = 0;
    // The same bytes as the call that blocked (OpenSSL resumes the record it sealed then).
    const int ret =
        SSL_write_ex(ssl_, pending_.get() + pendingOffset_, pendingLen_ - pendingOffset_, &n);
    if (ret != 1) return classify(ret);
    pendingOffset_ += static_cast<uint32_t>(n);
  }
  pending_.reset();
  pendingLen_ = pendingOffset_ = 0;
  return Io::kOk;
}

TlsSession::Result TlsSession::write(const uint8_t* data, size_t len) {
  if (len > kRecordBytes) len = kRecordBytes;
  size_t n = 0;
  const int ret = SSL_write_ex(ssl_, data, len, &n);
  if (ret == 1) return {Io::kOk, n};
  const Io io = classify(ret);
  if (io != Io::kWantRead && io != Io::kWantWrite) return {io, 0};
  // OpenSSL sealed (some of) these bytes into a record it could not send yet: keep them for
  // the retry and count them as taken.
  pending_ = std::make_unique<uint8_t[]>(len);
  std::memcpy(pending_.get(), data, len);
  pendingLen_ = static_cast<uint32_t>(len);
  pendingOffset_ = 0;
  return {io, len};
}

void TlsSession::shutdown() {
  if (!established_) return;
  if (SSL_shutdown(ssl_) < 0) ERR_clear_error();
}

bool TlsSession::ktlsSend() const {
  return BIO_get_ktls_send(SSL_get_wbio(ssl_)) != 0;
}

bool TlsSession::ktlsReceive() const {
  return BIO_get_ktls_recv(SSL_get_rbio(ssl_)) != 0;
}

std::string TlsSession::describe() const {
  const unsigned char* alpn = nullptr;
  unsigned int alpnLen = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &alpnLen);
  std::string text = SSL_get_version(ssl_);
  text += ' ';
  text += SSL_get_cipher_name(ssl_);
  text += " alpn=";
  text += alpnLen > 0 ? std::string(reinterpret_cast<const char*>(alpn), alpnLen) : "none";
  text += ktlsSend() ? " ktls tx=on" : " ktls tx=off";
  text += ktlsReceive() ? " rx=on" : " rx=off";
  return text;
}

}  // namespace ringcast::net
