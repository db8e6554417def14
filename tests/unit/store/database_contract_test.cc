// The Database contract, on both backends (one parameterised suite): transactions, values,
// errors, the pool's lanes and limits, advisory locks and migrations. PostgreSQL runs on the
// test run's server (tests/support/postgres_server.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "postgres_server.h"
#include "store/database.h"
#include "store/migrations.h"
#include "temp_dir.h"
#include "test_database.h"
#include "wait_until.h"

namespace chtlink::store {
namespace {

using ::chtlink::testing::TempDir;
using ::chtlink::testing::TestBackend;
using ::chtlink::testing::waitUntil;
using ::testing::HasSubstr;

class DatabaseTest : public ::testing::TestWithParam<TestBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == TestBackend::Sqlite) {
      url_ = "sqlite:" + dir_.file("test.db");
    } else {
      auto url = testing::freshPostgresDatabaseUrl();
      ASSERT_TRUE(url.has_value()) << url.error().message;
      url_ = *url;
    }
    StoreOptions options;
    // One writer on both backends, so the lane tests see the same order.
    options.write_connections = 1;
    open(options);
  }

  void open(StoreOptions options) {
    db_.reset();
    options.url = url_;
    auto db = openDatabase(options, testing::nullLogger());
    ASSERT_TRUE(db.has_value()) << db.error().message;
    db_ = std::move(db).value();
    Status s = db_->run(Access::Write, [](Transaction& tx) -> Status {
      CHTLINK_TRY(tx.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v BIGINT)"));
      return ok();
    });
    ASSERT_TRUE(s.has_value()) << s.error().message;
  }

  Result<std::unique_ptr<Database>> openAnother() {
    StoreOptions options;
    options.url = url_;
    options.write_connections = 1;
    options.read_connections = 1;
    return openDatabase(options, testing::nullLogger());
  }

  Result<int64_t> count() {
    return db_->runFor<int64_t>(Access::Read, [](Transaction& tx) -> Result<int64_t> {
      CHTLINK_ASSIGN_OR_RETURN(Rows rows, tx.query("SELECT COUNT(*) FROM t"));
      return rows.integer(0, 0);
    });
  }

  Status insert(const std::string& k, Value v) {
    return db_->run(Access::Write, [&](Transaction& tx) -> Status {
      CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", {k, v}));
      return ok();
    });
  }

  TempDir dir_;
  std::string url_;
  std::unique_ptr<Database> db_;
};

INSTANTIATE_TEST_SUITE_P(Backends, DatabaseTest, ::chtlink::testing::bothBackends(),
                         ::chtlink::testing::backendParamName);

TEST_P(DatabaseTest, TypedValuesRoundTrip) {
  Status created = db_->run(Access::Write, [](Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute(
        "CREATE TABLE typed (n INTEGER NOT NULL, i BIGINT, d DOUBLE PRECISION, s TEXT)"));
    return ok();
  });
  ASSERT_TRUE(created.has_value()) << created.error().message;
  struct Case {
    Value i, d, s;
  };
  const std::vector<Case> cases = {
      {Value(Null{}), Value(Null{}), Value(Null{})},
      {Value(std::numeric_limits<int64_t>::max()), Value(3.25), Value(std::string())},
      {Value(std::numeric_limits<int64_t>::min()), Value(-1e300),
       Value(std::string("héllo, wörld 'quoted' ? not a placeholder"))},
      {Value(int64_t{0}), Value(0.1), Value(std::string("{\"json\": [1, 2]}"))},
  };
  Status inserted = db_->run(Access::Write, [&](Transaction& tx) -> Status {
    for (size_t n = 0; n < cases.size(); ++n) {
      CHTLINK_TRY(tx.execute("INSERT INTO typed (n, i, d, s) VALUES (?, ?, ?, ?)",
                             {int64_t(n), cases[n].i, cases[n].d, cases[n].s}));
    }
    return ok();
  });
  ASSERT_TRUE(inserted.has_value()) << inserted.error().message;
  auto rows = db_->runFor<Rows>(Access::Read, [](Transaction& tx) {
    return tx.query("SELECT i, d, s, n FROM typed ORDER BY n");
  });
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  ASSERT_EQ(rows->size(), cases.size());
  EXPECT_THAT(rows->columns(), ::testing::ElementsAre("i", "d", "s", "n"));
  for (size_t n = 0; n < cases.size(); ++n) {
    EXPECT_EQ(rows->row(n)[0], cases[n].i) << n;
    EXPECT_EQ(rows->row(n)[1], cases[n].d) << n;
    EXPECT_EQ(rows->row(n)[2], cases[n].s) << n;
    EXPECT_EQ(rows->row(n)[3], Value(int64_t(n))) << n;
  }
}

