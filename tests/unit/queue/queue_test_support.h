// Shared pieces of the queue tests: a migrated database in a TempDir, a fixed Random and a
// handler the test scripts.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "base/random.h"
#include "fake_clock.h"
#include "postgres_server.h"
#include "queue/queue.h"
#include "store/migrations.h"
#include "temp_dir.h"
#include "test_database.h"

namespace chtlink::queue {

// Always the same uniform() value: 0 gives the shortest jittered delay, 1 the longest.
class FixedRandom final : public Random {
 public:
  explicit FixedRandom(double value) : value_(value) {}
  double uniform() override { return value_; }
  uint64_t next64() override { return ++counter_; }

 private:
  double value_;
  uint64_t counter_ = 0;
};

// Decides each delivery with `decide`: an Outcome answers at once (on the dispatching
// thread); nullopt holds the job until the test calls release().
class ScriptedHandler final : public JobHandler {
 public:
  using Decide = std::function<std::optional<Outcome>(const Job&)>;
  explicit ScriptedHandler(Decide decide) : decide_(std::move(decide)) {}

  void handle(const Job& job, std::function<void(Outcome)> done) override {
    std::optional<Outcome> outcome = decide_(job);
    {
      std::lock_guard lock(mu_);
      seen_.push_back(job);
      if (!outcome) held_.emplace_back(job, std::move(done));
    }
    if (outcome) done(std::move(*outcome));
  }

  std::vector<Job> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  size_t heldCount() const {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  // Answers the oldest held job; false when none is held.
  bool release(Outcome outcome) {
    std::function<void(Outcome)> done;
    {
      std::lock_guard lock(mu_);
      if (held_.empty()) return false;
      done = std::move(held_.front().second);
      held_.erase(held_.begin());
    }
    done(std::move(outcome));
    return true;
  }

 private:
  Decide decide_;
  mutable std::mutex mu_;
  std::vector<Job> seen_;
  std::vector<std::pair<Job, std::function<void(Outcome)>>> held_;
};

// Runs on both backends: INSTANTIATE_TEST_SUITE_P(Backends, <Fixture>, ...) in each file.
class QueueTest : public ::testing::TestWithParam<testing::TestBackend> {
 protected:
  void SetUp() override {
    auto url = testing::freshTestDatabaseUrl(GetParam(), dir_.path());
    ASSERT_TRUE(url.has_value()) << url.error().message;
    url_ = *url;
    auto db = open();
    ASSERT_TRUE(db.has_value()) << db.error().message;
    db_ = std::move(db).value();
    Status s = store::migrate(*db_, migrations(), clock_);
    ASSERT_TRUE(s.has_value()) << s.error().message;
  }

  // Another connection pool on the same database, as a second process would have.
  Result<std::unique_ptr<store::Database>> open() {
    store::StoreOptions options;
    options.url = url_;
    options.write_connections = 2;
    return store::openDatabase(options, testing::nullLogger());
  }

  Result<int64_t> add(JobSpec spec) {
    return db_->runFor<int64_t>(store::Access::Write, [&](store::Transaction& tx) {
      return enqueue(tx, spec, options_, clock_.now());
    });
  }
  Result<int64_t> add(const std::string& destination = "dest", const std::string& kind = "test") {
    JobSpec spec;
    spec.kind = kind;
    spec.destination = destination;
    spec.payload = "{}";
    return add(std::move(spec));
  }

  Job job(int64_t id) {
    auto j = JobStore(*db_, clock_).get(id);
    EXPECT_TRUE(j.has_value()) << j.error().message;
    return j.has_value() ? *j : Job{};
  }

  testing::TempDir dir_;
  std::string url_;
  testing::FakeClock clock_;
  FixedRandom random_{1.0};
  QueueOptions options_;
  std::unique_ptr<store::Database> db_;
};

}  // namespace chtlink::queue
