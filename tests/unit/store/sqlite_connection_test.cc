// White-box tests of the SQLite connection: the statement cache and the error mapping.
#include "store/sqlite/sqlite_connection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "temp_dir.h"

namespace chtlink::store::sqlite {
namespace {

using ::chtlink::testing::TempDir;
using ::testing::HasSubstr;

std::unique_ptr<SqliteConnection> openWriter(const TempDir& dir, size_t cache_size) {
  ConnectionSettings settings;
  settings.statement_cache_size = cache_size;
  auto conn = SqliteConnection::open(dir.file("c.db"), Role::Writer, settings);
  EXPECT_TRUE(conn.has_value()) << conn.error().message;
  return conn.has_value() ? std::move(conn).value() : nullptr;
}

TEST(SqliteConnectionTest, KeepsOnePreparedStatementPerSqlText) {
  TempDir dir;
  auto conn = openWriter(dir, 16);
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->execute("CREATE TABLE t (k INTEGER, v TEXT)", {}).has_value());
  const size_t before = conn->cachedStatementCount();
  for (int64_t i = 0; i < 100; ++i) {
    std::vector<Value> params = {Value(i), Value("v" + std::to_string(i))};
    auto n = conn->execute("INSERT INTO t (k, v) VALUES (?, ?)", params);
    ASSERT_TRUE(n.has_value()) << n.error().message;
    EXPECT_EQ(*n, 1);
  }
  EXPECT_EQ(conn->cachedStatementCount(), before + 1);
  std::vector<Value> params = {Value(int64_t{42})};
  auto rows = conn->query("SELECT v FROM t WHERE k = ?", params);
  ASSERT_TRUE(rows.has_value());
  EXPECT_EQ(rows->text(0, 0), "v42");
}

TEST(SqliteConnectionTest, DropsTheLeastRecentlyUsedStatementWhenFull) {
  TempDir dir;
  auto conn = openWriter(dir, 2);
  ASSERT_NE(conn, nullptr);
  for (int round = 0; round < 3; ++round) {
    for (const char* sql : {"SELECT 1", "SELECT 2", "SELECT 3"}) {
      auto rows = conn->query(sql, {});
      ASSERT_TRUE(rows.has_value()) << rows.error().message;
      EXPECT_EQ(rows->text(0, 0), std::string(sql).substr(7));
    }
    EXPECT_LE(conn->cachedStatementCount(), 2u);
  }
}

TEST(SqliteConnectionTest, MapsSqliteCodesToErrorCodes) {
  EXPECT_EQ(sqliteError(SQLITE_CONSTRAINT_UNIQUE, "UNIQUE constraint failed", "INSERT").code,
            ErrorCode::Conflict);
  EXPECT_EQ(sqliteError(SQLITE_BUSY, "database is locked", "UPDATE").code, ErrorCode::Unavailable);
  EXPECT_EQ(sqliteError(SQLITE_BUSY_SNAPSHOT, "busy", "UPDATE").code, ErrorCode::Unavailable);
  Error e = sqliteError(SQLITE_IOERR, "disk I/O error", "SELECT\n  a,\n  b FROM x");
  EXPECT_EQ(e.code, ErrorCode::Internal);
  EXPECT_THAT(e.message, HasSubstr("disk I/O error"));
  EXPECT_THAT(e.message, HasSubstr("SELECT a, b FROM x"));  // on one line
}

}  // namespace
}  // namespace chtlink::store::sqlite
