// Pull mode inside `chtlink serve` against a `chtlink cht-sim` process, delivering to a real
// Receiver in this process: a backfill of kDocs documents with serve SIGKILLed in the middle
// and restarted. Every payload must arrive, none twice: each document's payload is enqueued
// by exactly one job (the checkpoint advances in the transaction that enqueues), and a job
// the kill caught in flight may be redelivered under the same X-Chtlink-Job-Id, which is
// the receiver's dedupe key.
//
// kDocs is 50,000 in optimised (NDEBUG) builds, the release ctest pass; the unoptimised
// Debug and sanitizer builds run 3,000 so they stay fast.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "child_process.h"
#include "cht_sim_process.h"
#include "net/client.h"
#include "net/event_loop.h"
#include "receiver.h"
#include "serve_process.h"
#include "store/database.h"
#include "temp_dir.h"
#include "wait_until.h"

#ifdef NDEBUG
#define CHT_PULL_DOCS 50000
#else
#define CHT_PULL_DOCS 3000
#endif

namespace chtlink::testing {
namespace {

constexpr int kDocs = CHT_PULL_DOCS;
constexpr int kBulk = 2500;

std::string personId(int i) {
  char id[32];
  std::snprintf(id, sizeof id, "person-%06d", i);
  return id;
}

// What the receiver got: for each CHT document (identifier value of the FHIR_patient
// payload), the job ids that carried it and how often each was acknowledged.
struct Deliveries {
  std::map<std::string, std::set<std::string>> jobs_by_doc;
  size_t requests = 0;
};

// Jobs enqueued so far and the stored checkpoint, read from serve's database (WAL: readable
// while serve writes).
struct PullProgress {
  int64_t jobs = 0;
  std::string checkpoint;
};
PullProgress progress(const std::string& database_url) {
  PullProgress out;
  store::StoreOptions options;
  options.url = database_url;
  auto db = store::openDatabase(options, nullptr);
  if (!db) return out;
  (void)(*db)->run(store::Access::Read, [&](store::Transaction& tx) -> Status {
    CHTLINK_ASSIGN_OR_RETURN(auto jobs, tx.query("SELECT COUNT(*) FROM jobs"));
    out.jobs = jobs.integer(0, 0);
    CHTLINK_ASSIGN_OR_RETURN(auto seq, tx.query("SELECT seq FROM chtpull_checkpoints"));
    if (!seq.empty()) out.checkpoint = seq.text(0, 0);
    return ok();
  });
  return out;
}

Deliveries deliveries(const Receiver& receiver) {
  Deliveries out;
  auto acknowledged = receiver.acknowledged();
  for (const auto& request : receiver.requests()) {
    ++out.requests;
    std::string job(request.headers.get("X-Chtlink-Job-Id"));
    if (!acknowledged.count(job)) continue;
    auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (body.is_discarded()) continue;
    out.jobs_by_doc[body["identifier"][0]["value"].get<std::string>()].insert(job);
  }
  return out;
}

TEST(ChtPullTest, BackfillSurvivesSigkillWithEveryPayloadDeliveredOnce) {
  TempDir dir;
  Receiver receiver;
  ChtSimProcess sim(dir, receiver.url(""), {"--set", "log.access_log=false"});
  ASSERT_NE(sim.port(), 0) << sim.process().output();
  TestClient client;
  // cht-sim's own Sentinel stays quiet: pull mode is the only sender here.
  auto settings = sendAsChtAdmin(
      client, "PUT", sim.url("/api/v1/settings"),
      R"({"transitions":{"mark_for_outbound":false,"generate_patient_id_on_people":false}})");
  ASSERT_EQ(settings.status, 200) << settings.body;
  const auto load_started = std::chrono::steady_clock::now();
  for (int start = 0; start < kDocs; start += kBulk) {
    nlohmann::json docs = nlohmann::json::array();
    for (int i = start; i < std::min(kDocs, start + kBulk); ++i) {
      docs.push_back({{"_id", personId(i)},
                      {"type", "person"},
                      {"role", "patient"},
                      {"name", "Patient " + std::to_string(i)},
                      {"short_name", "P" + std::to_string(i)},
                      {"sex", i % 2 ? "female" : "male"},
                      {"date_of_birth", "1990-04-12"},
                      {"reported_date", 1717400000000 + i}});
    }
    auto bulk = sendAsChtAdmin(client, "POST", sim.url("/medic/_bulk_docs"),
                               nlohmann::json{{"docs", docs}}.dump());
    ASSERT_EQ(bulk.status, 201) << bulk.body.substr(0, 300);
  }
  const double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_started).count();
  {
    std::ofstream credentials(dir.file("credentials.json"));
    credentials << R"({"openhim1":"interop-password"})";
  }
  const std::vector<std::string> sets = {"cht.mode=pull",
                                         "cht.url=" + sim.url(),
                                         "cht.username=medic",
                                         "cht.password=password",
                                         "cht.credentials_file=" + dir.file("credentials.json"),
                                         "cht.batch=250",
                                         "him.enabled=false",
                                         "fhir.enabled=false",
                                         "mediator.enabled=false",
                                         "sandbox.mode=off",
                                         "log.access_log=false",
                                         "queue.initial_backoff=100ms",
                                         "queue.lease=2s"};

