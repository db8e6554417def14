// FhirHarness: a FhirService over a fresh database (SQLite in a TempDir, or a new schema on the
// test run's PostgreSQL), called in-process (no sockets): call() builds a net::Request and
// waits for the Reply. Suites run on both backends with TEST_P over bothBackends().
#pragma once

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>

#include "base/json.h"
#include "base/random.h"
#include "fake_clock.h"
#include "fhir/rest/fhir_service.h"
#include "net/http.h"
#include "postgres_server.h"
#include "queue/queue.h"
#include "store/database.h"
#include "temp_dir.h"
#include "test_database.h"

namespace chtlink::testing {

class FhirHarness {
 public:
  explicit FhirHarness(TestBackend backend) : FhirHarness(fhir::FhirOptions{}, backend) {}
  explicit FhirHarness(fhir::FhirOptions options = {}, TestBackend backend = TestBackend::Sqlite)
      : random_(42) {
    store::StoreOptions so;
    so.read_connections = 2;
    auto db = openTestDatabase(backend, dir_.path(), so);
    if (!db.has_value()) {
      ADD_FAILURE() << db.error().message;
      return;
    }
    db_ = std::move(db).value();
    auto m = store::migrate(*db_, fhir::FhirService::migrations());
    if (!m.has_value()) ADD_FAILURE() << m.error().message;
    // Writes matching a Subscription enqueue delivery jobs.
    auto q = store::migrate(*db_, queue::migrations());
    if (!q.has_value()) ADD_FAILURE() << q.error().message;
    options.public_base = "http://fhir.test/fhir";
    service_ = std::make_unique<fhir::FhirService>(*db_, clock_, random_, options, nullLogger());
  }

  net::Response call(const std::string& method, const std::string& target,
                     const std::string& body = "", net::Headers headers = {}) {
    net::Request req;
    req.method = method;
    req.target = target;
    auto q = target.find('?');
    req.path = target.substr(0, q);
    req.query = q == std::string::npos ? "" : target.substr(q + 1);
    req.body = body;
    if (!body.empty() && !headers.has("Content-Type"))
      headers.set("Content-Type", "application/fhir+json");
    req.headers = std::move(headers);
    auto promise = std::make_shared<std::promise<net::Response>>();
    auto future = promise->get_future();
    service_->handle(std::move(req),
                     net::Reply([promise](net::Response r) { promise->set_value(std::move(r)); }));
    if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      ADD_FAILURE() << "no answer to " << method << " " << target;
      return {};
    }
    return future.get();
  }

  Json json(const net::Response& r) {
    auto j = parseJson(r.body);
    return j.has_value() ? std::move(j).value() : Json();
  }

  // POSTs `resource` and returns the stored resource (fails the test unless 201).
  Json create(const Json& resource) {
    auto r = call("POST", "/fhir/" + resource.value("resourceType", ""), dumpJson(resource));
    EXPECT_EQ(r.status, 201) << r.body;
    return json(r);
  }

  // Ids of the match entries of a search.
  std::vector<std::string> ids(const std::string& target) {
    auto r = call("GET", target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    std::vector<std::string> out;
    Json b = json(r);
    if (b.contains("entry"))
      for (const auto& e : b["entry"])
        if (e["search"]["mode"] == "match") out.push_back(e["resource"]["id"].get<std::string>());
    return out;
  }

  store::Database& db() { return *db_; }
  FakeClock& clock() { return clock_; }
  fhir::FhirService& service() { return *service_; }

 private:
  TempDir dir_;
  FakeClock clock_;
  MtRandom random_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<fhir::FhirService> service_;
};

}  // namespace chtlink::testing
