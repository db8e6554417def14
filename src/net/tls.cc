#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "net/tls_internal.h"

namespace chtlink::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

namespace {

constexpr auto kProtocolOptions = ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                                  ssl::context::no_tlsv1_1;

// OpenSSL's own messages for a missing file are vague ("system lib"); check first.
std::string unreadable(const std::string& path) {
  if (path.empty()) return "no file given";
  std::ifstream in(path);
  if (!in) return std::strerror(errno);
  return {};
}

}  // namespace

Result<ssl::context> makeServerTlsContext(const TlsFiles& files, std::string_view listener) {
  ssl::context ctx(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx.set_options(kProtocolOptions | ssl::context::single_dh_use, ec);

  if (auto why = unreadable(files.certificate_file); !why.empty()) {
    return invalidArgument(fmt::format("{} TLS: cannot read certificate file '{}': {}", listener,
                                       files.certificate_file, why),
                           "tls_certificate");
  }
  ctx.use_certificate_chain_file(files.certificate_file, ec);
  if (ec) {
    return invalidArgument(fmt::format("{} TLS: '{}' is not a PEM certificate chain: {}", listener,
                                       files.certificate_file, ec.message()),
                           "tls_certificate");
  }
  if (auto why = unreadable(files.private_key_file); !why.empty()) {
    return invalidArgument(fmt::format("{} TLS: cannot read private key file '{}': {}", listener,
                                       files.private_key_file, why),
                           "tls_private_key");
  }
  ctx.use_private_key_file(files.private_key_file, ssl::context::pem, ec);
  if (ec) {
    return invalidArgument(fmt::format("{} TLS: '{}' is not a PEM private key: {}", listener,
                                       files.private_key_file, ec.message()),
                           "tls_private_key");
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    ERR_clear_error();
    return invalidArgument(fmt::format("{} TLS: the private key '{}' does not match the "
                                       "certificate '{}'",
                                       listener, files.private_key_file, files.certificate_file),
                           "tls_key_mismatch");
  }
  return ctx;
}

Result<ssl::context> makeClientTlsContext(bool verify, const std::string& ca_file) {
  ssl::context ctx(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx.set_options(kProtocolOptions, ec);
  if (!verify) {
    ctx.set_verify_mode(ssl::verify_none, ec);
    return ctx;
  }
  ctx.set_default_verify_paths(ec);
  if (ec) {
    return internalError(
        fmt::format("cannot load the system's trusted TLS certificates: {}", ec.message()),
        "tls_trust_store");
  }
  if (!ca_file.empty()) {
    if (auto why = unreadable(ca_file); !why.empty()) {
      return invalidArgument(fmt::format("cannot read CA file '{}': {}", ca_file, why),
                             "tls_ca_file");
    }
    ctx.load_verify_file(ca_file, ec);
    if (ec) {
      return invalidArgument(
          fmt::format("CA file '{}' holds no PEM certificate: {}", ca_file, ec.message()),
          "tls_ca_file");
    }
  }
  ctx.set_verify_mode(ssl::verify_peer, ec);
  return ctx;
}

}  // namespace chtlink::net
