// A `chtlink cht-sim` process (seeded `ltfu`, outbound pointed at `router_url`), and a call
// to it as CHT's `medic` admin: for the integration tests that need CHT as a separate
// process.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "child_process.h"
#include "net/client.h"
#include "serve_process.h"
#include "temp_dir.h"

namespace chtlink::testing {

class ChtSimProcess {
 public:
  // On `port` (0: a free one), with `extra_args` after the usual ones (e.g. "--test-hooks").
  // Its store is `sim.db` in `dir`, so a second process on the same `dir` restarts it.
  ChtSimProcess(const TempDir& dir, const std::string& router_url,
                const std::vector<std::string>& extra_args = {}, uint16_t port = 0);
  uint16_t port() const { return port_; }  // 0 when it did not start
  std::string url(const std::string& path = "") const;
  ChildProcess& process() { return *process_; }

 private:
  std::unique_ptr<ChildProcess> process_;
  uint16_t port_ = 0;
};

// `method url` with a JSON `body`, as cht-sim's `medic` admin. An empty response (status 0)
// when the call failed, which is also reported as a test failure.
net::ClientResponse sendAsChtAdmin(TestClient& client, const std::string& method,
                                   const std::string& url, const std::string& body,
                                   std::chrono::seconds timeout = std::chrono::seconds(60));

}  // namespace chtlink::testing
