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
#include "cli/app.h"
#include "cli/commands.h"
#include "cli/http_metrics.h"
#include "cli/logging.h"
#include "fhir/rest/fhir_service.h"
#include "him/him.h"
#include "net/client.h"
#include "net/event_loop.h"
#include "net/server.h"
#include "queue/http_delivery.h"
#include "queue/queue.h"
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

net::Router buildRouter(const Clock& clock, std::chrono::steady_clock::time_point started,
                        prometheus::Registry& registry, store::Database& db) {
  auto& queue_jobs = prometheus::BuildGauge()
                         .Name("chtlink_queue_jobs")
                         .Help("Jobs in the durable queue, by state")
                         .Register(registry);
  net::Router router;
  router.add("GET", "/health", [&clock, started](net::Request, net::Reply reply) {
    double uptime = std::chrono::duration<double>(clock.steadyNow() - started).count();
    reply(net::Response::json(
        200, {{"status", "ok"}, {"uptime_seconds", uptime}, {"version", CHTLINK_VERSION}}));
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

  int threads = config->io_threads > 0
                    ? config->io_threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  net::EventLoop loop(threads);
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
  net::Router router = buildRouter(clock, started, registry, **db);
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
  // fhir: the FHIR R4 server on its own listener (fhir.port).
  std::unique_ptr<fhir::FhirService> fhir_service;
  if (config->fhir.enabled) {
    fhir_service =
        std::make_unique<fhir::FhirService>(**db, clock, random, config->fhir, loggers.main);
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
    listeners.push_back(
        {"fhir", "FHIR R4", "http://" + config->fhir.host + ":{port}" + config->fhir.base_path,
         std::make_unique<net::Server>(loop, fhir_options, std::move(fhir_router),
                                       loggers.access)});
  }
  net::Server server(loop, config->server, std::move(router), loggers.access);
  server.setObserver([&http_metrics](const net::RequestRecord& r) { http_metrics.observe(r); });

  auto port = server.listen();
  if (!port.has_value()) {
    log.error("{}", port.error().message);
    return kExitFailure;
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
  if (!args.port_file.empty()) {
    if (Status s = writePortFile(args.port_file, ports); !s.has_value()) {
      log.error("{}", s.error().message);
      return kExitFailure;
    }
  }
  workers.start();

  Latch stopped;
  loop.onSignal({SIGINT, SIGTERM}, [&](int signal) {
    log.info("received {}, draining for up to {} ms", signal == SIGINT ? "SIGINT" : "SIGTERM",
             config->drain_timeout.count());
    auto remaining = std::make_shared<std::atomic<int>>(1 + static_cast<int>(listeners.size()));
    auto one_done = [&stopped, remaining] {
      if (remaining->fetch_sub(1) == 1) stopped.open();
    };
    server.shutdown(config->drain_timeout, one_done);
    for (auto& listener : listeners) listener.server->shutdown(config->drain_timeout, one_done);
  });
  loop.start();
  log.info("ready: store {}, http {}://{}:{}", (*db)->describe(),
           config->server.tls ? "https" : "http", config->server.host, *port);

  stopped.wait();
  workers.stop(config->drain_timeout);
  loop.stop();
  loop.join();
  // Upstream calls still in flight end with the client; their transactions are then
  // recorded and flushed by him.
  listeners.clear();
  client.reset();
  if (him) him->stop();
  log.info("stopped");
  return kExitOk;
}

}  // namespace chtlink::cli
