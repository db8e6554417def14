#include "store/sqlite/sqlite_connection.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cctype>
#include <climits>
#include <exception>
#include <limits>
#include <type_traits>
#include <utility>

namespace chtlink::store::sqlite {

namespace {

constexpr size_t kSqlSnippetChars = 80;

// The start of `sql` on one line, for error messages.
std::string snippet(std::string_view sql) {
  std::string out;
  bool space = false;
  for (char c : sql) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    if (out.size() >= kSqlSnippetChars) {
      out += "...";
      break;
    }
    out += c;
  }
  return out;
}

bool onlyWhitespace(const char* begin, const char* end) {
  for (const char* p = begin; p < end; ++p) {
    if (!std::isspace(static_cast<unsigned char>(*p))) return false;
  }
  return true;
}

class SqliteTransaction final : public Transaction {
 public:
  SqliteTransaction(SqliteConnection& conn, const Dialect& dialect)
      : conn_(conn), dialect_(dialect) {}

  // Transaction
  using Transaction::execute;
  using Transaction::query;
  Result<Rows> query(std::string_view sql, std::span<const Value> params) override {
    return conn_.query(sql, params);
  }
  Result<int64_t> execute(std::string_view sql, std::span<const Value> params) override {
    return conn_.execute(sql, params);
  }
  const Dialect& dialect() const override { return dialect_; }
  // One write transaction at a time already (BEGIN IMMEDIATE on the one writer connection).
  Status lockUntilCommit(std::string_view) override { return ok(); }

 private:
  SqliteConnection& conn_;
  const Dialect& dialect_;
};

// Resets a cached statement after use so it holds no lock and no stale bindings.
class StatementUse {
 public:
  explicit StatementUse(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StatementUse() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

Value readColumn(sqlite3_stmt* stmt, int col) {
  switch (sqlite3_column_type(stmt, col)) {
    case SQLITE_INTEGER:
      return Value(static_cast<int64_t>(sqlite3_column_int64(stmt, col)));
    case SQLITE_FLOAT:
      return Value(sqlite3_column_double(stmt, col));
    case SQLITE_TEXT: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
      int n = sqlite3_column_bytes(stmt, col);
      return Value(p == nullptr ? std::string() : std::string(p, static_cast<size_t>(n)));
    }
    case SQLITE_BLOB: {
      const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, col));
      int n = sqlite3_column_bytes(stmt, col);
      return Value(p == nullptr ? std::string() : std::string(p, static_cast<size_t>(n)));
    }
    default:
      return Value(Null{});
  }
}

}  // namespace

Error sqliteError(int rc, std::string_view sqlite_message, std::string_view sql) {
  std::string message =
      sql.empty() ? fmt::format("database error: {}", sqlite_message)
                  : fmt::format("database error: {} [SQL: {}]", sqlite_message, snippet(sql));
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return conflict(std::move(message), "constraint_violation");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return unavailable(std::move(message), "database_busy");
    default:
      return internalError(std::move(message), "database_error");
  }
}

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::open(
    const std::string& path, Role role, const ConnectionSettings& settings) {
  // Readers never create the file: the writer opened (and created) it first.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (role == Role::Writer) flags |= SQLITE_OPEN_CREATE;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return failedPrecondition(
        fmt::format("cannot open sqlite database {}: {} (check that the directory exists and "
                    "is writable by this user)",
                    path, why),
        "database_open_failed");
  }
  std::unique_ptr<SqliteConnection> conn(new SqliteConnection(db, path, settings));
  // SQLite silently falls back to read-only when the file is not writable; refuse that at
  // startup instead of failing on the first write.
  if (sqlite3_db_readonly(db, "main") == 1) {
    return failedPrecondition(
        fmt::format("cannot open sqlite database {} for writing: the file is read-only", path),
        "database_read_only");
  }
  Status configured = conn->configure(role);
  if (!configured.has_value()) {
    return configured.error().withContext(fmt::format("cannot open sqlite database {}", path));
  }
  return conn;
}

