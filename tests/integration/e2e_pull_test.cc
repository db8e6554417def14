// End to end, flow 3 (pull mode): one `chtlink serve` in sandbox mode (router, admin API,
// FHIR, mediator and cht-sim on free ports) with cht.mode = "pull" following its own cht-sim,
// driven over HTTP only. Pull mode evaluates the reference LTFU outbound rules on cht-sim's
// changes feed and delivers each payload through the durable queue and the router channel
// ^/mediator/.*$ to the mediator, which stores the FHIR Patient.
//
// cht-sim's own outbound push (its Sentinel's mark_for_outbound) is switched off in its
// app_settings, so pull mode is the only sender: pull mode applies the outbound rules
// whatever that flag says, as it does against a CHT whose push is not configured. Every
// delivery is checked to be pull mode's: the router's transaction carries the queue's
// X-Chtlink-Job-Id header, which CHT's push never sends.
//
// Pull mode needs cht.url, the cht-sim's URL, before serve starts; with ports chosen at run
// time the first start (pull off) learns the ports and switches cht-sim's push off, and the
// pull-mode start reuses the same ports and data folder, as a restart does.
//
// Persons in the SIGKILL test: 400 in optimised builds, 200 in Debug, 80 under
// AddressSanitizer (slower by several times), so each test stays well under 30 s.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "base/json.h"
#include "e2e_calls.h"
#include "serve_process.h"
#include "temp_dir.h"
#include "wait_until.h"

#if defined(__SANITIZE_ADDRESS__)
#define E2E_PULL_PERSONS 80
#elif defined(NDEBUG)
#define E2E_PULL_PERSONS 400
#else
#define E2E_PULL_PERSONS 200
#endif

namespace chtlink::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kPersons = E2E_PULL_PERSONS;

const net::BasicAuth kAdminApi{"root@openhim.org", "openhim-password"};

