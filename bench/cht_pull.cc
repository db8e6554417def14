// Pull-mode backfill: cht-sim (in process, on a loopback listener) holds N person documents;
// PullFollower reads its changes feed page by page, hydrates, evaluates the reference LTFU
// outbound rules (FHIR_patient, FHIR_practitioner, FHIR_encounter relevant_to + the
// FHIR_patient mapping in SpiderMonkey) and enqueues one delivery job per payload; the
// worker pool delivers them to a local receiver. Measured: documents per second from the
// first page to the last delivery, and the pull alone (read + hydrate + JavaScript +
// enqueue). Baseline, same run and same documents: a trivial rule set (one config,
// relevant_to `true`, mapping {"id": "doc._id"} by path) — the ratio is the cost of the
// reference JavaScript.
//
// Usage: cht_pull [docs] [batch]. Prints one JSON line.
#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>

#include "base/clock.h"
#include "base/random.h"
#include "cht/client/cht_client.h"
#include "cht/emulator/cht_sim.h"
#include "cht/emulator/doc_store.h"
#include "cht/feed/pull_follower.h"
#include "net/client.h"
#include "net/event_loop.h"
#include "net/server.h"
#include "queue/http_delivery.h"
#include "queue/queue.h"
#include "script/engine.h"
#include "script/platform.h"
#include "store/database.h"
#include "store/migrations.h"

using namespace chtlink;
using cht::OrderedJson;

namespace {

std::shared_ptr<spdlog::logger> quietLogger() {
  return std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
}

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

class Credentials final : public cht::outbound::CredentialStore {
 public:
  Result<std::optional<std::string>> get(std::string_view) override {
    return std::optional<std::string>("interop-password");
  }
};

struct RunResult {
  double pull_seconds = 0;
  double total_seconds = 0;
  size_t enqueued = 0;
};

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "cht_pull: " << what << "\n";
  std::exit(1);
}

