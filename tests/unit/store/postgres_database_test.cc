// What only the PostgreSQL backend does: placeholder translation, several processes on one
// database (advisory locks and their fail-over, transaction locks, concurrent migrations),
// deadlock retries and reconnection. Runs on the test run's server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "postgres_server.h"
#include "store/database.h"
#include "store/migrations.h"
#include "store/postgres/postgres_connection.h"
#include "test_database.h"
#include "wait_until.h"

namespace chtlink::store {
namespace {

using ::chtlink::testing::waitUntil;
using ::testing::HasSubstr;

TEST(TranslatePlaceholdersTest, NumbersPlaceholdersOutsideLiteralsIdentifiersAndComments) {
  int count = 0;
  EXPECT_EQ(postgres::translatePlaceholders(
                "SELECT '?', 'it''s ?', \"col?\" FROM t -- why?\nWHERE a = ? /* ? */ AND b IN "
                "(?, ?)",
                count),
            "SELECT '?', 'it''s ?', \"col?\" FROM t -- why?\nWHERE a = $1 /* ? */ AND b IN "
            "($2, $3)");
  EXPECT_EQ(count, 3);
  EXPECT_EQ(postgres::translatePlaceholders("SELECT 1", count), "SELECT 1");
  EXPECT_EQ(count, 0);
}

TEST(MaskPostgresUrlTest, HidesThePasswordInTheAuthorityAndTheQuery) {
  EXPECT_EQ(postgres::maskPostgresUrl("postgresql://u:s3cret@db:5432/x?sslmode=require"),
            "postgresql://u:***@db:5432/x?sslmode=require");
  EXPECT_EQ(postgres::maskPostgresUrl("postgresql://db/x?user=u&password=s3cret&a=b"),
            "postgresql://db/x?user=u&password=***&a=b");
  EXPECT_EQ(postgres::maskPostgresUrl("postgresql://u@db/x"), "postgresql://u@db/x");
}

class PostgresDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = testing::freshPostgresDatabaseUrl();
    ASSERT_TRUE(url.has_value()) << url.error().message;
    url_ = *url;
    auto a = open();
    ASSERT_TRUE(a.has_value()) << a.error().message;
    a_ = std::move(a).value();
    auto b = open();
    ASSERT_TRUE(b.has_value()) << b.error().message;
    b_ = std::move(b).value();
  }

  // Another "process": a Database with connections of its own.
  Result<std::unique_ptr<Database>> open(int writers = 2) {
    StoreOptions options;
    options.url = url_;
    options.write_connections = writers;
    options.read_connections = 1;
    return openDatabase(options, testing::nullLogger());
  }

  Status exec(Database& db, const std::string& sql) {
    return db.run(Access::Write, [&](Transaction& tx) -> Status {
      CHTLINK_TRY(tx.execute(sql));
      return ok();
    });
  }

  std::string url_;
  std::unique_ptr<Database> a_;
  std::unique_ptr<Database> b_;
};

TEST_F(PostgresDatabaseTest, DescribeMasksThePassword) {
  EXPECT_THAT(a_->describe(), HasSubstr("chtlink:***@127.0.0.1"));
  EXPECT_THAT(a_->describe(), ::testing::Not(HasSubstr("secret")));
  EXPECT_EQ(a_->dialect().backend, Backend::Postgres);
}

TEST_F(PostgresDatabaseTest, AdvisoryLockFailsOverWhenTheHoldersConnectionDies) {
  auto held = a_->tryAdvisoryLock("cht.pull");
  ASSERT_TRUE(held.has_value()) << held.error().message;
  ASSERT_NE(*held, nullptr);
  auto refused = b_->tryAdvisoryLock("cht.pull");
  ASSERT_TRUE(refused.has_value()) << refused.error().message;
  EXPECT_EQ(*refused, nullptr);

  // The holder's process "dies": the server ends its session, which releases the lock.
  const int64_t key = postgres::advisoryLockKey("cht.pull");
  auto killed = b_->runFor<int64_t>(Access::Write, [&](Transaction& tx) -> Result<int64_t> {
    CHTLINK_ASSIGN_OR_RETURN(
        Rows rows,
        tx.query("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = "
                 "'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = ?",
                 {key}));
    return rows.integer(0, 0);
  });
  ASSERT_TRUE(killed.has_value()) << killed.error().message;
  EXPECT_EQ(*killed, 1);

  std::unique_ptr<AdvisoryLock> taken;
  ASSERT_TRUE(waitUntil([&] {
    auto attempt = b_->tryAdvisoryLock("cht.pull");
    if (attempt.has_value() && *attempt != nullptr) taken = std::move(attempt).value();
    return taken != nullptr;
  }));
  Status lost = (*held)->check();
  ASSERT_FALSE(lost.has_value());
  EXPECT_THAT(lost.error().message, HasSubstr("advisory lock \"cht.pull\" lost"));
  EXPECT_TRUE(taken->check().has_value());
}

