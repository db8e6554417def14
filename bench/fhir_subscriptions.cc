// rest-hook Subscriptions: what matching and enqueueing cost on the write path, and how fast a
// notification reaches its receiver.
//
// Each phase runs on a fresh SQLite database: a FhirService behind a real net::Server, a
// WorkerPool with the delivery handler, and a receiver (a second net::Server) answering 200.
// Encounters are created over HTTP at a fixed concurrency (16):
//   baseline   no subscriptions;
//   subscribed 100 active subscriptions on Encounter (`Encounter?identifier=p-<k>`, the
//              mediator's form); one create in ten matches one of them and is delivered while
//              the creates go on.
// Reported: creates/s of both and their ratio (target >= 0.8), and the delay from sending the
// create to the notification's arrival at the receiver (p50/p99), under that load and for
// creates made one at a time (the commit happens inside the create, so this bounds
// commit-to-receiver from above).
//
// Usage: fhir_subscriptions [creates] [concurrency]. Prints one JSON line.
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
#include <map>
#include <mutex>
#include <thread>

#include "base/clock.h"
#include "base/json.h"
#include "base/random.h"
#include "fhir/rest/fhir_service.h"
#include "fhir/subscription/notifier.h"
#include "load_driver.h"
#include "net/client.h"
#include "net/event_loop.h"
#include "net/server.h"
#include "queue/queue.h"
#include "store/database.h"
#include "store/migrations.h"

using namespace chtlink;
using bench::cpuSeconds;

namespace {

using Clock = std::chrono::steady_clock;

std::shared_ptr<spdlog::logger> quietLogger() {
  return std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
}

constexpr int kSubscriptions = 100;
constexpr int kMatchEvery = 10;  // in the "some match" phase, one create in ten matches

// Encounter i: identifier p-<k>, with k < kSubscriptions (a match) when `matching` and
// i % kMatchEvery == 0.
std::string encounterJson(int i, bool matching) {
  int k =
      matching && i % kMatchEvery == 0 ? (i / kMatchEvery) % kSubscriptions : kSubscriptions + i;
  return fmt::format(
      R"({{"resourceType":"Encounter","status":"finished",)"
      R"("class":{{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"}},)"
      R"("identifier":[{{"system":"cht","value":"p-{}"}}],)"
      R"("period":{{"start":"2024-03-01T10:00:00Z","end":"2024-03-01T10:30:00Z"}},)"
      R"("meta":{{"source":"cht"}}}})",
      k);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(static_cast<double>(v.size()) * p))];
}

// Arrival times of notifications by Encounter id.
class Arrivals {
 public:
  void arrived(const std::string& id) {
    std::lock_guard lock(mu_);
    at_[id] = Clock::now();
    cv_.notify_all();
  }
  bool waitFor(size_t n, std::chrono::seconds limit) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return at_.size() >= n; });
  }
  std::map<std::string, Clock::time_point> snapshot() {
    std::lock_guard lock(mu_);
    return at_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Clock::time_point> at_;
};

struct Phase {
  double creates_per_s = 0;
  double cpu_us = 0;  // per create, deliveries of its notifications included
  double create_p50_ms = 0;
  double create_p99_ms = 0;
  double deliver_p50_ms = 0;  // under load
  double deliver_p99_ms = 0;
  double idle_deliver_p50_ms = 0;  // one create at a time
  double idle_deliver_p99_ms = 0;
  size_t delivered = 0;
  size_t expected = 0;
  int failures = 0;
};

enum class Mode { NoSubscriptions, NoneMatch, SomeMatch };

