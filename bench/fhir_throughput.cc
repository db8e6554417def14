// FHIR throughput: the FhirService behind a real net::Server on 127.0.0.1, driven by the Beast
// client with keep-alive at a fixed concurrency (16 by default): creates/s of a typical
// Patient, reads by id/s, Patient?identifier= searches/s with p50/p99 once `patients`
// Patients are stored, and 100-entry transaction Bundles/s. Baseline, same run: the same
// Patient JSON inserted in-process straight into SQLite through store::Database, one
// transaction per insert at the same concurrency (the storage limit).
//
// Each phase also reports the process's CPU time and bytes written per request
// (*_cpu_us, *_written_kb): unlike rates, they stay meaningful on a machine shared with
// other work.
//
// Usage: fhir_throughput [patients] [concurrency]. Prints one JSON line.
#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
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
#include "net/client.h"
#include "net/event_loop.h"
#include "net/server.h"
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

std::string patientJson(int i) {
  return fmt::format(
      R"({{"resourceType":"Patient","identifier":[{{"system":"http://cht/patient","value":"p-{}"}}],)"
      R"("active":true,"name":[{{"use":"official","family":"Family{}","given":["Given","Middle"]}}],)"
      R"("telecom":[{{"system":"phone","value":"+25470000{}"}}],"gender":"female","birthDate":"1990-04-12",)"
      R"("address":[{{"line":["12 Main road"],"city":"Nairobi","country":"KE"}}],)"
      R"("meta":{{"source":"cht"}}}})",
      i, i % 1000, i);
}

}  // namespace