SqliteConnection::SqliteConnection(sqlite3* db, std::string path, ConnectionSettings settings)
    : db_(db), path_(std::move(path)), settings_(settings) {
  sqlite3_extended_result_codes(db_, 1);
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  sqlite3_close_v2(db_);
}

Status SqliteConnection::configure(Role role) {
  auto timeout = settings_.busy_timeout.count();
  sqlite3_busy_timeout(db_, timeout > INT_MAX ? INT_MAX : static_cast<int>(timeout));
  if (role == Role::Writer) {
    // WAL lets readers run while the writer commits. The mode is stored in the file, so
    // readers opened afterwards inherit it.
    CHTLINK_ASSIGN_OR_RETURN(Rows mode, queryUncached("PRAGMA journal_mode=WAL"));
    std::string got = mode.empty() ? std::string() : mode.text(0, 0);
    if (got != "wal") {
      return failedPrecondition(
          fmt::format("cannot switch to WAL journal mode (the file system answered \"{}\"); put "
                      "the database on a local disk",
                      got),
          "database_no_wal");
    }
  }
  // synchronous=NORMAL (the default) in WAL mode syncs the WAL only at checkpoints: a process
  // crash, even SIGKILL, loses no committed transaction, because commits are in the WAL file
  // the OS already holds; only an OS crash or power loss can lose the last commits.
  // synchronous=FULL (store.sqlite_synchronous = "full") fsyncs the WAL on every commit and
  // survives power loss too, at the cost of one fsync per write transaction.
  CHTLINK_TRY(queryUncached(settings_.synchronous_full ? "PRAGMA synchronous=FULL"
                                                       : "PRAGMA synchronous=NORMAL"));
  CHTLINK_TRY(queryUncached("PRAGMA foreign_keys=ON"));
  // A write on a reader connection is a bug in the caller (Access::Read with an INSERT);
  // refuse it rather than let it take the write lock behind the writer's back.
  if (role == Role::Reader) CHTLINK_TRY(queryUncached("PRAGMA query_only=ON"));
  // Group commit (SqliteConnection::transactGroup) runs each write in a savepoint, and SQLite
  // keeps the original of every page a savepoint changes in a statement journal that spills
  // to a temporary file: on disk that doubled the bytes written per FHIR create. In memory
  // it is bounded by the pages one group changes.
  if (role == Role::Writer) CHTLINK_TRY(queryUncached("PRAGMA temp_store=MEMORY"));
  return ok();
}

Result<sqlite3_stmt*> SqliteConnection::prepareCached(std::string_view sql) {
  ++use_counter_;
  if (auto it = cache_.find(sql); it != cache_.end()) {
    it->second.last_used = use_counter_;
    return it->second.stmt;
  }
  if (sql.size() >= static_cast<size_t>(std::numeric_limits<int>::max())) {
    return invalidArgument(fmt::format("SQL text too long ({} bytes)", sql.size()));
  }
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) return sqliteError(rc, sqlite3_errmsg(db_), sql);
  if (stmt == nullptr) {
    return invalidArgument(fmt::format("empty SQL statement [SQL: {}]", snippet(sql)), "bad_sql");
  }
  if (!onlyWhitespace(tail, sql.data() + sql.size())) {
    sqlite3_finalize(stmt);
    return invalidArgument(
        fmt::format("one statement per call; found more after the first [SQL: {}]", snippet(sql)),
        "bad_sql");
  }
  if (cache_.size() >= settings_.statement_cache_size && !cache_.empty()) {
    // Linear scan: only reached when the cache is full, which well-behaved callers (fixed SQL
    // texts) never hit.
    auto oldest = cache_.begin();
    for (auto it = cache_.begin(); it != cache_.end(); ++it) {
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    }
    sqlite3_finalize(oldest->second.stmt);
    cache_.erase(oldest);
  }
  cache_.emplace(std::string(sql), Cached{stmt, use_counter_});
  return stmt;
}