Result<Phase> runPhase(const std::filesystem::path& db_file, int creates, int concurrency,
                       Mode mode) {
  const bool subscribed = mode != Mode::NoSubscriptions;
  const bool matching = mode == Mode::SomeMatch;
  // Declared before the database so that it is destroyed after it: work the database still
  // finishes while shutting down answers sessions of a stopped, not a freed, event loop.
  net::EventLoop loop(2);
  store::StoreOptions store_options;
  store_options.url = "sqlite:" + db_file.string();
  CHTLINK_ASSIGN_OR_RETURN(auto db, store::openDatabase(store_options, quietLogger()));
  CHTLINK_TRY(store::migrate(*db, queue::migrations()));
  CHTLINK_TRY(store::migrate(*db, fhir::FhirService::migrations()));
  SystemClock clock;
  MtRandom random;

  Arrivals arrivals;
  net::Router receiver_router;
  receiver_router.add("PUT", "/cb/Encounter/{id}", [&](net::Request req, net::Reply reply) {
    arrivals.arrived(std::string(req.param("id")));
    reply(net::Response::json(200, Json::object()));
  });
  net::ServerOptions receiver_options;
  receiver_options.port = 0;
  receiver_options.name = "receiver";
  net::Server receiver(loop, receiver_options, std::move(receiver_router), quietLogger());
  CHTLINK_ASSIGN_OR_RETURN(uint16_t receiver_port, receiver.listen());

  fhir::FhirService service(*db, clock, random, {}, quietLogger());
  net::Router router;
  service.mount(router);
  net::ServerOptions server_options;
  server_options.port = 0;
  net::Server server(loop, server_options, std::move(router), quietLogger());
  CHTLINK_ASSIGN_OR_RETURN(uint16_t port, server.listen());
  loop.start();
  net::ClientOptions client_options;
  client_options.max_idle_per_host = static_cast<size_t>(concurrency) * 2;
  auto client = net::makeBeastHttpClient(loop, client_options);

  queue::QueueOptions queue_options;
  queue::WorkerPool workers(*db, clock, random, queue_options, quietLogger());
  workers.addHandler(
      std::string(fhir::subscription::kJobKind),
      service.subscriptionHandler(*client, queue_options, [&workers] { workers.notify(); }));
  workers.start();
  const std::string base = fmt::format("http://127.0.0.1:{}/fhir", port);

  auto post = [&](const std::string& path, std::string body) {
    net::ClientRequest r;
    r.method = "POST";
    r.url = base + path;
    r.headers.set("Content-Type", "application/fhir+json");
    r.headers.set("Prefer", "return=minimal");
    r.body = std::move(body);
    return r;
  };
  if (subscribed) {
    for (int k = 0; k < kSubscriptions; ++k) {
      Json s = {{"resourceType", "Subscription"},
                {"status", "requested"},
                {"reason", "bench"},
                {"criteria", fmt::format("Encounter?identifier=p-{}", k)},
                {"channel",
                 {{"type", "rest-hook"},
                  {"endpoint", fmt::format("http://127.0.0.1:{}/cb", receiver_port)},
                  {"payload", "application/fhir+json"}}}};
      CHTLINK_ASSIGN_OR_RETURN(auto r, client->sendSync(post("/Subscription", dumpJson(s))));
      if (r.status != 201) return internalError("creating a Subscription: " + r.body);
    }
  }

  // Creates at `concurrency` in flight; send times by Encounter id (from Location).
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Clock::time_point> sent_at;
  std::vector<double> latencies(static_cast<size_t>(creates));
  std::atomic<int> started{0}, finished{0}, failures{0};
  std::function<void()> next = [&] {
    int n = started.fetch_add(1);
    if (n >= creates) return;
    auto t = Clock::now();
    client->send(post("/Encounter", encounterJson(n, matching)),
                 [&, n, t](Result<net::ClientResponse> r) {
                   latencies[static_cast<size_t>(n)] =
                       std::chrono::duration<double, std::milli>(Clock::now() - t).count();
                   if (!r.has_value() || r->status != 201) {
                     failures.fetch_add(1);
                   } else if (matching && n % kMatchEvery == 0) {
                     std::string location(r->headers.get("Location"));
                     auto from = location.find("/Encounter/") + 11;
                     std::lock_guard lock(mu);
                     sent_at[location.substr(from, location.find("/_history") - from)] = t;
                   }
                   next();
                   if (finished.fetch_add(1) + 1 == creates) {
                     std::lock_guard lock(mu);
                     cv.notify_all();
                   }
                 });
  };
  auto t0 = Clock::now();
  const double cpu0 = cpuSeconds();
  for (int i = 0; i < concurrency; ++i) next();
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return finished.load() == creates; });
  }
  Phase phase;
  phase.creates_per_s = creates / std::chrono::duration<double>(Clock::now() - t0).count();
  phase.create_p50_ms = percentile(latencies, 0.5);
  phase.create_p99_ms = percentile(latencies, 0.99);
  phase.failures = failures.load();
  if (matching) arrivals.waitFor(sent_at.size(), std::chrono::seconds(60));
  phase.cpu_us = (cpuSeconds() - cpu0) * 1e6 / creates;

  if (matching) {
    phase.expected = sent_at.size();
    arrivals.waitFor(sent_at.size(), std::chrono::seconds(60));
    auto at = arrivals.snapshot();
    std::vector<double> delays;
    for (const auto& [id, t] : sent_at) {
      auto it = at.find(id);
      if (it != at.end())
        delays.push_back(std::chrono::duration<double, std::milli>(it->second - t).count());
    }
    phase.delivered = delays.size();
    phase.deliver_p50_ms = percentile(delays, 0.5);
    phase.deliver_p99_ms = percentile(delays, 0.99);

    // One at a time: each matching create waits for its notification.
    std::vector<double> idle;
    for (int i = 0; i < 200; ++i) {
      int n = (creates + i) * kMatchEvery;
      auto t = Clock::now();
      CHTLINK_ASSIGN_OR_RETURN(auto r,
                               client->sendSync(post("/Encounter", encounterJson(n, true))));
      if (r.status != 201) return internalError("creating an Encounter: " + r.body);
      std::string location(r.headers.get("Location"));
      auto from = location.find("/Encounter/") + 11;
      std::string id = location.substr(from, location.find("/_history") - from);
      for (auto limit = Clock::now() + std::chrono::seconds(10); Clock::now() < limit;) {
        auto snap = arrivals.snapshot();
        if (auto it = snap.find(id); it != snap.end()) {
          idle.push_back(std::chrono::duration<double, std::milli>(it->second - t).count());
          break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    }
    phase.idle_deliver_p50_ms = percentile(idle, 0.5);
    phase.idle_deliver_p99_ms = percentile(idle, 0.99);
  }
  workers.stop(std::chrono::seconds(5));
  client.reset();
  loop.stop();
  loop.join();
  return phase;
}

}  // namespace

