// The SQLite backend through the public Database interface.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/database.h"
#include "temp_dir.h"
#include "test_database.h"
#include "wait_until.h"

namespace chtlink::store {
namespace {

using ::chtlink::testing::TempDir;
using ::chtlink::testing::waitUntil;
using ::testing::HasSubstr;

class SqliteDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override { open(StoreOptions{}); }

  void open(const StoreOptions& options) {
    db_.reset();
    auto db = testing::openTestDatabase(dir_, options);
    ASSERT_TRUE(db.has_value()) << db.error().message;
    db_ = std::move(db).value();
    Status s = db_->run(Access::Write, [](Transaction& tx) -> Status {
      CHTLINK_TRY(tx.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v)"));
      return ok();
    });
    ASSERT_TRUE(s.has_value()) << s.error().message;
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
  std::unique_ptr<Database> db_;
};

TEST_F(SqliteDatabaseTest, CommitsWhenWorkSucceeds) {
  ASSERT_TRUE(insert("a", int64_t{1}).has_value());
  auto n = count();
  ASSERT_TRUE(n.has_value()) << n.error().message;
  EXPECT_EQ(*n, 1);
}

TEST_F(SqliteDatabaseTest, RollsBackWhenWorkReturnsAnError) {
  Status s = db_->run(Access::Write, [](Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES ('a', 1)"));
    return notFound("patient 123 not found");
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::NotFound);
  EXPECT_EQ(s.error().message, "patient 123 not found");
  EXPECT_EQ(count().value(), 0);
}

TEST_F(SqliteDatabaseTest, RollsBackWhenWorkThrows) {
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

TEST_F(SqliteDatabaseTest, ValuesRoundTrip) {
  const std::string with_nul("a\0b\0", 4);
  const std::vector<Value> values = {
      Value(Null{}),
      Value(int64_t{0}),
      Value(std::numeric_limits<int64_t>::max()),
      Value(std::numeric_limits<int64_t>::min()),
      Value(3.25),
      Value(-1e300),
      Value(std::string()),
      Value(std::string("héllo, wörld")),
      Value(with_nul),
  };
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_TRUE(insert("k" + std::to_string(i), values[i]).has_value()) << i;
  }
  auto rows = db_->runFor<Rows>(
      Access::Read, [](Transaction& tx) { return tx.query("SELECT k, v FROM t ORDER BY rowid"); });
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  ASSERT_EQ(rows->size(), values.size());
  EXPECT_EQ(rows->columns()[1], "v");
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(rows->row(i)[1], values[i]) << "row " << i;
  }
  EXPECT_EQ(rows->text(8, 1).size(), 4u);
  EXPECT_EQ(rows->integer(2, 1), std::numeric_limits<int64_t>::max());
}

TEST_F(SqliteDatabaseTest, BlobsReadAsStrings) {
  auto rows =
      db_->runFor<Rows>(Access::Read, [](Transaction& tx) { return tx.query("SELECT X'00FF41'"); });
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  EXPECT_EQ(rows->text(0, 0), std::string("\x00\xff"
                                          "A",
                                          3));
}

TEST_F(SqliteDatabaseTest, ReusedStatementTakesNewParametersEachTime) {
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

TEST_F(SqliteDatabaseTest, WrongParameterCountIsAnError) {
  Status s = db_->run(Access::Write, [](Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", {"only one"}));
    return ok();
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::InvalidArgument);
  EXPECT_THAT(s.error().message, HasSubstr("2 parameters but 1"));
}

TEST_F(SqliteDatabaseTest, OneStatementPerCall) {
  Status s = db_->run(Access::Write, [](Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute("INSERT INTO t VALUES ('a', 1); INSERT INTO t VALUES ('b', 2)"));
    return ok();
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_THAT(s.error().message, HasSubstr("one statement per call"));
  EXPECT_EQ(count().value(), 0);
}

TEST_F(SqliteDatabaseTest, SqlErrorsQuoteTheSqliteMessageAndTheStatement) {
  Status s = db_->run(Access::Read, [](Transaction& tx) -> Status {
    CHTLINK_TRY(
        tx.query("SELECT nosuchcolumn FROM t WHERE k = 'this is a rather long statement "
                 "text that goes on beyond eighty characters for sure'"));
    return ok();
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::Internal);
  EXPECT_THAT(s.error().message, HasSubstr("no such column: nosuchcolumn"));
  EXPECT_THAT(s.error().message, HasSubstr("SELECT nosuchcolumn FROM t WHERE"));
  EXPECT_THAT(s.error().message, HasSubstr("..."));
  EXPECT_THAT(s.error().message, ::testing::Not(HasSubstr("for sure")));
}

TEST_F(SqliteDatabaseTest, ConstraintViolationIsConflict) {
  ASSERT_TRUE(insert("a", int64_t{1}).has_value());
  Status s = insert("a", int64_t{2});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::Conflict);
  EXPECT_THAT(s.error().message, HasSubstr("UNIQUE constraint failed"));
}

TEST_F(SqliteDatabaseTest, ForeignKeysAreEnforced) {
  Status s = db_->run(Access::Write, [](Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, k TEXT REFERENCES t(k))"));
    CHTLINK_TRY(tx.execute("INSERT INTO child (k) VALUES ('missing')"));
    return ok();
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::Conflict);
  EXPECT_THAT(s.error().message, HasSubstr("FOREIGN KEY"));
}

TEST_F(SqliteDatabaseTest, ReadTransactionsCannotWrite) {
  Status s = db_->run(Access::Read, [](Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute("INSERT INTO t (k, v) VALUES ('a', 1)"));
    return ok();
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(count().value(), 0);
}

TEST_F(SqliteDatabaseTest, PostReturnsAtOnceAndCallsBackOnADatabaseThread) {
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

TEST_F(SqliteDatabaseTest, ReadsRunInParallel) {
  // Each read waits inside its transaction until the other has started: they only both
  // finish if two reader connections run them at the same time.
  std::atomic<int> started{0};
  std::atomic<int> succeeded{0};
  std::atomic<int> finished{0};
  for (int i = 0; i < 2; ++i) {
    db_->post(
        Access::Read,
        [&](Transaction& tx) -> Status {
          CHTLINK_TRY(tx.query("SELECT COUNT(*) FROM t"));
          ++started;
          if (!waitUntil([&] { return started.load() == 2; })) {
            return internalError("the other read never started");
          }
          return ok();
        },
        [&](Status s) {
          if (s.has_value()) ++succeeded;
          ++finished;
        });
  }
  ASSERT_TRUE(waitUntil([&] { return finished.load() == 2; }, std::chrono::seconds(20)));
  EXPECT_EQ(succeeded.load(), 2);
}

TEST_F(SqliteDatabaseTest, ReadsSeeTheLastCommitWhileAWriteIsOpen) {
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

TEST_F(SqliteDatabaseTest, RefusesWorkBeyondMaxPending) {
  StoreOptions options;
  options.max_pending = 2;
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

TEST_F(SqliteDatabaseTest, UrgentWritesGoAheadOfQueuedWrites) {
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

TEST_F(SqliteDatabaseTest, RunOnADatabaseThreadFailsInsteadOfDeadlocking) {
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

TEST_F(SqliteDatabaseTest, QueuedWorkStillRunsWhenTheDatabaseCloses) {
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

TEST_F(SqliteDatabaseTest, SynchronousFullIsSelectable) {
  StoreOptions options;
  options.sqlite_synchronous = "full";
  open(options);
  auto mode = db_->runFor<int64_t>(Access::Read, [](Transaction& tx) -> Result<int64_t> {
    CHTLINK_ASSIGN_OR_RETURN(Rows rows, tx.query("PRAGMA synchronous"));
    return rows.integer(0, 0);
  });
  ASSERT_TRUE(mode.has_value()) << mode.error().message;
  EXPECT_EQ(*mode, 2);  // FULL
  EXPECT_THAT(db_->describe(), HasSubstr("synchronous=full"));
}

}  // namespace
}  // namespace chtlink::store
