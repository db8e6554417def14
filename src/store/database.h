// store: the backend-neutral database interface every module persists through.
//
// A Database owns a pool of connections, each on its own thread; callers hand it work as a
// function of a Transaction. Nothing here runs on an I/O thread: use post() from I/O
// threads (the result comes back through a callback on a database thread) and run() only
// from threads that may block (CLI, workers, tests).
//
// SQL passed to Transaction uses `?` placeholders and the portable subset both backends
// speak (SQLite 3.40 and PostgreSQL 15: ON CONFLICT, RETURNING, LIMIT/OFFSET, CTEs).
// Engine-specific SQL lives only in the backends, reached through Dialect.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"

namespace spdlog {
class logger;
}

namespace chtlink::store {

struct Null {
  bool operator==(const Null&) const = default;
};
// A bound parameter or a column value. Text and blobs are both std::string.
using Value = std::variant<Null, int64_t, double, std::string>;

class Rows {
 public:
  Rows() = default;
  Rows(std::vector<std::string> columns, std::vector<std::vector<Value>> rows)
      : columns_(std::move(columns)), rows_(std::move(rows)) {}
  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }
  const std::vector<std::string>& columns() const { return columns_; }
  const std::vector<Value>& row(size_t i) const { return rows_[i]; }
  // Typed access; a NULL reads as 0 / "" / nullopt.
  int64_t integer(size_t row, size_t col) const;
  double real(size_t row, size_t col) const;
  std::string text(size_t row, size_t col) const;
  bool isNull(size_t row, size_t col) const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<Value>> rows_;
};

enum class Backend { Sqlite, Postgres };

// Engine-specific fragments, for the few statements the portable subset cannot express.
struct Dialect {
  Backend backend;
  // Column type of an auto-assigned 64-bit primary key, with PRIMARY KEY.
  std::string_view autoIdPrimaryKey() const;
  // Appended to a SELECT that claims rows for update by one of several workers
  // ("FOR UPDATE SKIP LOCKED" on PostgreSQL; SQLite has one writer and needs nothing).
  std::string_view lockForClaim() const;
  std::string_view blobType() const;
  // For copying whole databases (`chtlink store copy`):
  // A query listing this database's tables (one column: the name), schema_migrations
  // included, the engine's own tables excluded, in name order.
  std::string_view listTables() const;
  // A column that orders a table's rows stably without an index of ours, for paging through
  // a table ("rowid" on SQLite, "ctid" on PostgreSQL).
  std::string_view physicalRowOrder() const;
  // Statements that make the auto-assigned keys of `table`.`column` continue after the
  // largest copied value; empty when the engine does that by itself (SQLite). A query
  // listing those columns as (table, column) is identityColumns() (empty: none to list).
  std::string_view identityColumns() const;
  std::string resetIdentity(std::string_view table, std::string_view column) const;
};

class Transaction {
 public:
  virtual ~Transaction() = default;
  // Runs a statement that returns rows (SELECT, or anything with RETURNING).
  virtual Result<Rows> query(std::string_view sql, std::span<const Value> params) = 0;
  // Runs a statement; returns the number of rows it changed.
  virtual Result<int64_t> execute(std::string_view sql, std::span<const Value> params) = 0;
  virtual const Dialect& dialect() const = 0;
  // Holds the lock named `name` until this transaction ends: a transaction of another process
  // asking for the same name waits for this one to commit or roll back. For check-then-insert
  // work that must not interleave across processes (PostgreSQL: pg_advisory_xact_lock).
  // SQLite runs one write transaction at a time already, so there it does nothing.
  virtual Status lockUntilCommit(std::string_view name) = 0;

  Result<Rows> query(std::string_view sql, std::initializer_list<Value> params = {}) {
    return query(sql, std::span<const Value>(params.begin(), params.size()));
  }
  Result<int64_t> execute(std::string_view sql, std::initializer_list<Value> params = {}) {
    return execute(sql, std::span<const Value>(params.begin(), params.size()));
  }
};

