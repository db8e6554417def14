// ServeProcess: `chtlink serve` on 127.0.0.1 with a port chosen at run time and its
// database in a temporary directory; plus a blocking HTTP client to talk to it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "child_process.h"
#include "net/client.h"
#include "net/event_loop.h"
#include "temp_dir.h"

namespace chtlink::testing {

class ServeProcess {
 public:
  // `dir` holds the database (dir/chtlink.db) and logs; extra `--set` overrides follow.
  ServeProcess(const TempDir& dir, std::vector<std::string> sets = {},
               std::vector<std::string> extra_args = {});
  // The port of listener `name` ("server", and later "fhir", ...); 0 when it has none.
  uint16_t port(const std::string& name = "server") const;
  // http://127.0.0.1:<port of listener>/path
  std::string url(const std::string& path, const std::string& listener = "server") const;
  ChildProcess& process() { return *process_; }
  std::string databaseUrl() const;

 private:
  const TempDir& dir_;
  std::unique_ptr<ChildProcess> process_;
  std::map<std::string, uint16_t> ports_;
};

// A blocking HTTP client for tests (its own event loop).
class TestClient {
 public:
  TestClient();
  ~TestClient();
  Result<net::ClientResponse> get(const std::string& url, net::Headers headers = {});
  Result<net::ClientResponse> send(net::ClientRequest request);

 private:
  net::EventLoop loop_{1};
  std::unique_ptr<net::HttpClient> client_;
};

}  // namespace chtlink::testing
