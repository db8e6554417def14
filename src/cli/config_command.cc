#include <cstdio>
#include <iostream>

#include "cli/app.h"
#include "cli/commands.h"

namespace chtlink::cli {

std::optional<config::Config> loadConfigOrReport(const ConfigArgs& args) {
  config::ConfigSources sources;
  sources.file = args.file;
  sources.env = config::processEnvironment();
  sources.overrides = args.sets;
  if (args.log_format) sources.overrides.push_back("log.format=" + *args.log_format);
  if (args.log_level) sources.overrides.push_back("log.level=" + *args.log_level);
  auto loaded = config::loadConfig(sources);
  if (!loaded.has_value()) {
    std::cerr << "chtlink: " << loaded.error().message << "\n";
    return std::nullopt;
  }
  return std::move(loaded).value();
}

int configCheckCommand(const ConfigArgs& args) {
  auto config = loadConfigOrReport(args);
  if (!config) return kExitUsage;
  std::cout << config::renderEffectiveConfig(*config);
  return kExitOk;
}

int configDocsCommand() {
  std::cout << config::renderConfigReference();
  return kExitOk;
}

}  // namespace chtlink::cli