  const auto pull_started = std::chrono::steady_clock::now();
  size_t before_kill = 0;
  PullProgress at_kill;
  {
    ServeProcess serve(dir, sets);
    // Killed once the pull enqueued a fifth of the payloads: the pull is mid-way.
    ASSERT_TRUE(waitUntil([&] { return progress(serve.databaseUrl()).jobs >= kDocs / 5; },
                          std::chrono::seconds(60), std::chrono::milliseconds(20)))
        << "received " << receiver.received() << "\n"
        << serve.process().output();
    serve.process().signal(SIGKILL);
    ASSERT_TRUE(serve.process().wait(std::chrono::seconds(10)).has_value());
    before_kill = receiver.acknowledged().size();
    at_kill = progress(serve.databaseUrl());
    EXPECT_LT(at_kill.jobs, kDocs) << "the kill came after the pull ended";
    EXPECT_FALSE(at_kill.checkpoint.empty());
  }
  ServeProcess serve(dir, sets);
  // One job per document: as many acknowledged job ids as documents means done (checked
  // per document below).
  const bool complete =
      waitUntil([&] { return receiver.acknowledged().size() >= static_cast<size_t>(kDocs); },
                std::chrono::seconds(90), std::chrono::milliseconds(50));
  const double pull_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - pull_started).count();
  auto got = deliveries(receiver);
  ASSERT_TRUE(complete) << got.jobs_by_doc.size() << " of " << kDocs << " documents delivered\n"
                        << serve.process().output();
  EXPECT_EQ(got.jobs_by_doc.size(), static_cast<size_t>(kDocs));
  size_t documents_with_two_jobs = 0;
  for (const auto& [doc, jobs] : got.jobs_by_doc) {
    if (jobs.size() != 1) ++documents_with_two_jobs;
  }
  EXPECT_EQ(documents_with_two_jobs, 0u) << "payloads enqueued twice";
  // Redeliveries of one job (in flight at the kill) are bounded by the jobs in flight.
  size_t redelivered = 0;
  for (const auto& [job, count] : receiver.acknowledged()) redelivered += count - 1;
  EXPECT_LE(redelivered, 64u);
  std::cout << kDocs << " docs: loaded into cht-sim in " << load_seconds << " s; pulled and "
            << "delivered in " << pull_seconds << " s with a SIGKILL after " << at_kill.jobs
            << " jobs enqueued (checkpoint " << at_kill.checkpoint << ") and " << before_kill
            << " deliveries; " << redelivered << " redelivered under the same job id, "
            << got.requests << " requests in all\n";
}

// [cht_sim]: the emulator as a listener of serve ("cht" in the port file), in serve's store,
// its seeded outbound pushing to the configured router URL.
TEST(ChtPullTest, EmulatorRunsInsideServe) {
  TempDir dir;
  Receiver receiver;
  ServeProcess serve(
      dir, {"cht_sim.enabled=true", "cht_sim.port=0", "cht_sim.router_url=" + receiver.url(""),
            "him.enabled=false", "fhir.enabled=false", "mediator.enabled=false", "sandbox.mode=off",
            "log.access_log=false"});
  ASSERT_NE(serve.port("cht"), 0) << serve.process().output();
  TestClient client;
  auto settings = sendAsChtAdmin(client, "GET", serve.url("/api/v1/settings", "cht"), "");
  ASSERT_EQ(settings.status, 200) << settings.body;
  EXPECT_THAT(settings.body, ::testing::HasSubstr("FHIR_patient"));
  auto person = sendAsChtAdmin(client, "POST", serve.url("/api/v1/people", "cht"),
                               R"({"name":"Amina Otieno","short_name":"Amina","sex":"female",)"
                               R"("date_of_birth":"1990-04-12","role":"patient"})");
  ASSERT_EQ(person.status, 200) << person.body;
  // CHT's Sentinel pass (and its push) finishes before the write is answered.
  auto requests = receiver.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].path, "/mediator/patient");
  EXPECT_THAT(requests[0].body, ::testing::HasSubstr(R"("given":["Amina"])"));
  serve.process().signal(SIGTERM);
  auto code = serve.process().wait(std::chrono::seconds(8));
  ASSERT_TRUE(code.has_value()) << "serve did not stop";
  EXPECT_EQ(*code, 0) << serve.process().output();
}

}  // namespace
}  // namespace chtlink::testing
