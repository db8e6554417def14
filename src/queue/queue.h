// The durable job queue: enqueue inside the caller's transaction, a worker pool that
// delivers with a per-destination concurrency limit, exponential backoff with jitter, a
// dead-letter state after the last attempt, and leases so a crashed worker's job runs again.
//
// Delivery is at least once: a job whose worker died after delivering but before recording
// it runs again once its lease expires. Handlers make that harmless: every HTTP delivery
// carries the job id in the `X-Chtlink-Job-Id` header for the receiver to deduplicate.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/random.h"
#include "base/result.h"
#include "queue/job.h"
#include "store/database.h"
#include "store/migrations.h"

namespace spdlog {
class logger;
}

namespace chtlink::queue {

struct QueueOptions {
  int max_attempts = 10;
  std::chrono::milliseconds initial_backoff{1'000};
  std::chrono::milliseconds max_backoff{3'600'000};
  // A running job whose worker has not finished within the lease is taken back.
  std::chrono::milliseconds lease{60'000};
  int concurrency = 64;                 // jobs in flight in this process
  int concurrency_per_destination = 8;  // jobs in flight per destination
  // How often workers look for due jobs when nothing wakes them (retries, other processes).
  std::chrono::milliseconds poll_interval{500};
  int claim_batch = 64;
  // Due jobs examined per claim, as a multiple of claim_batch. Jobs for a destination at its
  // limit are skipped, so a longer scan still finds work for the other destinations.
  int claim_scan_factor = 8;
  // Retention, enforced by the worker pool every purge_interval (first at start): delivered
  // (done) jobs last updated longer ago than retain_done are deleted; 0 keeps them forever.
  // Dead-lettered jobs likewise with retain_dead, which defaults to 0 (kept): a dead job needs
  // a human to replay or remove it, so it is never dropped unless configured.
  std::chrono::milliseconds retain_done{std::chrono::hours(24 * 7)};
  std::chrono::milliseconds retain_dead{0};
  std::chrono::milliseconds purge_interval{std::chrono::minutes(10)};
  // Rows deleted per write transaction, so a purge never holds the writer for long: each
  // batch is its own transaction, queued behind the writes already waiting.
  int purge_batch = 1000;
};

// The schema of the queue's tables.
std::span<const store::Migration> migrations();

// Adds a job inside `tx`, so it commits or rolls back with the change that caused it.
Result<int64_t> enqueue(store::Transaction& tx, const JobSpec& spec, const QueueOptions& options,
                        TimePoint now);

// Deletes the pending jobs of `kind` for `destination` inside `tx` (the notifications of a
// deleted subscription); returns how many. Running jobs are left to finish.
Result<int64_t> cancelPending(store::Transaction& tx, std::string_view kind,
                              std::string_view destination);

// Deletes at most `limit` jobs in `state` (Done or Dead) last updated before `before`, oldest
// first, inside `tx`; returns how many.
Result<int64_t> purgeFinished(store::Transaction& tx, JobState state, TimePoint before, int limit);

// Number of jobs in each state (every state present, zero when empty), inside `tx`; for
// callers already on a database thread (the /metrics handler).
Result<std::map<JobState, int64_t>> countByState(store::Transaction& tx);

// The delay before attempt `attempt + 1` after `attempt` failures (attempt >= 1):
// initial * 2^(attempt-1), capped at max, with "equal jitter" (half fixed, half random) so
// a burst of failures does not retry in lockstep.
std::chrono::milliseconds backoffDelay(int attempt, const QueueOptions& options, Random& random);

// What a handler says about one delivery.
struct Outcome {
  enum class Kind { Delivered, Retry, Fail } kind = Kind::Delivered;
  std::string error;  // for Retry and Fail: what went wrong, kept as the job's last_error
  static Outcome delivered() { return {}; }
  static Outcome retry(std::string why) { return {Kind::Retry, std::move(why)}; }
  // Dead-letters at once (a request the receiver will never accept).
  static Outcome fail(std::string why) { return {Kind::Fail, std::move(why)}; }
};

class JobHandler {
 public:
  virtual ~JobHandler() = default;
  // Delivers `job` and calls `done` exactly once, from any thread. Must not block.
  virtual void handle(const Job& job, std::function<void(Outcome)> done) = 0;
};

struct JobFilter {
  std::optional<JobState> state;
  std::optional<std::string> kind;
  int limit = 100;
  int64_t after_id = 0;  // paging: jobs with id > after_id
};

// Operator and test access to jobs. Blocking: for the CLI, workers and tests.
class JobStore {
 public:
  JobStore(store::Database& db, const Clock& clock);
  Result<std::vector<Job>> list(const JobFilter& filter);
  Result<Job> get(int64_t id);
  // dead (or pending) -> pending, attempts reset, due now. NotFound / FailedPrecondition
  // (when the job is running or done) otherwise.
  Status replay(int64_t id);
  Result<int64_t> replayAllDead();
  Status remove(int64_t id);
  // Deletes delivered (done) jobs last updated before `before`, in transactions of at most
  // 1000 rows; returns how many. The worker pool does this on its own (retain_done).
  Result<int64_t> purgeDone(TimePoint before);
  // Number of jobs in each state (every state present, zero when empty).
  Result<std::map<JobState, int64_t>> depthByState();

 private:
  store::Database& db_;
  const Clock& clock_;
};

// The worker pool. Claims due jobs in batches (state running, lease owner and expiry set),
// hands each to the handler for its kind, and records the outcome. Also purges finished
// jobs past their retention (QueueOptions::retain_done / retain_dead).
//
// One dispatcher thread claims (never an I/O thread: it blocks on the database). Handlers'
// done callbacks may come from any thread; they never block: outcomes are collected and
// written in batches by the database's writer thread. An outcome is written only while this
// pool still holds the job's lease (same owner, same attempt), so a job whose lease expired
// and was claimed again elsewhere is never overwritten by the late first worker.
//
// A job of a kind with no handler in this pool is put back to pending, without counting an
// attempt, with last_error "no handler for kind X" and run_at pushed back by max_backoff (a
// process with the handler, or a replay, picks it up); each such kind is logged once.
// A running job whose lease expired after its last attempt is dead-lettered, not retried.
class WorkerPool {
 public:
  WorkerPool(store::Database& db, const Clock& clock, Random& random, QueueOptions options,
             std::shared_ptr<spdlog::logger> log);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Register before start(). Jobs of a kind with no handler stay pending, logged once.
  void addHandler(std::string kind, std::shared_ptr<JobHandler> handler);
  void start();
  // Wakes the workers now (call after committing an enqueue) instead of at the next poll.
  void notify();
  // Stops claiming, waits up to `drain` for jobs in flight; jobs still running keep their
  // lease and run again after it expires.
  void stop(std::chrono::milliseconds drain);
  // A unique id for this process's leases ("host:pid:random").
  const std::string& owner() const;

  // Claims and dispatches once, for tests driving a FakeClock. Returns jobs dispatched.
  Result<int> pollOnce();
  // What one purge deleted, and in how many write transactions (batches).
  struct PurgeStats {
    int64_t done = 0;
    int64_t dead = 0;
    int batches = 0;
  };
  // Purges now, as the pool does every purge_interval, blocking until every expired job is
  // gone; for tests driving a FakeClock and for the CLI. Never call it on an I/O thread.
  Result<PurgeStats> purgeOnce();
  // Blocks until every outcome reported before the call is written (the pool writes them on
  // its own; tests call this to observe a settled state). Returns the first write error.
  Status flushOutcomes();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace chtlink::queue