TEST_F(PostgresDatabaseTest, LockUntilCommitMakesAnotherProcessWaitForTheCommit) {
  ASSERT_TRUE(exec(*a_, "CREATE TABLE events (who TEXT NOT NULL, at BIGINT NOT NULL)").has_value());
  std::atomic<bool> a_locked{false};
  std::atomic<bool> release{false};
  std::atomic<bool> a_done{false};
  a_->post(
      Access::Write,
      [&](Transaction& tx) -> Status {
        CHTLINK_TRY(tx.lockUntilCommit("fhir.conditional-create"));
        CHTLINK_TRY(tx.execute("INSERT INTO events (who, at) VALUES ('a', 1)"));
        a_locked = true;
        if (!waitUntil([&] { return release.load(); })) return internalError("never released");
        return ok();
      },
      [&](Status s) {
        EXPECT_TRUE(s.has_value());
        a_done = true;
      });
  ASSERT_TRUE(waitUntil([&] { return a_locked.load(); }));
  std::atomic<bool> b_done{false};
  std::atomic<int64_t> seen_by_b{-1};
  b_->post(
      Access::Write,
      [&](Transaction& tx) -> Status {
        CHTLINK_TRY(tx.lockUntilCommit("fhir.conditional-create"));
        // Only reached after a committed: its row is visible (READ COMMITTED).
        CHTLINK_ASSIGN_OR_RETURN(Rows rows, tx.query("SELECT COUNT(*) FROM events"));
        seen_by_b = rows.integer(0, 0);
        return ok();
      },
      [&](Status s) {
        EXPECT_TRUE(s.has_value());
        b_done = true;
      });
  EXPECT_FALSE(waitUntil([&] { return b_done.load(); }, std::chrono::milliseconds(300)));
  release = true;
  ASSERT_TRUE(waitUntil([&] { return a_done.load() && b_done.load(); }));
  EXPECT_EQ(seen_by_b.load(), 1);
}

TEST_F(PostgresDatabaseTest, ADeadlockVictimIsRunAgainAndBothCommit) {
  ASSERT_TRUE(exec(*a_, "CREATE TABLE acc (k TEXT PRIMARY KEY, v BIGINT NOT NULL)").has_value());
  ASSERT_TRUE(exec(*a_, "INSERT INTO acc VALUES ('x', 0), ('y', 0)").has_value());
  // Each transaction updates one row, waits until the other has updated its row, then
  // updates the other row: a deadlock the server breaks by aborting one of them.
  std::atomic<int> first_updates{0};
  std::atomic<int> runs{0};
  auto work = [&](const char* first, const char* second) {
    return [&, first, second](Transaction& tx) -> Status {
      ++runs;
      CHTLINK_TRY(tx.execute("UPDATE acc SET v = v + 1 WHERE k = ?", {first}));
      ++first_updates;
      waitUntil([&] { return first_updates.load() >= 2; });
      CHTLINK_TRY(tx.execute("UPDATE acc SET v = v + 1 WHERE k = ?", {second}));
      return ok();
    };
  };
  std::atomic<int> succeeded{0};
  std::atomic<int> finished{0};
  auto done = [&](Status s) {
    EXPECT_TRUE(s.has_value()) << s.error().message;
    if (s.has_value()) ++succeeded;
    ++finished;
  };
  a_->post(Access::Write, work("x", "y"), done);
  b_->post(Access::Write, work("y", "x"), done);
  ASSERT_TRUE(waitUntil([&] { return finished.load() == 2; }, std::chrono::seconds(20)));
  EXPECT_EQ(succeeded.load(), 2);
  EXPECT_EQ(runs.load(), 3);  // the victim ran twice
  auto sum = a_->runFor<Rows>(Access::Read,
                              [](Transaction& tx) { return tx.query("SELECT SUM(v) FROM acc"); });
  ASSERT_TRUE(sum.has_value());
  EXPECT_EQ(sum->integer(0, 0), 4);
}

TEST_F(PostgresDatabaseTest, WorkThatIgnoresAFailedStatementIsRolledBackAndSaysSo) {
  ASSERT_TRUE(exec(*a_, "CREATE TABLE u (k TEXT PRIMARY KEY)").has_value());
  Status s = a_->run(Access::Write, [](Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute("INSERT INTO u VALUES ('a')"));
    auto dup = tx.execute("INSERT INTO u VALUES ('a')");
    EXPECT_FALSE(dup.has_value());
    return ok();  // carries on regardless
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().reason, "transaction_misuse");
  auto n = a_->runFor<Rows>(Access::Read,
                            [](Transaction& tx) { return tx.query("SELECT COUNT(*) FROM u"); });
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->integer(0, 0), 0);
}

