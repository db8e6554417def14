// config: chtlink's typed configuration, loaded once at start-up.
//
// Precedence, lowest to highest: built-in defaults < TOML file (--config) < the reference
// mediator's environment names (PORT, FHIR_URL, ... onto [mediator]) < environment
// (CHTLINK_SECTION_KEY) < command line (--set section.key=value). Every key is declared once
// in the settings table (settings.cc), which yields the TOML key, the environment variable
// and the row of docs/configuration.md. Unknown keys and values of the wrong type are errors
// that name the key (and file line and column); every problem is reported at once.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "cht/options.h"
#include "fhir/rest/fhir_options.h"
#include "him/options.h"
#include "mediator/options.h"
#include "net/client.h"
#include "net/server.h"
#include "queue/queue.h"
#include "store/database.h"

namespace chtlink::config {

// [sandbox]: `chtlink serve` without a file runs the whole reference stack (src/cli/sandbox.h).
struct SandboxOptions {
  std::string mode = "auto";  // auto (sandbox when no --config file), on, off
  bool seed = true;           // install the reference channels, client and users at start
};

struct LogOptions {
  std::string level = "info";   // trace, debug, info, warn, error
  std::string format = "text";  // text (readable on a terminal) or json (one object a line)
  bool access_log = true;       // one line per HTTP request
};

struct Config {
  net::ServerOptions server = defaultServerOptions();
  int io_threads = 0;  // 0: one per core
  std::chrono::milliseconds drain_timeout{10'000};
  // HTTPS for the server when both are set (turned into server.tls by loadConfig).
  std::string tls_certificate_file;
  std::string tls_private_key_file;
  net::ClientOptions client;
  store::StoreOptions store;
  queue::QueueOptions queue;
  him::HimOptions him;
  fhir::FhirOptions fhir;
  cht::ChtOptions cht;
  cht::ChtSimServeOptions cht_sim;
  mediator::MediatorOptions mediator;
  LogOptions log;
  SandboxOptions sandbox;

  // Where each key's value came from: "default", "file chtlink.toml:3:1",
  // "environment CHTLINK_SERVER_PORT", "--set".
  std::map<std::string, std::string> sources;

  static net::ServerOptions defaultServerOptions();
};

struct ConfigSources {
  std::optional<std::string> file;                       // path of a TOML file
  std::vector<std::pair<std::string, std::string>> env;  // the process environment
  std::vector<std::string> overrides;                    // "section.key=value" from --set
};

// Loads and validates. The error (InvalidArgument) lists every problem, one per line.
Result<Config> loadConfig(const ConfigSources& sources);

// The effective configuration as TOML, secrets masked, each value with its source.
std::string renderEffectiveConfig(const Config& config);

// docs/configuration.md, generated from the settings table.
std::string renderConfigReference();

// Reads the process environment into ConfigSources::env form.
std::vector<std::pair<std::string, std::string>> processEnvironment();

}  // namespace chtlink::config
