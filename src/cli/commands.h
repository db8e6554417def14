// The subcommands, each in its own file; app.cc wires them to CLI11.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace CLI {
class App;
}

namespace chtlink::cli {

// Options every subcommand that reads the configuration accepts.
struct ConfigArgs {
  std::optional<std::string> file;
  std::vector<std::string> sets;
  std::optional<std::string> log_format;  // --log-format, same as --set log.format=
  std::optional<std::string> log_level;
};

// Adds -c/--config, --set, --log-format and --log-level to `cmd`.
void addConfigOptions(CLI::App* cmd, ConfigArgs& args);

// `store migrate` and `store copy` (store_command.cc).
void addStoreCommand(CLI::App& app, int& exit_code);

// `fhir validate FILE...` (fhir_validate_command.cc).
void addFhirCommand(CLI::App& app, int& exit_code);

// Loads the configuration; on error prints it to stderr and returns nullopt.
std::optional<config::Config> loadConfigOrReport(const ConfigArgs& args);

struct ServeArgs {
  ConfigArgs config;
  std::string port_file;  // written with the bound port once listening (for tests)
};
int serveCommand(const ServeArgs& args);

struct DemoArgs {
  std::string flow = "ltfu";
  std::string url = "http://127.0.0.1:5001";  // the router
  std::string cht_url = "http://127.0.0.1:5988";
  std::string username = "interop-client";  // router client
  std::string password = "interop-password";
  std::string cht_username = "admin";
  std::string cht_password = "password";
  int timeout_ms = 30'000;  // per asynchronous step
  bool insecure = false;    // do not verify TLS certificates
};
int demoLtfuCommand(const DemoArgs& args);

int configCheckCommand(const ConfigArgs& args);
int configDocsCommand();

struct JobsListArgs {
  ConfigArgs config;
  std::string state;  // empty = every state
  std::string kind;
  int limit = 100;
  bool json = false;
};
int jobsListCommand(const JobsListArgs& args);

struct JobsReplayArgs {
  ConfigArgs config;
  std::optional<int64_t> id;
  bool all_dead = false;
};
int jobsReplayCommand(const JobsReplayArgs& args);

struct JobsDeleteArgs {
  ConfigArgs config;
  int64_t id = 0;
};
int jobsDeleteCommand(const JobsDeleteArgs& args);

// `outbound dry-run`: evaluate app_settings.outbound against documents, send nothing.
struct OutboundDryRunArgs {
  std::string settings_file;  // app_settings JSON; empty = read from --cht
  std::string docs_file;      // documents JSON (array, {"docs":[]}, _all_docs answer)
  std::string cht_url;        // or read the documents from this CHT (medic/_all_docs)
  std::string user;           // CHT user (else from the URL)
  std::string password;
  int limit = 0;             // 0 = every document
  bool json = false;         // one JSON object per document
  bool insecure = false;     // do not verify the CHT TLS certificate
  int time_limit_ms = 1000;  // per JavaScript expression
};
int outboundDryRunCommand(const OutboundDryRunArgs& args);

// `cht-sim`: the CHT API emulator.
struct ChtSimArgs {
  ConfigArgs config;
  std::string host = "127.0.0.1";
  int port = 5988;
  std::string port_file;
  std::string store_url;  // empty: store.url of the configuration
  std::string seed;       // "ltfu" or empty
  std::string router_url;
  std::string admin_user;
  std::string admin_password;
  int64_t scheduler_interval_ms = 0;  // 0: CHT's 5 minutes
  bool test_hooks = false;
};
int chtSimCommand(const ChtSimArgs& args);

// `cht backfill`: pull mode from a sequence until caught up, with progress.
struct ChtBackfillArgs {
  ConfigArgs config;
  std::string cht_url;
  std::string user;
  std::string password;
  std::string since;  // empty: continue from the stored checkpoint
  int batch = 500;
  std::vector<std::string> credentials;  // KEY=SECRET for outbound auth
};
int chtBackfillCommand(const ChtBackfillArgs& args);

}  // namespace chtlink::cli
