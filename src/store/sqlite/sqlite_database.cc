#include "store/sqlite/sqlite_database.h"

#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "store/schema_migrations_internal.h"
#include "store/sqlite/sqlite_connection.h"

namespace chtlink::store::sqlite {

namespace {

constexpr int kMaxReadConnections = 64;
// Write tasks committed together at most (see serveWrites).
constexpr size_t kMaxGroupCommit = 64;
constexpr std::chrono::milliseconds kGroupTimeBudget{10};

// The names held in this process. Shared with the locks handed out, which may outlive the
// database object.
struct HeldNames {
  std::mutex mu;
  std::set<std::string, std::less<>> names;
};

class InProcessLock final : public AdvisoryLock {
 public:
  InProcessLock(std::shared_ptr<HeldNames> held, std::string name)
      : held_(std::move(held)), name_(std::move(name)) {}
  ~InProcessLock() override {
    std::lock_guard lock(held_->mu);
    held_->names.erase(name_);
  }
  InProcessLock(const InProcessLock&) = delete;
  InProcessLock& operator=(const InProcessLock&) = delete;

  // AdvisoryLock
  Status check() override { return ok(); }
  const std::string& name() const override { return name_; }

 private:
  std::shared_ptr<HeldNames> held_;
  std::string name_;
};

struct Task {
  Database::Work work;
  std::function<void(Status)> done;
};

// Writes go to one connection on one thread: SQLite allows one writer at a time, and
// serialising in process means writers queue here instead of spinning on SQLITE_BUSY.
// Reads go to a shared queue served by the reader threads, each with its own connection,
// so they run in parallel with each other and with the writer (WAL).
class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(std::string path, const StoreOptions& options, std::shared_ptr<spdlog::logger> log,
                 std::unique_ptr<SqliteConnection> writer,
                 std::vector<std::unique_ptr<SqliteConnection>> readers)
      : path_(std::move(path)),
        synchronous_(options.sqlite_synchronous),
        max_pending_(options.max_pending),
        log_(std::move(log)),
        writer_conn_(std::move(writer)),
        reader_conns_(std::move(readers)) {
    threads_.emplace_back([this] { serveWrites(*writer_conn_); });
    for (auto& conn : reader_conns_) {
      threads_.emplace_back([this, c = conn.get()] { serve(*c, Access::Read); });
    }
    for (const auto& t : threads_) thread_ids_.push_back(t.get_id());
  }

