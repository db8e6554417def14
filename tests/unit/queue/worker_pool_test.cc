// The worker pool, driven with a FakeClock through pollOnce() where timing matters.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <stdexcept>
#include <thread>

#include "queue/queue.h"
#include "queue_test_support.h"
#include "wait_until.h"

namespace chtlink::queue {
namespace {

using ::chtlink::testing::waitUntil;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

std::shared_ptr<ScriptedHandler> answering(Outcome outcome) {
  return std::make_shared<ScriptedHandler>(
      [outcome](const Job&) { return std::optional<Outcome>(outcome); });
}

std::shared_ptr<ScriptedHandler> holding() {
  return std::make_shared<ScriptedHandler>([](const Job&) { return std::nullopt; });
}

class WorkerPoolTest : public QueueTest {
 protected:
  std::unique_ptr<WorkerPool> makePool() {
    return std::make_unique<WorkerPool>(*db_, clock_, random_, options_, testing::nullLogger());
  }
};

INSTANTIATE_TEST_SUITE_P(Backends, WorkerPoolTest, ::chtlink::testing::bothBackends(),
                         ::chtlink::testing::backendParamName);

TEST_P(WorkerPoolTest, DeliveredJobIsDoneAndKeepsItsRow) {
  int64_t id = add().value();
  auto pool = makePool();
  auto handler = answering(Outcome::delivered());
  pool->addHandler("test", handler);
  clock_.advance(milliseconds(10));
  ASSERT_EQ(pool->pollOnce().value(), 1);
  ASSERT_TRUE(pool->flushOutcomes().has_value());

  ASSERT_EQ(handler->seen().size(), 1u);
  EXPECT_EQ(handler->seen()[0].id, id);
  EXPECT_EQ(handler->seen()[0].state, JobState::Running);
  EXPECT_EQ(handler->seen()[0].attempts, 1);
  EXPECT_EQ(handler->seen()[0].lease_owner, pool->owner());
  Job j = job(id);
  EXPECT_EQ(j.state, JobState::Done);
  EXPECT_EQ(j.attempts, 1);
  EXPECT_EQ(j.updated_at, clock_.now());
  EXPECT_EQ(j.lease_owner, "");
  EXPECT_FALSE(j.lease_expires_at.has_value());
  EXPECT_EQ(pool->pollOnce().value(), 0);  // nothing runs twice
}

TEST_P(WorkerPoolTest, ClaimSetsTheLease) {
  int64_t id = add().value();
  auto pool = makePool();
  pool->addHandler("test", holding());
  ASSERT_EQ(pool->pollOnce().value(), 1);
  Job j = job(id);
  EXPECT_EQ(j.state, JobState::Running);
  EXPECT_EQ(j.attempts, 1);
  EXPECT_EQ(j.lease_owner, pool->owner());
  EXPECT_EQ(j.lease_expires_at, clock_.now() + options_.lease);
}

TEST_P(WorkerPoolTest, RetriesAtTheBackoffTimesThenDeadLetters) {
  options_.max_attempts = 3;
  options_.initial_backoff = milliseconds(1'000);
  options_.max_backoff = milliseconds(60'000);
  int64_t id = add().value();
  auto pool = makePool();  // random_ answers 1: the full delay, no jitter below it
  pool->addHandler("test", answering(Outcome::retry("POST http://x/y answered 503: busy")));

  const milliseconds delays[] = {milliseconds(1'000), milliseconds(2'000)};
  for (int attempt = 1; attempt <= 2; ++attempt) {
    ASSERT_EQ(pool->pollOnce().value(), 1) << "attempt " << attempt;
    ASSERT_TRUE(pool->flushOutcomes().has_value());
    Job j = job(id);
    EXPECT_EQ(j.state, JobState::Pending);
    EXPECT_EQ(j.attempts, attempt);
    EXPECT_EQ(j.last_error, "POST http://x/y answered 503: busy");
    const milliseconds delay = delays[attempt - 1];
    EXPECT_EQ(j.run_at, clock_.now() + delay);

    clock_.advance(delay - milliseconds(1));
    EXPECT_EQ(pool->pollOnce().value(), 0) << "not before run_at";
    clock_.advance(milliseconds(1));
  }
  ASSERT_EQ(pool->pollOnce().value(), 1);
  ASSERT_TRUE(pool->flushOutcomes().has_value());
  Job j = job(id);
  EXPECT_EQ(j.state, JobState::Dead);
  EXPECT_EQ(j.attempts, 3);
  EXPECT_THAT(j.last_error, HasSubstr("answered 503: busy"));
  EXPECT_THAT(j.last_error, HasSubstr("attempt 3 of 3"));
  clock_.advance(std::chrono::hours(24));
  EXPECT_EQ(pool->pollOnce().value(), 0);
}

TEST_P(WorkerPoolTest, FailDeadLettersAtOnce) {
  int64_t id = add().value();
  auto pool = makePool();
  pool->addHandler("test", answering(Outcome::fail("POST http://x/y answered 400: bad")));
  ASSERT_EQ(pool->pollOnce().value(), 1);
  ASSERT_TRUE(pool->flushOutcomes().has_value());
  Job j = job(id);
  EXPECT_EQ(j.state, JobState::Dead);
  EXPECT_EQ(j.attempts, 1);
  EXPECT_EQ(j.last_error, "POST http://x/y answered 400: bad");
}

TEST_P(WorkerPoolTest, AHandlerThatThrowsCountsAsARetry) {
  int64_t id = add().value();
  auto pool = makePool();
  pool->addHandler("test",
                   std::make_shared<ScriptedHandler>([](const Job&) -> std::optional<Outcome> {
                     throw std::runtime_error("parser exploded");
                   }));
  ASSERT_EQ(pool->pollOnce().value(), 1);
  ASSERT_TRUE(pool->flushOutcomes().has_value());
  Job j = job(id);
  EXPECT_EQ(j.state, JobState::Pending);
  EXPECT_THAT(j.last_error, HasSubstr("parser exploded"));
}

TEST_P(WorkerPoolTest, ExpiredLeaseIsTakenOverAndTheLateOutcomeIsIgnored) {
  int64_t id = add().value();
  auto pool_a = makePool();
  auto held = holding();
  pool_a->addHandler("test", held);
  auto pool_b = makePool();
  auto delivers = answering(Outcome::delivered());
  pool_b->addHandler("test", delivers);
  ASSERT_NE(pool_a->owner(), pool_b->owner());

  ASSERT_EQ(pool_a->pollOnce().value(), 1);  // A claims and never answers (crashed)
  EXPECT_EQ(pool_b->pollOnce().value(), 0);  // lease still valid
  clock_.advance(options_.lease - milliseconds(1));
  EXPECT_EQ(pool_b->pollOnce().value(), 0);
  clock_.advance(milliseconds(1));
  ASSERT_EQ(pool_b->pollOnce().value(), 1);
  ASSERT_TRUE(pool_b->flushOutcomes().has_value());
  Job j = job(id);
  EXPECT_EQ(j.state, JobState::Done);
  EXPECT_EQ(j.attempts, 2);

  ASSERT_TRUE(held->release(Outcome::fail("late answer from A")));
  ASSERT_TRUE(pool_a->flushOutcomes().has_value());
  j = job(id);
  EXPECT_EQ(j.state, JobState::Done);
  EXPECT_EQ(j.last_error, "");
}

TEST_P(WorkerPoolTest, LeaseExpiredDuringTheLastAttemptDeadLetters) {
  options_.max_attempts = 1;
  int64_t id = add().value();
  auto pool_a = makePool();
  pool_a->addHandler("test", holding());
  ASSERT_EQ(pool_a->pollOnce().value(), 1);
  clock_.advance(options_.lease);
  auto pool_b = makePool();
  auto b_handler = answering(Outcome::delivered());
  pool_b->addHandler("test", b_handler);
  EXPECT_EQ(pool_b->pollOnce().value(), 0);
  Job j = job(id);
  EXPECT_EQ(j.state, JobState::Dead);
  EXPECT_THAT(j.last_error, HasSubstr("lease of worker " + pool_a->owner()));
  EXPECT_TRUE(b_handler->seen().empty());
}

TEST_P(WorkerPoolTest, PerDestinationLimitHoldsWhileOtherDestinationsRun) {
  options_.concurrency_per_destination = 2;
  std::vector<int64_t> slow;
  for (int i = 0; i < 10; ++i) slow.push_back(add("slow").value());
  std::vector<int64_t> fast;
  for (int i = 0; i < 3; ++i) fast.push_back(add("fast").value());

  auto pool = makePool();
  std::atomic<int> slow_in_flight{0};
  std::atomic<int> slow_max{0};
  auto handler = std::make_shared<ScriptedHandler>([&](const Job& j) -> std::optional<Outcome> {
    if (j.destination == "fast") return Outcome::delivered();
    int now = ++slow_in_flight;
    slow_max = std::max(slow_max.load(), now);
    return std::nullopt;
  });
  pool->addHandler("test", handler);

  ASSERT_EQ(pool->pollOnce().value(), 4);  // 2 slow + 2 fast (the limit applies to each)
  ASSERT_TRUE(pool->flushOutcomes().has_value());
  EXPECT_EQ(pool->pollOnce().value(), 1);  // slow is at its limit, fast still runs
  ASSERT_TRUE(pool->flushOutcomes().has_value());
  for (int64_t id : fast) EXPECT_EQ(job(id).state, JobState::Done);
  EXPECT_EQ(pool->pollOnce().value(), 0);
  EXPECT_EQ(handler->heldCount(), 2u);

  int delivered = 0;
  while (delivered < 10) {
    ASSERT_TRUE(handler->release(Outcome::delivered()));
    --slow_in_flight;
    ++delivered;
    ASSERT_TRUE(pool->flushOutcomes().has_value());
    auto claimed = pool->pollOnce();
    ASSERT_TRUE(claimed.has_value());
    EXPECT_EQ(*claimed, delivered <= 8 ? 1 : 0);
  }
  EXPECT_EQ(slow_max.load(), 2);
  for (int64_t id : slow) EXPECT_EQ(job(id).state, JobState::Done);
}

TEST_P(WorkerPoolTest, TotalConcurrencyAndClaimBatchLimitAClaim) {
  options_.concurrency = 5;
  options_.claim_batch = 3;
  for (int i = 0; i < 10; ++i) add("d" + std::to_string(i)).value();
  auto pool = makePool();
  auto held = holding();
  pool->addHandler("test", held);
  EXPECT_EQ(pool->pollOnce().value(), 3);
  EXPECT_EQ(pool->pollOnce().value(), 2);
  EXPECT_EQ(pool->pollOnce().value(), 0);
  ASSERT_TRUE(held->release(Outcome::delivered()));
  EXPECT_EQ(pool->pollOnce().value(), 1);
}

TEST_P(WorkerPoolTest, ClaimsInRunAtThenIdOrder) {
  options_.claim_batch = 1;
  auto at = [&](int seconds) {
    JobSpec spec;
    spec.kind = "test";
    spec.run_at = clock_.now() - std::chrono::seconds(seconds);
    return add(spec).value();
  };
  int64_t third = at(1);
  int64_t first = at(3);
  int64_t second = at(2);
  int64_t fourth = at(1);
  auto pool = makePool();
  auto handler = answering(Outcome::delivered());
  pool->addHandler("test", handler);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(pool->pollOnce().value(), 1);
  std::vector<int64_t> order;
  for (const Job& j : handler->seen()) order.push_back(j.id);
  EXPECT_THAT(order, ::testing::ElementsAre(first, second, third, fourth));
}

TEST_P(WorkerPoolTest, SkippedDestinationsDoNotStarveOthersInALongQueue) {
  options_.concurrency_per_destination = 1;
  options_.claim_batch = 4;  // scans 32 rows per claim
  for (int i = 0; i < 20; ++i) add("busy").value();
  int64_t other = add("other").value();
  auto pool = makePool();
  pool->addHandler("test", holding());
  EXPECT_EQ(pool->pollOnce().value(), 2);  // one "busy", and "other" behind 19 skipped rows
  EXPECT_EQ(job(other).state, JobState::Running);
}

TEST_P(WorkerPoolTest, JobsOfAnUnknownKindWaitWithoutCountingAttempts) {
  options_.max_backoff = milliseconds(600'000);
  int64_t id = add("d", "nobody-handles-this").value();
  auto pool = makePool();
  pool->addHandler("test", answering(Outcome::delivered()));
  EXPECT_EQ(pool->pollOnce().value(), 0);
  Job j = job(id);
  EXPECT_EQ(j.state, JobState::Pending);
  EXPECT_EQ(j.attempts, 0);
  EXPECT_THAT(j.last_error, HasSubstr("no handler for kind \"nobody-handles-this\""));
  EXPECT_EQ(j.run_at, clock_.now() + options_.max_backoff);

  // A pool with the handler (or a replay) delivers it later.
  clock_.advance(options_.max_backoff);
  auto other = makePool();
  other->addHandler("nobody-handles-this", answering(Outcome::delivered()));
  EXPECT_EQ(other->pollOnce().value(), 1);
}

TEST_P(WorkerPoolTest, ReplayedDeadJobRunsAgain) {
  int64_t id = add().value();
  auto pool = makePool();
  int calls = 0;
  pool->addHandler("test", std::make_shared<ScriptedHandler>([&](const Job&) {
                     return ++calls == 1 ? Outcome::fail("404") : Outcome::delivered();
                   }));
  ASSERT_EQ(pool->pollOnce().value(), 1);
  ASSERT_TRUE(pool->flushOutcomes().has_value());
  ASSERT_EQ(job(id).state, JobState::Dead);
  EXPECT_EQ(pool->pollOnce().value(), 0);

  ASSERT_TRUE(JobStore(*db_, clock_).replay(id).has_value());
  ASSERT_EQ(pool->pollOnce().value(), 1);
  ASSERT_TRUE(pool->flushOutcomes().has_value());
  EXPECT_EQ(job(id).state, JobState::Done);
  EXPECT_EQ(job(id).attempts, 1);
}

TEST_P(WorkerPoolTest, AnOutcomeReportedTwiceCountsOnce) {
  int64_t id = add().value();
  auto pool = makePool();
  class Twice final : public JobHandler {
   public:
    void handle(const Job&, std::function<void(Outcome)> done) override {
      done(Outcome::delivered());
      done(Outcome::fail("second answer"));
    }
  };
  pool->addHandler("test", std::make_shared<Twice>());
  ASSERT_EQ(pool->pollOnce().value(), 1);
  ASSERT_TRUE(pool->flushOutcomes().has_value());
  EXPECT_EQ(job(id).state, JobState::Done);
}

TEST_P(WorkerPoolTest, RunningPoolDeliversWhenNotifiedAndStops) {
  options_.poll_interval = std::chrono::hours(1);  // only notify() can wake it in time
  auto pool = makePool();
  std::atomic<int> handled{0};
  // Answers from another thread, as an HTTP client would from an I/O thread.
  std::vector<std::thread> threads;
  std::mutex threads_mu;
  class Async final : public JobHandler {
   public:
    Async(std::atomic<int>& n, std::vector<std::thread>& t, std::mutex& mu)
        : n_(n), t_(t), mu_(mu) {}
    void handle(const Job&, std::function<void(Outcome)> done) override {
      std::lock_guard lock(mu_);
      t_.emplace_back([this, done = std::move(done)] {
        ++n_;
        done(Outcome::delivered());
      });
    }

   private:
    std::atomic<int>& n_;
    std::vector<std::thread>& t_;
    std::mutex& mu_;
  };
  pool->addHandler("test", std::make_shared<Async>(handled, threads, threads_mu));
  pool->start();
  for (int i = 0; i < 50; ++i) add("d" + std::to_string(i % 5)).value();
  pool->notify();
  JobStore store(*db_, clock_);
  EXPECT_TRUE(waitUntil([&] {
    auto depth = store.depthByState();
    return depth.has_value() && depth->at(JobState::Done) == 50;
  }));
  pool->stop(milliseconds(5'000));
  {
    std::lock_guard lock(threads_mu);
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(handled.load(), 50);
}

TEST_P(WorkerPoolTest, DispatcherRespectsTheDestinationLimitAndWakesOnCompletion) {
  options_.concurrency_per_destination = 2;
  options_.poll_interval = std::chrono::hours(1);
  for (int i = 0; i < 10; ++i) add("slow").value();
  for (int i = 0; i < 3; ++i) add("fast").value();
  std::atomic<int> slow_in_flight{0};
  std::atomic<int> slow_max{0};
  auto handler = std::make_shared<ScriptedHandler>([&](const Job& j) -> std::optional<Outcome> {
    if (j.destination == "fast") return Outcome::delivered();
    int now = ++slow_in_flight;
    int seen = slow_max.load();
    while (now > seen && !slow_max.compare_exchange_weak(seen, now)) {
    }
    return std::nullopt;
  });
  auto pool = makePool();
  pool->addHandler("test", handler);
  pool->start();
  pool->notify();
  JobStore store(*db_, clock_);
  ASSERT_TRUE(waitUntil([&] { return store.depthByState()->at(JobState::Done) == 3; }));
  ASSERT_TRUE(waitUntil([&] { return handler->heldCount() == 2; }));
  for (int released = 0; released < 10; ++released) {
    // Wait for the dispatcher to refill the freed slot (it is woken by the completion, not
    // by the hour-long poll) before releasing the next one.
    ASSERT_TRUE(waitUntil([&] {
      return handler->heldCount() == std::min<size_t>(2, 10 - released);
    })) << released;
    --slow_in_flight;
    ASSERT_TRUE(handler->release(Outcome::delivered()));
  }
  ASSERT_TRUE(waitUntil([&] { return store.depthByState()->at(JobState::Done) == 13; }));
  EXPECT_EQ(slow_max.load(), 2);
  pool->stop(milliseconds(1'000));
}

TEST_P(WorkerPoolTest, StopLeavesUnfinishedJobsLeasedAndIgnoresLateOutcomes) {
  int64_t id = add().value();
  auto held = holding();
  {
    auto pool = makePool();
    pool->addHandler("test", held);
    ASSERT_EQ(pool->pollOnce().value(), 1);
    pool->stop(milliseconds(0));
    EXPECT_FALSE(pool->pollOnce().has_value());
  }
  ASSERT_TRUE(held->release(Outcome::delivered()));  // after the pool is gone: no crash
  Job j = job(id);
  EXPECT_EQ(j.state, JobState::Running);
  clock_.advance(options_.lease);
  auto next = makePool();
  next->addHandler("test", answering(Outcome::delivered()));
  EXPECT_EQ(next->pollOnce().value(), 1);
  ASSERT_TRUE(next->flushOutcomes().has_value());
  EXPECT_EQ(job(id).state, JobState::Done);
}

TEST_P(WorkerPoolTest, StopWaitsForJobsInFlightAndRecordsThem) {
  int64_t id = add().value();
  auto pool = makePool();
  auto held = holding();
  pool->addHandler("test", held);
  ASSERT_EQ(pool->pollOnce().value(), 1);
  std::thread answer([&] {
    // Answers once stop() has begun: pollOnce() is refused from then on.
    waitUntil([&] { return !pool->pollOnce().has_value(); });
    held->release(Outcome::delivered());
  });
  pool->stop(milliseconds(10'000));
  answer.join();
  EXPECT_EQ(job(id).state, JobState::Done);
}

TEST_P(WorkerPoolTest, TwoProcessesClaimingAtOnceNeverTakeTheSameJob) {
  constexpr int kJobs = 300;
  Status added = db_->run(store::Access::Write, [&](store::Transaction& tx) -> Status {
    for (int i = 0; i < kJobs; ++i) {
      JobSpec spec;
      spec.kind = "test";
      spec.destination = "d" + std::to_string(i % 7);
      spec.payload = "{}";
      CHTLINK_TRY(enqueue(tx, spec, options_, clock_.now()));
    }
    return ok();
  });
  ASSERT_TRUE(added.has_value()) << added.error().message;
  // The second "process": its own connections to the same database, its own pool.
  auto other_db = open();
  ASSERT_TRUE(other_db.has_value()) << other_db.error().message;
  options_.claim_batch = 16;
  WorkerPool pool_a(*db_, clock_, random_, options_, testing::nullLogger());
  FixedRandom random_b{1.0};
  WorkerPool pool_b(**other_db, clock_, random_b, options_, testing::nullLogger());
  auto handler_a = answering(Outcome::delivered());
  auto handler_b = answering(Outcome::delivered());
  pool_a.addHandler("test", handler_a);
  pool_b.addHandler("test", handler_b);

  auto drain = [](WorkerPool& pool, std::atomic<bool>& failed) {
    for (int round = 0; round < 200; ++round) {
      auto n = pool.pollOnce();
      if (!n.has_value() || !pool.flushOutcomes().has_value()) {
        failed = true;
        return;
      }
      if (*n == 0) return;
    }
  };
  std::atomic<bool> failed{false};
  std::thread b([&] { drain(pool_b, failed); });
  drain(pool_a, failed);
  b.join();
  ASSERT_FALSE(failed.load());

  std::map<int64_t, int> deliveries;
  for (const auto& handler : {handler_a, handler_b}) {
    for (const Job& j : handler->seen()) ++deliveries[j.id];
  }
  EXPECT_EQ(deliveries.size(), static_cast<size_t>(kJobs));
  for (const auto& [id, times] : deliveries) EXPECT_EQ(times, 1) << "job " << id;
  auto depth = JobStore(*db_, clock_).depthByState();
  ASSERT_TRUE(depth.has_value());
  EXPECT_EQ((*depth)[JobState::Done], kJobs);
}

}  // namespace
}  // namespace chtlink::queue
