// One PostgreSQL connection (libpq) with its prepared-statement cache. Private to the
// PostgreSQL backend.
//
// Not thread-safe: the pool gives each connection to exactly one thread for its whole life.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "store/database.h"

struct pg_conn;
struct pg_result;

namespace chtlink::store::postgres {

struct ConnectionSettings {
  std::string url;        // as configured, password included: only for PQconnectdbParams
  std::string shown_url;  // password masked: for every message
  std::chrono::milliseconds lock_timeout{5'000};
  size_t statement_cache_size = 256;
};

// Deadlocks and serialization failures end the transaction they hit; its work is run again.
inline constexpr int kMaxTransactionAttempts = 3;

class PostgresConnection {
 public:
  // Connects and applies the session settings. Errors name the URL (password masked).
  static Result<std::unique_ptr<PostgresConnection>> open(const ConnectionSettings& settings);
  ~PostgresConnection();
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  Result<Rows> query(std::string_view sql, std::span<const Value> params);
  Result<int64_t> execute(std::string_view sql, std::span<const Value> params);

  // Runs `work` in one transaction (Write: READ COMMITTED, the server's row locks order
  // writers; Read: REPEATABLE READ READ ONLY, one snapshot for every statement, like an SQLite
  // read transaction): commit when it returns ok, roll back when it fails or throws. Work that
  // hit a deadlock or serialization failure runs again, up to kMaxTransactionAttempts in all.
  // A broken connection is re-established before the transaction starts.
  //
  // Round trips: BEGIN travels with the first statement (one libpq pipeline). A read
  // transaction is done once its statements answered: read-only, it has nothing to lose at
  // COMMIT (REPEATABLE READ READ ONLY cannot fail to serialize; a broken connection does not
  // undo what it read). So its COMMIT is owed: it travels in front of the next transaction's
  // BEGIN, or, when the pool has no more work for this connection, is sent by
  // sendOwedCommit() without waiting for the answer (which the next use reads), so an idle
  // connection never holds a snapshot. A single-statement read under load is then one round
  // trip and one message each way, as in autocommit, and still has one snapshot for all its
  // statements.
  Status transact(Access access, const Dialect& dialect, const Database::Work& work);
  // Sends an owed COMMIT (see transact()); for the pool, before it waits for work.
  void sendOwedCommit();
  bool owesCommit() const { return commit_owed_; }

  // Runs one statement outside the cache and outside transact() (session settings, locks).
  Result<Rows> simpleQuery(std::string_view sql);

  size_t cachedStatementCount() const { return cache_.size(); }
  const std::string& shownUrl() const { return settings_.shown_url; }

 private:
  struct Cached {
    std::string name;  // server-side prepared statement name
    int parameters = 0;
    uint64_t last_used = 0;
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  PostgresConnection(pg_conn* conn, ConnectionSettings settings);
  Status configure();
  Status ensureConnected();
  Result<const Cached*> prepareCached(std::string_view sql, std::span<const Value> params);
  // Runs a prepared statement; fills `out` when not null; returns the rows affected.
  Result<int64_t> run(std::string_view sql, std::span<const Value> params, Rows* out);
  Error resultError(pg_result* result, std::string_view sql);
  Status runTransaction(Access access, const Dialect& dialect, const Database::Work& work);
  void rollback(Status& result);
  // Sends the pending BEGIN and the prepared statement `stmt` in one pipeline; the statement's
  // result, or an error when it could not run (BEGIN failed, or the connection broke).
  Result<pg_result*> execAfterBegin(const Cached& stmt, const std::vector<const char*>& values);
  // Reads the answer to a COMMIT sent without waiting (see transact()).
  void finishSentCommit();

  pg_conn* conn_;
  ConnectionSettings settings_;
  std::unordered_map<std::string, Cached, StringHash, std::equal_to<>> cache_;
  uint64_t use_counter_ = 0;
  uint64_t statement_counter_ = 0;
  bool retryable_failure_ = false;  // the current transaction hit a deadlock / serialization
  bool begin_failed_ = false;       // the current attempt failed at BEGIN
  // The BEGIN of the current transaction, sent with its first statement; null once sent.
  const char* pending_begin_ = nullptr;
  bool commit_owed_ = false;       // a read transaction is open until its COMMIT is sent
  bool commit_sent_ = false;       // a COMMIT whose answer is still to be read
  bool statement_failed_ = false;  // a statement of the current transaction failed
  bool needs_reset_ = false;       // a pipeline ended in a state only a new session clears
};

// `sql` with each `?` outside string literals, quoted identifiers and comments replaced by
// $1, $2, ...; `count` receives the number of placeholders.
std::string translatePlaceholders(std::string_view sql, int& count);

// "postgresql://user:secret@host/db" -> "postgresql://user:***@host/db" (also the
// password=... query parameter).
std::string maskPostgresUrl(std::string_view url);

// A stable 64-bit key for an advisory-lock name (FNV-1a), the same in every process.
int64_t advisoryLockKey(std::string_view name);

}  // namespace chtlink::store::postgres
