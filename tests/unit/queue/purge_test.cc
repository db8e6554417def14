// Retention of finished jobs: purgeFinished(), WorkerPool::purgeOnce() and the pool's own
// periodic purge, driven by a FakeClock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "queue/queue.h"
#include "queue_test_support.h"
#include "wait_until.h"

namespace chtlink::queue {
namespace {

using ::chtlink::testing::waitUntil;
using std::chrono::hours;
using std::chrono::milliseconds;

constexpr auto kDay = hours(24);

class PurgeTest : public QueueTest {
 protected:
  void SetUp() override {
    QueueTest::SetUp();
    options_.retain_done = 7 * kDay;
    options_.retain_dead = milliseconds(0);
    options_.purge_batch = 2;
  }

  std::unique_ptr<WorkerPool> makePool() {
    auto pool =
        std::make_unique<WorkerPool>(*db_, clock_, random_, options_, testing::nullLogger());
    pool->addHandler("test", std::make_shared<ScriptedHandler>([](const Job&) {
                       return std::optional<Outcome>(Outcome::delivered());
                     }));
    pool->addHandler("doomed", std::make_shared<ScriptedHandler>([](const Job&) {
                       return std::optional<Outcome>(Outcome::fail("never accepted"));
                     }));
    return pool;
  }

  // Adds `done` jobs that are delivered and `dead` ones that are dead-lettered, now.
  std::vector<int64_t> finish(int done, int dead) {
    std::vector<int64_t> ids;
    for (int i = 0; i < done; ++i) ids.push_back(add("dest", "test").value());
    for (int i = 0; i < dead; ++i) ids.push_back(add("dest", "doomed").value());
    auto pool = makePool();
    int dispatched = 0;
    while (dispatched < done + dead) {
      auto n = pool->pollOnce();
      EXPECT_TRUE(n.has_value()) << n.error().message;
      if (!n.has_value() || *n == 0) break;
      dispatched += *n;
    }
    EXPECT_EQ(dispatched, done + dead);
    EXPECT_TRUE(pool->flushOutcomes().has_value());
    return ids;
  }

  std::map<JobState, int64_t> depth() {
    auto d = JobStore(*db_, clock_).depthByState();
    EXPECT_TRUE(d.has_value()) << d.error().message;
    return d.has_value() ? *d : std::map<JobState, int64_t>{};
  }

  Result<int64_t> purge(JobState state, TimePoint before, int limit) {
    return db_->runFor<int64_t>(store::Access::Write, [&](store::Transaction& tx) {
      return purgeFinished(tx, state, before, limit);
    });
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, PurgeTest, ::chtlink::testing::bothBackends(),
                         ::chtlink::testing::backendParamName);

TEST_P(PurgeTest, OneBatchDeletesAtMostItsLimitOldestFirst) {
  auto ids = finish(5, 0);
  clock_.advance(kDay);
  auto n = purge(JobState::Done, clock_.now(), 2);
  ASSERT_TRUE(n.has_value()) << n.error().message;
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(depth()[JobState::Done], 3);
  EXPECT_EQ(JobStore(*db_, clock_).get(ids[0]).error().code, ErrorCode::NotFound);
  EXPECT_EQ(JobStore(*db_, clock_).get(ids[1]).error().code, ErrorCode::NotFound);
  EXPECT_TRUE(JobStore(*db_, clock_).get(ids[2]).has_value());

  EXPECT_EQ(purge(JobState::Done, clock_.now(), 10).value(), 3);
  EXPECT_EQ(purge(JobState::Done, clock_.now(), 10).value(), 0);
  EXPECT_FALSE(purge(JobState::Pending, clock_.now(), 10).has_value());
}

TEST_P(PurgeTest, DoneJobsPastRetentionGoNewerOnesAndDeadLettersStay) {
  finish(5, 1);
  clock_.advance(6 * kDay);
  auto newer = finish(1, 0);
  clock_.advance(2 * kDay);  // the first five are 8 days old, the last one 2
  int64_t pending = add("dest", "test").value();

  auto pool = makePool();
  auto stats = pool->purgeOnce();
  ASSERT_TRUE(stats.has_value()) << stats.error().message;
  EXPECT_EQ(stats->done, 5);
  EXPECT_EQ(stats->dead, 0);
  EXPECT_EQ(stats->batches, 3);  // 2 + 2 + 1: never more than purge_batch per transaction

  auto d = depth();
  EXPECT_EQ(d[JobState::Done], 1);
  EXPECT_EQ(d[JobState::Dead], 1);
  EXPECT_EQ(d[JobState::Pending], 1);
  EXPECT_EQ(job(newer[0]).state, JobState::Done);
  EXPECT_EQ(job(pending).state, JobState::Pending);
}

TEST_P(PurgeTest, DeadLettersArePurgedOnlyWithTheirOwnRetention) {
  options_.retain_dead = 30 * kDay;
  finish(1, 3);
  clock_.advance(10 * kDay);
  auto stats = makePool()->purgeOnce();
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->done, 1);
  EXPECT_EQ(stats->dead, 0);
  EXPECT_EQ(depth()[JobState::Dead], 3);

  clock_.advance(21 * kDay);
  stats = makePool()->purgeOnce();
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->dead, 3);
  EXPECT_EQ(stats->batches, 3);  // done: none left (1), dead: 2 + 1
  EXPECT_EQ(depth()[JobState::Dead], 0);
}

TEST_P(PurgeTest, ZeroRetentionKeepsEverything) {
  options_.retain_done = milliseconds(0);
  finish(2, 1);
  clock_.advance(365 * kDay);
  auto stats = makePool()->purgeOnce();
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->done + stats->dead, 0);
  EXPECT_EQ(stats->batches, 0);
  EXPECT_EQ(depth()[JobState::Done], 2);
  EXPECT_EQ(depth()[JobState::Dead], 1);
}

TEST_P(PurgeTest, TheRunningPoolPurgesAtStartAndThenEveryInterval) {
  options_.poll_interval = milliseconds(5);
  options_.purge_interval = hours(1);
  finish(3, 1);
  clock_.advance(8 * kDay);

  auto pool = makePool();
  pool->start();
  EXPECT_TRUE(waitUntil([&] { return depth()[JobState::Done] == 0; }));
  EXPECT_EQ(depth()[JobState::Dead], 1);

  // Delivered by the running pool now, purged by it once the clock passes the retention.
  ASSERT_TRUE(add("dest", "test").has_value());
  pool->notify();
  EXPECT_TRUE(waitUntil([&] { return depth()[JobState::Done] == 1; }));
  clock_.advance(8 * kDay);
  EXPECT_TRUE(waitUntil([&] { return depth()[JobState::Done] == 0; }));
  EXPECT_EQ(depth()[JobState::Dead], 1);
  pool->stop(milliseconds(1000));
}

}  // namespace
}  // namespace chtlink::queue