TEST_F(PostgresDatabaseTest, ReconnectsWhenTheServerEndedTheSessions) {
  // Ends every other session of this database user, including a_'s connections.
  ASSERT_TRUE(b_->run(Access::Write, [](Transaction& tx) -> Status {
                  CHTLINK_TRY(tx.query(
                      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> "
                      "pg_backend_pid() AND datname = current_database() AND "
                      "application_name = 'chtlink' AND backend_type = 'client backend' AND "
                      "state = 'idle' AND query NOT LIKE '%pg_try_advisory_lock%'"));
                  return ok();
                }).has_value());
  for (int i = 0; i < 3; ++i) {
    Status s = exec(*a_, "CREATE TABLE IF NOT EXISTS r (k TEXT)");
    EXPECT_TRUE(s.has_value()) << i << ": " << s.error().message;
  }
}

// A read transaction's BEGIN travels with its first statement and its COMMIT is not waited
// for (postgres_connection.h): it still reads one snapshot, ends on the server, and starts
// over on a new session when the server ended the old one.
TEST_F(PostgresDatabaseTest, ReadTransactionsKeepOneSnapshotAndEndOnTheServer) {
  ASSERT_TRUE(exec(*a_, "CREATE TABLE s (k TEXT)").has_value());
  int64_t reader_pid = 0;
  Status read = a_->run(Access::Read, [&](Transaction& tx) -> Status {
    CHTLINK_ASSIGN_OR_RETURN(auto pid, tx.query("SELECT pg_backend_pid()"));
    reader_pid = pid.integer(0, 0);
    CHTLINK_ASSIGN_OR_RETURN(auto before, tx.query("SELECT COUNT(*) FROM s"));
    EXPECT_EQ(before.integer(0, 0), 0);
    // Another process commits between two statements of this transaction.
    EXPECT_TRUE(exec(*b_, "INSERT INTO s VALUES ('x')").has_value());
    CHTLINK_ASSIGN_OR_RETURN(auto after, tx.query("SELECT COUNT(*) FROM s"));
    EXPECT_EQ(after.integer(0, 0), 0) << "a read transaction sees one snapshot";
    return ok();
  });
  ASSERT_TRUE(read.has_value()) << read.error().message;
  auto count = a_->runFor<Rows>(Access::Read,
                                [](Transaction& tx) { return tx.query("SELECT COUNT(*) FROM s"); });
  ASSERT_TRUE(count.has_value()) << count.error().message;
  EXPECT_EQ(count->integer(0, 0), 1);

  // The COMMIT reached the server: the reader's session is idle, not idle in transaction.
  auto state = [&]() -> std::string {
    auto rows = b_->runFor<Rows>(Access::Read, [&](Transaction& tx) {
      return tx.query("SELECT state FROM pg_stat_activity WHERE pid = ?", {reader_pid});
    });
    return rows.has_value() && !rows->empty() ? rows->text(0, 0) : "";
  };
  EXPECT_TRUE(waitUntil([&] { return state() == "idle"; })) << state();

  // The server ends the reader's session: the next reads, of a cached statement and of a new
  // one, start over on a new session.
  auto terminated = b_->runFor<Rows>(Access::Write, [&](Transaction& tx) {
    return tx.query("SELECT pg_terminate_backend(CAST(? AS INTEGER))", {reader_pid});
  });
  ASSERT_TRUE(terminated.has_value()) << terminated.error().message;
  ASSERT_TRUE(waitUntil([&] { return state().empty(); }));
  count = a_->runFor<Rows>(Access::Read,
                           [](Transaction& tx) { return tx.query("SELECT COUNT(*) FROM s"); });
  ASSERT_TRUE(count.has_value()) << count.error().message;
  EXPECT_EQ(count->integer(0, 0), 1);
  auto pid = a_->runFor<Rows>(Access::Read,
                              [](Transaction& tx) { return tx.query("SELECT pg_backend_pid()"); });
  ASSERT_TRUE(pid.has_value()) << pid.error().message;
  const int64_t new_pid = pid->integer(0, 0);
  EXPECT_NE(new_pid, reader_pid);
  ASSERT_TRUE(b_->run(Access::Write, [&](Transaction& tx) -> Status {
                  CHTLINK_TRY(
                      tx.query("SELECT pg_terminate_backend(CAST(? AS INTEGER))", {new_pid}));
                  return ok();
                }).has_value());
  reader_pid = new_pid;
  ASSERT_TRUE(waitUntil([&] { return state().empty(); }));
  auto fresh = a_->runFor<Rows>(
      Access::Read, [](Transaction& tx) { return tx.query("SELECT k FROM s WHERE k = 'x'"); });
  ASSERT_TRUE(fresh.has_value()) << fresh.error().message;
  EXPECT_EQ(fresh->size(), 1u);
}

