// Queue throughput: jobs enqueued (one transaction each, as a change and its job would be)
// and delivered by the worker pool to a local HTTP receiver, against the baseline of the
// same HTTP requests sent straight from the same client at the same concurrency.
//
// Usage: queue_throughput [jobs] [concurrency]. Prints one JSON line.
#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>

#include "base/clock.h"
#include "base/random.h"
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

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Direct: `total` POSTs through the client, `concurrency` in flight.
double directRate(net::HttpClient& client, const std::string& url, int total, int concurrency) {
  std::atomic<int> started{0}, finished{0};
  std::mutex mu;
  std::condition_variable cv;
  std::function<void()> next = [&] {
    int n = started.fetch_add(1);
    if (n >= total) return;
    net::ClientRequest r;
    r.method = "POST";
    r.url = url;
    r.body = R"({"resourceType":"Patient","id":"x"})";
    client.send(std::move(r), [&](Result<net::ClientResponse>) {
      if (finished.fetch_add(1) + 1 == total) {
        std::lock_guard lock(mu);
        cv.notify_all();
      }
      next();
    });
  };
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < concurrency; ++i) next();
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return finished.load() >= total; });
  return total / secondsSince(t0);
}

}  // namespace

int main(int argc, char** argv) {
  int jobs = argc > 1 ? std::atoi(argv[1]) : 20000;
  int concurrency = argc > 2 ? std::atoi(argv[2]) : 64;
  auto dir = std::filesystem::temp_directory_path() / fmt::format("chtlink-bench-{}", getpid());
  std::filesystem::create_directories(dir);

  net::EventLoop loop(2);
  std::atomic<int> received{0};
  net::Router router;
  router.add("POST", "/deliver", [&](net::Request, net::Reply reply) {
    received.fetch_add(1);
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
  std::string url = fmt::format("http://127.0.0.1:{}/deliver", *port);
  auto client = net::makeBeastHttpClient(loop, {});

  double direct = directRate(*client, url, jobs, concurrency);

  store::StoreOptions store_options;
  store_options.url = "sqlite:" + (dir / "bench.db").string();
  auto db = store::openDatabase(store_options, quietLogger());
  if (!db.has_value() || !store::migrate(**db, queue::migrations()).has_value()) {
    std::cerr << "cannot open the benchmark database\n";
    return 1;
  }
  SystemClock clock;
  MtRandom random;
  queue::QueueOptions options;
  options.concurrency = concurrency;
  options.concurrency_per_destination = concurrency;
  queue::WorkerPool pool(**db, clock, random, options, quietLogger());
  pool.addHandler(std::string(queue::kHttpJobKind), queue::makeHttpDeliveryHandler(*client));
  pool.start();

  received = 0;
  queue::HttpJob job;
  job.url = url;
  job.body = R"({"resourceType":"Patient","id":"x"})";
  queue::JobSpec spec;
  spec.kind = queue::kHttpJobKind;
  spec.destination = "receiver";
  spec.payload = queue::encodeHttpJob(job);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < jobs; ++i) {
    Status s = (*db)->run(store::Access::Write, [&](store::Transaction& tx) -> Status {
      CHTLINK_TRY(queue::enqueue(tx, spec, options, clock.now()));
      return ok();
    });
    if (!s.has_value()) {
      std::cerr << s.error().message << "\n";
      return 1;
    }
    pool.notify();
  }
  double enqueue_seconds = secondsSince(t0);
  queue::JobStore store(**db, clock);
  while (true) {
    auto depth = store.depthByState();
    if (depth.has_value() && depth->at(queue::JobState::Done) >= jobs) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  double total_seconds = secondsSince(t0);
  pool.stop(std::chrono::seconds(5));
  loop.stop();
  loop.join();
  std::filesystem::remove_all(dir);

  double rate = jobs / total_seconds;
  std::cout
      << fmt::format(
             R"({{"jobs":{},"concurrency":{},"queue_jobs_per_s":{:.0f},"enqueue_per_s":{:.0f},"direct_requests_per_s":{:.0f},"ratio":{:.2f}}})",
             jobs, concurrency, rate, jobs / enqueue_seconds, direct, rate / direct)
      << "\n";
  return 0;
}
