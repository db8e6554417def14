#include "cli/app.h"

#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace chtlink::cli {

void addConfigOptions(CLI::App* cmd, ConfigArgs& args) {
  cmd->add_option("-c,--config", args.file, "TOML configuration file")->check(CLI::ExistingFile);
  cmd->add_option("--set", args.sets,
                  "Override one setting: section.key=value (repeatable; see `config docs`)")
      ->type_name("KEY=VALUE");
  cmd->add_option("--log-format", args.log_format, "text or json (same as --set log.format=)");
  cmd->add_option("--log-level", args.log_level, "trace, debug, info, warn or error");
}

int run(int argc, char** argv) {
  CLI::App app{
      "chtlink: connects the Community Health Toolkit (CHT) to HL7 FHIR systems, "
      "the OpenHIE way, in one binary."};
  app.set_version_flag("-V,--version", std::string("chtlink ") + CHTLINK_VERSION);
  app.require_subcommand(1);
  int exit_code = kExitOk;

  ServeArgs serve;
  auto* serve_cmd = app.add_subcommand("serve", "Run the chtlink server");
  addConfigOptions(serve_cmd, serve.config);
  serve_cmd->add_option(
      "--port-file", serve.port_file,
      "Once listening, write one name=port line per listener (server=5001) to this file");
  serve_cmd->callback([&] { exit_code = serveCommand(serve); });

  auto* config_cmd = app.add_subcommand("config", "Inspect the configuration");
  config_cmd->require_subcommand(1);
  ConfigArgs check;
  auto* check_cmd = config_cmd->add_subcommand(
      "check", "Validate the configuration and print the effective values, secrets masked");
  addConfigOptions(check_cmd, check);
  check_cmd->callback([&] { exit_code = configCheckCommand(check); });
  config_cmd->add_subcommand("docs", "Print the configuration reference (Markdown)")->callback([&] {
    exit_code = configDocsCommand();
  });

  auto* jobs_cmd = app.add_subcommand("jobs", "List, replay and delete durable queue jobs");
  jobs_cmd->require_subcommand(1);
  JobsListArgs list;
  auto* list_cmd = jobs_cmd->add_subcommand("list", "List jobs, oldest first");
  addConfigOptions(list_cmd, list.config);
  list_cmd->add_option("--state", list.state, "pending, running, done or dead")
      ->check(CLI::IsMember({"pending", "running", "done", "dead"}));
  list_cmd->add_option("--kind", list.kind, "Only jobs of this kind");
  list_cmd->add_option("--limit", list.limit, "At most this many jobs")
      ->check(CLI::Range(1, 100000));
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

  auto* outbound_cmd = app.add_subcommand("outbound", "Check CHT outbound-push configurations");
  outbound_cmd->require_subcommand(1);
  OutboundDryRunArgs dry_run;
  auto* dry_run_cmd = outbound_cmd->add_subcommand(
      "dry-run",
      "Show, per document, which outbound configs apply and the exact payload and "
      "hash CHT would send (or the error); sends nothing. Exit 1 if any config errors");
  dry_run_cmd->add_option("--settings", dry_run.settings_file, "app_settings JSON file")
      ->check(CLI::ExistingFile);
  auto* docs_opt = dry_run_cmd
                       ->add_option("--docs", dry_run.docs_file,
                                    "Documents: a JSON array, {\"docs\":[...]} or an "
                                    "_all_docs answer")
                       ->check(CLI::ExistingFile);
  auto* cht_opt = dry_run_cmd->add_option("--cht", dry_run.cht_url,
                                          "Read documents (hydrated) from this CHT, e.g. "
                                          "https://user:pass@cht.example.org");
  docs_opt->excludes(cht_opt);
  dry_run_cmd->add_option("--user", dry_run.user, "CHT user name (else from the URL)");
  dry_run_cmd->add_option("--password", dry_run.password, "CHT password (else from the URL)");
  dry_run_cmd->add_option("--limit", dry_run.limit, "At most this many documents")
      ->check(CLI::Range(0, 100000000));
  dry_run_cmd
      ->add_option("--time-limit-ms", dry_run.time_limit_ms,
                   "Time limit of one JavaScript expression")
      ->check(CLI::Range(1, 600000));
  dry_run_cmd->add_flag("--json", dry_run.json, "One JSON object per document");
  dry_run_cmd->add_flag("--insecure", dry_run.insecure, "Do not verify CHT's TLS certificate");
  dry_run_cmd->callback([&] { exit_code = outboundDryRunCommand(dry_run); });

  ChtSimArgs sim;
  auto* sim_cmd = app.add_subcommand(
      "cht-sim", "Run the CHT API emulator (documents, changes feed, Sentinel outbound push)");
  addConfigOptions(sim_cmd, sim.config);
  sim_cmd->add_option("--host", sim.host, "Listen address");
  sim_cmd->add_option("--port", sim.port, "Listen port (0 = any free port)")
      ->check(CLI::Range(0, 65535));
  sim_cmd->add_option("--port-file", sim.port_file,
                      "Once listening, write cht-sim=<port> to this file");
  sim_cmd->add_option("--store", sim.store_url,
                      "Store URL for the emulator's state (default: store.url)");
  sim_cmd
      ->add_option("--seed", sim.seed,
                   "Seed a fresh emulator: ltfu = the reference LTFU app_settings")
      ->check(CLI::IsMember({"ltfu"}));
  sim_cmd->add_option(
      "--router-url", sim.router_url,
      "Base URL the seeded outbound configs push to (default http://127.0.0.1:5001)");
  sim_cmd->add_option("--admin-user", sim.admin_user, "CouchDB admin name (default medic)");
  sim_cmd->add_option("--admin-password", sim.admin_password,
                      "CouchDB admin password (default password)");
  sim_cmd->add_option("--scheduler-interval-ms", sim.scheduler_interval_ms,
                      "Outbound retry interval (default 300000, as CHT)");
  sim_cmd->add_flag("--test-hooks", sim.test_hooks,
                    "Serve POST /_sim/clock/advance and /_sim/scheduler/run (tests only)");
  sim_cmd->callback([&] { exit_code = chtSimCommand(sim); });

  ChtBackfillArgs backfill;
  auto* cht_cmd = app.add_subcommand("cht", "Pull mode: read CHT's changes feed");
  cht_cmd->require_subcommand(1);
  auto* backfill_cmd = cht_cmd->add_subcommand(
      "backfill",
      "Evaluate outbound rules over CHT's changes feed from --since until caught up, "
      "enqueuing delivery jobs");
  addConfigOptions(backfill_cmd, backfill.config);
  backfill_cmd->add_option("--cht", backfill.cht_url, "CHT URL (https://user:pass@host)")
      ->required();
  backfill_cmd->add_option("--user", backfill.user, "CHT user name (else from the URL)");
  backfill_cmd->add_option("--password", backfill.password, "CHT password (else from the URL)");
  backfill_cmd->add_option("--since", backfill.since,
                           "Start sequence (0 = everything); default: the stored checkpoint");
  backfill_cmd->add_option("--batch", backfill.batch, "Changes per page")
      ->check(CLI::Range(1, 10000));
  backfill_cmd
      ->add_option("--credential", backfill.credentials,
                   "Outbound credential KEY=SECRET (repeatable), as CHT's credentials store")
      ->type_name("KEY=SECRET");
  backfill_cmd->callback([&] { exit_code = chtBackfillCommand(backfill); });

  addStoreCommand(app, exit_code);
  addFhirCommand(app, exit_code);

  DemoArgs demo;
  auto* demo_cmd = app.add_subcommand(
      "demo", "Walk a reference flow against a running chtlink, printing every exchange");
  demo_cmd->require_subcommand(1);
  auto* ltfu_cmd = demo_cmd->add_subcommand(
      "ltfu",
      "The Loss-to-Follow-Up flow: CHT patient -> FHIR, service request, CHW report, "
      "Encounter at the callback");
  ltfu_cmd->add_option("--url", demo.url, "The router (default http://127.0.0.1:5001)");
  ltfu_cmd->add_option("--cht-url", demo.cht_url, "CHT or cht-sim (default http://127.0.0.1:5988)");
  ltfu_cmd->add_option("--username", demo.username, "Router client (default interop-client)");
  ltfu_cmd->add_option("--password", demo.password, "Router client password");
  ltfu_cmd->add_option("--cht-username", demo.cht_username, "CHT admin user (default admin)");
  ltfu_cmd->add_option("--cht-password", demo.cht_password, "CHT admin password");
  ltfu_cmd->add_option("--timeout-ms", demo.timeout_ms,
                       "How long to wait for each asynchronous step (default 30000)");
  ltfu_cmd->add_flag("--insecure", demo.insecure, "Do not verify TLS certificates");
  ltfu_cmd->callback([&] { exit_code = demoLtfuCommand(demo); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return exit_code;
}

}  // namespace chtlink::cli
