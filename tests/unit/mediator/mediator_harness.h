// MediatorHarness: the mediator on a real loopback listener, writing to a real chtlink FHIR
// server (FhirService on its own listener) and to a fake CHT records API, over one SQLite
// database in a TempDir. Tests talk HTTP to it and read FHIR directly.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/json.h"
#include "base/random.h"
#include "fhir/rest/fhir_service.h"
#include "mediator/mediator.h"
#include "net/client.h"
#include "net/event_loop.h"
#include "net/server.h"
#include "queue/queue.h"
#include "temp_dir.h"
#include "test_database.h"

namespace chtlink::testing {

// The CHT records API as the mediator sees it: success, a 500, or nobody listening.
class FakeCht {
 public:
  enum class Mode { Ok, ServerError };
  explicit FakeCht(net::EventLoop& loop) {
    net::Router router;
    router.add("POST", "/api/v2/records", [this](net::Request request, net::Reply reply) {
      {
        std::lock_guard lock(mu_);
        records_.push_back(request.body);
      }
      if (mode_.load() == Mode::ServerError) {
        reply(net::Response::json(500, Json{{"code", 500}, {"error", "Server error"}}));
        return;
      }
      reply(net::Response::json(200, Json{{"success", true}, {"id", "record-1"}}));
    });
    net::ServerOptions options;
    options.name = "fake-cht";
    server_ = std::make_unique<net::Server>(loop, options, std::move(router), nullLogger());
    auto port = server_->listen();
    EXPECT_TRUE(port.has_value());
    port_ = port.has_value() ? *port : 0;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void setMode(Mode m) { mode_.store(m); }
  std::vector<std::string> records() const {
    std::lock_guard lock(mu_);
    return records_;
  }

 private:
  std::unique_ptr<net::Server> server_;
  uint16_t port_ = 0;
  std::atomic<Mode> mode_{Mode::Ok};
  mutable std::mutex mu_;
  std::vector<std::string> records_;
};

class MediatorHarness {
 public:
  // `adjust` may change the mediator options (fhir_url/cht_url are filled in first).
  explicit MediatorHarness(std::function<void(mediator::MediatorOptions&)> adjust = {})
      : random_(7) {
    auto db = openTestDatabase(dir_);
    if (!db.has_value()) {
      ADD_FAILURE() << db.error().message;
      return;
    }
    db_ = std::move(db).value();
    for (const auto& list :
         {std::vector<store::Migration>(queue::migrations().begin(), queue::migrations().end()),
          fhir::FhirService::migrations(), mediator::Mediator::migrations()}) {
      auto m = store::migrate(*db_, list);
      if (!m.has_value()) ADD_FAILURE() << m.error().message;
    }
    loop_.start();
    client_ = net::makeBeastHttpClient(loop_, {});
    fhir_ = std::make_unique<fhir::FhirService>(*db_, clock_, random_, fhir::FhirOptions{},
                                                nullLogger());
    net::Router fhir_router;
    fhir_->mount(fhir_router);
    net::ServerOptions fhir_options;
    fhir_options.name = "fhir";
    fhir_server_ =
        std::make_unique<net::Server>(loop_, fhir_options, std::move(fhir_router), nullLogger());
    auto fhir_port = fhir_server_->listen();
    EXPECT_TRUE(fhir_port.has_value());
    fhir_url_ =
        "http://127.0.0.1:" + std::to_string(fhir_port.has_value() ? *fhir_port : 0) + "/fhir";
    cht_ = std::make_unique<FakeCht>(loop_);

    mediator::MediatorOptions options;
    options.fhir_url = fhir_url_;
    options.cht_url = cht_->url();
    options.cht_username = "medic";
    options.cht_password = "password";
    options.upstream_timeout = std::chrono::milliseconds(5'000);
    options.recovery_delay = std::chrono::milliseconds(0);
    if (adjust) adjust(options);
    queue_options_.initial_backoff = std::chrono::milliseconds(1);
    queue_options_.max_backoff = std::chrono::milliseconds(1);
    mediator_ = std::make_unique<mediator::Mediator>(*db_, *client_, clock_, random_, options,
                                                     queue_options_, nullLogger());
    workers_ =
        std::make_unique<queue::WorkerPool>(*db_, clock_, random_, queue_options_, nullLogger());
    mediator_->addJobHandlers(*workers_);
    net::ServerOptions mediator_options;
    mediator_options.name = "mediator";
    mediator_server_ =
        std::make_unique<net::Server>(loop_, mediator_options, mediator_->router(), nullLogger());
    auto port = mediator_server_->listen();
    EXPECT_TRUE(port.has_value());
    mediator_port_ = port.has_value() ? *port : 0;
  }

  ~MediatorHarness() {
    if (mediator_) mediator_->stop();
    mediator_server_.reset();
    fhir_server_.reset();
    cht_.reset();
    // The database pool may still answer Replies (FHIR requests in flight): close it while the
    // event loop lives, as net::Server requires.
    workers_.reset();
    db_.reset();
    client_.reset();
    loop_.stop();
    loop_.join();
  }

  std::string mediatorUrl(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(mediator_port_) + path;
  }

  net::ClientResponse post(const std::string& path, const std::string& body,
                           const std::string& content_type = "application/json",
                           net::Headers headers = {}) {
    net::ClientRequest r;
    r.method = "POST";
    r.url = mediatorUrl(path);
    r.body = body;
    r.headers = std::move(headers);
    if (!content_type.empty()) r.headers.set("Content-Type", content_type);
    auto answer = client_->sendSync(std::move(r));
    EXPECT_TRUE(answer.has_value()) << (answer ? "" : answer.error().message);
    return answer.has_value() ? std::move(answer).value() : net::ClientResponse{};
  }
  net::ClientResponse get(const std::string& path) {
    net::ClientRequest r;
    r.url = mediatorUrl(path);
    auto answer = client_->sendSync(std::move(r));
    EXPECT_TRUE(answer.has_value()) << (answer ? "" : answer.error().message);
    return answer.has_value() ? std::move(answer).value() : net::ClientResponse{};
  }
  net::ClientResponse post(const std::string& path, const Json& body) {
    return post(path, dumpJson(body));
  }

  // A direct FHIR call (not through the mediator).
  net::ClientResponse fhir(const std::string& method, const std::string& path_and_query,
                           const std::optional<Json>& body = std::nullopt) {
    net::ClientRequest r;
    r.method = method;
    r.url = fhir_url_ + path_and_query;
    if (body) {
      r.body = dumpJson(*body);
      r.headers.set("Content-Type", "application/fhir+json");
    }
    auto answer = client_->sendSync(std::move(r));
    EXPECT_TRUE(answer.has_value()) << (answer ? "" : answer.error().message);
    return answer.has_value() ? std::move(answer).value() : net::ClientResponse{};
  }
  // `total` of a FHIR search.
  int64_t count(const std::string& path_and_query) {
    auto r = fhir("GET", path_and_query);
    auto j = parseJson(r.body);
    if (!j || !j->contains("total")) return -1;
    return (*j)["total"].get<int64_t>();
  }
  Json firstResource(const std::string& path_and_query) {
    auto j = parseJson(fhir("GET", path_and_query).body);
    if (!j || !j->contains("entry") || (*j)["entry"].empty()) return Json();
    return (*j)["entry"][0]["resource"];
  }

  store::Database& db() { return *db_; }
  mediator::Mediator& mediator() { return *mediator_; }
  queue::WorkerPool& workers() { return *workers_; }
  FakeCht& cht() { return *cht_; }
  const std::string& fhirUrl() const { return fhir_url_; }

  // Runs due jobs until none is left (each job's outcome written), bounded.
  void drainJobs() {
    for (int i = 0; i < 50; ++i) {
      auto n = workers_->pollOnce();
      ASSERT_TRUE(n.has_value()) << n.error().message;
      // Handlers answer asynchronously; wait for the outcomes of this batch.
      for (int w = 0; w < 500; ++w) {
        ASSERT_TRUE(workers_->flushOutcomes().has_value());
        queue::JobStore jobs(*db_, clock_);
        auto running = jobs.list({queue::JobState::Running, std::nullopt, 100, 0});
        if (running && running->empty()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // poll step
      }
      if (*n == 0) return;
    }
  }

 private:
  TempDir dir_;
  SystemClock clock_;
  MtRandom random_;
  std::unique_ptr<store::Database> db_;
  net::EventLoop loop_{2};
  std::unique_ptr<net::HttpClient> client_;
  std::unique_ptr<fhir::FhirService> fhir_;
  std::unique_ptr<net::Server> fhir_server_;
  std::string fhir_url_;
  std::unique_ptr<FakeCht> cht_;
  queue::QueueOptions queue_options_;
  std::unique_ptr<mediator::Mediator> mediator_;
  std::unique_ptr<queue::WorkerPool> workers_;
  std::unique_ptr<net::Server> mediator_server_;
  uint16_t mediator_port_ = 0;
};

}  // namespace chtlink::testing
