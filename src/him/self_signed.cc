#include "him/self_signed.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>

namespace chtlink::him {
namespace {

std::string opensslError(std::string_view what) {
  unsigned long code = ERR_get_error();
  char buf[256] = {};
  if (code != 0) ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return fmt::format("cannot create the admin API certificate: {} failed ({})", what,
                     code != 0 ? buf : "no detail");
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

}  // namespace

Result<CertificateFiles> ensureSelfSignedCertificate(const std::string& dir,
                                                     const std::string& common_name) {
  namespace fs = std::filesystem;
  CertificateFiles files{(fs::path(dir) / "him-api-cert.pem").string(),
                         (fs::path(dir) / "him-api-key.pem").string(), false};
  if (fs::exists(files.certificate_file) && fs::exists(files.private_key_file)) return files;

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return unavailable(
        fmt::format("cannot create directory {} for the admin API certificate "
                    "(set him.data_dir): {}",
                    dir, ec.message()));
  }
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return internalError(opensslError("EC key generation"));
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!cert) return internalError(opensslError("X509_new"));
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("chtlink"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  std::string san = fmt::format("DNS:{},DNS:localhost,IP:127.0.0.1", common_name);
  if (X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str())) {
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return internalError(opensslError("X509_sign"));

  std::string key_tmp = files.private_key_file + ".tmp";
  std::string cert_tmp = files.certificate_file + ".tmp";
  {
    std::unique_ptr<FILE, FileCloser> out(std::fopen(key_tmp.c_str(), "w"));
    if (!out) return unavailable(fmt::format("cannot write {}", key_tmp));
    ::chmod(key_tmp.c_str(), 0600);
    if (PEM_write_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
      return internalError(opensslError("writing the private key"));
  }
  {
    std::unique_ptr<FILE, FileCloser> out(std::fopen(cert_tmp.c_str(), "w"));
    if (!out) return unavailable(fmt::format("cannot write {}", cert_tmp));
    if (PEM_write_X509(out.get(), cert.get()) != 1)
      return internalError(opensslError("writing the certificate"));
  }
  fs::rename(key_tmp, files.private_key_file, ec);
  if (!ec) fs::rename(cert_tmp, files.certificate_file, ec);
  if (ec)
    return unavailable(fmt::format("cannot store the admin API certificate: {}", ec.message()));
  files.created = true;
  return files;
}

}  // namespace chtlink::him