int main(int argc, char** argv) {
  int creates = argc > 1 ? std::atoi(argv[1]) : 20000;
  int concurrency = argc > 2 ? std::atoi(argv[2]) : 16;
  auto dir =
      std::filesystem::temp_directory_path() / fmt::format("chtlink-subs-bench-{}", getpid());
  std::filesystem::create_directories(dir);
  // The baseline runs first and last (the machine's load drifts); its mean is the reference.
  const std::vector<std::pair<std::string, Mode>> order = {{"baseline1", Mode::NoSubscriptions},
                                                           {"none_match", Mode::NoneMatch},
                                                           {"some_match", Mode::SomeMatch},
                                                           {"baseline2", Mode::NoSubscriptions}};
  std::map<std::string, Phase> phases;
  for (const auto& [name, mode] : order) {
    auto phase = runPhase(dir / (name + ".db"), creates, concurrency, mode);
    if (!phase.has_value()) {
      std::cerr << name << ": " << phase.error().message << "\n";
      std::filesystem::remove_all(dir);
      return 1;
    }
    phases[name] = *phase;
  }
  std::filesystem::remove_all(dir);
  const double baseline =
      (phases["baseline1"].creates_per_s + phases["baseline2"].creates_per_s) / 2;
  const Phase& none = phases["none_match"];
  const Phase& some = phases["some_match"];
  int failures = 0;
  for (const auto& [name, p] : phases) failures += p.failures;
  std::cout
      << fmt::format(
             R"({{"creates":{},"concurrency":{},"subscriptions":{},)"
             R"("baseline_creates_per_s":{:.0f},"baseline_create_p50_ms":{:.2f},"baseline_cpu_us":{:.0f},)"
             R"("none_match_creates_per_s":{:.0f},"none_match_ratio":{:.2f},"none_match_cpu_us":{:.0f},)"
             R"("some_match_creates_per_s":{:.0f},"some_match_ratio":{:.2f},"some_match_create_p50_ms":{:.2f},"some_match_cpu_us":{:.0f},)"
             R"("notifications":{},"delivered":{},)"
             R"("loaded_send_to_receiver_p50_ms":{:.2f},"loaded_send_to_receiver_p99_ms":{:.2f},)"
             R"("idle_send_to_receiver_p50_ms":{:.2f},"idle_send_to_receiver_p99_ms":{:.2f},"failures":{}}})",
             creates, concurrency, kSubscriptions, baseline, phases["baseline1"].create_p50_ms,
             (phases["baseline1"].cpu_us + phases["baseline2"].cpu_us) / 2, none.creates_per_s,
             none.creates_per_s / baseline, none.cpu_us, some.creates_per_s,
             some.creates_per_s / baseline, some.create_p50_ms, some.cpu_us, some.expected,
             some.delivered, some.deliver_p50_ms, some.deliver_p99_ms, some.idle_deliver_p50_ms,
             some.idle_deliver_p99_ms, failures)
      << std::endl;
  return some.delivered == some.expected && failures == 0 ? 0 : 1;
}
