// The durable queue across process deaths, with the real binary and a real receiver.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "base/clock.h"
#include "queue/http_delivery.h"
#include "queue/queue.h"
#include "receiver.h"
#include "serve_process.h"
#include "store/database.h"
#include "store/migrations.h"
#include "wait_until.h"

namespace chtlink::testing {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<store::Database> openStore(const std::string& url) {
  store::StoreOptions options;
  options.url = url;
  auto log =
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto db = store::openDatabase(options, log);
  EXPECT_TRUE(db.has_value()) << db.error().message;
  EXPECT_TRUE(store::migrate(**db, queue::migrations()).has_value());
  return std::move(db).value();
}

void enqueueHttpJobs(store::Database& db, const std::string& url, int count) {
  SystemClock clock;
  queue::QueueOptions options;
  Status s = db.run(store::Access::Write, [&](store::Transaction& tx) -> Status {
    for (int i = 0; i < count; ++i) {
      queue::HttpJob job;
      job.method = "POST";
      job.url = url;
      job.body = "{\"n\":" + std::to_string(i) + "}";
      queue::JobSpec spec;
      spec.kind = queue::kHttpJobKind;
      spec.destination = "receiver";
      spec.payload = queue::encodeHttpJob(job);
      CHTLINK_TRY(queue::enqueue(tx, spec, options, clock.now()));
    }
    return ok();
  });
  ASSERT_TRUE(s.has_value()) << s.error().message;
}

int64_t countInState(store::Database& db, queue::JobState state) {
  SystemClock clock;
  auto depth = queue::JobStore(db, clock).depthByState();
  return depth.has_value() ? depth->at(state) : -1;
}

// A process is killed with SIGKILL while it holds leased jobs; a new process delivers every
// job, and the receiver acknowledges each exactly once.
TEST(QueueDurabilityTest, JobsLeasedByAKilledProcessAreDeliveredExactlyOnceByTheNext) {
  constexpr int kJobs = 200;
  constexpr int kAckedBeforeKill = 50;
  TempDir dir;
  Receiver receiver;
  std::string db_url = "sqlite:" + dir.file("chtlink.db");
  {
    auto db = openStore(db_url);
    enqueueHttpJobs(*db, receiver.url("/deliver"), kJobs);
  }

  // Process A: the first deliveries are acknowledged, the rest are held in flight.
  auto db = openStore(db_url);
  receiver.answerWith(200);
  receiver.acknowledgeAtMost(kAckedBeforeKill);
  {
    ServeProcess a(
        dir, {"queue.lease=2s", "queue.concurrency=16", "queue.concurrency_per_destination=16"});
    ASSERT_TRUE(waitUntil([&] { return receiver.held() >= 8; }, std::chrono::seconds(30)))
        << a.process().output();
    EXPECT_EQ(receiver.acknowledged().size(), static_cast<size_t>(kAckedBeforeKill));
    // Wait until every acknowledged job is recorded as done, so that the kill can only hit
    // jobs that were never acknowledged.
    size_t acked = receiver.acknowledged().size();
    ASSERT_TRUE(waitUntil(
        [&] { return countInState(*db, queue::JobState::Done) == static_cast<int64_t>(acked); },
        std::chrono::seconds(30)));
    EXPECT_GT(countInState(*db, queue::JobState::Running), 0);
    a.process().signal(SIGKILL);
    EXPECT_EQ(a.process().wait(std::chrono::seconds(10)), 128 + SIGKILL);
  }
  auto acked_by_a = receiver.acknowledged();

  // Process B takes back the leases once they expire and delivers the rest.
  receiver.acknowledgeAtMost(-1);
  ServeProcess b(dir, {"queue.lease=2s", "queue.poll_interval=100ms"});
  ASSERT_TRUE(
      waitUntil([&] { return receiver.acknowledged().size() == kJobs; }, std::chrono::seconds(60)))
      << "acknowledged " << receiver.acknowledged().size() << " of " << kJobs << "\n"
      << b.process().output();
  ASSERT_TRUE(waitUntil([&] { return countInState(*db, queue::JobState::Done) == kJobs; }));

  auto acked = receiver.acknowledged();
  EXPECT_EQ(acked.size(), static_cast<size_t>(kJobs));
  for (const auto& [job, times] : acked) EXPECT_EQ(times, 1) << "job " << job;
  EXPECT_EQ(countInState(*db, queue::JobState::Running), 0);
  EXPECT_EQ(countInState(*db, queue::JobState::Pending), 0);
  EXPECT_EQ(countInState(*db, queue::JobState::Dead), 0);
  EXPECT_GE(acked_by_a.size(), static_cast<size_t>(kAckedBeforeKill));
}

TEST(JobsCliTest, DeadJobsAreListedAndReplayed) {
  TempDir dir;
  Receiver receiver;
  receiver.answerWith(400);  // a request the receiver will never accept: dead at once
  {
    auto db = openStore("sqlite:" + dir.file("chtlink.db"));
    enqueueHttpJobs(*db, receiver.url("/deliver"), 3);
  }
  auto db = openStore("sqlite:" + dir.file("chtlink.db"));
  {
    ServeProcess serve(dir);
    ASSERT_TRUE(waitUntil([&] { return countInState(*db, queue::JobState::Dead) == 3; },
                          std::chrono::seconds(30)))
        << serve.process().output();
    serve.process().signal(SIGTERM);
    ASSERT_EQ(serve.process().wait(std::chrono::seconds(15)), 0);
  }
  std::string store = "store.url=sqlite:" + dir.file("chtlink.db");
  auto list = runCommand({CHTLINK_BINARY, "jobs", "list", "--state", "dead", "--set", store},
                         dir.path().string());
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("dead"));
  EXPECT_THAT(list.output, HasSubstr("400"));

  auto one =
      runCommand({CHTLINK_BINARY, "jobs", "replay", "1", "--set", store}, dir.path().string());
  EXPECT_EQ(one.exit_code, 0) << one.output;
  auto missing =
      runCommand({CHTLINK_BINARY, "jobs", "replay", "999", "--set", store}, dir.path().string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.output, HasSubstr("999"));
  auto rest = runCommand({CHTLINK_BINARY, "jobs", "replay", "--all-dead", "--set", store},
                         dir.path().string());
  EXPECT_EQ(rest.exit_code, 0) << rest.output;
  EXPECT_THAT(rest.output, HasSubstr("replayed 2"));
  EXPECT_EQ(countInState(*db, queue::JobState::Pending), 3);

  receiver.answerWith(200);
  ServeProcess again(dir);
  ASSERT_TRUE(waitUntil([&] { return countInState(*db, queue::JobState::Done) == 3; },
                        std::chrono::seconds(30)))
      << again.process().output();
  EXPECT_EQ(receiver.acknowledged().size(), 3u);

  auto del =
      runCommand({CHTLINK_BINARY, "jobs", "delete", "1", "--set", store}, dir.path().string());
  EXPECT_EQ(del.exit_code, 0) << del.output;
  auto json =
      runCommand({CHTLINK_BINARY, "jobs", "list", "--json", "--set", store}, dir.path().string());
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_EQ(json.output.find("\"id\":1,"), std::string::npos) << json.output;
  EXPECT_THAT(json.output, HasSubstr("\"id\":2"));
}

}  // namespace
}  // namespace chtlink::testing
