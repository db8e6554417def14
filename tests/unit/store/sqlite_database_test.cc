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
