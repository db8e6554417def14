// Pull mode with two `chtlink serve` processes on one PostgreSQL database, following one
// `chtlink cht-sim` process and delivering to a Receiver in this process. Exactly one follows
// the feed (the holder of the advisory lock "cht-pull:<checkpoint>"); the other stands by,
// and takes over from the stored checkpoint when the leader is SIGKILLed in the middle of a
// backfill.
//
// What is asserted: before the kill, A's /health says "leader" and B's "standby" (and B's log
// says so); after it, B's /health says "leader" within 10 s. At the end, every document was
// delivered, each by exactly one job (the jobs table holds one job per document: no page was
// enqueued twice, by either process), and a job may have been delivered more than once only
// under its one X-Chtlink-Job-Id (a job the kill caught in flight, redelivered after its
// lease expired: at-least-once delivery, exactly-once per job id), bounded by the jobs in
// flight.
//
// kDocs is 6,000 in optimised (NDEBUG) builds and 1,200 in the unoptimised Debug and
// sanitizer builds, so the test stays well under 20 s there.
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
#include "postgres_server.h"
#include "receiver.h"
#include "serve_process.h"
#include "store/database.h"
#include "temp_dir.h"
#include "wait_until.h"

#ifdef NDEBUG
#define CHT_PULL_LEADER_DOCS 6000
#else
#define CHT_PULL_LEADER_DOCS 1200
#endif

namespace chtlink::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kDocs = CHT_PULL_LEADER_DOCS;
constexpr int kBulk = 300;

// Persons [first, last) into cht-sim.
void loadPeople(TestClient& client, const ChtSimProcess& sim, int first, int last) {
  for (int start = first; start < last; start += kBulk) {
    nlohmann::json docs = nlohmann::json::array();
    for (int i = start; i < std::min(last, start + kBulk); ++i) {
      char id[32];
      std::snprintf(id, sizeof id, "person-%06d", i);
      docs.push_back({{"_id", id},
                      {"type", "person"},
                      {"role", "patient"},
                      {"name", "Patient " + std::to_string(i)},
                      {"short_name", "P" + std::to_string(i)},
                      {"sex", i % 2 ? "female" : "male"},
                      {"date_of_birth", "1990-04-12"},
                      {"reported_date", 1717400000000 + i}});
    }
    ASSERT_EQ(sendAsChtAdmin(client, "POST", sim.url("/medic/_bulk_docs"),
                             nlohmann::json{{"docs", docs}}.dump())
                  .status,
              201);
  }
}

// cht_pull of serve's /health: "leader", "standby", or "" (not decided, or no answer).
std::string pullRole(TestClient& client, ServeProcess& serve) {
  auto health = client.get(serve.url("/health"));
  if (!health.has_value() || health->status != 200) return "";
  auto body = nlohmann::json::parse(health->body, nullptr, false);
  if (body.is_discarded() || !body.contains("cht_pull")) return "";
  return body["cht_pull"].get<std::string>();
}

int64_t jobCount(store::Database& db) {
  auto rows = db.runFor<store::Rows>(store::Access::Read, [](store::Transaction& tx) {
    return tx.query("SELECT COUNT(*) FROM jobs");
  });
  return rows.has_value() && !rows->empty() ? rows->integer(0, 0) : -1;
}