// A named lock one process at a time holds, for work only one process may do at once (the
// pull-mode feed follower). Held until destroyed. PostgreSQL: a session advisory lock on a
// connection of its own, so when the holding process dies the server releases it and another
// process's tryAdvisoryLock() succeeds (fail-over). SQLite: a lock among the holders in this
// process (one process owns an SQLite file). Not thread-safe: one thread uses a lock at a time.
class AdvisoryLock {
 public:
  virtual ~AdvisoryLock() = default;
  // Ok while the lock is still held; an error once it was lost (PostgreSQL: its connection
  // broke, and another process may hold it now). Leaders call it before each unit of work.
  // Blocking (one round trip).
  virtual Status check() = 0;
  virtual const std::string& name() const = 0;
};

// Read transactions may run in parallel; write transactions are serialised by the backend
// (SQLite: one writer connection; PostgreSQL: the server's own locking).
enum class Access { Read, Write };

struct StoreOptions {
  // "sqlite:PATH" (the default, one file) or "postgresql://user:pass@host:port/db".
  std::string url = "sqlite:chtlink-data/chtlink.db";
  int read_connections = 2;
  // PostgreSQL only: connections (each on its own thread) serving write transactions; the
  // server's row locks let them run at once. SQLite always has one writer.
  int write_connections = 4;
  std::chrono::milliseconds busy_timeout{5'000};
  // SQLite `synchronous`: "normal" or "full". See sqlite_database.cc for the trade-off.
  std::string sqlite_synchronous = "normal";
  // Work queued for the pool beyond this is refused with Unavailable, not buffered forever.
  size_t max_pending = 10'000;
  // Prepared statements kept per connection (least recently used dropped beyond this), so
  // SQL built at run time cannot grow the cache without bound.
  size_t statement_cache_size = 256;
};

class Database {
 public:
  virtual ~Database() = default;

  using Work = std::function<Status(Transaction&)>;
  // Runs `work` in one transaction on a database thread: commit when it returns ok,
  // roll back when it returns an error or throws (the exception becomes an Internal error).
  // On PostgreSQL, work whose transaction hit a deadlock or serialization failure is rolled
  // back and run again, at most three times in all, so `work` must leave nothing behind outside
  // the transaction that a second run would double; after the last try the error is
  // Conflict with reason "transaction_aborted".
  // `done` runs on the database thread afterwards; it must not block for long. It may post()
  // more work, but not run() it. When the pool refuses the work (more than max_pending
  // queued: Unavailable; database closing: Unavailable), `done` runs at once on the
  // caller's thread, before post() returns. `work` must not keep the Transaction.
  virtual void post(Access access, Work work, std::function<void(Status)> done) = 0;
  // The same, blocking the caller until done. Never call it on an I/O thread; on one of the
  // database's own threads (inside work or done) it fails with FailedPrecondition instead
  // of deadlocking.
  virtual Status run(Access access, Work work) = 0;

  // post(Access::Write, ...) ahead of the ordinary writes already queued, for short
  // transactions that unblock other work (the job queue's claims and outcome records, which
  // free delivery slots). Callers keep at most a few of these pending. The default is post().
  virtual void postUrgentWrite(Work work, std::function<void(Status)> done) {
    post(Access::Write, std::move(work), std::move(done));
  }

  virtual const Dialect& dialect() const = 0;
  virtual std::string describe() const = 0;  // for logs, with secrets masked

  // Takes the named lock when no other holder has it; nullptr (not an error) when another
  // holder has it. Blocking (PostgreSQL opens a connection): never call it on an I/O thread.
  virtual Result<std::unique_ptr<AdvisoryLock>> tryAdvisoryLock(std::string_view name) = 0;

  // Typed convenience over run(): the value `work` returns when the transaction commits.
  template <typename T>
  Result<T> runFor(Access access, std::function<Result<T>(Transaction&)> work) {
    std::optional<Result<T>> out;
    Status s = run(access, [&](Transaction& tx) -> Status {
      out.emplace(work(tx));
      if (!out->has_value()) return out->error();
      return ok();
    });
    if (!s.has_value()) return std::move(s).error();
    return std::move(*out);
  }
};

// Opens (creating when needed) the database named by options.url. Errors name the path or
// URL and say what failed ("cannot open sqlite database /x/y.db: unable to open ...").
Result<std::unique_ptr<Database>> openDatabase(const StoreOptions& options,
                                               std::shared_ptr<spdlog::logger> log);

}  // namespace chtlink::store
