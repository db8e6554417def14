// Helpers for him's integration tests: `chtlink serve` with its admin API on plain HTTP, an
// admin API client, and an upstream whose answers each test chooses.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/json.h"
#include "net/event_loop.h"
#include "net/server.h"
#include "serve_process.h"

namespace chtlink::testing {

// An HTTP server in the test process; answers with `respond` (200 {"ok":true} by default)
// and records every request.
class Upstream {
 public:
  using Respond = std::function<net::Response(const net::Request&)>;
  Upstream();
  ~Upstream();
  uint16_t port() const { return port_; }
  void respondWith(Respond respond);
  // Keeps requests unanswered until destruction (for timeouts).
  void hold();
  std::vector<net::Request> requests() const;
  size_t received() const;

 private:
  net::EventLoop loop_{1};
  std::unique_ptr<net::Server> server_;
  uint16_t port_ = 0;
  mutable std::mutex mu_;
  Respond respond_;
  bool hold_ = false;
  std::vector<net::Request> requests_;
  std::vector<net::Reply> held_;
};

// A ServeProcess with the admin API on plain HTTP (him.api_tls=false) and calls to it as
// root@openhim.org with Basic auth.
class HimServe {
 public:
  explicit HimServe(const TempDir& dir, std::vector<std::string> sets = {});
  ServeProcess& serve() { return serve_; }
  std::string api(const std::string& path) const { return serve_.url(path, "api"); }
  std::string router(const std::string& path) const { return serve_.url(path); }

  Result<net::ClientResponse> apiCall(const std::string& method, const std::string& path,
                                      const Json& body = Json(), net::Headers headers = {},
                                      bool basic_root = true);
  // A router call, with Basic credentials when `user` ("id:password") is not empty.
  Result<net::ClientResponse> routerCall(const std::string& method, const std::string& path,
                                         const std::string& user = "",
                                         const std::string& body = "");
  // POST /clients with sha512 hash material for `password`; asserts 201.
  void createClient(const std::string& client_id, const std::string& password,
                    const std::vector<std::string>& roles);
  // POST /channels; asserts 201.
  void createChannel(const Json& channel);
  // GET /transactions?filterRepresentation=full&filters=...; empty on failure.
  Json transactions(const std::string& filters = "");

 private:
  ServeProcess serve_;
  TestClient client_;
};

// A channel document routing `pattern` to 127.0.0.1:`port`.
Json channelTo(const std::string& name, const std::string& pattern, uint16_t port,
               Json extra = Json::object());

}  // namespace chtlink::testing