Result<int64_t> SqliteConnection::step(sqlite3_stmt* stmt, std::string_view sql,
                                       std::span<const Value> params, Rows* out) {
  StatementUse use(stmt);
  int expected = sqlite3_bind_parameter_count(stmt);
  if (static_cast<size_t>(expected) != params.size()) {
    return invalidArgument(fmt::format("statement has {} parameters but {} were given [SQL: {}]",
                                       expected, params.size(), snippet(sql)),
                           "bad_sql");
  }
  for (size_t i = 0; i < params.size(); ++i) {
    int index = static_cast<int>(i) + 1;
    int rc = std::visit(
        [&](const auto& v) -> int {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, Null>) {
            return sqlite3_bind_null(stmt, index);
          } else if constexpr (std::is_same_v<T, int64_t>) {
            return sqlite3_bind_int64(stmt, index, v);
          } else if constexpr (std::is_same_v<T, double>) {
            return sqlite3_bind_double(stmt, index, v);
          } else {
            // SQLITE_STATIC: `params` outlives the statement's use, and StatementUse clears
            // the bindings before it returns.
            return sqlite3_bind_text64(stmt, index, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
          }
        },
        params[i]);
    if (rc != SQLITE_OK) return sqliteError(rc, sqlite3_errmsg(db_), sql);
  }

  std::vector<std::vector<Value>> rows;
  int columns = sqlite3_column_count(stmt);
  int rc = sqlite3_step(stmt);
  while (rc == SQLITE_ROW) {
    if (out != nullptr) {
      std::vector<Value> row;
      row.reserve(static_cast<size_t>(columns));
      for (int c = 0; c < columns; ++c) row.push_back(readColumn(stmt, c));
      rows.push_back(std::move(row));
    }
    rc = sqlite3_step(stmt);
  }
  if (rc != SQLITE_DONE) return sqliteError(rc, sqlite3_errmsg(db_), sql);
  if (out != nullptr) {
    std::vector<std::string> names;
    names.reserve(static_cast<size_t>(columns));
    for (int c = 0; c < columns; ++c) {
      const char* name = sqlite3_column_name(stmt, c);
      names.emplace_back(name == nullptr ? "" : name);
    }
    *out = Rows(std::move(names), std::move(rows));
  }
  return static_cast<int64_t>(sqlite3_changes64(db_));
}

Result<Rows> SqliteConnection::query(std::string_view sql, std::span<const Value> params) {
  CHTLINK_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, prepareCached(sql));
  Rows rows;
  CHTLINK_TRY(step(stmt, sql, params, &rows));
  return rows;
}

Result<int64_t> SqliteConnection::execute(std::string_view sql, std::span<const Value> params) {
  CHTLINK_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, prepareCached(sql));
  return step(stmt, sql, params, nullptr);
}

Result<Rows> SqliteConnection::queryUncached(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return sqliteError(rc, sqlite3_errmsg(db_), sql);
  }
  Rows rows;
  auto stepped = step(stmt, sql, {}, &rows);
  sqlite3_finalize(stmt);
  if (!stepped.has_value()) return std::move(stepped).error();
  return rows;
}

Status SqliteConnection::transact(Access access, const Dialect& dialect,
                                  const Database::Work& work) {
  auto begin = execute(access == Access::Write ? "BEGIN IMMEDIATE" : "BEGIN", {});
  if (!begin.has_value()) return begin.error().withContext("starting a transaction");

  SqliteTransaction tx(*this, dialect);
  Status result = ok();
  try {
    result = work(tx);
  } catch (const std::exception& e) {
    result =
        internalError(fmt::format("database work threw an exception: {}", e.what()), "exception");
  } catch (...) {
    result = internalError("database work threw an exception of unknown type", "exception");
  }

  if (result.has_value()) {
    if (sqlite3_get_autocommit(db_) != 0) {
      return internalError(
          "database work ended its transaction itself (COMMIT or ROLLBACK "
          "inside work); its effects may be partly committed",
          "transaction_misuse");
    }
    auto commit = execute("COMMIT", {});
    if (commit.has_value()) return ok();
    result = commit.error().withContext("committing");
  }
  rollback(result);
  return result;
}

