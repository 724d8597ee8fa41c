// A self-signed ECDSA P-256 certificate for localhost and 127.0.0.1, made once per test
// process with the openssl command in a temporary directory (removed at exit).
//
// Thread safety: the first call makes the files (under a lock); any thread afterwards.
#pragma once

#include <string>

namespace ringcast::test {

struct TestCertificate {
  std::string certFile;  // PEM
  std::string keyFile;   // PEM, unencrypted
};

// The process's test certificate; aborts the test binary if openssl fails.
const TestCertificate& testCertificate();

}  // namespace ringcast::test
