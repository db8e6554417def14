// `chtlink cht-sim`: the CHT API emulator on its own listener (default port 5988), with its
// state in the store (migration module "chtsim").
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>

#include "base/clock.h"
#include "base/random.h"
#include "cht/emulator/cht_sim.h"
#include "cht/emulator/doc_store.h"
#include "cli/app.h"
#include "cli/commands.h"
#include "cli/logging.h"
#include "net/client.h"
#include "net/event_loop.h"
#include "net/server.h"
#include "script/engine.h"
#include "script/platform.h"
#include "store/database.h"
#include "store/migrations.h"

namespace chtlink::cli {

int chtSimCommand(const ChtSimArgs& args) {
  auto config = loadConfigOrReport(args.config);
  if (!config) return kExitUsage;
  if (!args.store_url.empty()) config->store.url = args.store_url;
  if (!args.seed.empty() && args.seed != "ltfu") {
    std::cerr << "chtlink: --seed accepts only \"ltfu\"\n";
    return kExitUsage;
  }
  Loggers loggers = makeLoggers(config->log);
  auto& log = *loggers.main;

  SystemClock clock;
  MtRandom random;
  auto db = store::openDatabase(config->store, loggers.main);
  if (!db) {
    log.error("{}", db.error().message);
    return kExitFailure;
  }
  if (Status s = store::migrate(**db, cht::emulator::DocStore::migrations()); !s) {
    log.error("database migration failed: {}", s.error().message);
    return kExitFailure;
  }
  // The process-wide JavaScript state, owned here for the life of the command.
  auto platform = script::Platform::initialize();
  if (!platform) {
    log.error("{}", platform.error().message);
    return kExitFailure;
  }
  auto engine = script::Engine::create(**platform, script::EngineOptions{}, loggers.main);
  if (!engine) {
    log.error("{}", engine.error().message);
    return kExitFailure;
  }
  net::EventLoop loop(2, loggers.main);
  auto client = net::makeBeastHttpClient(loop, config->client);

  cht::emulator::ChtSimOptions options;
  options.seed_ltfu = args.seed == "ltfu";
  if (!args.router_url.empty()) options.router_url = args.router_url;
  if (!args.admin_user.empty()) options.admin_user = args.admin_user;
  if (!args.admin_password.empty()) options.admin_password = args.admin_password;
  if (args.scheduler_interval_ms > 0) {
    options.scheduler_interval = std::chrono::milliseconds(args.scheduler_interval_ms);
  }
  options.test_hooks = args.test_hooks;
  auto sim =
      cht::emulator::ChtSim::create(**db, **engine, *client, clock, random, options, loggers.main);
  if (!sim) {
    log.error("{}", sim.error().message);
    return kExitFailure;
  }
  net::ServerOptions server_options;
  server_options.name = "cht-sim";
  server_options.host = args.host;
  server_options.port = static_cast<uint16_t>(args.port);
  server_options.port_setting = "--port";
  server_options.error_log = loggers.main;
  // Longpoll _changes waits up to 60 s before answering.
  server_options.request_timeout = std::chrono::milliseconds(90'000);
  net::Server server(loop, server_options, (*sim)->router(), loggers.access);
  auto port = server.listen();
  if (!port) {
    log.error("{}", port.error().message);
    return kExitFailure;
  }
  if (!args.port_file.empty()) {
    const std::string tmp = args.port_file + ".tmp";
    {
      std::ofstream out(tmp);
      out << "cht-sim=" << *port << "\n";
    }
    std::error_code ec;
    std::filesystem::rename(tmp, args.port_file, ec);
    if (ec) {
      log.error("cannot write port file {}: {}", args.port_file, ec.message());
      return kExitFailure;
    }
  }
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  loop.onSignal({SIGINT, SIGTERM}, [&](int) {
    server.shutdown(std::chrono::milliseconds(2'000), [&] {
      std::lock_guard lock(mu);
      stopped = true;
      cv.notify_all();
    });
  });
  loop.start();
  log.info("cht-sim ready: http://{}:{} (admin {}), store {}{}", args.host, *port,
           options.admin_user, (*db)->describe(), options.seed_ltfu ? ", seeded with LTFU" : "");
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return stopped; });
  }
  (*sim)->stop();
  loop.stop();
  loop.join();
  client.reset();
  log.info("cht-sim stopped");
  return kExitOk;
}

}  // namespace chtlink::cli
