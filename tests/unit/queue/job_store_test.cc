// enqueue() and JobStore: the operator's view of the queue.
// Checks queue/job.h compiles on its own (first include).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "queue/job.h"
#include "queue/queue.h"
#include "queue_test_support.h"

namespace chtlink::queue {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<int64_t> ids(const std::vector<Job>& jobs) {
  std::vector<int64_t> out;
  for (const Job& j : jobs) out.push_back(j.id);
  return out;
}

class JobStoreTest : public QueueTest {
 protected:
  // Runs one claim with a handler that answers `outcome` for every job.
  void deliverAll(Outcome outcome) {
    WorkerPool pool(*db_, clock_, random_, options_, testing::nullLogger());
    pool.addHandler("test", std::make_shared<ScriptedHandler>(
                                [outcome](const Job&) { return std::optional<Outcome>(outcome); }));
    auto n = pool.pollOnce();
    ASSERT_TRUE(n.has_value()) << n.error().message;
    ASSERT_TRUE(pool.flushOutcomes().has_value());
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, JobStoreTest, ::chtlink::testing::bothBackends(),
                         ::chtlink::testing::backendParamName);

TEST(JobStateTest, NamesRoundTrip) {
  for (JobState s : {JobState::Pending, JobState::Running, JobState::Done, JobState::Dead}) {
    EXPECT_EQ(parseJobState(jobStateName(s)), s);
  }
  EXPECT_EQ(parseJobState("finished"), std::nullopt);
}

TEST_P(JobStoreTest, EnqueueStoresAPendingJobDueNow) {
  JobSpec spec;
  spec.kind = "test";
  spec.destination = "cht:443";
  spec.payload = R"({"a":1})";
  auto id = add(spec);
  ASSERT_TRUE(id.has_value()) << id.error().message;
  Job j = job(*id);
  EXPECT_EQ(j.kind, "test");
  EXPECT_EQ(j.destination, "cht:443");
  EXPECT_EQ(j.payload, R"({"a":1})");
  EXPECT_EQ(j.state, JobState::Pending);
  EXPECT_EQ(j.attempts, 0);
  EXPECT_EQ(j.max_attempts, options_.max_attempts);
  EXPECT_EQ(j.run_at, clock_.now());
  EXPECT_EQ(j.created_at, clock_.now());
  EXPECT_EQ(j.last_error, "");
  EXPECT_EQ(j.lease_owner, "");
  EXPECT_FALSE(j.lease_expires_at.has_value());
}

TEST_P(JobStoreTest, EnqueueHonoursRunAtAndMaxAttempts) {
  JobSpec spec;
  spec.kind = "test";
  spec.max_attempts = 3;
  spec.run_at = clock_.now() + std::chrono::minutes(5);
  auto id = add(spec);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(job(*id).max_attempts, 3);
  EXPECT_EQ(job(*id).run_at, clock_.now() + std::chrono::minutes(5));
}

TEST_P(JobStoreTest, EnqueueRefusesABadSpec) {
  JobSpec spec;
  auto id = add(spec);
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code, ErrorCode::InvalidArgument);
  spec.kind = "test";
  spec.max_attempts = -1;
  EXPECT_FALSE(add(spec).has_value());
}

TEST_P(JobStoreTest, EnqueueCommitsAndRollsBackWithTheCallersTransaction) {
  Status s = db_->run(store::Access::Write, [&](store::Transaction& tx) -> Status {
    JobSpec spec;
    spec.kind = "test";
    CHTLINK_TRY(enqueue(tx, spec, options_, clock_.now()));
    return conflict("the change that caused the job failed");
  });
  ASSERT_FALSE(s.has_value());
  auto depth = JobStore(*db_, clock_).depthByState();
  ASSERT_TRUE(depth.has_value());
  EXPECT_EQ(depth->at(JobState::Pending), 0);

  ASSERT_TRUE(add().has_value());
  EXPECT_EQ(JobStore(*db_, clock_).depthByState()->at(JobState::Pending), 1);
}

TEST_P(JobStoreTest, DepthByStateListsEveryState) {
  JobStore store(*db_, clock_);
  auto empty = store.depthByState();
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->size(), 4u);
  for (const auto& [state, n] : *empty) EXPECT_EQ(n, 0) << jobStateName(state);

  ASSERT_TRUE(add().has_value());
  ASSERT_TRUE(add().has_value());
  deliverAll(Outcome::fail("no"));
  ASSERT_TRUE(add().has_value());
  auto depth = store.depthByState();
  ASSERT_TRUE(depth.has_value());
  EXPECT_EQ(depth->at(JobState::Dead), 2);
  EXPECT_EQ(depth->at(JobState::Pending), 1);
  EXPECT_EQ(depth->at(JobState::Running), 0);
  EXPECT_EQ(depth->at(JobState::Done), 0);
}

