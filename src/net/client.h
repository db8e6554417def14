// HttpClient: outbound HTTP(S) for the queue's deliveries, the CHT client and the mediator.
//
// An interface so tests can inject faults (a FailingHttpClient fails the Nth call) and
// components never construct their own. BeastHttpClient keeps pooled keep-alive connections
// per (scheme, host, port), verifies TLS certificates against the system store (real CHT
// instances are HTTPS), and enforces connect and read timeouts.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "net/event_loop.h"
#include "net/http.h"

namespace spdlog {
class logger;
}

namespace chtlink::net {

struct BasicAuth {
  std::string username;
  std::string password;
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;  // absolute: http(s)://host[:port]/path?query
  Headers headers;
  std::string body;
  std::optional<BasicAuth> auth;
  // Whole exchange, from connect to the last byte of the answer; 0 = the client's default.
  std::chrono::milliseconds timeout{0};
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  using Callback = std::function<void(Result<ClientResponse>)>;
  // Sends `request`; `done` is called once, on an I/O thread, with the answer or an error
  // (Unavailable: cannot connect; DeadlineExceeded: timed out; InvalidArgument: bad URL;
  // TooLarge: answer over the limit). Any HTTP status is a value, not an error.
  virtual void send(ClientRequest request, Callback done) = 0;

  // Blocks the calling thread until the answer. Never call it on an I/O thread: the answer
  // is delivered on one, so that thread would wait for itself.
  Result<ClientResponse> sendSync(ClientRequest request);
};

struct ClientOptions {
  // Name lookup, TCP connect and TLS handshake together; past it: DeadlineExceeded.
  std::chrono::milliseconds connect_timeout{5'000};
  // Default for ClientRequest::timeout.
  std::chrono::milliseconds request_timeout{30'000};
  // Idle keep-alive connections kept per (scheme, host, port). At least the number of
  // concurrent requests to one host (the him router sends every client request of a channel
  // to the same upstream): beyond it each extra request pays a new connection. 256 is
  // Node's http.Agent maxFreeSockets, which OpenHIM core's router uses.
  size_t max_idle_per_host = 256;
  // A pooled connection unused this long is closed instead of reused (servers drop idle
  // keep-alive connections, often without the client noticing in time).
  std::chrono::milliseconds idle_timeout{30'000};
  size_t max_response_bytes = 64 * 1024 * 1024;
  bool verify_tls = true;  // off only for tests against self-signed certificates
  std::string ca_file;     // extra trusted CA (PEM), added to the system store
  // Where a callback that throws is reported (callbacks must not throw). May be null.
  std::shared_ptr<spdlog::logger> error_log;
};

// The Beast/OpenSSL client. A request that fails on a reused keep-alive connection before any
// byte of the answer arrived (the server had closed it) is sent once more on a new
// connection. Destroy the client before `loop`; requests in flight then still complete.
std::unique_ptr<HttpClient> makeBeastHttpClient(EventLoop& loop, ClientOptions options);

// Parsed absolute URL.
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;
  uint16_t port = 0;   // filled from the scheme when absent
  std::string target;  // path and query, "/" when empty
};
Result<Url> parseUrl(std::string_view url);

}  // namespace chtlink::net
