#include "store/postgres/postgres_database.h"

#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "store/postgres/postgres_connection.h"
#include "store/schema_migrations_internal.h"

namespace chtlink::store::postgres {

namespace {

constexpr int kMaxConnections = 64;

struct Task {
  Database::Work work;
  std::function<void(Status)> done;
};

// A session advisory lock on a connection of its own: the server releases it when the
// connection ends, which is what hands leadership over when a process dies.
class PostgresAdvisoryLock final : public AdvisoryLock {
 public:
  PostgresAdvisoryLock(std::unique_ptr<PostgresConnection> conn, std::string name)
      : conn_(std::move(conn)), name_(std::move(name)) {}

  // AdvisoryLock
  Status check() override {
    auto alive = conn_->simpleQuery("SELECT 1");
    if (!alive.has_value()) {
      return alive.error().withContext(
          fmt::format("advisory lock \"{}\" lost (its connection to {} broke; another process "
                      "may hold it now)",
                      name_, conn_->shownUrl()));
    }
    return ok();
  }
  const std::string& name() const override { return name_; }

 private:
  std::unique_ptr<PostgresConnection> conn_;  // closing it releases the lock
  std::string name_;
};

// Same shape as the SQLite pool: write work on the writer threads (urgent writes first), read
// work on the reader threads, each thread with its own connection. Unlike SQLite, several
// writers run at once; PostgreSQL's row locks order them.
class PostgresDatabase final : public Database {
 public:
  PostgresDatabase(ConnectionSettings settings, const StoreOptions& options,
                   std::shared_ptr<spdlog::logger> log,
                   std::vector<std::unique_ptr<PostgresConnection>> writers,
                   std::vector<std::unique_ptr<PostgresConnection>> readers)
      : settings_(std::move(settings)),
        max_pending_(options.max_pending),
        log_(std::move(log)),
        writer_conns_(std::move(writers)),
        reader_conns_(std::move(readers)) {
    for (auto& conn : writer_conns_) {
      threads_.emplace_back([this, c = conn.get()] { serve(*c, Access::Write); });
    }
    for (auto& conn : reader_conns_) {
      threads_.emplace_back([this, c = conn.get()] { serve(*c, Access::Read); });
    }
    for (const auto& t : threads_) thread_ids_.push_back(t.get_id());
  }

