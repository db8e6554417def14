#include "cht/cht_service.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <map>
#include <sstream>

#include "cht/client/cht_client.h"
#include "cht/emulator/cht_sim.h"
#include "cht/emulator/doc_store.h"
#include "cht/feed/pull_follower.h"
#include "cht/feed/pull_runner.h"
#include "cht/outbound/request.h"
#include "script/engine.h"
#include "store/migrations.h"

namespace chtlink::cht {
namespace {

Result<OrderedJson> readJsonFile(const std::string& path, const std::string& setting) {
  std::ifstream in(path);
  if (!in) return invalidArgument(setting + ": cannot read " + path, "bad_config");
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = outbound::parseOrderedJson(text.str());
  if (!parsed) {
    return invalidArgument(setting + ": " + path + " is not valid JSON: " + parsed.error().message,
                           "bad_config");
  }
  if (!parsed->is_object()) {
    return invalidArgument(setting + ": " + path + " must hold a JSON object", "bad_config");
  }
  return std::move(parsed).value();
}

// Outbound credentials of pull mode, read once from cht.credentials_file.
class FileCredentials final : public outbound::CredentialStore {
 public:
  std::map<std::string, std::string> values;
  Result<std::optional<std::string>> get(std::string_view key) override {
    auto found = values.find(std::string(key));
    if (found == values.end()) return std::optional<std::string>();
    return std::optional<std::string>(found->second);
  }
};

}  // namespace

struct ChtService::Parts {
  std::shared_ptr<spdlog::logger> logger;
  MtRandom random;
  std::unique_ptr<script::Engine> engine;
  std::unique_ptr<emulator::ChtSim> sim;
  std::optional<net::Router> sim_router;
  std::optional<ChtClient> client;
  FileCredentials credentials;
  std::unique_ptr<feed::PullFollower> follower;
  std::unique_ptr<feed::PullRunner> runner;
};

Status ChtService::migrate(store::Database& database) {
  CHTLINK_TRY(store::migrate(database, emulator::DocStore::migrations()));
  return store::migrate(database, feed::PullFollower::migrations());
}

bool ChtService::needsScript(const ChtOptions& cht, const ChtSimServeOptions& sim) {
  return cht.mode == "pull" || sim.enabled;
}

Result<std::unique_ptr<ChtService>> ChtService::create(Deps deps, const ChtOptions& cht,
                                                       const ChtSimServeOptions& sim,
                                                       const std::string& router_url) {
  auto parts = std::make_unique<Parts>();
  parts->logger = deps.logger;
  const bool pull = cht.mode == "pull";
  if (needsScript(cht, sim)) {
    if (!deps.platform) return internalError("cht: JavaScript platform missing");
    CHTLINK_ASSIGN_OR_RETURN(parts->engine,
                             script::Engine::create(*deps.platform, {}, deps.logger));
  }
  if (sim.enabled) {
    emulator::ChtSimOptions options;
    options.seed_ltfu = sim.seed == "ltfu";
    options.router_url = sim.router_url.empty() ? router_url : sim.router_url;
    options.admin_user = sim.admin_user;
    options.admin_password = sim.admin_password;
    options.scheduler_interval = sim.scheduler_interval;
    options.test_hooks = sim.test_hooks;
    CHTLINK_ASSIGN_OR_RETURN(
        parts->sim, emulator::ChtSim::create(deps.database, *parts->engine, deps.http, deps.clock,
                                             parts->random, options, deps.logger));
    parts->sim_router = parts->sim->router();
  }
  if (pull) {
    if (cht.leader_retry < std::chrono::milliseconds(100)) {
      return invalidArgument("cht.leader_retry must be at least 100ms", "bad_config");
    }
    feed::PullOptions options;
    options.checkpoint = cht.checkpoint;
    options.batch = cht.batch;
    options.longpoll = cht.longpoll;
    options.max_attempts = cht.max_attempts;
    if (!cht.settings_file.empty()) {
      CHTLINK_ASSIGN_OR_RETURN(options.app_settings,
                               readJsonFile(cht.settings_file, "cht.settings_file"));
    }
    if (!cht.credentials_file.empty()) {
      CHTLINK_ASSIGN_OR_RETURN(auto secrets,
                               readJsonFile(cht.credentials_file, "cht.credentials_file"));
      for (const auto& [key, value] : secrets.items()) {
        if (!value.is_string()) {
          return invalidArgument("cht.credentials_file: " + cht.credentials_file + ": \"" + key +
                                     "\" must be a string",
                                 "bad_config");
        }
        parts->credentials.values[key] = value.get<std::string>();
      }
    }
    // The request timeout stays the client's default: a longpoll waits `cht.longpoll` plus
    // that, so a quiet feed's answer always arrives before the request times out.
    ChtClientOptions client_options;
    client_options.url = cht.url;
    client_options.username = cht.username;
    client_options.password = cht.password;
    auto client = ChtClient::create(deps.http, client_options);
    if (!client) return client.error().withContext("cht.url: ");
    parts->client.emplace(std::move(client).value());
    parts->follower = std::make_unique<feed::PullFollower>(
        deps.database, *parts->client, *parts->engine, parts->credentials, deps.clock, deps.queue,
        options, deps.logger);
    // Named after the checkpoint, the state the followers share: processes that resume
    // from one checkpoint must not follow at once, whatever URL spelling they were given.
    feed::PullLeadership leadership;
    leadership.lock_name = "cht-pull:" + cht.checkpoint;
    leadership.retry = cht.leader_retry;
    if (deps.on_pull_role) {
      leadership.on_role = [on_role = deps.on_pull_role](feed::PullRole role) {
        on_role(feed::pullRoleName(role));
      };
    }
    parts->runner = std::make_unique<feed::PullRunner>(*parts->follower, *parts->client,
                                                       cht.longpoll, deps.notify_queue, deps.logger,
                                                       &deps.database, std::move(leadership));
  }
  return std::unique_ptr<ChtService>(new ChtService(std::move(parts)));
}

ChtService::ChtService(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

ChtService::~ChtService() { stop(); }

std::optional<net::Router> ChtService::takeSimRouter() {
  auto router = std::move(parts_->sim_router);
  parts_->sim_router.reset();
  return router;
}

void ChtService::start() {
  if (parts_->runner) {
    parts_->runner->start();
    if (parts_->logger) {
      parts_->logger->info("pull mode: {}/medic/_changes (followed by one process at a time)",
                           parts_->client->baseUrl());
    }
  }
}

void ChtService::beginShutdown() {
  if (parts_->sim) parts_->sim->drainWaiters();
}

void ChtService::stop() {
  if (parts_->runner) parts_->runner->stop();
  if (parts_->sim) parts_->sim->stop();
}

}  // namespace chtlink::cht
