// Several `chtlink serve` processes on one PostgreSQL database (tests/support/postgres_server.h):
// the queue delivers each job once across them and survives one being SIGKILLed, concurrent
// FHIR updates through different instances conflict as on one, and `chtlink store copy`
// turns a sandbox's SQLite file into a PostgreSQL deployment.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <thread>

#include "base/clock.h"
#include "base/json.h"
#include "postgres_server.h"
#include "queue/http_delivery.h"
#include "queue/queue.h"
#include "receiver.h"
#include "serve_process.h"
#include "store/database.h"
#include "store/migrations.h"
#include "test_database.h"
#include "wait_until.h"

#ifndef PG_INSTANCES_JOBS
#define PG_INSTANCES_JOBS 10000
#endif

namespace chtlink::testing {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<store::Database> openStore(const std::string& url) {
  store::StoreOptions options;
  options.url = url;
  options.write_connections = 1;
  options.read_connections = 1;
  auto db = store::openDatabase(options, nullLogger());
  EXPECT_TRUE(db.has_value()) << db.error().message;
  if (!db.has_value()) return nullptr;
  EXPECT_TRUE(store::migrate(**db, queue::migrations()).has_value());
  return std::move(db).value();
}

std::map<std::string, int64_t> runningByOwner(store::Database& db) {
  std::map<std::string, int64_t> out;
  auto rows = db.runFor<store::Rows>(store::Access::Read, [](store::Transaction& tx) {
    return tx.query(
        "SELECT lease_owner, COUNT(*) FROM jobs WHERE state = 'running' GROUP BY lease_owner");
  });
  if (!rows.has_value()) return out;
  for (size_t i = 0; i < rows->size(); ++i) out[rows->text(i, 0)] = rows->integer(i, 1);
  return out;
}

int64_t countInState(store::Database& db, queue::JobState state) {
  SystemClock clock;
  auto depth = queue::JobStore(db, clock).depthByState();
  return depth.has_value() ? depth->at(state) : -1;
}

// Every instance of a test shares the database; the rest is per instance.
std::vector<std::string> instanceSettings(const std::string& url,
                                          std::vector<std::string> more = {}) {
  // cht-sim (started in the sandbox) on a free port: several instances run at once.
  std::vector<std::string> sets = {"store.url=" + url, "store.write_connections=2",
                                   "store.read_connections=1", "cht_sim.port=0"};
  sets.insert(sets.end(), more.begin(), more.end());
  return sets;
}

// 10,000 jobs, two instances delivering them at once, one SIGKILLed while it holds leases:
// the other takes those over once they expire, and the receiver acknowledges every job once.
TEST(PgInstancesTest, TwoInstancesDeliverEachJobOnceAndOneFinishesForAKilledOne) {
  constexpr int kJobs = PG_INSTANCES_JOBS;
  constexpr int kAckedBeforeKill = kJobs / 2;
  auto url = freshPostgresDatabaseUrl();
  ASSERT_TRUE(url.has_value()) << url.error().message;
  Receiver receiver;
  auto db = openStore(*url);
  ASSERT_NE(db, nullptr);
  {
    // Rows as queue::enqueue writes them, 250 per statement: one statement per job would
    // spend most of the test on round trips.
    SystemClock clock;
    const int64_t now = toUnixMillis(clock.now());
    constexpr int kPerStatement = 250;
    Status s = db->run(store::Access::Write, [&](store::Transaction& tx) -> Status {
      for (int first = 0; first < kJobs; first += kPerStatement) {
        std::string sql =
            "INSERT INTO jobs (kind, destination, payload, state, attempts, max_attempts, "
            "run_at, created_at, updated_at, last_error) VALUES ";
        std::vector<store::Value> params;
        for (int i = first; i < std::min(kJobs, first + kPerStatement); ++i) {
          queue::HttpJob job;
          job.method = "POST";
          job.url = receiver.url("/deliver");
          job.body = "{\"n\":" + std::to_string(i) + "}";
          sql += i == first ? "" : ", ";
          sql += "(?, 'receiver', ?, 'pending', 0, 10, ?, ?, ?, '')";
          params.insert(params.end(), {std::string(queue::kHttpJobKind), queue::encodeHttpJob(job),
                                       now, now, now});
        }
        CHTLINK_TRY(tx.execute(sql, std::span<const store::Value>(params)));
      }
      return ok();
    });
    ASSERT_TRUE(s.has_value()) << s.error().message;
  }

  // Half the jobs are acknowledged; every request after that is held in flight, so both
  // instances hold leased jobs when one is killed.
  receiver.acknowledgeAtMost(kAckedBeforeKill);
  const std::vector<std::string> queue_sets = {"queue.lease=3s", "queue.poll_interval=100ms",
                                               "queue.concurrency=32",
                                               "queue.concurrency_per_destination=32"};
  TempDir dir_a;
  TempDir dir_b;
  ServeProcess a(dir_a, instanceSettings(*url, queue_sets));
  ServeProcess b(dir_b, instanceSettings(*url, queue_sets));
  ASSERT_TRUE(waitUntil(
      [&] {
        return receiver.acknowledged().size() == static_cast<size_t>(kAckedBeforeKill) &&
               runningByOwner(*db).size() == 2;
      },
      std::chrono::seconds(90)))
      << "acknowledged " << receiver.acknowledged().size() << "\n"
      << a.process().output();
  // Delivery is at least once: a job acknowledged but not yet recorded as done when its
  // instance dies runs again (decision 0002). Kill only once every acknowledgement is
  // recorded, so the kill can hit only jobs the receiver never acknowledged.
  ASSERT_TRUE(
      waitUntil([&] { return countInState(*db, queue::JobState::Done) == kAckedBeforeKill; },
                std::chrono::seconds(30)));
  const std::string a_pid = ":" + std::to_string(a.process().pid()) + ":";
  int64_t leased_by_a = 0;
  for (const auto& [owner, n] : runningByOwner(*db)) {
    if (owner.find(a_pid) != std::string::npos) leased_by_a = n;
  }
  EXPECT_GT(leased_by_a, 0);
  a.process().signal(SIGKILL);
  EXPECT_EQ(a.process().wait(std::chrono::seconds(10)), 128 + SIGKILL);

  // B delivers the rest, A's leased jobs once their leases expire (and its own held ones,
  // which it gives up on at the same point).
  receiver.acknowledgeAtMost(-1);
  ASSERT_TRUE(
      waitUntil([&] { return receiver.acknowledged().size() == static_cast<size_t>(kJobs); },
                std::chrono::seconds(120)))
      << "acknowledged " << receiver.acknowledged().size() << " of " << kJobs << "\n"
      << b.process().output();
  ASSERT_TRUE(waitUntil([&] { return countInState(*db, queue::JobState::Done) == kJobs; },
                        std::chrono::seconds(30)));
  auto acked = receiver.acknowledged();
  int duplicates = 0;
  for (const auto& [job, times] : acked) duplicates += times != 1 ? 1 : 0;
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(countInState(*db, queue::JobState::Dead), 0);
  EXPECT_EQ(countInState(*db, queue::JobState::Running), 0);
}

// Concurrent If-Match updates of one Patient sent to two instances: exactly one wins, every
// other gets 409 or 412, and the history has one version per successful write. Concurrent
// conditional creates of one identifier store one Patient.
TEST(PgInstancesTest, ConcurrentWritesThroughTwoInstancesConflictAsOnOne) {
  auto url = freshPostgresDatabaseUrl();
  ASSERT_TRUE(url.has_value()) << url.error().message;
  TempDir dir_a;
  TempDir dir_b;
  ServeProcess a(dir_a, instanceSettings(*url));
  ServeProcess b(dir_b, instanceSettings(*url));
  TestClient client;
  net::ClientRequest create;
  create.method = "PUT";
  create.url = a.url("/fhir/Patient/p1", "fhir");
  create.headers.set("Content-Type", "application/fhir+json");
  create.body = R"({"resourceType":"Patient","id":"p1","gender":"female"})";
  auto created = client.send(create);
  ASSERT_TRUE(created.has_value()) << created.error().message;
  ASSERT_EQ(created->status, 201) << created->body;

  constexpr int kWriters = 8;
  std::atomic<int> ok_count{0};
  std::atomic<int> conflicts{0};
  std::atomic<int> other{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; ++i) {
    writers.emplace_back([&, i] {
      TestClient mine;
      net::ClientRequest update;
      update.method = "PUT";
      update.url = (i % 2 == 0 ? a : b).url("/fhir/Patient/p1", "fhir");
      update.headers.set("Content-Type", "application/fhir+json");
      update.headers.set("If-Match", "W/\"1\"");
      update.body = R"({"resourceType":"Patient","id":"p1","gender":"male","birthDate":"19)" +
                    std::to_string(50 + i) + R"(-01-01"})";
      auto r = mine.send(update);
      if (!r.has_value()) {
        ++other;
      } else if (r->status == 200) {
        ++ok_count;
      } else if (r->status == 409 || r->status == 412) {
        ++conflicts;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(ok_count.load(), 1);
  EXPECT_EQ(conflicts.load(), kWriters - 1);
  EXPECT_EQ(other.load(), 0);
  auto history = client.get(b.url("/fhir/Patient/p1/_history", "fhir"));
  ASSERT_TRUE(history.has_value());
  auto bundle = parseJson(history->body);
  ASSERT_TRUE(bundle.has_value());
  EXPECT_EQ((*bundle)["total"], 2) << history->body;

  // Conditional creates of one identifier through both instances at once: one Patient.
  std::atomic<int> created_count{0};
  std::atomic<int> found_count{0};
  std::vector<std::thread> creators;
  for (int i = 0; i < kWriters; ++i) {
    creators.emplace_back([&, i] {
      TestClient mine;
      net::ClientRequest post;
      post.method = "POST";
      post.url = (i % 2 == 0 ? a : b).url("/fhir/Patient", "fhir");
      post.headers.set("Content-Type", "application/fhir+json");
      post.headers.set("If-None-Exist", "identifier=http://cht/patient|cht-42");
      post.body =
          R"({"resourceType":"Patient","identifier":[{"system":"http://cht/patient","value":"cht-42"}]})";
      auto r = mine.send(post);
      if (r.has_value() && r->status == 201) ++created_count;
      if (r.has_value() && r->status == 200) ++found_count;
    });
  }
  for (auto& t : creators) t.join();
  EXPECT_EQ(created_count.load(), 1);
  EXPECT_EQ(found_count.load(), kWriters - 1);
  auto matches = client.get(a.url("/fhir/Patient?identifier=http://cht/patient|cht-42", "fhir"));
  ASSERT_TRUE(matches.has_value());
  auto found = parseJson(matches->body);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ((*found)["total"], 1) << matches->body;
}

// A sandbox (SQLite) becomes a PostgreSQL deployment: copy, refuse a second copy into the now
// non-empty target unless --force, and serve the copied data from PostgreSQL.
TEST(PgInstancesTest, StoreCopyMovesASandboxToPostgresql) {
  auto url = freshPostgresDatabaseUrl();
  ASSERT_TRUE(url.has_value()) << url.error().message;
  TempDir dir;
  const std::string sqlite_url = "sqlite:" + dir.file("chtlink.db");
  TestClient client;
  {
    ServeProcess sandbox(dir, {"cht_sim.port=0"});
    for (const char* family : {"Okoro", "Mwangi", "Banda"}) {
      net::ClientRequest create;
      create.method = "POST";
      create.url = sandbox.url("/fhir/Patient", "fhir");
      create.headers.set("Content-Type", "application/fhir+json");
      create.body =
          std::string(R"({"resourceType":"Patient","name":[{"family":")") + family + R"("}]})";
      auto r = client.send(create);
      ASSERT_TRUE(r.has_value()) << r.error().message;
      ASSERT_EQ(r->status, 201) << r->body;
    }
    sandbox.process().signal(SIGTERM);
    ASSERT_EQ(sandbox.process().wait(std::chrono::seconds(15)), 0);
  }

  auto copy = runCommand({CHTLINK_BINARY, "store", "copy", "--from", sqlite_url, "--to", *url},
                         dir.path().string());
  ASSERT_EQ(copy.exit_code, 0) << copy.output;
  EXPECT_THAT(copy.output, ::testing::ContainsRegex("fhir_resource +3 rows"));
  EXPECT_THAT(copy.output, HasSubstr("chtlink:***@"));
  EXPECT_THAT(copy.output, ::testing::Not(HasSubstr("chtlink-test-secret")));

  auto again = runCommand({CHTLINK_BINARY, "store", "copy", "--from", sqlite_url, "--to", *url},
                          dir.path().string());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.output, HasSubstr("not empty"));
  auto forced =
      runCommand({CHTLINK_BINARY, "store", "copy", "--force", "--from", sqlite_url, "--to", *url},
                 dir.path().string());
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_THAT(forced.output, ::testing::ContainsRegex("fhir_resource +3 rows"));

  TempDir pg_dir;
  ServeProcess production(pg_dir, instanceSettings(*url));
  auto found = client.get(production.url("/fhir/Patient?family=mwangi", "fhir"));
  ASSERT_TRUE(found.has_value());
  auto bundle = parseJson(found->body);
  ASSERT_TRUE(bundle.has_value()) << found->body;
  EXPECT_EQ((*bundle)["total"], 1) << found->body;
  // New rows continue after the copied keys.
  net::ClientRequest create;
  create.method = "POST";
  create.url = production.url("/fhir/Patient", "fhir");
  create.headers.set("Content-Type", "application/fhir+json");
  create.body = R"({"resourceType":"Patient","name":[{"family":"Phiri"}]})";
  auto r = client.send(create);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201) << r->body;
  auto all = client.get(production.url("/fhir/Patient?_summary=count", "fhir"));
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ((*parseJson(all->body))["total"], 4) << all->body;
}

}  // namespace
}  // namespace chtlink::testing