TEST_P(DatabaseTest, InsertReturningGivesTheAutoAssignedKey) {
  auto statements = expandMigrationSql("CREATE TABLE seqd (id {{id}}, x TEXT)", db_->dialect());
  ASSERT_TRUE(statements.has_value());
  auto ids = db_->runFor<std::vector<int64_t>>(
      Access::Write, [&](Transaction& tx) -> Result<std::vector<int64_t>> {
        CHTLINK_TRY(tx.execute(statements->front()));
        std::vector<int64_t> out;
        for (int i = 0; i < 3; ++i) {
          CHTLINK_ASSIGN_OR_RETURN(Rows r,
                                   tx.query("INSERT INTO seqd (x) VALUES (?) RETURNING id", {"x"}));
          out.push_back(r.integer(0, 0));
        }
        return out;
      });
  ASSERT_TRUE(ids.has_value()) << ids.error().message;
  EXPECT_THAT(*ids, ::testing::ElementsAre(1, 2, 3));
}

TEST_P(DatabaseTest, ExecuteCountsChangedRowsAndSumIsAnInteger) {
  ASSERT_TRUE(insert("a", int64_t{1}).has_value());
  ASSERT_TRUE(insert("b", int64_t{2}).has_value());
  auto changed = db_->runFor<int64_t>(
      Access::Write, [](Transaction& tx) { return tx.execute("UPDATE t SET v = v + 10"); });
  ASSERT_TRUE(changed.has_value()) << changed.error().message;
  EXPECT_EQ(*changed, 2);
  auto sum = db_->runFor<Rows>(Access::Read,
                               [](Transaction& tx) { return tx.query("SELECT SUM(v) FROM t"); });
  ASSERT_TRUE(sum.has_value()) << sum.error().message;
  EXPECT_EQ(sum->row(0)[0], Value(int64_t{23}));
}

TEST_P(DatabaseTest, AdvisoryLockIsHeldByOneHolderUntilReleased) {
  auto first = db_->tryAdvisoryLock("cht.pull");
  ASSERT_TRUE(first.has_value()) << first.error().message;
  ASSERT_NE(*first, nullptr);
  EXPECT_EQ((*first)->name(), "cht.pull");
  EXPECT_TRUE((*first)->check().has_value());
  auto second = db_->tryAdvisoryLock("cht.pull");
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(*second, nullptr);
  auto other = db_->tryAdvisoryLock("another.name");
  ASSERT_TRUE(other.has_value());
  EXPECT_NE(*other, nullptr);
  first->reset();
  auto third = db_->tryAdvisoryLock("cht.pull");
  ASSERT_TRUE(third.has_value());
  EXPECT_NE(*third, nullptr);
}

TEST_P(DatabaseTest, CommitsWhenWorkSucceeds) {
  ASSERT_TRUE(insert("a", int64_t{1}).has_value());
  auto n = count();
  ASSERT_TRUE(n.has_value()) << n.error().message;
  EXPECT_EQ(*n, 1);
}

