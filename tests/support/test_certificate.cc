#include "tests/support/test_certificate.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace ringcast::test {
namespace {

std::string gDir;

void removeDir() {
  if (!gDir.empty()) std::system(("rm -rf '" + gDir + "'").c_str());
}

}  // namespace

const TestCertificate& testCertificate() {
  static std::once_flag once;
  static TestCertificate cert;
  std::call_once(once, [] {
    char dir[] = "/tmp/ringcast-cert-XXXXXX";
    if (::mkdtemp(dir) == nullptr) std::abort();
    gDir = dir;
    std::atexit(removeDir);
    cert.certFile = gDir + "/cert.pem";
    cert.keyFile = gDir + "/key.pem";
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout '" +
        cert.keyFile + "' -out '" + cert.certFile +
        "' -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
        "2>/dev/null";
    if (std::system(command.c_str()) != 0) {
      std::fprintf(stderr, "openssl could not make a test certificate\n");
      std::abort();
    }
  });
  return cert;
}

}  // namespace ringcast::test