TEST(ChtPullLeaderTest, OneInstanceFollowsAndTheStandbyTakesOverWhenItIsKilled) {
  auto url = freshPostgresDatabaseUrl();
  ASSERT_TRUE(url.has_value()) << url.error().message;
  TempDir dir;
  Receiver receiver;
  ChtSimProcess sim(dir, receiver.url(""), {"--set", "log.access_log=false"});
  ASSERT_NE(sim.port(), 0) << sim.process().output();
  TestClient client;
  // cht-sim's own Sentinel stays quiet: pull mode is the only sender here.
  ASSERT_EQ(
      sendAsChtAdmin(
          client, "PUT", sim.url("/api/v1/settings"),
          R"({"transitions":{"mark_for_outbound":false,"generate_patient_id_on_people":false}})")
          .status,
      200);
  {
    std::ofstream credentials(dir.file("credentials.json"));
    credentials << R"({"openhim1":"interop-password"})";
  }
  const std::vector<std::string> sets = {"store.url=" + *url,
                                         "store.write_connections=2",
                                         "store.read_connections=1",
                                         "cht.mode=pull",
                                         "cht.url=" + sim.url(),
                                         "cht.username=medic",
                                         "cht.password=password",
                                         "cht.credentials_file=" + dir.file("credentials.json"),
                                         "cht.batch=100",
                                         "cht.longpoll=2s",
                                         "cht.leader_retry=200ms",
                                         "him.enabled=false",
                                         "fhir.enabled=false",
                                         "mediator.enabled=false",
                                         "sandbox.mode=off",
                                         "log.access_log=false",
                                         "queue.initial_backoff=100ms",
                                         "queue.poll_interval=100ms",
                                         "queue.lease=2s"};
  TempDir dir_a;
  TempDir dir_b;
  ServeProcess a(dir_a, sets);
  ASSERT_TRUE(waitUntil([&] { return pullRole(client, a) == "leader"; })) << a.process().output();
  ServeProcess b(dir_b, sets);
  ASSERT_TRUE(waitUntil([&] { return pullRole(client, b) == "standby"; })) << b.process().output();
  EXPECT_THAT(b.process().output(), HasSubstr("standby: another instance follows"));
  EXPECT_THAT(a.process().output(), HasSubstr("as leader"));

  // The first half of the documents; A is killed while it pulls them.
  store::StoreOptions options;
  options.url = *url;
  options.read_connections = 1;
  options.write_connections = 1;
  auto db = store::openDatabase(options, nullptr);
  ASSERT_TRUE(db.has_value()) << db.error().message;
  loadPeople(client, sim, 0, kDocs / 2);
  ASSERT_TRUE(waitUntil([&] { return jobCount(**db) >= kDocs / 8; }, std::chrono::seconds(15),
                        std::chrono::milliseconds(10)))
      << a.process().output();
  EXPECT_EQ(pullRole(client, b), "standby");
  a.process().signal(SIGKILL);
  ASSERT_TRUE(a.process().wait(std::chrono::seconds(10)).has_value());
  const int64_t jobs_at_kill = jobCount(**db);
  const size_t acknowledged_at_kill = receiver.acknowledged().size();

  // B leads within the deadline, resumes from the checkpoint A left, and follows the rest.
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(waitUntil([&] { return pullRole(client, b) == "leader"; })) << b.process().output();
  const double takeover_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  loadPeople(client, sim, kDocs / 2, kDocs);
  const bool complete =
      waitUntil([&] { return receiver.acknowledged().size() >= static_cast<size_t>(kDocs); },
                std::chrono::seconds(60), std::chrono::milliseconds(20));

  std::map<std::string, std::set<std::string>> jobs_by_doc;
  auto acknowledged = receiver.acknowledged();
  for (const auto& request : receiver.requests()) {
    std::string job(request.headers.get("X-Chtlink-Job-Id"));
    if (!acknowledged.count(job)) continue;
    auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (body.is_discarded()) continue;
    jobs_by_doc[body["identifier"][0]["value"].get<std::string>()].insert(job);
  }
  ASSERT_TRUE(complete) << jobs_by_doc.size() << " of " << kDocs << " documents delivered\n"
                        << b.process().output();
  EXPECT_EQ(jobs_by_doc.size(), static_cast<size_t>(kDocs));
  size_t documents_with_two_jobs = 0;
  for (const auto& [doc, jobs] : jobs_by_doc) documents_with_two_jobs += jobs.size() != 1;
  EXPECT_EQ(documents_with_two_jobs, 0u) << "payloads enqueued twice";
  EXPECT_EQ(jobCount(**db), kDocs);
  size_t redelivered = 0;
  for (const auto& [job, count] : acknowledged) redelivered += static_cast<size_t>(count - 1);
  EXPECT_LE(redelivered, 64u);
  EXPECT_THAT(b.process().output(), HasSubstr("as leader"));
  // Sanitizer builds: neither process reported undefined behaviour.
  EXPECT_THAT(a.process().output() + b.process().output(), Not(HasSubstr("runtime error")));
  std::cout << kDocs << " docs; A killed after " << jobs_at_kill << " jobs enqueued and "
            << acknowledged_at_kill << " acknowledged; B led after " << takeover_seconds << " s; "
            << redelivered << " redelivered under the same job id\n";
}

}  // namespace
}  // namespace chtlink::testing
