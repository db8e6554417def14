// One SQLite connection with its prepared-statement cache. Private to the SQLite backend.
//
// Not thread-safe: the pool gives each connection to exactly one thread for its whole life
// (which is why connections open with SQLITE_OPEN_NOMUTEX).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "store/database.h"

struct sqlite3;
struct sqlite3_stmt;

namespace chtlink::store::sqlite {

enum class Role { Writer, Reader };

struct ConnectionSettings {
  std::chrono::milliseconds busy_timeout{5'000};
  bool synchronous_full = false;
  size_t statement_cache_size = 256;
};

class SqliteConnection {
 public:
  // Opens `path` (creating it for the writer), applies the per-connection pragmas and, for the
  // writer, switches the file to WAL. Errors name the path.
  static Result<std::unique_ptr<SqliteConnection>> open(const std::string& path, Role role,
                                                        const ConnectionSettings& settings);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Result<Rows> query(std::string_view sql, std::span<const Value> params);
  Result<int64_t> execute(std::string_view sql, std::span<const Value> params);

  // Runs `work` in one transaction (BEGIN IMMEDIATE for Write, deferred BEGIN for Read):
  // commit when it returns ok, roll back when it fails or throws.
  Status transact(Access access, const Dialect& dialect, const Database::Work& work);
  // Runs several write works in one transaction, each in its own savepoint: a work that
  // fails (or throws) is rolled back alone; the others commit together. Returns one status
  // per work that ran; a failed COMMIT fails every work that had succeeded. Before each work
  // but the first, `stop` may end the group early: the works from there on do not run and
  // get no status (the caller queues them again). One work: transact().
  std::vector<Status> transactGroup(const Dialect& dialect,
                                    std::span<const Database::Work* const> works,
                                    const std::function<bool()>& stop);

  size_t cachedStatementCount() const { return cache_.size(); }
  const std::string& path() const { return path_; }

 private:
  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    uint64_t last_used = 0;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  SqliteConnection(sqlite3* db, std::string path, ConnectionSettings settings);
  Status configure(Role role);
  Result<sqlite3_stmt*> prepareCached(std::string_view sql);
  // Runs `stmt` to completion; collects rows into `out` when it is not null.
  Result<int64_t> step(sqlite3_stmt* stmt, std::string_view sql, std::span<const Value> params,
                       Rows* out);
  // Runs one statement without caching it (setup pragmas that run once per connection).
  Result<Rows> queryUncached(std::string_view sql);
  Error error(int rc, std::string_view sql) const;
  void rollback(Status& result);

  sqlite3* db_;
  std::string path_;
  ConnectionSettings settings_;
  std::unordered_map<std::string, Cached, StringHash, std::equal_to<>> cache_;
  uint64_t use_counter_ = 0;
};

// Maps an SQLite result code and message to a chtlink Error (CONSTRAINT -> Conflict,
// BUSY/LOCKED -> Unavailable, else Internal). The message quotes the start of `sql`.
Error sqliteError(int rc, std::string_view sqlite_message, std::string_view sql);

}  // namespace chtlink::store::sqlite
