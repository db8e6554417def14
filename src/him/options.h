// him options: the [him] section of the configuration.
//
// The router has no listener of its own: it is the fallback handler of the main server
// (server.port, 5001 by default), beside /health and /metrics. The admin API has its own
// listener (api_port), HTTPS by default as in OpenHIM.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace chtlink::him {

struct HimOptions {
  bool enabled = true;
  std::string api_host = "127.0.0.1";
  uint16_t api_port = 8080;
  // HTTPS on the admin API. With no certificate configured, a self-signed one is created at
  // first start in data_dir and reused afterwards.
  bool api_tls = true;
  std::string api_tls_certificate_file;
  std::string api_tls_private_key_file;
  std::string data_dir = "chtlink-data";
  // Upstream timeout of a channel without its own `timeout`.
  std::chrono::milliseconds router_timeout{60'000};
  // Each stored body (request, response, route, orchestration) is cut beyond this.
  size_t max_stored_body_bytes = 1024 * 1024;
  // Token auth: auth-ts may differ from the server clock by this much.
  std::chrono::milliseconds auth_window{10'000};
  // Sandbox mode, set by the composition root from sandbox.mode (not a setting of its own):
  // root@openhim.org keeps OpenHIM's public default password openhim-password and a warning
  // says so at start. Outside the sandbox start() refuses while root still has it.
  bool sandbox = false;
};

}  // namespace chtlink::him