namespace {

Status runWork(const Database::Work& work, Transaction& tx) {
  try {
    return work(tx);
  } catch (const std::exception& e) {
    return internalError(fmt::format("database work threw an exception: {}", e.what()),
                         "exception");
  } catch (...) {
    return internalError("database work threw an exception of unknown type", "exception");
  }
}

}  // namespace

std::vector<Status> SqliteConnection::transactGroup(const Dialect& dialect,
                                                    std::span<const Database::Work* const> works,
                                                    const std::function<bool()>& stop) {
  std::vector<Status> results(works.size(), ok());
  if (works.size() == 1) {
    results[0] = transact(Access::Write, dialect, *works[0]);
    return results;
  }
  size_t next = 0;
  while (next < works.size()) {
    const size_t first = next;
    auto begin = execute("BEGIN IMMEDIATE", {});
    if (!begin.has_value()) {
      Error e = begin.error().withContext("starting a transaction");
      for (size_t i = first; i < works.size(); ++i) results[i] = e;
      return results;
    }
    SqliteTransaction tx(*this, dialect);
    bool aborted = false;  // the transaction ended under us; [first, next) did not commit
    bool stopped = false;
    for (; next < works.size(); ++next) {
      if (next > 0 && stop && stop()) {
        stopped = true;
        break;
      }
      auto savepoint = execute("SAVEPOINT chtlink_group", {});
      if (!savepoint.has_value()) {
        results[next] = savepoint.error().withContext("starting a savepoint");
        aborted = sqlite3_get_autocommit(db_) != 0;
        if (aborted) {
          ++next;
          break;
        }
        continue;
      }
      Status result = runWork(*works[next], tx);
      if (sqlite3_get_autocommit(db_) != 0) {
        // SQLite rolled the whole transaction back (e.g. SQLITE_FULL), or the work ended it
        // itself: nothing since BEGIN is committed.
        results[next] = result.has_value()
                            ? internalError(
                                  "database work ended its transaction itself (COMMIT or "
                                  "ROLLBACK inside work); its effects may be partly committed",
                                  "transaction_misuse")
                            : result;
        aborted = true;
        ++next;
        break;
      }
      if (result.has_value()) {
        auto released = execute("RELEASE chtlink_group", {});
        if (!released.has_value()) result = released.error().withContext("releasing a savepoint");
      }
      if (!result.has_value()) {
        auto undone = execute("ROLLBACK TO chtlink_group", {});
        if (undone.has_value()) undone = execute("RELEASE chtlink_group", {});
        if (!undone.has_value()) {
          Error e = result.error();
          e.message += "; rolling back its savepoint failed too: " + undone.error().message;
          result = std::move(e);
        }
      }
      results[next] = std::move(result);
    }
    if (aborted) {
      Error e = unavailable(
          "the write was rolled back because another write committed in the same group "
          "failed the whole transaction; retry",
          "group_commit_aborted");
      for (size_t i = first; i + 1 < next; ++i)
        if (results[i].has_value()) results[i] = e;
      rollback(results[next - 1]);
      continue;  // the works after the failing one run in a new transaction
    }
    auto commit = execute("COMMIT", {});
    if (!commit.has_value()) {
      Status failed = commit.error().withContext("committing");
      rollback(failed);
      for (size_t i = first; i < next; ++i)
        if (results[i].has_value()) results[i] = failed;
    }
    if (stopped) break;
  }
  results.resize(next);
  return results;
}

void SqliteConnection::rollback(Status& result) {
  if (sqlite3_get_autocommit(db_) != 0) return;  // SQLite already rolled back (e.g. on FULL)
  auto rolled = execute("ROLLBACK", {});
  if (!rolled.has_value()) {
    Error e = result.error();
    e.message += "; rolling back failed too: " + rolled.error().message;
    result = std::move(e);
  }
}

}  // namespace chtlink::store::sqlite