int main(int argc, char** argv) {
  int patients = argc > 1 ? std::atoi(argv[1]) : 100000;
  int concurrency = argc > 2 ? std::atoi(argv[2]) : 16;
  auto dir =
      std::filesystem::temp_directory_path() / fmt::format("chtlink-fhir-bench-{}", getpid());
  std::filesystem::create_directories(dir);

  // Baseline: the same JSON straight into SQLite through the store, one transaction each.
  store::StoreOptions baseline_options;
  baseline_options.url = "sqlite:" + (dir / "baseline.db").string();
  auto baseline_db = store::openDatabase(baseline_options, quietLogger());
  if (!baseline_db.has_value() ||
      !(*baseline_db)
           ->run(store::Access::Write,
                 [](store::Transaction& tx) -> Status {
                   CHTLINK_TRY(
                       tx.execute("CREATE TABLE raw (id INTEGER PRIMARY KEY, json TEXT NOT NULL)"));
                   return ok();
                 })
           .has_value()) {
    std::cerr << "cannot open the baseline database\n";
    return 1;
  }
  const int baseline_n = std::min(patients, 50000);
  std::atomic<int> done{0};
  std::mutex mu;
  std::condition_variable cv;
  auto b0 = std::chrono::steady_clock::now();
  double baseline_cpu0 = cpuSeconds();
  double baseline_written0 = writtenBytes();
  for (int i = 0; i < baseline_n; ++i) {
    (*baseline_db)
        ->post(
            store::Access::Write,
            [i](store::Transaction& tx) -> Status {
              CHTLINK_TRY(tx.execute("INSERT INTO raw (json) VALUES (?)", {patientJson(i)}));
              return ok();
            },
            [&](Status) {
              if (done.fetch_add(1) + 1 == baseline_n) {
                std::lock_guard lock(mu);
                cv.notify_all();
              }
            });
    while (i - done.load() > 1000) std::this_thread::yield();  // stay under max_pending
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done.load() == baseline_n; });
  }
  double baseline_rate =
      baseline_n / std::chrono::duration<double>(std::chrono::steady_clock::now() - b0).count();
  double baseline_cpu_us = (cpuSeconds() - baseline_cpu0) * 1e6 / baseline_n;
  double baseline_written_kb = (writtenBytes() - baseline_written0) / 1024 / baseline_n;

  store::StoreOptions store_options;
  store_options.url = "sqlite:" + (dir / "fhir.db").string();
  auto db = store::openDatabase(store_options, quietLogger());
  if (!db.has_value() || !store::migrate(**db, fhir::FhirService::migrations()).has_value()) {
    std::cerr << "cannot open the benchmark database\n";
    return 1;
  }
  SystemClock clock;
  MtRandom random;
  net::EventLoop loop(2);
  fhir::FhirService service(**db, clock, random, {}, quietLogger());
  net::Router router;
  service.mount(router);
  net::ServerOptions server_options;
  server_options.port = 0;
  net::Server server(loop, server_options, std::move(router), quietLogger());
  auto port = server.listen();
  if (!port.has_value()) {
    std::cerr << port.error().message << "\n";
    return 1;
  }
  loop.start();
  net::ClientOptions client_options;
  client_options.max_idle_per_host = static_cast<size_t>(concurrency);
  auto client = net::makeBeastHttpClient(loop, client_options);
  const std::string base = fmt::format("http://127.0.0.1:{}/fhir", *port);

  auto post = [&](const std::string& url, std::string body) {
    net::ClientRequest r;
    r.method = "POST";
    r.url = url;
    r.headers.set("Content-Type", "application/fhir+json");
    r.headers.set("Prefer", "return=minimal");
    r.body = std::move(body);
    return r;
  };
  auto get = [&](const std::string& url) {
    net::ClientRequest r;
    r.method = "GET";
    r.url = url;
    return r;
  };

  Run creates = drive(
      *client, patients, concurrency,
      [&](int i) { return post(base + "/Patient", patientJson(i)); }, 201);
  // Ids for reads: the first page of a _count=1000 search.
  auto page = client->sendSync(get(base + "/Patient?_count=1000&_elements=id"));
  std::vector<std::string> ids;
  if (page.has_value()) {
    auto b = parseJson(page->body);
    if (b.has_value())
      for (const auto& e : (*b)["entry"]) ids.push_back(e["resource"]["id"]);
  }
  if (ids.empty()) {
    std::cerr << "no Patients found after the creates\n";
    return 1;
  }
  Run reads = drive(
      *client, 50000, concurrency,
      [&](int i) { return get(base + "/Patient/" + ids[static_cast<size_t>(i) % ids.size()]); },
      200);
  Run searches = drive(
      *client, 20000, concurrency,
      [&](int i) {
        return get(base + fmt::format("/Patient?identifier=http://cht/patient|p-{}",
                                      (i * 7919) % patients));
      },
      200);
  Run transactions = drive(
      *client, 200, concurrency,
      [&](int t) {
        Json bundle{{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", Json::array()}};
        for (int e = 0; e < 100; ++e) {
          bundle["entry"].push_back(
              {{"fullUrl", fmt::format("urn:uuid:00000000-0000-0000-0000-{:012}", e)},
               {"resource", Json::parse(patientJson(patients + t * 100 + e))},
               {"request", {{"method", "POST"}, {"url", "Patient"}}}});
        }
        return post(base, dumpJson(bundle));
      },
      200);

  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  std::cout
      << fmt::format(
             R"({{"patients":{},"concurrency":{},"creates_per_s":{:.0f},"create_p50_ms":{:.2f},"create_p99_ms":{:.2f},"create_cpu_us":{:.0f},"create_written_kb":{:.1f},)"
             R"("reads_per_s":{:.0f},"read_p50_ms":{:.2f},"read_p99_ms":{:.2f},"read_cpu_us":{:.0f},)"
             R"("identifier_searches_per_s":{:.0f},"search_p50_ms":{:.2f},"search_p99_ms":{:.2f},"search_cpu_us":{:.0f},)"
             R"("transactions_100_per_s":{:.1f},"transaction_p50_ms":{:.1f},)"
             R"("raw_sqlite_inserts_per_s":{:.0f},"raw_insert_cpu_us":{:.0f},"raw_insert_written_kb":{:.1f},"create_vs_raw_ratio":{:.2f},"failures":{},"peak_rss_mb":{:.0f}}})",
             patients, concurrency, creates.rate, creates.p50_ms, creates.p99_ms, creates.cpu_us,
             creates.written_kb, reads.rate, reads.p50_ms, reads.p99_ms, reads.cpu_us,
             searches.rate, searches.p50_ms, searches.p99_ms, searches.cpu_us, transactions.rate,
             transactions.p50_ms, baseline_rate, baseline_cpu_us, baseline_written_kb,
             creates.rate / baseline_rate,
             creates.failures + reads.failures + searches.failures + transactions.failures,
             usage.ru_maxrss / 1024.0)
      << std::endl;
  client.reset();
  loop.stop();
  loop.join();
  std::filesystem::remove_all(dir);
  return 0;
}
