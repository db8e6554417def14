// Server: an HTTP/1.1 listener on Boost.Beast with keep-alive, limits and graceful shutdown.
//
// Each connection is a session on its own strand with a fresh, limited parser per request.
// Limits (options below) are enforced before the handler runs: an oversized header block
// gets 431, an oversized body 413, a malformed request 400 and the connection closed; each
// with a JSON body. One access-log line per request (method, path, status, bytes, duration,
// request id). X-Request-Id is honoured when the client sends one (and echoed), generated
// otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/result.h"
#include "net/event_loop.h"
#include "net/router.h"

namespace spdlog {
class logger;
}

namespace chtlink::net {

struct TlsFiles {
  std::string certificate_file;  // PEM, may hold the chain
  std::string private_key_file;  // PEM
};

struct ServerOptions {
  std::string name = "http";  // names this listener in logs and errors ("router", "fhir")
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 = any free port; listen() returns the real one
  // The setting a user changes to move this listener; quoted in "port in use" errors.
  std::string port_setting = "http.port";
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 10 * 1024 * 1024;
  // From the first byte of a request to its last byte; a slower client gets 408 and is closed.
  std::chrono::milliseconds read_timeout{15'000};
  // From a full request to the handler's answer; past it the client gets 503 with a JSON body.
  std::chrono::milliseconds request_timeout{30'000};
  // A keep-alive connection idle for this long is closed.
  std::chrono::milliseconds idle_timeout{60'000};
  size_t max_connections = 10'000;
  std::optional<TlsFiles> tls;  // HTTPS when set
};

// What the server tells its observer after each answered request (metrics).
struct RequestRecord {
  std::string_view method;
  std::string_view route;  // the matched pattern, or "unmatched"
  int status;
  size_t response_bytes;
  std::chrono::nanoseconds duration;
};

class Server {
 public:
  Server(EventLoop& loop, ServerOptions options, Router router,
         std::shared_ptr<spdlog::logger> access_log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Called on an I/O thread after every answered request. Set before listen().
  void setObserver(std::function<void(const RequestRecord&)> observer);

  // Binds and starts accepting. Returns the bound port (the real one when options.port is
  // 0), or an error naming the port and the setting to change ("port 5001 is in use ...").
  Result<uint16_t> listen();

  // Graceful stop: stop accepting, close idle connections, let in-flight requests finish
  // for up to `drain`, then close the rest. Calls `done` (on an I/O thread) when finished.
  void shutdown(std::chrono::milliseconds drain, std::function<void()> done);

  size_t openConnections() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace chtlink::net