// Reads queued back to back: each one's COMMIT travels in front of the next one's BEGIN.
// Every read sees the commits made before it started, a failing read in between (an error at
// prepare, while the previous COMMIT is still owed) leaves the rest unharmed, and the reader
// ends idle.
TEST_F(PostgresDatabaseTest, QueuedReadsEachSeeTheirOwnSnapshotAndTheReaderEndsIdle) {
  ASSERT_TRUE(exec(*a_, "CREATE TABLE q (n BIGINT)").has_value());
  constexpr int kReads = 60;
  std::vector<int64_t> seen(kReads, -1);
  std::vector<std::string> errors(kReads);
  std::atomic<int> done{0};
  for (int i = 0; i < kReads; ++i) {
    // Commits from b_ interleave with the queued reads of a_.
    if (i % 10 == 0) {
      ASSERT_TRUE(exec(*b_, "INSERT INTO q VALUES (" + std::to_string(i) + ")").has_value());
    }
    a_->post(
        Access::Read,
        [&, i](Transaction& tx) -> Status {
          if (i == kReads / 2) {
            CHTLINK_TRY(tx.query("SELECT n FROM no_such_table"));
          }
          CHTLINK_ASSIGN_OR_RETURN(auto rows, tx.query("SELECT COUNT(*) FROM q"));
          seen[static_cast<size_t>(i)] = rows.integer(0, 0);
          return ok();
        },
        [&, i](Status s) {
          if (!s.has_value()) errors[static_cast<size_t>(i)] = s.error().message;
          ++done;
        });
  }
  ASSERT_TRUE(waitUntil([&] { return done == kReads; }));
  for (int i = 0; i < kReads; ++i) {
    if (i == kReads / 2) {
      EXPECT_THAT(errors[static_cast<size_t>(i)], HasSubstr("no_such_table"));
      continue;
    }
    EXPECT_EQ(errors[static_cast<size_t>(i)], "") << i;
    // At least the inserts committed before this read was posted.
    EXPECT_GE(seen[static_cast<size_t>(i)], i / 10 + 1) << i;
  }
  auto idle = [&] {
    auto rows = b_->runFor<Rows>(Access::Read, [&](Transaction& tx) {
      return tx.query(
          "SELECT COUNT(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND "
          "pid IN (SELECT pid FROM pg_locks WHERE locktype = 'relation' AND relation = "
          "'q'::regclass)");
    });
    return rows.has_value() && rows->integer(0, 0) == 0;
  };
  EXPECT_TRUE(waitUntil(idle));
}

// A write transaction's BEGIN travels with its first statement too; work that ignores a
// statement failing at prepare (before the transaction began) is refused as when it fails
// inside one, and a transaction that ran no statement commits nothing and succeeds.
TEST_F(PostgresDatabaseTest, AStatementFailingBeforeBeginIsStillMisuse) {
  ASSERT_TRUE(exec(*a_, "CREATE TABLE w (k TEXT PRIMARY KEY)").has_value());
  Status s = a_->run(Access::Write, [](Transaction& tx) -> Status {
    auto bad = tx.execute("INSERT INTO no_such_table VALUES ('a')");
    EXPECT_FALSE(bad.has_value());
    CHTLINK_TRY(tx.execute("INSERT INTO w VALUES ('a')"));
    return ok();
  });
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().reason, "transaction_misuse");
  EXPECT_TRUE(a_->run(Access::Write, [](Transaction&) -> Status { return ok(); }).has_value());
  auto n = a_->runFor<Rows>(Access::Read,
                            [](Transaction& tx) { return tx.query("SELECT COUNT(*) FROM w"); });
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->integer(0, 0), 0);
}

TEST_F(PostgresDatabaseTest, TwoProcessesMigratingAtOnceApplyEachMigrationOnce) {
  const std::vector<Migration> migrations = {
      {"m", 1, "one", "CREATE TABLE m1 (id {{id}}, x TEXT)"},
      {"m", 2, "two", "CREATE TABLE m2 (id {{id}}, y TEXT); CREATE INDEX m2_y ON m2 (y)"},
  };
  std::atomic<int> succeeded{0};
  std::thread other([&] {
    if (migrate(*b_, migrations).has_value()) ++succeeded;
  });
  if (migrate(*a_, migrations).has_value()) ++succeeded;
  other.join();
  EXPECT_EQ(succeeded.load(), 2);
  auto rows = a_->runFor<Rows>(Access::Read, [](Transaction& tx) {
    return tx.query("SELECT COUNT(*) FROM schema_migrations WHERE module = 'm'");
  });
  ASSERT_TRUE(rows.has_value()) << rows.error().message;
  EXPECT_EQ(rows->integer(0, 0), 2);
}

}  // namespace
}  // namespace chtlink::store
