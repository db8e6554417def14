// A self-signed certificate for the admin API, made with the OpenSSL API at first start.
#pragma once

#include <string>

#include "base/result.h"

namespace chtlink::him {

struct CertificateFiles {
  std::string certificate_file;
  std::string private_key_file;
  bool created = false;  // true when this call made them
};

// Returns `dir`/him-api-cert.pem and `dir`/him-api-key.pem, creating the directory and a
// fresh P-256 key with a self-signed certificate (CN=`common_name`, 10 years) when either
// file is missing. The key file is written with mode 0600.
Result<CertificateFiles> ensureSelfSignedCertificate(const std::string& dir,
                                                     const std::string& common_name);

}  // namespace chtlink::him
