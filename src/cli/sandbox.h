// Sandbox mode: `chtlink serve` with no configuration file runs the whole reference LTFU
// picture on one machine, with the reference development environment's names and
// passwords so existing Postman environments, scripts and .env files work unchanged.
//
// The sandbox configures chtlink's own admin API the way the reference deployment's
// configurator container configures OpenHIM: over HTTP, with one /metadata import and a
// mediator channel install, so the result is exactly what an operator could have done by
// hand, and the same code path the admin API's users exercise.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "net/client.h"

namespace spdlog {
class logger;
}

namespace chtlink::cli {

// Reference development credentials (cht-interoperability's docker set-up).
inline constexpr const char* kSandboxRootUser = "root@openhim.org";
inline constexpr const char* kSandboxRootPassword = "openhim-password";
inline constexpr const char* kSandboxInteropUser = "interop@openhim.org";
inline constexpr const char* kSandboxInteropPassword = "interop-password";
inline constexpr const char* kSandboxClientId = "interop-client";
inline constexpr const char* kSandboxClientPassword = "interop-password";
inline constexpr const char* kSandboxClientRole = "interop";
inline constexpr const char* kSandboxMediatorUrn = "urn:mediator:ltfu-mediator";

// Whether this run is a sandbox: sandbox.mode "on", or "auto" without a --config file.
bool isSandbox(const config::Config& config, bool has_config_file);

// Where each listener ended up (0 = not running), for the channels and the banner.
struct SandboxPorts {
  uint16_t router = 0;
  uint16_t api = 0;
  uint16_t fhir = 0;
  uint16_t mediator = 0;
  uint16_t cht = 0;
};

// The /metadata import that installs the reference configuration: the users and client
// that do not exist yet, and the channels "FHIR Server" and "Mediator" routed to this run's
// ports (upserted by name, so a restart on other ports keeps them working).
Json sandboxMetadata(const SandboxPorts& ports, const std::string& fhir_base_path,
                     const std::vector<std::string>& existing_users,
                     const std::vector<std::string>& existing_clients, Random& random);

// Applies the reference configuration through the admin API on its own thread (the HTTP
// calls block, and must not run on an I/O thread). Logs each step; a failure is logged with
// what to check, and the server keeps running.
class SandboxConfigurator {
 public:
  SandboxConfigurator(net::HttpClient& client, SandboxPorts ports, config::Config config,
                      std::shared_ptr<spdlog::logger> log);
  ~SandboxConfigurator();  // joins the thread
  SandboxConfigurator(const SandboxConfigurator&) = delete;
  SandboxConfigurator& operator=(const SandboxConfigurator&) = delete;

  void start();

 private:
  void run();

  net::HttpClient& client_;
  SandboxPorts ports_;
  config::Config config_;
  std::shared_ptr<spdlog::logger> log_;
  std::thread thread_;
};

// The start-up table: every URL and the sandbox credentials.
std::string sandboxBanner(const config::Config& config, const SandboxPorts& ports,
                          const std::string& data_dir);

}  // namespace chtlink::cli