  ~SqliteDatabase() override {
    {
      std::lock_guard lock(mu_);
      closing_ = true;
    }
    write_cv_.notify_all();
    read_cv_.notify_all();
    // Work already queued still runs: callers were told it was accepted.
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

  Result<std::unique_ptr<AdvisoryLock>> tryAdvisoryLock(std::string_view name) override {
    std::lock_guard lock(held_->mu);
    if (!held_->names.emplace(name).second) return std::unique_ptr<AdvisoryLock>();
    return std::unique_ptr<AdvisoryLock>(std::make_unique<InProcessLock>(held_, std::string(name)));
  }

  std::string describe() const override {
    return fmt::format("sqlite:{} (WAL, synchronous={}, {} read connections)", path_, synchronous_,
                       reader_conns_.size());
  }

 private:
  enum class Lane { Read, Write, UrgentWrite };

  void enqueue(Lane lane, Work work, std::function<void(Status)> done) {
    std::unique_lock lock(mu_);
    if (closing_) {
      lock.unlock();
      deliver(done, unavailable("database " + path_ + " is closing", "database_closing"));
      return;
    }
    if (pending_ >= max_pending_) {
      lock.unlock();
      deliver(done,
              unavailable(fmt::format("database {} is overloaded: {} operations already queued "
                                      "(store.max_pending)",
                                      path_, max_pending_),
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

  // Takes the next task for `access` (urgent writes first); false when closing and drained.
  bool next(Access access, Task& task) {
    std::unique_lock lock(mu_);
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

  // Takes the write tasks queued now (urgent ones first), at most kMaxGroupCommit; false
  // when closing and drained.
  bool nextWrites(std::vector<Task>& batch) {
    std::unique_lock lock(mu_);
    write_cv_.wait(lock, [&] { return closing_ || !writes_.empty() || !urgent_writes_.empty(); });
    for (auto* queue : {&urgent_writes_, &writes_}) {
      while (!queue->empty() && batch.size() < kMaxGroupCommit) {
        batch.push_back(std::move(queue->front()));
        queue->pop_front();
      }
    }
    pending_ -= batch.size();
    return !batch.empty();
  }

  // Group commit: the write tasks waiting together run one after another in one
  // transaction, each inside its own savepoint (a failing task rolls back only its own
  // changes), and commit once. Each commit appends every page it changed to the WAL, so
  // small writes that share pages (the last leaf of each table and index) cost far less
  // together. `done` still runs only after the commit that holds the task's changes.
  //
  // A group stops taking its next task once it has run for kGroupTimeBudget or an urgent
  // write is waiting: it commits, and its remaining tasks go back to the front of the queue.
  // So one group of long writes delays neither urgent writes nor its own first callers
  // much longer than without grouping.
  void serveWrites(SqliteConnection& conn) {
    std::vector<Task> batch;
    std::vector<const Work*> works;
    while (nextWrites(batch)) {
      works.clear();
      for (const auto& t : batch) works.push_back(&t.work);
      const auto start = std::chrono::steady_clock::now();
      auto stop = [&] {
        if (std::chrono::steady_clock::now() - start > kGroupTimeBudget) return true;
        std::lock_guard lock(mu_);
        return !urgent_writes_.empty();
      };
      std::vector<Status> results = conn.transactGroup(dialect_, works, stop);
      if (results.size() < batch.size()) {
        std::lock_guard lock(mu_);
        for (size_t i = batch.size(); i-- > results.size();)
          writes_.push_front(std::move(batch[i]));
        pending_ += batch.size() - results.size();
        batch.resize(results.size());
      }
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i].work = nullptr;
        deliver(batch[i].done, std::move(results[i]));
        batch[i].done = nullptr;
      }
      batch.clear();
    }
  }

  void serve(SqliteConnection& conn, Access access) {
    Task task;
    while (next(access, task)) {
      Status result = conn.transact(access, dialect_, task.work);
      // Release what the work captured before the callback runs, on this thread.
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

  const std::string path_;
  const std::string synchronous_;
  const size_t max_pending_;
  const Dialect dialect_{Backend::Sqlite};
  std::shared_ptr<spdlog::logger> log_;
  const std::shared_ptr<HeldNames> held_ = std::make_shared<HeldNames>();
  std::unique_ptr<SqliteConnection> writer_conn_;
  std::vector<std::unique_ptr<SqliteConnection>> reader_conns_;

  std::mutex mu_;
  std::condition_variable write_cv_;
  std::condition_variable read_cv_;
  std::deque<Task> writes_;
  std::deque<Task> urgent_writes_;  // served before writes_
  std::deque<Task> reads_;
  size_t pending_ = 0;
  bool closing_ = false;

  std::vector<std::thread> threads_;
  std::vector<std::thread::id> thread_ids_;  // fixed after construction
};

Status validate(const StoreOptions& options) {
  if (options.read_connections < 1 || options.read_connections > kMaxReadConnections) {
    return invalidArgument(fmt::format("store.read_connections must be between 1 and {}, not {}",
                                       kMaxReadConnections, options.read_connections));
  }
  if (options.sqlite_synchronous != "normal" && options.sqlite_synchronous != "full") {
    return invalidArgument(
        fmt::format("store.sqlite_synchronous must be \"normal\" or \"full\", not \"{}\"",
                    options.sqlite_synchronous));
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

// The write check at open time: a file SQLite can open but not write (read-only directory
// for the WAL, full disk) fails here, at startup, not on the first request.
Status createMigrationsTable(SqliteConnection& writer) {
  const Dialect dialect{Backend::Sqlite};
  return writer.transact(Access::Write, dialect, [](Transaction& tx) -> Status {
    CHTLINK_TRY(tx.execute(kCreateSchemaMigrations));
    return ok();
  });
}

}  // namespace

Result<std::unique_ptr<Database>> openSqliteDatabase(const std::string& path_text,
                                                     const StoreOptions& options,
                                                     std::shared_ptr<spdlog::logger> log) {
  CHTLINK_TRY(validate(options));
  if (path_text.empty()) {
    return invalidArgument("store.url: \"sqlite:\" needs a file path, e.g. sqlite:data/chtlink.db",
                           "bad_database_url");
  }
  if (sqlite3_threadsafe() == 0) {
    return failedPrecondition("the SQLite library was built without thread support");
  }
  if (log == nullptr) {
    log =
        std::make_shared<spdlog::logger>("store", std::make_shared<spdlog::sinks::null_sink_mt>());
  }

  std::error_code ec;
  std::filesystem::path path = std::filesystem::absolute(path_text, ec);
  if (ec) path = path_text;
  std::string shown = path.string();
  std::filesystem::path parent = path.parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return failedPrecondition(fmt::format("cannot open sqlite database {}: cannot create "
                                            "directory {}: {}",
                                            shown, parent.string(), ec.message()),
                                "database_open_failed");
    }
  }

  ConnectionSettings settings;
  settings.busy_timeout = options.busy_timeout;
  settings.synchronous_full = options.sqlite_synchronous == "full";
  settings.statement_cache_size = options.statement_cache_size;

  CHTLINK_ASSIGN_OR_RETURN(auto writer, SqliteConnection::open(shown, Role::Writer, settings));
  Status writable = createMigrationsTable(*writer);
  if (!writable.has_value()) {
    return writable.error().withContext(fmt::format("cannot write sqlite database {}", shown));
  }
  std::vector<std::unique_ptr<SqliteConnection>> readers;
  for (int i = 0; i < options.read_connections; ++i) {
    CHTLINK_ASSIGN_OR_RETURN(auto reader, SqliteConnection::open(shown, Role::Reader, settings));
    readers.push_back(std::move(reader));
  }
  log->info("opened sqlite database {} (WAL, synchronous={}, {} read connections)", shown,
            options.sqlite_synchronous, options.read_connections);
  return std::unique_ptr<Database>(
      std::make_unique<SqliteDatabase>(shown, options, log, std::move(writer), std::move(readers)));
}

}  // namespace chtlink::store::sqlite
