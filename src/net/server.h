// Server: an HTTP/1.1 listener on Boost.Beast with keep-alive, limits and graceful shutdown.
//
// Each connection is a session on its own strand with a fresh, limited parser per request.
// Limits (options below) are enforced before the handler runs: an oversized header block
// gets 431, an oversized body 413, a malformed request 400 and the connection closed; each
// with a JSON body. One access-log line per request (method, path, status, bytes, duration,
// request id). X-Request-Id is honoured when the client sends one (and echoed), generated
// otherwise (1 to 128 visible ASCII characters are honoured; anything else is replaced).
//
// Timeouts: a new connection must start its first request within read_timeout, and a
// started request must arrive whole within read_timeout (else 408 and close). Between
// keep-alive requests a connection may stay quiet for idle_timeout, then it is closed without
// an answer. Handlers get request_timeout (else 503; their late answer is dropped). Answers
// carry Content-Length (never chunked) and no Date header; Expect: 100-continue is honoured.
// Framing headers a handler sets (Content-Length, Transfer-Encoding, Connection) are ignored,
// and header values with control characters are dropped and logged.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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
  size_t max_header_bytes = 16 * 1024;       // request line + headers; more gets 431
  size_t max_body_bytes = 10 * 1024 * 1024;  // more gets 413, before the body is read
  // From the first byte of a request to its last byte; a slower client gets 408 and is closed.
  std::chrono::milliseconds read_timeout{15'000};
  // From a full request to the handler's answer; past it the client gets 503 with a JSON body.
  std::chrono::milliseconds request_timeout{30'000};
  // A keep-alive connection idle for this long is closed.
  std::chrono::milliseconds idle_timeout{60'000};
  // Sending one answer may take this long; a client reading slower is dropped.
  std::chrono::milliseconds write_timeout{15'000};
  // Beyond this many open connections, a new one is answered 503 (JSON) and closed.
  size_t max_connections = 10'000;
  std::optional<TlsFiles> tls;  // HTTPS when set
  // Listener events and handler failures ("router listening on ...", exceptions, accept
  // errors). Null: they go to the access log.
  std::shared_ptr<spdlog::logger> error_log;
};

// What the server tells its observer after each answered request (metrics).
struct RequestRecord {
  std::string_view method;
  std::string_view route;  // the matched pattern, or "unmatched"
  int status;
  size_t response_bytes;
  std::chrono::nanoseconds duration;
};

// Thread-safety: construct, setObserver() and listen() on one thread; shutdown(),
// openConnections() and acceptedConnections() from any thread. Destroy the Server before its
// EventLoop; destroying it closes the listener and every connection at once. Pools whose
// tasks may still answer a Reply must be stopped before the EventLoop is destroyed.
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
  // for up to `drain` (their answers carry Connection: close), then close the rest. Calls
  // `done` (on an I/O thread) once every connection is gone. May be called from any thread.
  void shutdown(std::chrono::milliseconds drain, std::function<void()> done);

  size_t openConnections() const;
  // Connections accepted since listen() (including refused ones), for tests and metrics.
  size_t acceptedConnections() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace chtlink::net
