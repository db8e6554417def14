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
