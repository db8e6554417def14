// PostgreSQL vs SQLite, one and two chtlink instances, in the same run: FHIR creates/s and
// reads/s through the FhirService (in process, no sockets: the store is what differs), and
// queue jobs/s delivered over HTTP to an in-process receiver. An "instance" is what a chtlink
// process brings to the database: its own connection pool, FhirService and WorkerPool; two
// instances share one database. SQLite with one instance is the baseline of every ratio.
//
// Usage: pg_scaleout POSTGRESQL_URL [creates] [jobs] [concurrency]. The URL names an empty
// database (bench/run.sh starts a throw-away server). Prints one JSON line.
#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
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
#include "net/client.h"
#include "net/event_loop.h"
#include "net/server.h"
#include "queue/http_delivery.h"
#include "queue/queue.h"
#include "store/database.h"
#include "store/migrations.h"

using namespace chtlink;

namespace {

std::shared_ptr<spdlog::logger> quietLogger() {
  return std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string patientJson(int i) {
  return fmt::format(
      R"({{"resourceType":"Patient","id":"p{0}","identifier":[{{"system":"http://cht/patient","value":"p-{0}"}}],)"
      R"("active":true,"name":[{{"use":"official","family":"Family{1}","given":["Given"]}}],)"
      R"("gender":"female","birthDate":"1990-04-12"}})",
      i, i % 1000);
}

struct Instance {
  std::unique_ptr<store::Database> db;
  std::unique_ptr<fhir::FhirService> fhir;
};

Result<std::unique_ptr<store::Database>> openStore(const std::string& url) {
  store::StoreOptions options;
  options.url = url;
  CHTLINK_ASSIGN_OR_RETURN(auto db, store::openDatabase(options, quietLogger()));
  CHTLINK_TRY(store::migrate(*db, queue::migrations()));
  CHTLINK_TRY(store::migrate(*db, fhir::FhirService::migrations()));
  return db;
}

// `total` requests from `concurrency` closed-loop clients, spread over the instances; each
// request is made by `make(i)`. Returns requests/s, or 0 when any answer was not `status`.
double drive(std::vector<Instance>& instances, int total, int concurrency, int status,
             const std::function<net::Request(int)>& make) {
  std::atomic<int> issued{0};
  std::atomic<int> finished{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::condition_variable cv;
  std::function<void()> next = [&] {
    int i = issued.fetch_add(1);
    if (i >= total) return;
    instances[static_cast<size_t>(i) % instances.size()].fhir->handle(
        make(i), net::Reply([&, i](net::Response r) {
          if (r.status != status && !failed.exchange(true)) {
            std::cerr << "request " << i << " answered " << r.status << ": " << r.body << "\n";
          }
          next();
          // Last, under the lock: once the waiter sees the count it may return.
          std::lock_guard lock(mu);
          if (finished.fetch_add(1) + 1 >= total) cv.notify_all();
        }));
  };
  auto t0 = std::chrono::steady_clock::now();
  for (int c = 0; c < concurrency; ++c) next();
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return finished.load() >= total; });
  return failed ? 0.0 : total / secondsSince(t0);
}

net::Request request(const std::string& method, const std::string& path, std::string body = "") {
  net::Request req;
  req.method = method;
  req.target = path;
  req.path = path;
  req.body = std::move(body);
  if (!req.body.empty()) req.headers.set("Content-Type", "application/fhir+json");
  return req;
}

struct FhirFigures {
  double creates = 0;
  double reads = 0;
};

Result<FhirFigures> fhirRun(const std::vector<std::string>& urls, int creates, int concurrency) {
  SystemClock clock;
  MtRandom random;
  std::vector<Instance> instances;
  for (const auto& url : urls) {
    Instance in;
    CHTLINK_ASSIGN_OR_RETURN(in.db, openStore(url));
    fhir::FhirOptions options;
    options.public_base = "http://bench/fhir";
    in.fhir = std::make_unique<fhir::FhirService>(*in.db, clock, random, options, quietLogger());
    instances.push_back(std::move(in));
  }
  FhirFigures out;
  out.creates = drive(instances, creates, concurrency, 201, [](int i) {
    return request("PUT", fmt::format("/fhir/Patient/p{}", i), patientJson(i));
  });
  out.reads = drive(instances, creates * 2, concurrency, 200, [creates](int i) {
    return request("GET", fmt::format("/fhir/Patient/p{}", (i * 7919) % creates));
  });
  for (auto& in : instances) in.fhir.reset();
  return out;
}

Result<double> queueRun(const std::vector<std::string>& urls, int jobs, int concurrency,
                        const std::string& receiver_url, net::HttpClient& client) {
  SystemClock clock;
  std::vector<std::unique_ptr<store::Database>> dbs;
  for (const auto& url : urls) {
    CHTLINK_ASSIGN_OR_RETURN(auto db, openStore(url));
    dbs.push_back(std::move(db));
  }
  queue::HttpJob job;
  job.url = receiver_url;
  job.body = R"({"resourceType":"Patient","id":"x"})";
  const std::string payload = queue::encodeHttpJob(job);
  const int64_t now = toUnixMillis(clock.now());
  // Loaded before the pools start: the figure is claim + deliver + record, not enqueue.
  Status loaded = dbs.front()->run(store::Access::Write, [&](store::Transaction& tx) -> Status {
    constexpr int kPerStatement = 250;
    for (int first = 0; first < jobs; first += kPerStatement) {
      std::string sql =
          "INSERT INTO jobs (kind, destination, payload, state, attempts, max_attempts, run_at, "
          "created_at, updated_at, last_error) VALUES ";
      std::vector<store::Value> params;
      for (int i = first; i < std::min(jobs, first + kPerStatement); ++i) {
        sql += i == first ? "" : ", ";
        sql += "(?, 'receiver', ?, 'pending', 0, 10, ?, ?, ?, '')";
        params.insert(params.end(), {std::string(queue::kHttpJobKind), payload, now, now, now});
      }
      CHTLINK_TRY(tx.execute(sql, std::span<const store::Value>(params)));
    }
    return ok();
  });
  if (!loaded.has_value()) return loaded.error();
  std::vector<std::unique_ptr<MtRandom>> randoms;
  std::vector<std::unique_ptr<queue::WorkerPool>> pools;
  queue::QueueOptions options;
  options.concurrency = concurrency;
  options.concurrency_per_destination = concurrency;
  options.poll_interval = std::chrono::milliseconds(20);
  auto t0 = std::chrono::steady_clock::now();
  for (auto& db : dbs) {
    randoms.push_back(std::make_unique<MtRandom>());
    pools.push_back(
        std::make_unique<queue::WorkerPool>(*db, clock, *randoms.back(), options, quietLogger()));
    pools.back()->addHandler(std::string(queue::kHttpJobKind),
                             queue::makeHttpDeliveryHandler(client));
    pools.back()->start();
  }
  queue::JobStore store(*dbs.front(), clock);
  for (;;) {
    auto depth = store.depthByState();
    if (!depth.has_value()) return depth.error();
    if (depth->at(queue::JobState::Done) >= jobs) break;
    if (secondsSince(t0) > 60) return deadlineExceeded("queue run did not finish within 60 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  double rate = jobs / secondsSince(t0);
  for (auto& pool : pools) pool->stop(std::chrono::seconds(5));
  return rate;
}

// A fresh empty schema for each PostgreSQL run, so each starts from empty tables.
Result<std::string> freshSchema(store::Database& admin, const std::string& base, int n) {
  const std::string schema = fmt::format("bench_{}_{}", getpid(), n);
  Status created = admin.run(store::Access::Write, [&](store::Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute("CREATE SCHEMA " + schema));
    return ok();
  });
  if (!created.has_value()) return created.error();
  const char* sep = base.find('?') == std::string::npos ? "?" : "&";
  return fmt::format("{}{}options=-csearch_path%3D{}", base, sep, schema);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: pg_scaleout POSTGRESQL_URL [creates] [jobs] [concurrency]\n";
    return 2;
  }
  const std::string pg = argv[1];
  const int creates = argc > 2 ? std::atoi(argv[2]) : 20000;
  const int jobs = argc > 3 ? std::atoi(argv[3]) : 20000;
  const int concurrency = argc > 4 ? std::atoi(argv[4]) : 16;
  auto dir = std::filesystem::temp_directory_path() / fmt::format("chtlink-pg-bench-{}", getpid());
  std::filesystem::create_directories(dir);

  store::StoreOptions admin_options;
  admin_options.url = pg;
  admin_options.write_connections = 1;
  admin_options.read_connections = 1;
  auto admin = store::openDatabase(admin_options, quietLogger());
  if (!admin.has_value()) {
    std::cerr << admin.error().message << "\n";
    return 1;
  }

  net::EventLoop loop(2);
  net::Router router;
  router.add("POST", "/deliver", [](net::Request, net::Reply reply) {
    reply(net::Response::json(200, {{"ok", true}}));
  });
  net::ServerOptions server_options;
  server_options.port = 0;
  net::Server receiver(loop, server_options, std::move(router), quietLogger());
  auto port = receiver.listen();
  if (!port.has_value()) {
    std::cerr << port.error().message << "\n";
    return 1;
  }
  loop.start();
  auto client = net::makeBeastHttpClient(loop, {});
  const std::string receiver_url = fmt::format("http://127.0.0.1:{}/deliver", *port);

  struct Config {
    std::string name;
    bool postgres;
    int instances;
  };
  const std::vector<Config> configs = {
      {"sqlite_1", false, 1}, {"sqlite_2", false, 2}, {"pg_1", true, 1}, {"pg_2", true, 2}};
  Json out = Json::object();
  int run = 0;
  for (const Config& c : configs) {
    for (const char* part : {"fhir", "queue"}) {
      std::string url;
      if (c.postgres) {
        auto fresh = freshSchema(**admin, pg, ++run);
        if (!fresh.has_value()) {
          std::cerr << fresh.error().message << "\n";
          return 1;
        }
        url = *fresh;
      } else {
        url = "sqlite:" + (dir / fmt::format("{}-{}.db", c.name, part)).string();
      }
      const std::vector<std::string> urls(static_cast<size_t>(c.instances), url);
      if (std::string(part) == "fhir") {
        auto f = fhirRun(urls, creates, concurrency);
        if (!f.has_value()) {
          std::cerr << c.name << ": " << f.error().message << "\n";
          return 1;
        }
        out[c.name + "_creates_per_s"] = std::round(f->creates);
        out[c.name + "_reads_per_s"] = std::round(f->reads);
      } else {
        auto q = queueRun(urls, jobs, concurrency * 4, receiver_url, *client);
        if (!q.has_value()) {
          std::cerr << c.name << ": " << q.error().message << "\n";
          return 1;
        }
        out[c.name + "_jobs_per_s"] = std::round(*q);
      }
    }
  }
  for (const char* metric : {"creates_per_s", "reads_per_s", "jobs_per_s"}) {
    const double base = out[std::string("sqlite_1_") + metric].get<double>();
    for (const Config& c : configs) {
      const double v = out[c.name + "_" + metric].get<double>();
      out[c.name + "_" + metric + "_ratio"] = base > 0 ? std::round(v / base * 100) / 100 : 0.0;
    }
  }
  out["creates"] = creates;
  out["jobs"] = jobs;
  out["concurrency"] = concurrency;
  std::cout << dumpJson(out) << "\n";
  client.reset();
  loop.stop();
  loop.join();
  std::filesystem::remove_all(dir);
  return 0;
}