  ~PostgresDatabase() override {
    {
      std::lock_guard lock(mu_);
      closing_ = true;
    }
    write_cv_.notify_all();
    read_cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void post(Access access, Work work, std::function<void(Status)> done) override {
    enqueue(access == Access::Write ? Lane::Write : Lane::Read, std::move(work), std::move(done));
  }

  void postUrgentWrite(Work work, std::function<void(Status)> done) override {
    enqueue(Lane::UrgentWrite, std::move(work), std::move(done));
  }

  Status run(Access access, Work work) override {
    auto self = std::this_thread::get_id();
    if (std::find(thread_ids_.begin(), thread_ids_.end(), self) != thread_ids_.end()) {
      return failedPrecondition(
          "Database::run called on a database thread (inside work or a done callback); "
          "that would deadlock, use post() there",
          "database_reentry");
    }
    std::promise<Status> promise;
    auto future = promise.get_future();
    post(access, std::move(work), [&promise](Status s) { promise.set_value(std::move(s)); });
    return future.get();
  }

  const Dialect& dialect() const override { return dialect_; }

  std::string describe() const override {
    return fmt::format("{} ({} write and {} read connections)", settings_.shown_url,
                       writer_conns_.size(), reader_conns_.size());
  }

  Result<std::unique_ptr<AdvisoryLock>> tryAdvisoryLock(std::string_view name) override {
    CHTLINK_ASSIGN_OR_RETURN(auto conn, PostgresConnection::open(settings_));
    const Value key(advisoryLockKey(name));
    CHTLINK_ASSIGN_OR_RETURN(
        Rows rows, conn->query("SELECT pg_try_advisory_lock(?)", std::span<const Value>(&key, 1)));
    if (rows.empty() || rows.integer(0, 0) != 1) return std::unique_ptr<AdvisoryLock>();
    return std::unique_ptr<AdvisoryLock>(
        std::make_unique<PostgresAdvisoryLock>(std::move(conn), std::string(name)));
  }

 private:
  enum class Lane { Read, Write, UrgentWrite };

  void enqueue(Lane lane, Work work, std::function<void(Status)> done) {
    std::unique_lock lock(mu_);
    if (closing_) {
      lock.unlock();
      deliver(done,
              unavailable("database " + settings_.shown_url + " is closing", "database_closing"));
      return;
    }
    if (pending_ >= max_pending_) {
      lock.unlock();
      deliver(done,
              unavailable(fmt::format("database {} is overloaded: {} operations already queued "
                                      "(store.max_pending)",
                                      settings_.shown_url, max_pending_),
                          "database_overloaded"));
      return;
    }
    ++pending_;
    Task task{std::move(work), std::move(done)};
    switch (lane) {
      case Lane::Read:
        reads_.push_back(std::move(task));
        break;
      case Lane::Write:
        writes_.push_back(std::move(task));
        break;
      case Lane::UrgentWrite:
        urgent_writes_.push_back(std::move(task));
        break;
    }
    lock.unlock();
    (lane == Lane::Read ? read_cv_ : write_cv_).notify_one();
  }

  bool next(Access access, Task& task, PostgresConnection& conn) {
    std::unique_lock lock(mu_);
    if (conn.owesCommit() && !closing_ &&
        (access == Access::Read ? reads_.empty() : writes_.empty() && urgent_writes_.empty())) {
      // No work waiting: end the last read transaction now rather than with the next one.
      lock.unlock();
      conn.sendOwedCommit();
      lock.lock();
    }
    if (access == Access::Read) {
      read_cv_.wait(lock, [&] { return closing_ || !reads_.empty(); });
      if (reads_.empty()) return false;
      task = std::move(reads_.front());
      reads_.pop_front();
    } else {
      write_cv_.wait(lock, [&] { return closing_ || !writes_.empty() || !urgent_writes_.empty(); });
      auto& queue = urgent_writes_.empty() ? writes_ : urgent_writes_;
      if (queue.empty()) return false;
      task = std::move(queue.front());
      queue.pop_front();
    }
    --pending_;
    return true;
  }

  void serve(PostgresConnection& conn, Access access) {
    Task task;
    while (next(access, task, conn)) {
      Status result = conn.transact(access, dialect_, task.work);
      task.work = nullptr;
      deliver(task.done, std::move(result));
      task.done = nullptr;
    }
  }

  void deliver(const std::function<void(Status)>& done, Status result) {
    if (!done) return;
    try {
      done(std::move(result));
    } catch (const std::exception& e) {
      log_->error("database completion callback threw (ignored): {}", e.what());
    } catch (...) {
      log_->error("database completion callback threw a non-standard exception (ignored)");
    }
  }

  const ConnectionSettings settings_;
  const size_t max_pending_;
  const Dialect dialect_{Backend::Postgres};
  std::shared_ptr<spdlog::logger> log_;
  std::vector<std::unique_ptr<PostgresConnection>> writer_conns_;
  std::vector<std::unique_ptr<PostgresConnection>> reader_conns_;

  std::mutex mu_;
  std::condition_variable write_cv_;
  std::condition_variable read_cv_;
  std::deque<Task> writes_;
  std::deque<Task> urgent_writes_;
  std::deque<Task> reads_;
  size_t pending_ = 0;
  bool closing_ = false;

  std::vector<std::thread> threads_;
  std::vector<std::thread::id> thread_ids_;
};

Status validate(const StoreOptions& options) {
  if (options.read_connections < 1 || options.read_connections > kMaxConnections) {
    return invalidArgument(fmt::format("store.read_connections must be between 1 and {}, not {}",
                                       kMaxConnections, options.read_connections));
  }
  if (options.write_connections < 1 || options.write_connections > kMaxConnections) {
    return invalidArgument(fmt::format("store.write_connections must be between 1 and {}, not {}",
                                       kMaxConnections, options.write_connections));
  }
  if (options.max_pending < 1) return invalidArgument("store.max_pending must be at least 1");
  if (options.statement_cache_size < 1) {
    return invalidArgument("store.statement_cache_size must be at least 1");
  }
  if (options.busy_timeout.count() < 0) {
    return invalidArgument("store.busy_timeout must not be negative");
  }
  return ok();
}

}  // namespace

Result<std::unique_ptr<Database>> openPostgresDatabase(const std::string& url,
                                                       const StoreOptions& options,
                                                       std::shared_ptr<spdlog::logger> log) {
  CHTLINK_TRY(validate(options));
  if (log == nullptr) {
    log =
        std::make_shared<spdlog::logger>("store", std::make_shared<spdlog::sinks::null_sink_mt>());
  }
  ConnectionSettings settings;
  settings.url = url;
  settings.shown_url = maskPostgresUrl(url);
  settings.lock_timeout = options.busy_timeout;
  settings.statement_cache_size = options.statement_cache_size;

  std::vector<std::unique_ptr<PostgresConnection>> writers;
  for (int i = 0; i < options.write_connections; ++i) {
    CHTLINK_ASSIGN_OR_RETURN(auto conn, PostgresConnection::open(settings));
    writers.push_back(std::move(conn));
  }
  // The write check at open time, as for SQLite; the lock keeps two processes starting at
  // once from both creating the table.
  const Dialect dialect{Backend::Postgres};
  Status writable =
      writers.front()->transact(Access::Write, dialect, [](Transaction& tx) -> Status {
        CHTLINK_TRY(tx.lockUntilCommit(kMigrationsLockName));
        CHTLINK_TRY(tx.execute(kCreateSchemaMigrations));
        return ok();
      });
  if (!writable.has_value()) {
    return writable.error().withContext(
        fmt::format("cannot write PostgreSQL database {}", settings.shown_url));
  }
  std::vector<std::unique_ptr<PostgresConnection>> readers;
  for (int i = 0; i < options.read_connections; ++i) {
    CHTLINK_ASSIGN_OR_RETURN(auto conn, PostgresConnection::open(settings));
    readers.push_back(std::move(conn));
  }
  log->info("opened PostgreSQL database {} ({} write and {} read connections)", settings.shown_url,
            options.write_connections, options.read_connections);
  return std::unique_ptr<Database>(std::make_unique<PostgresDatabase>(
      std::move(settings), options, log, std::move(writers), std::move(readers)));
}

}  // namespace chtlink::store::postgres
