#include "cli/app.h"

#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace chtlink::cli {
namespace {

void addConfigOptions(CLI::App* cmd, ConfigArgs& args) {
  cmd->add_option("-c,--config", args.file, "TOML configuration file")->check(CLI::ExistingFile);
  cmd->add_option("--set", args.sets,
                  "Override one setting: section.key=value (repeatable; see `config docs`)")
      ->type_name("KEY=VALUE");
  cmd->add_option("--log-format", args.log_format, "text or json (same as --set log.format=)");
  cmd->add_option("--log-level", args.log_level, "trace, debug, info, warn or error");
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"chtlink: connects the Community Health Toolkit (CHT) to HL7 FHIR systems, "
               "the OpenHIE way, in one binary."};
  app.set_version_flag("-V,--version", std::string("chtlink ") + CHTLINK_VERSION);
  app.require_subcommand(1);
  int exit_code = kExitOk;

  ServeArgs serve;
  auto* serve_cmd = app.add_subcommand("serve", "Run the chtlink server");
  addConfigOptions(serve_cmd, serve.config);
  serve_cmd->add_option("--port-file", serve.port_file,
                        "Once listening, write one name=port line per listener (server=5001) to this file");
  serve_cmd->callback([&] { exit_code = serveCommand(serve); });

  auto* config_cmd = app.add_subcommand("config", "Inspect the configuration");
  config_cmd->require_subcommand(1);
  ConfigArgs check;
  auto* check_cmd = config_cmd->add_subcommand(
      "check", "Validate the configuration and print the effective values, secrets masked");
  addConfigOptions(check_cmd, check);
  check_cmd->callback([&] { exit_code = configCheckCommand(check); });
  config_cmd->add_subcommand("docs", "Print the configuration reference (Markdown)")
      ->callback([&] { exit_code = configDocsCommand(); });

  auto* jobs_cmd = app.add_subcommand("jobs", "List, replay and delete durable queue jobs");
  jobs_cmd->require_subcommand(1);
  JobsListArgs list;
  auto* list_cmd = jobs_cmd->add_subcommand("list", "List jobs, oldest first");
  addConfigOptions(list_cmd, list.config);
  list_cmd->add_option("--state", list.state, "pending, running, done or dead")
      ->check(CLI::IsMember({"pending", "running", "done", "dead"}));
  list_cmd->add_option("--kind", list.kind, "Only jobs of this kind");
  list_cmd->add_option("--limit", list.limit, "At most this many jobs")->check(CLI::Range(1, 100000));
  list_cmd->add_flag("--json", list.json, "One JSON object per line");
  list_cmd->callback([&] { exit_code = jobsListCommand(list); });

  JobsReplayArgs replay;
  auto* replay_cmd = jobs_cmd->add_subcommand("replay", "Queue a dead job (or all) again");
  addConfigOptions(replay_cmd, replay.config);
  auto* id_opt = replay_cmd->add_option("id", replay.id, "Job id");
  auto* all_opt = replay_cmd->add_flag("--all-dead", replay.all_dead, "Replay every dead job");
  id_opt->excludes(all_opt);
  replay_cmd->callback([&] {
    if (!replay.id && !replay.all_dead) throw CLI::RequiredError("a job id or --all-dead");
    exit_code = jobsReplayCommand(replay);
  });

  JobsDeleteArgs del;
  auto* delete_cmd = jobs_cmd->add_subcommand("delete", "Delete a job that is not running");
  addConfigOptions(delete_cmd, del.config);
  delete_cmd->add_option("id", del.id, "Job id")->required();
  delete_cmd->callback([&] { exit_code = jobsDeleteCommand(del); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return exit_code;
}

}  // namespace chtlink::cli
