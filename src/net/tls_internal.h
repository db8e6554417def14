// Private to src/net: OpenSSL contexts for the server and the client, with errors that name
// the file at fault.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <string>
#include <string_view>

#include "base/result.h"
#include "net/server.h"

namespace chtlink::net {

// A TLS 1.2+ server context holding the certificate chain and key of `files`. `listener`
// names the server in messages ("router TLS: cannot load certificate /etc/x.pem: ...").
Result<boost::asio::ssl::context> makeServerTlsContext(const TlsFiles& files,
                                                       std::string_view listener);

// A TLS 1.2+ client context. With `verify`, peers are checked against the system store
// plus `ca_file` (PEM) when not empty.
Result<boost::asio::ssl::context> makeClientTlsContext(bool verify, const std::string& ca_file);

}  // namespace chtlink::net
