// Mediator throughput: POST /patient on the mediator (validation, normalisation, conditional
// update by the CHT identifier into a real FHIR server over loopback HTTP) at 16 connections,
// against a direct FHIR create of the same Patient in the same run: the ratio is the
// mediator's cost (one extra HTTP hop, validation and the identifier lookup).
//
// Usage: mediator_throughput [requests] [concurrency]. Prints one JSON line.
#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>

#include "base/clock.h"
#include "base/json.h"
#include "base/random.h"
#include "fhir/rest/fhir_service.h"
#include "load_driver.h"
#include "mediator/mediator.h"
#include "net/client.h"
#include "net/event_loop.h"
#include "net/server.h"
#include "queue/queue.h"
#include "store/database.h"
#include "store/migrations.h"

using namespace chtlink;
using bench::cpuSeconds;
using bench::drive;
using bench::Run;
using bench::writtenBytes;

namespace {

std::shared_ptr<spdlog::logger> quietLogger() {
  return std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
}

// A CHT person as the reference outbound FHIR_patient mapping sends it; `i` varies the id.
std::string chtPatient(int i, const char* system) {
  return fmt::format(
      R"({{"resourceType":"Patient","identifier":[{{"system":"{}","use":"official",)"
      R"("value":"{:08x}-5d1e-4c8e-9a51-0c2f8e6d4a10"}}],"name":[{{"use":"official",)"
      R"("family":"Amina Otieno","given":["Amina"]}}],"gender":"female","birthDate":"1990-04-12"}})",
      system, i);
}

}  // namespace

int main(int argc, char** argv) {
  int total = argc > 1 ? std::atoi(argv[1]) : 20000;
  int concurrency = argc > 2 ? std::atoi(argv[2]) : 16;
  auto dir =
      std::filesystem::temp_directory_path() / fmt::format("chtlink-mediator-bench-{}", getpid());
  std::filesystem::create_directories(dir);
  store::StoreOptions options;
  options.url = "sqlite:" + (dir / "bench.db").string();
  auto db = store::openDatabase(options, quietLogger());
  if (!db.has_value()) {
    std::cerr << db.error().message << "\n";
    return 1;
  }
  for (const auto& list :
       {std::vector<store::Migration>(queue::migrations().begin(), queue::migrations().end()),
        fhir::FhirService::migrations(), mediator::Mediator::migrations()}) {
    if (auto s = store::migrate(**db, list); !s.has_value()) {
      std::cerr << s.error().message << "\n";
      return 1;
    }
  }
  SystemClock clock;
  MtRandom random;
  net::EventLoop loop(2);
  loop.start();
  net::ClientOptions client_options;
  client_options.max_idle_per_host = static_cast<size_t>(concurrency) * 2;
  auto client = net::makeBeastHttpClient(loop, client_options);
  fhir::FhirService fhir_service(**db, clock, random, fhir::FhirOptions{}, quietLogger());
  net::Router fhir_router;
  fhir_service.mount(fhir_router);
  net::ServerOptions fhir_options;
  fhir_options.name = "fhir";
  auto fhir_server =
      std::make_unique<net::Server>(loop, fhir_options, std::move(fhir_router), quietLogger());
  auto fhir_port = fhir_server->listen();
  mediator::MediatorOptions mediator_options;
  mediator_options.fhir_url = fmt::format("http://127.0.0.1:{}/fhir", fhir_port.value());
  mediator::Mediator mediator(**db, *client, clock, random, mediator_options, queue::QueueOptions{},
                              quietLogger());
  net::ServerOptions server_options;
  server_options.name = "mediator";
  auto mediator_server =
      std::make_unique<net::Server>(loop, server_options, mediator.router(), quietLogger());
  auto mediator_port = mediator_server->listen();
  if (!fhir_port.has_value() || !mediator_port.has_value()) {
    std::cerr << "cannot listen\n";
    return 1;
  }
  auto post = [](std::string url, std::string body) {
    net::ClientRequest r;
    r.method = "POST";
    r.url = std::move(url);
    r.body = std::move(body);
    r.headers.set("Content-Type", "application/json");
    return r;
  };
  const std::string fhir_url = mediator_options.fhir_url + "/Patient";
  const std::string mediator_url = fmt::format("http://127.0.0.1:{}/patient", *mediator_port);
  // Warm-up: connections and statement caches.
  drive(
      *client, 500, concurrency, [&](int i) { return post(fhir_url, chtPatient(i, "warm")); }, 201);
  // Interleaved halves, so both paths see the same database size and machine load.
  auto combine = [](const Run& x, const Run& y, int n) {
    Run r;
    double seconds = n / x.rate + n / y.rate;
    r.rate = 2 * n / seconds;
    r.p50_ms = (x.p50_ms + y.p50_ms) / 2;
    r.p99_ms = std::max(x.p99_ms, y.p99_ms);
    r.failures = x.failures + y.failures;
    return r;
  };
  const int half = total / 2;
  Run direct_a = drive(
      *client, half, concurrency, [&](int i) { return post(fhir_url, chtPatient(i, "direct")); },
      201);
  Run mediated_a = drive(
      *client, half, concurrency, [&](int i) { return post(mediator_url, chtPatient(i, "cht")); },
      201);
  Run direct_b = drive(
      *client, half, concurrency,
      [&](int i) { return post(fhir_url, chtPatient(half + i, "direct")); }, 201);
  Run mediated_b = drive(
      *client, half, concurrency,
      [&](int i) { return post(mediator_url, chtPatient(half + i, "cht")); }, 201);
  Run direct = combine(direct_a, direct_b, half);
  Run mediated = combine(mediated_a, mediated_b, half);
  // Repeated pushes of stored patients (the idempotent path: update with unchanged content).
  Run repeated = drive(
      *client, total, concurrency, [&](int i) { return post(mediator_url, chtPatient(i, "cht")); },
      200);
  std::cout << fmt::format(
                   R"({{"requests":{},"concurrency":{},"mediator_patients_per_s":{:.0f},)"
                   R"("mediator_p50_ms":{:.2f},"mediator_p99_ms":{:.2f},"mediator_failures":{},)"
                   R"("repeat_pushes_per_s":{:.0f},"repeat_p99_ms":{:.2f},"repeat_failures":{},)"
                   R"("direct_creates_per_s":{:.0f},"direct_p50_ms":{:.2f},"direct_p99_ms":{:.2f},)"
                   R"("direct_failures":{},"ratio":{:.2f}}})",
                   total, concurrency, mediated.rate, mediated.p50_ms, mediated.p99_ms,
                   mediated.failures, repeated.rate, repeated.p99_ms, repeated.failures,
                   direct.rate, direct.p50_ms, direct.p99_ms, direct.failures,
                   mediated.rate / direct.rate)
            << std::endl;
  mediator_server.reset();
  fhir_server.reset();
  db->reset();  // its pool may still answer Replies: close it while the loop lives
  client.reset();
  loop.stop();
  loop.join();
  std::filesystem::remove_all(dir);
  return mediated.failures + direct.failures + repeated.failures == 0 ? 0 : 1;
}
