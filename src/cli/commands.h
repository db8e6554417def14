// The subcommands, each in its own file; app.cc wires them to CLI11.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace chtlink::cli {

// Options every subcommand that reads the configuration accepts.
struct ConfigArgs {
  std::optional<std::string> file;
  std::vector<std::string> sets;
  std::optional<std::string> log_format;  // --log-format, same as --set log.format=
  std::optional<std::string> log_level;
};

// Loads the configuration; on error prints it to stderr and returns nullopt.
std::optional<config::Config> loadConfigOrReport(const ConfigArgs& args);

struct ServeArgs {
  ConfigArgs config;
  std::string port_file;  // written with the bound port once listening (for tests)
};
int serveCommand(const ServeArgs& args);

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

}  // namespace chtlink::cli