TEST_P(DatabaseTest, RollsBackWhenWorkReturnsAnError) {
  Status s = db_->run(Access::Write, [](Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES ('a', 1)"));
    return notFound("patient 123 not found");
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::NotFound);
  EXPECT_EQ(s.error().message, "patient 123 not found");
  EXPECT_EQ(count().value(), 0);
}

TEST_P(DatabaseTest, RollsBackWhenWorkThrows) {
  Status s = db_->run(Access::Write, [](Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES ('a', 1)"));
    throw std::runtime_error("boom");
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::Internal);
  EXPECT_THAT(s.error().message, HasSubstr("boom"));
  EXPECT_EQ(count().value(), 0);
  // The connection is usable afterwards: the transaction really ended.
  EXPECT_TRUE(insert("b", int64_t{2}).has_value());
  EXPECT_EQ(count().value(), 1);
}

TEST_P(DatabaseTest, ReusedStatementTakesNewParametersEachTime) {
  for (int64_t i = 0; i < 50; ++i) {
    Value v = i % 2 == 0 ? Value(i) : Value(Null{});
    ASSERT_TRUE(insert("k" + std::to_string(i), v).has_value());
  }
  for (int64_t i = 0; i < 50; ++i) {
    auto rows = db_->runFor<Rows>(Access::Read, [&](Transaction& tx) {
      return tx.query("SELECT v FROM t WHERE k = ?", {"k" + std::to_string(i)});
    });
    ASSERT_TRUE(rows.has_value());
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ(rows->isNull(0, 0), i % 2 != 0) << i;
    if (i % 2 == 0) {
      EXPECT_EQ(rows->integer(0, 0), i);
    }
  }
}

TEST_P(DatabaseTest, WrongParameterCountIsAnError) {
  Status s = db_->run(Access::Write, [](Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", {"only one"}));
    return ok();
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::InvalidArgument);
  EXPECT_THAT(s.error().message, HasSubstr("2 parameters but 1"));
}

TEST_P(DatabaseTest, ConstraintViolationIsConflict) {
  ASSERT_TRUE(insert("a", int64_t{1}).has_value());
  Status s = insert("a", int64_t{2});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::Conflict);
  EXPECT_EQ(s.error().reason, "constraint_violation");
  EXPECT_THAT(s.error().message, ::testing::ContainsRegex("UNIQUE constraint failed|unique"));
}

TEST_P(DatabaseTest, ReadTransactionsCannotWrite) {
  Status s = db_->run(Access::Read, [](Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES ('a', 1)"));
    return ok();
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(count().value(), 0);
}

TEST_P(DatabaseTest, PostReturnsAtOnceAndCallsBackOnADatabaseThread) {
  const auto caller = std::this_thread::get_id();
  std::atomic<bool> gate_open{false};
  std::atomic<bool> finished{false};
  std::thread::id work_thread;
  std::thread::id done_thread;
  db_->post(
      Access::Write,
      [&](Transaction& tx) -> Status {
        work_thread = std::this_thread::get_id();
        // Holds the work until the caller has seen post() return, proving it did not wait.
        if (!waitUntil([&] { return gate_open.load(); })) return internalError("gate");
        CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES ('a', 1)"));
        return ok();
      },
      [&](Status s) {
        done_thread = std::this_thread::get_id();
        EXPECT_TRUE(s.has_value());
        finished = true;
      });
  EXPECT_FALSE(finished.load());
  gate_open = true;
  ASSERT_TRUE(waitUntil([&] { return finished.load(); }));
  EXPECT_NE(work_thread, caller);
  EXPECT_EQ(done_thread, work_thread);
  EXPECT_EQ(count().value(), 1);
}

TEST_P(DatabaseTest, ReadsSeeTheLastCommitWhileAWriteIsOpen) {
  ASSERT_TRUE(insert("before", int64_t{1}).has_value());
  std::atomic<bool> write_open{false};
  std::atomic<bool> read_done{false};
  std::atomic<bool> write_done{false};
  db_->post(
      Access::Write,
      [&](Transaction& tx) -> Status {
        CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES ('during', 2)"));
        write_open = true;
        if (!waitUntil([&] { return read_done.load(); })) return internalError("read blocked");
        return ok();
      },
      [&](Status s) {
        EXPECT_TRUE(s.has_value());
        write_done = true;
      });
  ASSERT_TRUE(waitUntil([&] { return write_open.load(); }));
  auto n = count();  // must not wait for the writer (WAL)
  read_done = true;
  ASSERT_TRUE(n.has_value()) << n.error().message;
  EXPECT_EQ(*n, 1);
  ASSERT_TRUE(waitUntil([&] { return write_done.load(); }));
  EXPECT_EQ(count().value(), 2);
}

TEST_P(DatabaseTest, RefusesWorkBeyondMaxPending) {
  StoreOptions options;
  options.max_pending = 2;
  options.write_connections = 1;
  open(options);
  std::atomic<bool> blocking{false};
  std::atomic<bool> release{false};
  std::atomic<int> completed{0};
  auto count_done = [&](Status s) {
    EXPECT_TRUE(s.has_value());
    ++completed;
  };
  db_->post(
      Access::Write,
      [&](Transaction&) -> Status {
        blocking = true;
        waitUntil([&] { return release.load(); });
        return ok();
      },
      count_done);
  ASSERT_TRUE(waitUntil([&] { return blocking.load(); }));  // running, no longer queued
  // Both queue behind the blocked writer (a read would be taken at once by a reader).
  db_->post(
      Access::Write, [](Transaction&) { return ok(); }, count_done);
  db_->post(
      Access::Write, [](Transaction&) { return ok(); }, count_done);

  std::optional<Status> refused;
  const auto caller = std::this_thread::get_id();
  std::thread::id refused_on;
  db_->post(
      Access::Write, [](Transaction&) { return ok(); },
      [&](Status s) {
        refused_on = std::this_thread::get_id();
        refused = std::move(s);
      });
  ASSERT_TRUE(refused.has_value());  // answered before post() returned
  EXPECT_EQ(refused_on, caller);
  ASSERT_FALSE(refused->has_value());
  EXPECT_EQ(refused->error().code, ErrorCode::Unavailable);
  EXPECT_THAT(refused->error().message, HasSubstr("store.max_pending"));

  release = true;
  ASSERT_TRUE(waitUntil([&] { return completed.load() == 3; }));
}

TEST_P(DatabaseTest, UrgentWritesGoAheadOfQueuedWrites) {
  std::atomic<bool> blocking{false};
  std::atomic<bool> release{false};
  std::mutex mu;
  std::vector<std::string> order;
  auto note = [&](std::string what) {
    return [&, what](Transaction&) -> Status {
      std::lock_guard lock(mu);
      order.push_back(what);
      return ok();
    };
  };
  db_->post(
      Access::Write,
      [&](Transaction&) -> Status {
        blocking = true;
        waitUntil([&] { return release.load(); });
        return ok();
      },
      nullptr);
  ASSERT_TRUE(waitUntil([&] { return blocking.load(); }));
  std::atomic<int> done{0};
  auto count = [&](Status s) {
    EXPECT_TRUE(s.has_value());
    ++done;
  };
  db_->post(Access::Write, note("ordinary 1"), count);
  db_->post(Access::Write, note("ordinary 2"), count);
  db_->postUrgentWrite(note("urgent"), count);
  release = true;
  ASSERT_TRUE(waitUntil([&] { return done.load() == 3; }));
  std::lock_guard lock(mu);
  EXPECT_THAT(order, ::testing::ElementsAre("urgent", "ordinary 1", "ordinary 2"));
}

TEST_P(DatabaseTest, RunOnADatabaseThreadFailsInsteadOfDeadlocking) {
  std::optional<Status> inner;
  Status outer = db_->run(Access::Write, [&](Transaction&) -> Status {
    inner = db_->run(Access::Read, [](Transaction&) { return ok(); });
    return ok();
  });
  ASSERT_TRUE(outer.has_value());
  ASSERT_TRUE(inner.has_value());
  ASSERT_FALSE(inner->has_value());
  EXPECT_EQ(inner->error().code, ErrorCode::FailedPrecondition);
}

TEST_P(DatabaseTest, QueuedWorkStillRunsWhenTheDatabaseCloses) {
  std::atomic<int> committed{0};
  for (int i = 0; i < 20; ++i) {
    db_->post(
        Access::Write,
        [i](Transaction& tx) -> Status {
          CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES (?, ?)",
                                 {"k" + std::to_string(i), int64_t{i}}));
          return ok();
        },
        [&](Status s) {
          if (s.has_value()) ++committed;
        });
  }
  db_.reset();
  EXPECT_EQ(committed.load(), 20);
  open(StoreOptions{});
  EXPECT_EQ(count().value(), 20);
}

}  // namespace
}  // namespace chtlink::store