TEST_P(JobStoreTest, ListFiltersByStateAndKindInIdOrderWithPaging) {
  int64_t a = add("d", "test").value();
  int64_t b = add("d", "test").value();
  deliverAll(Outcome::fail("refused"));  // a, b dead
  int64_t c = add("d", "test").value();
  int64_t d = add("d", "other").value();

  JobStore store(*db_, clock_);
  JobFilter all;
  EXPECT_THAT(ids(store.list(all).value()), ElementsAre(a, b, c, d));
  JobFilter dead;
  dead.state = JobState::Dead;
  EXPECT_THAT(ids(store.list(dead).value()), ElementsAre(a, b));
  JobFilter pending_test;
  pending_test.state = JobState::Pending;
  pending_test.kind = "test";
  EXPECT_THAT(ids(store.list(pending_test).value()), ElementsAre(c));
  JobFilter other;
  other.kind = "other";
  EXPECT_THAT(ids(store.list(other).value()), ElementsAre(d));
  JobFilter page;
  page.limit = 2;
  EXPECT_THAT(ids(store.list(page).value()), ElementsAre(a, b));
  page.after_id = b;
  EXPECT_THAT(ids(store.list(page).value()), ElementsAre(c, d));
  page.limit = 0;
  EXPECT_FALSE(store.list(page).has_value());
}

TEST_P(JobStoreTest, GetOfAMissingJobIsNotFound) {
  auto j = JobStore(*db_, clock_).get(999);
  ASSERT_FALSE(j.has_value());
  EXPECT_EQ(j.error().code, ErrorCode::NotFound);
  EXPECT_THAT(j.error().message, HasSubstr("999"));
}

TEST_P(JobStoreTest, ReplayMakesADeadJobDueNowWithAttemptsReset) {
  int64_t id = add().value();
  deliverAll(Outcome::fail("400 bad request"));
  ASSERT_EQ(job(id).state, JobState::Dead);
  clock_.advance(std::chrono::hours(2));

  JobStore store(*db_, clock_);
  ASSERT_TRUE(store.replay(id).has_value());
  Job j = job(id);
  EXPECT_EQ(j.state, JobState::Pending);
  EXPECT_EQ(j.attempts, 0);
  EXPECT_EQ(j.run_at, clock_.now());
  EXPECT_EQ(j.last_error, "400 bad request");  // kept as history
}

TEST_P(JobStoreTest, ReplayRefusesRunningAndDoneJobs) {
  JobStore store(*db_, clock_);
  int64_t done_id = add().value();
  deliverAll(Outcome::delivered());
  Status s = store.replay(done_id);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::FailedPrecondition);
  EXPECT_THAT(s.error().message, HasSubstr("done"));

  int64_t running_id = add().value();
  WorkerPool pool(*db_, clock_, random_, options_, testing::nullLogger());
  auto holder = std::make_shared<ScriptedHandler>([](const Job&) { return std::nullopt; });
  pool.addHandler("test", holder);
  ASSERT_EQ(pool.pollOnce().value(), 1);
  s = store.replay(running_id);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::FailedPrecondition);
  EXPECT_THAT(s.error().message, HasSubstr("running"));

  EXPECT_EQ(store.replay(12345).error().code, ErrorCode::NotFound);
}

TEST_P(JobStoreTest, ReplayAllDeadCountsTheJobs) {
  add().value();
  add().value();
  deliverAll(Outcome::fail("no"));
  add().value();  // pending: untouched
  JobStore store(*db_, clock_);
  auto n = store.replayAllDead();
  ASSERT_TRUE(n.has_value()) << n.error().message;
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(store.depthByState()->at(JobState::Pending), 3);
  EXPECT_EQ(store.replayAllDead().value(), 0);
}

TEST_P(JobStoreTest, RemoveDeletesAJobUnlessItIsRunning) {
  JobStore store(*db_, clock_);
  int64_t dead = add().value();
  deliverAll(Outcome::fail("no"));
  ASSERT_TRUE(store.remove(dead).has_value());
  EXPECT_EQ(store.get(dead).error().code, ErrorCode::NotFound);
  EXPECT_EQ(store.remove(dead).error().code, ErrorCode::NotFound);

  int64_t running = add().value();
  WorkerPool pool(*db_, clock_, random_, options_, testing::nullLogger());
  pool.addHandler("test",
                  std::make_shared<ScriptedHandler>([](const Job&) { return std::nullopt; }));
  ASSERT_EQ(pool.pollOnce().value(), 1);
  Status s = store.remove(running);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::FailedPrecondition);
  EXPECT_TRUE(store.get(running).has_value());
}

TEST_P(JobStoreTest, PurgeDoneRemovesOnlyOldDeliveredJobs) {
  int64_t old_done = add().value();
  deliverAll(Outcome::delivered());
  clock_.advance(std::chrono::hours(24));
  int64_t pending = add().value();
  JobStore store(*db_, clock_);
  auto n = store.purgeDone(clock_.now() - std::chrono::hours(1));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(store.get(old_done).error().code, ErrorCode::NotFound);
  EXPECT_TRUE(store.get(pending).has_value());
}

}  // namespace
}  // namespace chtlink::queue