// One backfill from sequence 0 into a fresh chtlink database, until every job is delivered.
RunResult backfill(const std::filesystem::path& db_path, cht::ChtClient& client,
                   script::Engine& engine, net::HttpClient& http, const OrderedJson& app_settings,
                   int batch, std::atomic<int>& received) {
  store::StoreOptions store_options;
  store_options.url = "sqlite:" + db_path.string();
  auto db = store::openDatabase(store_options, quietLogger());
  if (!db || !store::migrate(**db, queue::migrations()) ||
      !store::migrate(**db, cht::feed::PullFollower::migrations())) {
    fail("cannot open the pull database");
  }
  SystemClock clock;
  MtRandom random;
  queue::QueueOptions queue_options;
  queue_options.concurrency = 64;
  queue_options.concurrency_per_destination = 64;
  queue::WorkerPool pool(**db, clock, random, queue_options, quietLogger());
  pool.addHandler(std::string(queue::kHttpJobKind), queue::makeHttpDeliveryHandler(http));
  pool.start();
  Credentials credentials;
  cht::feed::PullOptions options;
  options.batch = batch;
  options.app_settings = app_settings;
  cht::feed::PullFollower follower(**db, client, engine, credentials, clock, queue_options, options,
                                   quietLogger());
  received = 0;
  RunResult result;
  const auto started = std::chrono::steady_clock::now();
  for (;;) {
    auto page = follower.pollOnce(false);
    if (!page) fail(page.error().message);
    if (page->errors > 0) fail("mapping errors in the benchmark documents");
    result.enqueued += page->enqueued;
    if (page->enqueued > 0) pool.notify();
    if (page->changes == 0) break;
  }
  result.pull_seconds = secondsSince(started);
  while (received.load() < static_cast<int>(result.enqueued)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  result.total_seconds = secondsSince(started);
  pool.stop(std::chrono::seconds(5));
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  const int docs = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int batch = argc > 2 ? std::atoi(argv[2]) : 500;
  auto dir = std::filesystem::temp_directory_path() / fmt::format("chtlink-chtpull-{}", getpid());
  std::filesystem::create_directories(dir);

  net::EventLoop loop(2);
  std::atomic<int> received{0};
  net::Router receiver_router;
  receiver_router.add("POST", "/{rest...}", [&](net::Request, net::Reply reply) {
    received.fetch_add(1);
    reply(net::Response::json(200, {{"ok", true}}));
  });
  net::Server receiver(loop, net::ServerOptions{}, std::move(receiver_router), quietLogger());
  auto receiver_port = receiver.listen();
  if (!receiver_port) fail(receiver_port.error().message);
  loop.start();
  auto http = net::makeBeastHttpClient(loop, {});

  auto platform = script::Platform::initialize();
  if (!platform) fail(platform.error().message);
  script::EngineOptions engine_options;
  engine_options.threads = static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  auto engine = script::Engine::create(**platform, engine_options, quietLogger());
  if (!engine) fail(engine.error().message);

  // cht-sim with the LTFU seed, pushing (if it did) to the receiver; its own Sentinel is
  // switched off so only pull mode sends.
  store::StoreOptions sim_store;
  sim_store.url = "sqlite:" + (dir / "sim.db").string();
  auto sim_db = store::openDatabase(sim_store, quietLogger());
  if (!sim_db || !store::migrate(**sim_db, cht::emulator::DocStore::migrations())) {
    fail("cannot open the cht-sim database");
  }
  SystemClock clock;
  MtRandom random;
  cht::emulator::ChtSimOptions sim_options;
  sim_options.seed_ltfu = true;
  sim_options.router_url = fmt::format("http://127.0.0.1:{}", *receiver_port);
  auto sim = cht::emulator::ChtSim::create(**sim_db, **engine, *http, clock, random, sim_options,
                                           quietLogger());
  if (!sim) fail(sim.error().message);
  net::Server sim_server(loop, net::ServerOptions{}, (*sim)->router(), quietLogger());
  auto sim_port = sim_server.listen();
  if (!sim_port) fail(sim_port.error().message);
  auto client = cht::ChtClient::create(
      *http, cht::ChtClientOptions{fmt::format("http://127.0.0.1:{}", *sim_port), "medic",
                                   "password", std::chrono::seconds(120)});
  if (!client) fail(client.error().message);
  auto settings = client->getSettings();
  if (!settings) fail(settings.error().message);
  OrderedJson quiet = OrderedJson::object();
  quiet["transitions"]["mark_for_outbound"] = false;
  quiet["transitions"]["generate_patient_id_on_people"] = false;
  if (auto s = client->putSettings(quiet); !s) fail(s.error().message);

  const auto load_started = std::chrono::steady_clock::now();
  OrderedJson places = OrderedJson::parse(
      R"([{"_id":"hc-1","type":"health_center","name":"Mwangaza Health Center"},
          {"_id":"hh-1","type":"clinic","name":"Mwangaza Household","parent":{"_id":"hc-1"}}])");
  if (auto written = client->bulkDocs(places); !written) fail(written.error().message);
  for (int start = 0; start < docs; start += 2000) {
    OrderedJson bulk = OrderedJson::array();
    for (int i = start; i < std::min(docs, start + 2000); ++i) {
      OrderedJson doc = OrderedJson::object();
      doc["_id"] = fmt::format("person-{:06}", i);
      doc["type"] = "person";
      doc["role"] = "patient";
      doc["name"] = fmt::format("Patient {}", i);
      doc["short_name"] = fmt::format("P{}", i);
      doc["sex"] = i % 2 ? "female" : "male";
      doc["date_of_birth"] = "1990-04-12";
      doc["phone"] = "+254712000111";
      doc["reported_date"] = 1717400000000 + i;
      doc["parent"]["_id"] = "hh-1";
      doc["parent"]["parent"]["_id"] = "hc-1";
      bulk.push_back(std::move(doc));
    }
    if (auto written = client->bulkDocs(bulk); !written) fail(written.error().message);
  }
  const double load_seconds = secondsSince(load_started);

  // The reference rules (the seeded LTFU outbound, as CHT would serve them) and the trivial.
  OrderedJson reference = *settings;
  OrderedJson trivial = OrderedJson::object();
  trivial["outbound"]["trivial"]["relevant_to"] = "true";
  trivial["outbound"]["trivial"]["destination"]["base_url"] = sim_options.router_url;
  trivial["outbound"]["trivial"]["destination"]["path"] = "/trivial";
  trivial["outbound"]["trivial"]["mapping"]["id"] = "doc._id";

  auto reference_run =
      backfill(dir / "reference.db", *client, **engine, *http, reference, batch, received);
  auto trivial_run =
      backfill(dir / "trivial.db", *client, **engine, *http, trivial, batch, received);

  (*sim)->stop();
  http.reset();
  loop.stop();
  loop.join();
  std::filesystem::remove_all(dir);

  const double reference_rate = docs / reference_run.total_seconds;
  const double trivial_rate = docs / trivial_run.total_seconds;
  std::cout
      << fmt::format(
             R"({{"docs":{},"batch":{},"load_docs_per_s":{:.0f},"reference_docs_per_s":{:.0f},"reference_pull_docs_per_s":{:.0f},"reference_jobs":{},"trivial_docs_per_s":{:.0f},"trivial_pull_docs_per_s":{:.0f},"trivial_jobs":{},"ratio":{:.2f}}})",
             docs, batch, docs / load_seconds, reference_rate, docs / reference_run.pull_seconds,
             reference_run.enqueued, trivial_rate, docs / trivial_run.pull_seconds,
             trivial_run.enqueued, reference_rate / trivial_rate)
      << "\n";
  return 0;
}
