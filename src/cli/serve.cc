// `chtlink serve`: the composition root. The only place that builds and wires components.
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "base/clock.h"
#include "base/random.h"
#include "cht/cht_service.h"
#include "cli/app.h"
#include "cli/commands.h"
#include "cli/http_metrics.h"
#include "cli/logging.h"
#include "cli/sandbox.h"
#include "fhir/rest/fhir_service.h"
#include "fhir/subscription/notifier.h"
#include "him/him.h"
#include "him/self_signed.h"
#include "mediator/mediator.h"
#include "net/client.h"
#include "net/event_loop.h"
#include "net/server.h"
#include "queue/http_delivery.h"
#include "queue/queue.h"
#include "script/platform.h"
#include "store/database.h"
#include "store/migrations.h"

namespace chtlink::cli {
namespace {

// One "name=port" line per listener ("server=5001"), written once every listener is bound.
// Written to a temporary name and renamed, so a reader never sees a half-written file.
Status writePortFile(const std::string& path,
                     const std::vector<std::pair<std::string, uint16_t>>& ports) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    for (const auto& [name, port] : ports) out << name << "=" << port << "\n";
    if (!out) return unavailable("cannot write port file " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return unavailable("cannot write port file " + path + ": " + ec.message());
  return ok();
}

// Signals the main thread once shutdown has finished.
class Latch {
 public:
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// A listener of its own for one component (admin API, FHIR, ...). `url` contains "{port}",
// replaced by the bound port in the start-up log.
struct ExtraListener {
  std::string name;   // its line in the port file ("fhir=8090")
  std::string title;  // for the start-up log
  std::string url;
  std::unique_ptr<net::Server> server;
};

// The bound port of listener `name`, 0 when it is not running.
uint16_t portOf(const std::vector<std::pair<std::string, uint16_t>>& ports, std::string_view name) {
  for (const auto& [n, p] : ports)
    if (n == name) return p;
  return 0;
}

// `pull_role`: pull mode's role among the processes sharing the database ("leader",
// "standby"; null when pull mode is off or has not decided yet), shown by /health.
net::Router buildRouter(const Clock& clock, std::chrono::steady_clock::time_point started,
                        prometheus::Registry& registry, store::Database& db,
                        const std::atomic<const char*>& pull_role) {
  auto& queue_jobs = prometheus::BuildGauge()
                         .Name("chtlink_queue_jobs")
                         .Help("Jobs in the durable queue, by state")
                         .Register(registry);
  net::Router router;
  router.add("GET", "/health", [&clock, started, &pull_role](net::Request, net::Reply reply) {
    double uptime = std::chrono::duration<double>(clock.steadyNow() - started).count();
    Json body{{"status", "ok"}, {"uptime_seconds", uptime}, {"version", CHTLINK_VERSION}};
    if (const char* role = pull_role.load()) body["cht_pull"] = role;
    reply(net::Response::json(200, body));
  });
  // Queue depth is read on the database pool, never on this I/O thread.
  router.add("GET", "/metrics", [&registry, &db, &queue_jobs](net::Request, net::Reply reply) {
    auto depth = std::make_shared<std::map<queue::JobState, int64_t>>();
    db.post(
        store::Access::Read,
        [depth](store::Transaction& tx) -> Status {
          CHTLINK_ASSIGN_OR_RETURN(*depth, queue::countByState(tx));
          return ok();
        },
        [&registry, &queue_jobs, depth, reply](Status status) {
          if (!status.has_value()) {
            reply(net::Response::error(503, "store_unavailable",
                                       "cannot read queue depth: " + status.error().message));
            return;
          }
          for (const auto& [state, count] : *depth) {
            queue_jobs.Add({{"state", std::string(queue::jobStateName(state))}})
                .Set(static_cast<double>(count));
          }
          net::Response response;
          response.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
          response.body = prometheus::TextSerializer().Serialize(registry.Collect());
          reply(std::move(response));
        });
  });
  return router;
}

}  // namespace

int serveCommand(const ServeArgs& args) {
  auto config = loadConfigOrReport(args.config);
  if (!config) return kExitUsage;
  const bool sandbox = isSandbox(*config, args.config.file.has_value());
  // him keeps the public default admin password only in the sandbox.
  config->him.sandbox = sandbox;
  // The sandbox runs CHT's stand-in too, unless the configuration says otherwise.
  if (sandbox && config->sources["cht_sim.enabled"] == "default") config->cht_sim.enabled = true;
  Loggers loggers = makeLoggers(config->log);
  auto& log = *loggers.main;
  log.info("chtlink {} starting", CHTLINK_VERSION);

  SystemClock clock;
  MtRandom random;
  const auto started = clock.steadyNow();

  auto db = store::openDatabase(config->store, loggers.main);
  if (!db.has_value()) {
    log.error("{}", db.error().message);
    return kExitFailure;
  }
  if (Status s = store::migrate(**db, queue::migrations()); !s.has_value()) {
    log.error("database migration failed: {}", s.error().message);
    return kExitFailure;
  }
  if (Status s = store::migrate(**db, him::migrations()); !s.has_value()) {
    log.error("database migration failed: {}", s.error().message);
    return kExitFailure;
  }
  if (Status s = store::migrate(**db, fhir::FhirService::migrations()); !s.has_value()) {
    log.error("database migration failed: {}", s.error().message);
    return kExitFailure;
  }
  if (Status s = store::migrate(**db, mediator::Mediator::migrations()); !s.has_value()) {
    log.error("database migration failed: {}", s.error().message);
    return kExitFailure;
  }
  if (Status s = cht::ChtService::migrate(**db); !s.has_value()) {
    log.error("database migration failed: {}", s.error().message);
    return kExitFailure;
  }

  int threads = config->io_threads > 0
                    ? config->io_threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  net::EventLoop loop(threads);
  if (sandbox && config->him.enabled && config->him.api_tls &&
      config->him.api_tls_certificate_file.empty() && config->client.ca_file.empty()) {
    // Components reach this process's own admin API over HTTPS (the mediator registers
    // there): trust the self-signed certificate the sandbox uses, verification stays on.
    auto files = him::ensureSelfSignedCertificate(config->him.data_dir, "localhost");
    if (!files.has_value()) {
      log.error("{}", files.error().message);
      return kExitFailure;
    }
    config->client.ca_file = files->certificate_file;
  }
  auto client = net::makeBeastHttpClient(loop, config->client);

  queue::WorkerPool workers(**db, clock, random, config->queue, loggers.main);
  workers.addHandler(std::string(queue::kHttpJobKind), queue::makeHttpDeliveryHandler(*client));

  prometheus::Registry registry;
  HttpMetrics http_metrics(registry);
  // Every listener besides the main server, in start-up order. A component that needs a port
  // of its own adds one entry; listening, the port file, draining and shutdown follow.
  std::vector<ExtraListener> listeners;

  // him: the router answers every request on this server that /health and /metrics do not;
  // its admin API has a listener of its own.
  std::unique_ptr<him::Him> him;
  std::atomic<const char*> pull_role{nullptr};
  net::Router router = buildRouter(clock, started, registry, **db, pull_role);
  if (config->him.enabled) {
    him = std::make_unique<him::Him>(**db, *client, clock, random, config->him, loggers.main);
    if (Status s = him->start(); !s.has_value()) {
      log.error("{}", s.error().message);
      return kExitFailure;
    }
    router.add("*", "/{rest...}", him->routerHandler());
    auto api_options = him->adminServerOptions(config->server);
    if (!api_options.has_value()) {
      log.error("{}", api_options.error().message);
      return kExitFailure;
    }
    std::string scheme = config->him.api_tls ? "https" : "http";
    listeners.push_back(
        {"api", "admin API", scheme + "://" + config->him.api_host + ":{port}",
         std::make_unique<net::Server>(loop, *api_options, him->adminRouter(), loggers.access)});
  }
  // The main server binds first, so components that point at the router (cht-sim's seeded
  // outbound configs) know its real port, also when server.port is 0.
  net::Server server(loop, config->server, std::move(router), loggers.access);
  server.setObserver([&http_metrics](const net::RequestRecord& r) { http_metrics.observe(r); });
  auto port = server.listen();
  if (!port.has_value()) {
    log.error("{}", port.error().message);
    return kExitFailure;
  }
  const std::string router_url = "http://127.0.0.1:" + std::to_string(*port);
  // fhir: the FHIR R4 server on its own listener (fhir.port).
  std::unique_ptr<fhir::FhirService> fhir_service;
  if (config->fhir.enabled) {
    fhir_service =
        std::make_unique<fhir::FhirService>(**db, clock, random, config->fhir, loggers.main);
    workers.addHandler(std::string(fhir::subscription::kJobKind),
                       fhir_service->subscriptionHandler(*client, config->queue,
                                                         [&workers] { workers.notify(); }));
    net::Router fhir_router;
    fhir_service->mount(fhir_router);
    net::ServerOptions fhir_options = config->server;
    fhir_options.name = "fhir";
    fhir_options.host = config->fhir.host;
    fhir_options.port = config->fhir.port;
    fhir_options.port_setting = "fhir.port";
    fhir_options.tls.reset();
    // Bodies up to twice the FHIR limit reach the service, which answers 413 with an
    // OperationOutcome; only larger ones get the listener's plain JSON 413.
    fhir_options.max_body_bytes = 2 * config->fhir.max_body_bytes;
    listeners.push_back({"fhir", "FHIR R4",
                         "http://" + config->fhir.host + ":{port}" + config->fhir.base_path,
                         std::make_unique<net::Server>(loop, fhir_options, std::move(fhir_router),
                                                       loggers.access)});
  }
  // cht: pull mode ([cht]) and the cht-sim emulator ([cht_sim]) on its own listener.
  std::unique_ptr<script::Platform> script_platform;
  std::unique_ptr<cht::ChtService> cht;
  if (cht::ChtService::needsScript(config->cht, config->cht_sim)) {
    auto platform = script::Platform::initialize();
    if (!platform.has_value()) {
      log.error("{}", platform.error().message);
      return kExitFailure;
    }
    script_platform = std::move(platform).value();
    auto created =
        cht::ChtService::create({**db, *client, clock, script_platform.get(), config->queue,
                                 [&workers] { workers.notify(); }, loggers.main,
                                 [&pull_role](const char* role) { pull_role.store(role); }},
                                config->cht, config->cht_sim, router_url);
    if (!created.has_value()) {
      log.error("{}", created.error().message);
      return kExitFailure;
    }
    cht = std::move(created).value();
    if (auto sim_router = cht->takeSimRouter()) {
      net::ServerOptions sim_options = config->server;
      sim_options.name = "cht-sim";
      sim_options.host = config->cht_sim.host;
      sim_options.port = config->cht_sim.port;
      sim_options.port_setting = "cht_sim.port";
      sim_options.tls.reset();
      // Longpoll _changes waits up to 60 s before answering.
      sim_options.request_timeout =
          std::max(sim_options.request_timeout, std::chrono::milliseconds(90'000));
      listeners.push_back({"cht", "cht-sim", "http://" + config->cht_sim.host + ":{port}",
                           std::make_unique<net::Server>(loop, sim_options, std::move(*sim_router),
                                                         loggers.access)});
    }
  }
  // mediator: the CHT<->FHIR mediator on its own listener (mediator.port, 6000 as the
  // reference); reached through the router channel ^/mediator/.*$ as well.
  std::unique_ptr<mediator::Mediator> mediator;
  std::unique_ptr<net::HttpClient> openhim_client;
  if (config->mediator.enabled && config->mediator.fhir_url.empty() && !config->fhir.enabled) {
    log.warn(
        "mediator off: mediator.fhir_url (FHIR_URL) is empty and the embedded FHIR server "
        "is off (fhir.enabled = false)");
  } else if (config->mediator.enabled) {
    mediator = std::make_unique<mediator::Mediator>(**db, *client, clock, random, config->mediator,
                                                    config->queue, loggers.main);
    mediator->addJobHandlers(workers);
    net::ServerOptions mediator_options = config->server;
    mediator_options.name = "mediator";
    mediator_options.host = config->mediator.host;
    mediator_options.port = config->mediator.port;
    mediator_options.port_setting = "mediator.port";
    mediator_options.tls.reset();
    listeners.push_back({"mediator", "mediator", "http://" + config->mediator.host + ":{port}",
                         std::make_unique<net::Server>(loop, mediator_options, mediator->router(),
                                                       loggers.access)});
    if (config->mediator.openhim_trust_self_signed) {
      net::ClientOptions openhim_options = config->client;
      openhim_options.verify_tls = false;
      openhim_client = net::makeBeastHttpClient(loop, openhim_options);
    }
  }
  std::vector<std::pair<std::string, uint16_t>> ports = {{"server", *port}};
  for (auto& listener : listeners) {
    auto bound = listener.server->listen();
    if (!bound.has_value()) {
      log.error("{}", bound.error().message);
      return kExitFailure;
    }
    ports.emplace_back(listener.name, *bound);
    std::string url = listener.url;
    url.replace(url.find("{port}"), 6, std::to_string(*bound));
    log.info("{}: {}", listener.title, url);
  }
  // Where each listener ended up (0: not running).
  const SandboxPorts bound{config->him.enabled ? *port : uint16_t{0}, portOf(ports, "api"),
                           portOf(ports, "fhir"), portOf(ports, "mediator"), portOf(ports, "cht")};
  auto local = [](uint16_t p) { return "http://127.0.0.1:" + std::to_string(p); };
  if (mediator && config->mediator.fhir_url.empty() && bound.fhir != 0) {
    // No external FHIR configured: chtlink's own FHIR listener, at its bound port.
    mediator->setFhirUrl(local(bound.fhir) + config->fhir.base_path);
  }
  if (mediator && sandbox && config->sandbox.seed) {
    // The sandbox mediator talks to this process's cht-sim and registers with its admin API,
    // as the reference mediator does with CHT and OpenHIM, unless configured otherwise (or
    // seeding is off: tests that bring their own configuration).
    if (bound.cht != 0 && config->mediator.cht_url.empty())
      mediator->setChtUrl(local(bound.cht), "admin", "password");
    if (bound.api != 0 && config->mediator.openhim_api_url.empty())
      mediator->setOpenhimApi((config->him.api_tls ? "https" : "http") +
                                  std::string("://127.0.0.1:") + std::to_string(bound.api),
                              kSandboxRootUser, kSandboxRootPassword);
  }
  if (!args.port_file.empty()) {
    if (Status s = writePortFile(args.port_file, ports); !s.has_value()) {
      log.error("{}", s.error().message);
      return kExitFailure;
    }
  }
  workers.start();
  std::unique_ptr<SandboxConfigurator> sandbox_configurator;
  if (sandbox) {
    if (config->sandbox.seed && bound.api != 0) {
      sandbox_configurator =
          std::make_unique<SandboxConfigurator>(*client, bound, *config, loggers.main);
    }
    std::error_code ec;
    auto data_dir = std::filesystem::absolute(config->him.data_dir, ec).lexically_normal();
    // A table for a person at a terminal; with JSON logs every output line stays JSON.
    if (config->log.format == "text") {
      std::cout << sandboxBanner(*config, bound, data_dir.string()) << std::endl;
    } else {
      log.info("sandbox mode: data in {}; public development passwords (see README)",
               data_dir.string());
    }
  }
  if (cht) cht->start();

  Latch stopped;
  loop.onSignal({SIGINT, SIGTERM}, [&](int signal) {
    log.info("received {}, draining for up to {} ms", signal == SIGINT ? "SIGINT" : "SIGTERM",
             config->drain_timeout.count());
    auto remaining = std::make_shared<std::atomic<int>>(1 + static_cast<int>(listeners.size()));
    auto one_done = [&stopped, remaining] {
      if (remaining->fetch_sub(1) == 1) stopped.open();
    };
    if (cht) cht->beginShutdown();
    server.shutdown(config->drain_timeout, one_done);
    for (auto& listener : listeners) listener.server->shutdown(config->drain_timeout, one_done);
  });
  loop.start();
  if (sandbox_configurator) sandbox_configurator->start();
  if (mediator)
    mediator->startRegistration(bound.mediator, openhim_client ? *openhim_client : *client);
  log.info("ready: store {}, http {}://{}:{}", (*db)->describe(),
           config->server.tls ? "https" : "http", config->server.host, *port);

  stopped.wait();
  sandbox_configurator.reset();  // joins; its calls need the loop still running
  if (cht) cht->stop();
  if (mediator) mediator->stop();
  workers.stop(config->drain_timeout);
  loop.stop();
  loop.join();
  // Upstream calls still in flight end with the client; their transactions are then
  // recorded and flushed by him.
  listeners.clear();
  openhim_client.reset();
  client.reset();
  if (him) him->stop();
  log.info("stopped");
  return kExitOk;
}

}  // namespace chtlink::cli