std::string percentEncoded(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A CouchDB-style id the reference mediator accepts (a dashed GUID), distinct per person.
std::string personId(int i) {
  char id[40];
  std::snprintf(id, sizeof id, "7d3c9a10-2b4e-4f6a-8c1d-%012x", static_cast<unsigned>(i));
  return id;
}

class E2ePull : public ::testing::Test, protected E2eCalls {
 protected:
  // Sandbox serve (reference configuration, admin API over plain HTTP for the test client).
  void startSandbox(std::vector<std::string> sets) {
    sets.insert(sets.begin(), {"sandbox.mode=on", "sandbox.seed=true", "cht_sim.port=0",
                               "him.api_tls=false", "log.access_log=false",
                               // A job the SIGKILL caught running is leased again soon.
                               "queue.lease=2s", "queue.initial_backoff=100ms"});
    serve_ = std::make_unique<ServeProcess>(dir_, sets);
    ASSERT_NE(serve_->port("cht"), 0) << serve_->process().output();
    ASSERT_NE(serve_->port("api"), 0) << serve_->process().output();
    // The sandbox installs its channels asynchronously after start: wait for both.
    ASSERT_TRUE(
        waitUntil([&] { return status("GET", router("/mediator/"), std::nullopt) == 200; }, 20s))
        << serve_->process().output();
    ASSERT_TRUE(waitUntil(
        [&] { return status("GET", router("/fhir/metadata"), std::nullopt) == 200; }, 20s))
        << serve_->process().output();
  }

  // First start: learn the ports, switch cht-sim's own push off, stop. Then pull mode on the
  // same ports, following this serve's cht-sim.
  void startPullMode() {
    startSandbox({});
    if (HasFatalFailure()) return;
    json("PUT", cht("/api/v1/settings"), Json{{"transitions", {{"mark_for_outbound", false}}}}, 200,
         kChtSimAdmin);
    {
      std::ofstream credentials(dir_.file("credentials.json"));
      credentials << R"({"openhim1":"interop-password"})";
    }
    pull_sets_ = {"server.port=" + std::to_string(serve_->port("server")),
                  "him.api_port=" + std::to_string(serve_->port("api")),
                  "fhir.port=" + std::to_string(serve_->port("fhir")),
                  "mediator.port=" + std::to_string(serve_->port("mediator")),
                  "cht_sim.port=" + std::to_string(serve_->port("cht")),
                  "cht.mode=pull",
                  "cht.url=" + cht(""),
                  "cht.username=medic",
                  "cht.password=password",
                  "cht.credentials_file=" + dir_.file("credentials.json")};
    stop(SIGTERM);
    startSandbox(pull_sets_);
  }

  void stop(int signal) {
    // Our idle keep-alive connections go first: a graceful stop then has nothing to drain.
    reconnect();
    serve_->process().signal(signal);
    ASSERT_TRUE(serve_->process().wait(15s).has_value());
    serve_.reset();
  }

  std::string router(const std::string& path) const { return serve_->url(path); }
  std::string cht(const std::string& path) const { return serve_->url(path, "cht"); }
  std::string api(const std::string& path) const { return serve_->url(path, "api"); }

  int64_t total(const std::string& search) { return E2eCalls::total(router("/fhir/" + search)); }

  // The cht identifier value of every stored Patient, one entry per Patient.
  std::vector<std::string> patientIdentifiers() {
    Json bundle = json("GET", router("/fhir/Patient?_count=1000"), std::nullopt, 200);
    std::vector<std::string> out;
    const Json entries = bundle.value("entry", Json::array());
    for (const auto& entry : entries) {
      const Json identifiers = entry.value("/resource/identifier"_json_pointer, Json::array());
      for (const auto& identifier : identifiers) {
        if (identifier.value("system", "") == "cht") out.push_back(identifier.value("value", ""));
      }
    }
    return out;
  }
  // Jobs of the durable queue by state, from serve's /metrics (router port).
  std::map<std::string, int64_t> queueDepth() {
    std::map<std::string, int64_t> out;
    auto r = call("GET", router("/metrics"), std::nullopt);
    if (!r.has_value() || r->status != 200) return out;
    const std::string prefix = "chtlink_queue_jobs{state=\"";
    for (size_t at = r->body.find(prefix); at != std::string::npos;
         at = r->body.find(prefix, at + 1)) {
      size_t name_end = r->body.find('"', at + prefix.size());
      size_t value_at = r->body.find(' ', name_end);
      if (name_end == std::string::npos || value_at == std::string::npos) break;
      out[r->body.substr(at + prefix.size(), name_end - at - prefix.size())] =
          static_cast<int64_t>(std::stod(r->body.substr(value_at + 1, 24)));
    }
    return out;
  }
  // Router transactions of POSTs whose path matches `path_regex` (admin API, full documents).
  Json transactions(const std::string& path_regex) {
    std::string filters = dumpJson(Json{{"request.path", path_regex}, {"request.method", "POST"}});
    return json("GET",
                api("/transactions?filterRepresentation=full&filters=" + percentEncoded(filters)),
                std::nullopt, 200, kAdminApi);
  }
  // Router transactions of pull mode's deliveries per CHT person id (read from the request
  // body): only deliveries that carry the queue's job id header count.
  struct Delivered {
    int transactions = 0;
    int completed = 0;  // with a 2xx response recorded
  };
  std::map<std::string, Delivered> patientTransactions(size_t* without_job_id = nullptr) {
    std::map<std::string, Delivered> out;
    for (const auto& tx : transactions("^/mediator/patient$")) {
      bool job_header = false;
      const Json headers = tx.value("/request/headers"_json_pointer, Json::object());
      for (const auto& [name, value] : headers.items()) {
        std::string lower = name;
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (lower == "x-chtlink-job-id" && value.is_string() && !value.get<std::string>().empty())
          job_header = true;
      }
      if (!job_header) {
        if (without_job_id) ++*without_job_id;
        continue;
      }
      auto body = parseJson(tx.value("/request/body"_json_pointer, std::string()));
      if (!body.has_value()) continue;
      Delivered& d = out[body->value("/identifier/0/value"_json_pointer, std::string())];
      ++d.transactions;
      const Json response = tx.value("response", Json());
      int code = response.is_object() ? response.value("status", 0) : 0;
      if (code >= 200 && code <= 299) ++d.completed;
    }
    return out;
  }

  // A CHT place and a CHW user (users API, as the reference Postman collection does);
  // returns the place id.
  std::string createPlaceAndChw() {
    Json place =
        json("POST", cht("/api/v1/places"),
             Json{{"name", "CHP Branch Two"}, {"type", "district_hospital"}}, 200, kChtSimAdmin);
    std::string place_id = place.value("id", "");
    json("POST", cht("/api/v2/users"),
         Json{{"username", "geo"},
              {"password", "Dakar1234"},
              {"type", "chw"},
              {"place", place_id},
              {"contact", {{"name", "Maria Blob"}, {"phone", "+2868917046"}}}},
         200, kChtSimAdmin);
    return place_id;
  }

  TempDir dir_;
  std::unique_ptr<ServeProcess> serve_;
  std::vector<std::string> pull_sets_;
};

// Persons created through CHT's API become one FHIR Patient each, delivered by pull mode
// through the router's mediator channel, each delivery recorded as a router transaction; a
// person with role chw becomes a Practitioner through the FHIR channel.
TEST_F(E2ePull, PullModeDeliversPersonsThroughTheRouter) {
  startPullMode();
  ASSERT_FALSE(HasFatalFailure());
  const std::string place = createPlaceAndChw();
  ASSERT_FALSE(place.empty());
  std::vector<std::string> persons;
  for (int i = 0; i < 5; ++i) {
    Json person = json("POST", cht("/api/v1/people"),
                       Json{{"name", "Pull Patient " + std::to_string(i)},
                            {"short_name", "P" + std::to_string(i)},
                            {"phone", "+2548277217095"},
                            {"date_of_birth", "1980-06-06"},
                            {"sex", i % 2 ? "female" : "male"},
                            {"type", "person"},
                            {"role", "patient"},
                            {"place", place}},
                       200, {"geo", "Dakar1234"});
    persons.push_back(person.value("id", ""));
    ASSERT_FALSE(persons.back().empty());
  }
  json("POST", cht("/api/v1/people"),
       Json{{"name", "Grace Pull CHW"},
            {"date_of_birth", "1990-01-01"},
            {"sex", "female"},
            {"phone", "+254712000111"},
            {"type", "person"},
            {"role", "chw"},
            {"place", place}},
       200, kChtSimAdmin);

  for (const auto& id : persons) {
    ASSERT_TRUE(waitUntil([&] { return total("Patient?identifier=" + id) == 1; }, 20s))
        << id << "\n"
        << serve_->process().output();
  }
  ASSERT_TRUE(waitUntil([&] { return total("Practitioner?name=Grace") == 1; }, 20s))
      << serve_->process().output();
  // Pull mode's delivery of every person is a router transaction on the mediator channel
  // (recorded asynchronously: polled), and no other sender delivered any person.
  size_t without_job_id = 0;
  std::map<std::string, Delivered> delivered;
  ASSERT_TRUE(waitUntil(
      [&] {
        without_job_id = 0;
        delivered = patientTransactions(&without_job_id);
        return std::all_of(persons.begin(), persons.end(), [&](const std::string& id) {
          return delivered.count(id) && delivered[id].completed > 0;
        });
      },
      20s))
      << transactions("^/mediator/patient$").dump().substr(0, 2000);
  for (const auto& id : persons) {
    EXPECT_EQ(delivered[id].transactions, 1) << id;
    EXPECT_EQ(delivered[id].completed, 1) << id;
  }
  EXPECT_EQ(delivered.size(), persons.size());
  EXPECT_EQ(without_job_id, 0u) << "a delivery that did not come from pull mode's queue";
  Json practitioner = transactions("^/fhir/Practitioner$");
  ASSERT_EQ(practitioner.size(), 1u) << practitioner.dump().substr(0, 2000);
  EXPECT_EQ(practitioner[0].value("/response/status"_json_pointer, 0), 201);
  // Nothing else was stored: one Patient per person.
  EXPECT_EQ(patientIdentifiers().size(), persons.size());
}

// A batch of persons written to CHT at once; serve is SIGKILLed while pull mode is
// delivering them, then restarted on the same ports and data folder: every person ends as
// exactly one Patient, and each delivery has its router transaction.
TEST_F(E2ePull, SigkillWhileDeliveringLosesAndDuplicatesNothing) {
  startPullMode();
  ASSERT_FALSE(HasFatalFailure());
  const std::string place = createPlaceAndChw();
  ASSERT_FALSE(place.empty());
  // As CHT stores persons: minified lineage in `parent`, reported_date in ms.
  Json docs = Json::array();
  std::set<std::string> ids;
  for (int i = 0; i < kPersons; ++i) {
    ids.insert(personId(i));
    docs.push_back({{"_id", personId(i)},
                    {"type", "person"},
                    {"role", "patient"},
                    {"name", "Batch Patient " + std::to_string(i)},
                    {"short_name", "B" + std::to_string(i)},
                    {"sex", i % 2 ? "female" : "male"},
                    {"date_of_birth", "1990-04-12"},
                    {"phone", "+254712000111"},
                    {"parent", {{"_id", place}}},
                    {"reported_date", int64_t{1717400000000} + i}});
  }
  json("POST", cht("/medic/_bulk_docs"), Json{{"docs", docs}}, 201, kChtSimAdmin);

  // Killed once a tenth of the Patients exist: deliveries are in flight.
  int64_t at_kill = 0;
  ASSERT_TRUE(waitUntil(
      [&] {
        at_kill = total("Patient?_summary=count");
        return at_kill >= kPersons / 10;
      },
      30s, 10ms))
      << serve_->process().output();
  stop(SIGKILL);
  EXPECT_LT(at_kill, kPersons) << "the kill came after every delivery";

  startSandbox(pull_sets_);
  ASSERT_FALSE(HasFatalFailure());
  // Done: every Patient stored and the queue empty (nothing pending or running to redeliver).
  std::map<std::string, int64_t> depth;
  ASSERT_TRUE(waitUntil(
      [&] {
        if (total("Patient?_summary=count") < kPersons) return false;
        depth = queueDepth();
        return depth.count("pending") && depth["pending"] == 0 && depth["running"] == 0;
      },
      60s, 20ms))
      << total("Patient?_summary=count") << " of " << kPersons << " Patients\n"
      << serve_->process().output();
  EXPECT_EQ(depth["dead"], 0);

  std::vector<std::string> stored = patientIdentifiers();
  std::set<std::string> unique(stored.begin(), stored.end());
  EXPECT_EQ(stored.size(), static_cast<size_t>(kPersons)) << "duplicated or lost Patients";
  EXPECT_EQ(unique, ids);
  // Each person's delivery was recorded by the router, and only pull mode delivered. A job
  // the kill caught in flight may be delivered twice (the mediator's conditional create keeps
  // one Patient). A transaction whose outcome the kill caught unrecorded is marked Failed at
  // the restart even when the mediator had answered (OpenHIM, too, records the outcome after
  // answering): those are bounded by the jobs in flight (queue.concurrency, 64).
  size_t without_job_id = 0;
  std::map<std::string, Delivered> delivered = patientTransactions(&without_job_id);
  EXPECT_EQ(without_job_id, 0u) << "a delivery that did not come from pull mode's queue";
  std::vector<std::string> missing;
  size_t without_completion = 0;
  for (const auto& id : ids) {
    if (!delivered.count(id)) missing.push_back(id);
    if (!delivered.count(id) || delivered[id].completed == 0) ++without_completion;
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " persons without a router transaction, e.g. "
                               << missing[0];
  EXPECT_LE(without_completion, 64u);
  std::cout << kPersons << " persons; SIGKILL after " << at_kill << " Patients stored; "
            << without_completion << " persons without a recorded 2xx transaction\n";
}

}  // namespace
}  // namespace chtlink::testing
