#include <fmt/format.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <future>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "queue/job_row.h"
#include "queue/queue.h"

namespace chtlink::queue {

namespace {

using store::Access;
using store::Rows;
using store::Transaction;

// A job this pool has handed to a handler and not yet heard back about.
struct InFlight {
  std::string destination;
  int attempts = 0;  // the claim's attempt number: with the owner, identifies the lease
  TimePoint lease_expires_at;
};

// An outcome waiting to be written.
struct Completion {
  int64_t id = 0;
  int attempts = 0;
  JobState next = JobState::Done;
  int64_t at_ms = 0;
  int64_t run_at_ms = 0;  // when next is Pending
  std::string error;
};

std::string makeOwner(Random& random) {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return fmt::format("{}:{}:{:08x}", host[0] != '\0' ? host : "unknown", getpid(),
                     random.next64() & 0xffffffffU);
}

// Claims and outcome records go ahead of ordinary writes: each one frees or fills delivery
// slots, so waiting behind a backlog of writes would leave slots idle.
Status runUrgentWrite(store::Database& db, store::Database::Work work) {
  std::promise<Status> promise;
  auto future = promise.get_future();
  db.postUrgentWrite(std::move(work), [&promise](Status s) { promise.set_value(std::move(s)); });
  return future.get();
}

QueueOptions sanitized(QueueOptions o, spdlog::logger& log) {
  auto atLeastOne = [&](int& v, const char* name) {
    if (v < 1) {
      log.warn("queue.{} = {} is not allowed; using 1", name, v);
      v = 1;
    }
  };
  atLeastOne(o.concurrency, "concurrency");
  atLeastOne(o.concurrency_per_destination, "concurrency_per_destination");
  atLeastOne(o.claim_batch, "claim_batch");
  atLeastOne(o.claim_scan_factor, "claim_scan_factor");
  atLeastOne(o.max_attempts, "max_attempts");
  if (o.lease.count() < 1) o.lease = std::chrono::milliseconds(1);
  if (o.poll_interval.count() < 1) o.poll_interval = std::chrono::milliseconds(1);
  atLeastOne(o.purge_batch, "purge_batch");
  if (o.purge_interval.count() < 1) o.purge_interval = std::chrono::milliseconds(1);
  if (o.retain_done.count() < 0) o.retain_done = std::chrono::milliseconds(0);
  if (o.retain_dead.count() < 0) o.retain_dead = std::chrono::milliseconds(0);
  return o;
}

// One kind of finished job to purge, and the cut-off.
struct PurgeStep {
  JobState state = JobState::Done;
  TimePoint before;
};

// A purge running in the background: its steps, the current one, and what it deleted.
struct PurgeRun {
  std::vector<PurgeStep> steps;
  size_t step = 0;
  WorkerPool::PurgeStats stats;
};

// The pool's state, shared with the done callbacks handed to handlers: a handler may call
// one after the pool is gone, and must then find a closed pool rather than freed memory.
class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(store::Database& db, const Clock& clock, Random& random, QueueOptions options,
       std::shared_ptr<spdlog::logger> log)
      : db_(db),
        clock_(clock),
        random_(random),
        log_(std::move(log)),
        options_(sanitized(std::move(options), *log_)),
        owner_(makeOwner(random)) {}

  const std::string& owner() const { return owner_; }

  void addHandler(std::string kind, std::shared_ptr<JobHandler> handler) {
    std::lock_guard lock(mu_);
    handlers_[std::move(kind)] = std::move(handler);
  }

  void notify() {
    {
      std::lock_guard lock(mu_);
      wake_ = true;
    }
    cv_.notify_all();
  }

  Result<int> pollOnce();
  void dispatchLoop();
  // Stops claiming (the caller then joins the dispatcher) ...
  bool beginStop();
  // ... then waits for jobs in flight and writes their outcomes.
  void drain(std::chrono::milliseconds drain);
  Status flushOutcomes();
  Result<WorkerPool::PurgeStats> purgeOnce();

 private:
  struct Claim {
    std::vector<Job> jobs;
    std::vector<std::string> unknown_kinds;
    bool skipped_for_limit = false;
  };

  Status claimIn(Transaction& tx, int want, TimePoint now,
                 const std::map<std::string, std::shared_ptr<JobHandler>>& handlers,
                 std::unordered_map<std::string, int> dest_counts,
                 const std::unordered_set<int64_t>& own, Claim& claim);
  void dispatch(const Job& job, const std::shared_ptr<JobHandler>& handler);
  void complete(int64_t id, int attempts, int max_attempts, const std::string& kind,
                Outcome outcome);
  void releaseLostLocked(TimePoint now);
  bool takeFlushTurnLocked();
  void postFlush();
  Status record(Transaction& tx, const std::vector<Completion>& batch);
  void flushed(const Status& status, size_t count);
  std::vector<PurgeStep> purgeSteps(TimePoint now) const;
  void maybeStartPurge();
  void postPurgeBatch(const std::shared_ptr<PurgeRun>& run);
  void purgeBatchDone(const std::shared_ptr<PurgeRun>& run, const Status& status, int64_t deleted);
  void logPurge(const WorkerPool::PurgeStats& stats) const;

  store::Database& db_;
  const Clock& clock_;
  Random& random_;
  const std::shared_ptr<spdlog::logger> log_;
  const QueueOptions options_;
  const std::string owner_;

  std::mutex claim_mu_;  // one claim at a time (dispatcher or a test's pollOnce)

  std::mutex mu_;
  std::condition_variable cv_;  // wakes the dispatcher, drain() and flushOutcomes()
  std::map<std::string, std::shared_ptr<JobHandler>> handlers_;
  std::unordered_map<int64_t, InFlight> in_flight_;
  std::unordered_map<std::string, int> per_destination_;
  std::unordered_set<std::string> unknown_kinds_logged_;
  std::vector<Completion> completions_;  // reported, not yet taken by a write
  bool flush_posted_ = false;            // a write of outcomes is queued or running
  uint64_t reported_ = 0;
  uint64_t recorded_ = 0;
  std::optional<Error> record_error_;
  bool wake_ = false;
  uint64_t freed_ = 0;       // slots freed so far (completions)
  bool saturated_ = false;   // the last claim left due jobs behind for want of a slot
  bool batch_full_ = false;  // the last claim took all it asked for: more may be due
  bool stopping_ = false;
  bool closed_ = false;   // after stop: outcomes are no longer written
  bool purging_ = false;  // a background purge is queued or running
  TimePoint next_purge_;  // the epoch: the first purge runs at start
};

Result<int> Core::pollOnce() {
  std::lock_guard claim_lock(claim_mu_);
  const TimePoint now = clock_.now();
  std::map<std::string, std::shared_ptr<JobHandler>> handlers;
  std::unordered_map<std::string, int> dest_counts;
  std::unordered_set<int64_t> own;
  int free_slots = 0;
  bool post = false;
  uint64_t freed_before = 0;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return failedPrecondition("the worker pool is stopping", "pool_stopped");
    releaseLostLocked(now);
    freed_before = freed_;
    handlers = handlers_;
    dest_counts = per_destination_;
    for (const auto& [id, f] : in_flight_) own.insert(id);
    free_slots = options_.concurrency - static_cast<int>(in_flight_.size());
    post = takeFlushTurnLocked();  // retries a write of outcomes the database refused
    if (free_slots <= 0) {
      saturated_ = true;
      batch_full_ = false;
    }
  }
  if (post) postFlush();
  if (free_slots <= 0) return 0;

  const int want = std::min(free_slots, options_.claim_batch);
  Claim claim;
  Status s = runUrgentWrite(db_, [&](Transaction& tx) -> Status {
    claim = Claim{};
    return claimIn(tx, want, now, handlers, dest_counts, own, claim);
  });
  if (!s.has_value()) return s.error().withContext("claiming due jobs");

  {
    std::lock_guard lock(mu_);
    for (const Job& job : claim.jobs) {
      in_flight_[job.id] = InFlight{job.destination, job.attempts, *job.lease_expires_at};
      ++per_destination_[job.destination];
    }
    saturated_ =
        claim.skipped_for_limit || static_cast<int>(in_flight_.size()) >= options_.concurrency;
    batch_full_ = static_cast<int>(claim.jobs.size()) == want;
    // A slot freed while the claim ran was counted as busy by it: look again at once.
    if (saturated_ && freed_ != freed_before) wake_ = true;
    for (const std::string& kind : claim.unknown_kinds) {
      if (unknown_kinds_logged_.insert(kind).second) {
        log_->warn(
            "jobs of kind \"{}\" wait: no handler for that kind in this process; they "
            "are retried every {} ms without counting attempts",
            kind, options_.max_backoff.count());
      }
    }
  }
  for (const Job& job : claim.jobs) dispatch(job, handlers.at(job.kind));
  return static_cast<int>(claim.jobs.size());
}

Status Core::claimIn(Transaction& tx, int want, TimePoint now,
                     const std::map<std::string, std::shared_ptr<JobHandler>>& handlers,
                     std::unordered_map<std::string, int> dest_counts,
                     const std::unordered_set<int64_t>& own, Claim& claim) {
  const int64_t now_ms = toUnixMillis(now);
  const int64_t lease_ms = toUnixMillis(now + options_.lease);
  const std::string_view lock = tx.dialect().lockForClaim();

  auto consider = [&](Job job) -> Status {
    if (handlers.count(job.kind) == 0) {
      // Back to pending without counting an attempt; see the class comment.
      CHTLINK_TRY(tx.execute(
          "UPDATE jobs SET state = 'pending', run_at = ?, last_error = ?, updated_at = ?, "
          "lease_owner = NULL, lease_expires_at = NULL WHERE id = ?",
          {toUnixMillis(now + options_.max_backoff),
           fmt::format("no handler for kind \"{}\" in worker {}", job.kind, owner_), now_ms,
           job.id}));
      claim.unknown_kinds.push_back(job.kind);
      return ok();
    }
    if (job.state == JobState::Running && job.attempts >= job.max_attempts) {
      CHTLINK_TRY(tx.execute(
          "UPDATE jobs SET state = 'dead', last_error = ?, updated_at = ?, lease_owner = NULL, "
          "lease_expires_at = NULL WHERE id = ?",
          {fmt::format("the lease of worker {} expired during attempt {} of {} (the worker "
                       "stopped or crashed); not retried",
                       job.lease_owner, job.attempts, job.max_attempts),
           now_ms, job.id}));
      log_->warn("job {} dead: its worker's lease expired during the last attempt", job.id);
      return ok();
    }
    int& in_flight = dest_counts[job.destination];
    if (in_flight >= options_.concurrency_per_destination) {
      claim.skipped_for_limit = true;
      return ok();
    }
    CHTLINK_TRY(
        tx.execute("UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?, "
                   "lease_expires_at = ?, updated_at = ? WHERE id = ?",
                   {owner_, lease_ms, now_ms, job.id}));
    ++in_flight;
    job.state = JobState::Running;
    job.attempts += 1;
    job.lease_owner = owner_;
    job.lease_expires_at = fromUnixMillis(lease_ms);
    job.updated_at = now;
    claim.jobs.push_back(std::move(job));
    return ok();
  };

  // Jobs of workers that stopped or crashed first: they are the oldest.
  CHTLINK_ASSIGN_OR_RETURN(
      Rows expired,
      tx.query(fmt::format("SELECT {} FROM jobs WHERE state = 'running' AND lease_expires_at <= ? "
                           "ORDER BY lease_expires_at, id LIMIT ? {}",
                           kJobColumns, lock),
               {now_ms, int64_t{want}}));
  for (size_t i = 0; i < expired.size() && static_cast<int>(claim.jobs.size()) < want; ++i) {
    CHTLINK_ASSIGN_OR_RETURN(Job job, jobFromRow(expired, i));
    if (own.count(job.id) != 0) continue;  // still being delivered here
    CHTLINK_TRY(consider(std::move(job)));
  }

  // Then due pending jobs in (run_at, id) order, page by page (keyset paging), skipping
  // destinations at their limit, up to claim_batch * claim_scan_factor rows.
  const std::string due_sql = fmt::format(
      "SELECT {} FROM jobs WHERE state = 'pending' AND run_at <= ? "
      "AND (run_at > ? OR (run_at = ? AND id > ?)) ORDER BY run_at, id LIMIT ? {}",
      kJobColumns, lock);
  const int64_t page = options_.claim_batch;
  const int64_t scan_limit = page * options_.claim_scan_factor;
  int64_t scanned = 0;
  int64_t last_run_at = std::numeric_limits<int64_t>::min();
  int64_t last_id = std::numeric_limits<int64_t>::min();
  while (static_cast<int>(claim.jobs.size()) < want && scanned < scan_limit) {
    CHTLINK_ASSIGN_OR_RETURN(Rows rows,
                             tx.query(due_sql, {now_ms, last_run_at, last_run_at, last_id, page}));
    for (size_t i = 0; i < rows.size() && static_cast<int>(claim.jobs.size()) < want; ++i) {
      CHTLINK_ASSIGN_OR_RETURN(Job job, jobFromRow(rows, i));
      ++scanned;
      last_run_at = toUnixMillis(job.run_at);
      last_id = job.id;
      CHTLINK_TRY(consider(std::move(job)));
    }
    if (static_cast<int64_t>(rows.size()) < page) break;
  }
  return ok();
}

void Core::dispatch(const Job& job, const std::shared_ptr<JobHandler>& handler) {
  auto self = shared_from_this();
  auto fired = std::make_shared<std::atomic<bool>>(false);
  std::function<void(Outcome)> done = [self, fired, id = job.id, attempts = job.attempts,
                                       max_attempts = job.max_attempts,
                                       kind = job.kind](Outcome outcome) {
    if (fired->exchange(true)) {
      self->log_->warn("job {}: the {} handler reported a second outcome (ignored)", id, kind);
      return;
    }
    self->complete(id, attempts, max_attempts, kind, std::move(outcome));
  };
  try {
    handler->handle(job, done);
  } catch (const std::exception& e) {
    if (!fired->load())
      done(Outcome::retry(fmt::format("the {} handler threw: {}", job.kind, e.what())));
  } catch (...) {
    if (!fired->load()) done(Outcome::retry(fmt::format("the {} handler threw", job.kind)));
  }
}

void Core::complete(int64_t id, int attempts, int max_attempts, const std::string& kind,
                    Outcome outcome) {
  bool post = false;
  {
    // Everything under the lock, the clock read included: once stop() has closed the pool,
    // its owner may destroy the clock while handlers still hold done callbacks.
    std::lock_guard lock(mu_);
    auto it = in_flight_.find(id);
    if (it != in_flight_.end() && it->second.attempts == attempts) {
      auto dest = per_destination_.find(it->second.destination);
      if (dest != per_destination_.end() && --dest->second <= 0) per_destination_.erase(dest);
      in_flight_.erase(it);
      ++freed_;
      if (saturated_) wake_ = true;
    }
    if (closed_) {
      log_->info(
          "job {} finished after the worker pool stopped; its outcome is not recorded "
          "and it runs again once its lease expires",
          id);
      cv_.notify_all();
      return;
    }
    const TimePoint now = clock_.now();
    Completion c;
    c.id = id;
    c.attempts = attempts;
    c.at_ms = toUnixMillis(now);
    switch (outcome.kind) {
      case Outcome::Kind::Delivered:
        c.next = JobState::Done;
        break;
      case Outcome::Kind::Retry:
        if (attempts >= max_attempts) {
          c.next = JobState::Dead;
          c.error = fmt::format("{} (attempt {} of {}; giving up)", outcome.error, attempts,
                                max_attempts);
          log_->warn("job {} ({}) dead after {} attempts: {}", id, kind, attempts, outcome.error);
        } else {
          c.next = JobState::Pending;
          c.run_at_ms = toUnixMillis(now + backoffDelay(attempts, options_, random_));
          c.error = std::move(outcome.error);
        }
        break;
      case Outcome::Kind::Fail:
        c.next = JobState::Dead;
        log_->warn("job {} ({}) dead: {}", id, kind, outcome.error);
        c.error = std::move(outcome.error);
        break;
    }
    completions_.push_back(std::move(c));
    ++reported_;
    post = takeFlushTurnLocked();
  }
  cv_.notify_all();
  if (post) postFlush();
}

void Core::releaseLostLocked(TimePoint now) {
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (it->second.lease_expires_at > now) {
      ++it;
      continue;
    }
    log_->warn(
        "job {}: its handler did not finish within the lease ({} ms); its slot is freed "
        "and the job runs again",
        it->first, options_.lease.count());
    auto dest = per_destination_.find(it->second.destination);
    if (dest != per_destination_.end() && --dest->second <= 0) per_destination_.erase(dest);
    it = in_flight_.erase(it);
  }
}

bool Core::takeFlushTurnLocked() {
  if (flush_posted_ || completions_.empty()) return false;
  flush_posted_ = true;
  return true;
}

// Outcomes are written in batches on the writer thread: each write takes every outcome
// reported until it starts, and the next is posted when it ends, so under load one
// transaction records many deliveries.
void Core::postFlush() {
  auto self = shared_from_this();
  auto batch = std::make_shared<std::vector<Completion>>();
  db_.postUrgentWrite(
      [self, batch](Transaction& tx) -> Status {
        {
          std::lock_guard lock(self->mu_);
          batch->swap(self->completions_);
        }
        return self->record(tx, *batch);
      },
      [self, batch](Status s) { self->flushed(s, batch->size()); });
}

Status Core::record(Transaction& tx, const std::vector<Completion>& batch) {
  for (const Completion& c : batch) {
    Result<int64_t> changed = int64_t{0};
    // The lease check (owner and attempt) keeps a late outcome from overwriting the result
    // of a worker that took the job over after this lease expired.
    switch (c.next) {
      case JobState::Done:
        changed = tx.execute(
            "UPDATE jobs SET state = 'done', updated_at = ?, lease_owner = NULL, "
            "lease_expires_at = NULL "
            "WHERE id = ? AND state = 'running' AND lease_owner = ? AND attempts = ?",
            {c.at_ms, c.id, owner_, int64_t{c.attempts}});
        break;
      case JobState::Pending:
        changed = tx.execute(
            "UPDATE jobs SET state = 'pending', run_at = ?, last_error = ?, updated_at = ?, "
            "lease_owner = NULL, lease_expires_at = NULL "
            "WHERE id = ? AND state = 'running' AND lease_owner = ? AND attempts = ?",
            {c.run_at_ms, c.error, c.at_ms, c.id, owner_, int64_t{c.attempts}});
        break;
      default:
        changed = tx.execute(
            "UPDATE jobs SET state = 'dead', last_error = ?, updated_at = ?, lease_owner = NULL, "
            "lease_expires_at = NULL "
            "WHERE id = ? AND state = 'running' AND lease_owner = ? AND attempts = ?",
            {c.error, c.at_ms, c.id, owner_, int64_t{c.attempts}});
        break;
    }
    if (!changed.has_value()) return std::move(changed).error();
    if (*changed == 0) {
      log_->info(
          "job {}: outcome of attempt {} not recorded: the lease was lost and the job "
          "taken over",
          c.id, c.attempts);
    }
  }
  return ok();
}

void Core::flushed(const Status& status, size_t count) {
  bool again = false;
  {
    std::lock_guard lock(mu_);
    recorded_ += count;
    if (!status.has_value()) {
      // Those jobs stay running under our lease and run again when it expires.
      log_->error("recording {} job outcomes failed: {}", count, status.error().message);
      if (!record_error_) record_error_ = status.error();
    }
    // After a failure (a refused post included) the next outcome, poll or flush retries,
    // never this callback, which may be running inline inside post().
    again = status.has_value() && !completions_.empty();
    if (!again) flush_posted_ = false;
  }
  cv_.notify_all();
  if (again) postFlush();
}

Status Core::flushOutcomes() {
  const auto deadline = std::chrono::steady_clock::now() + options_.lease;
  std::unique_lock lock(mu_);
  const uint64_t target = reported_;
  while (recorded_ < target) {
    if (takeFlushTurnLocked()) {
      lock.unlock();
      postFlush();
      lock.lock();
      continue;
    }
    auto step = std::min(deadline, std::chrono::steady_clock::now() + options_.poll_interval);
    if (cv_.wait_until(lock, step) == std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline) {
      return deadlineExceeded(
          fmt::format("job outcomes not written within {} ms", options_.lease.count()));
    }
  }
  if (record_error_) {
    Error e = std::move(*record_error_);
    record_error_.reset();
    return e;
  }
  return ok();
}

std::vector<PurgeStep> Core::purgeSteps(TimePoint now) const {
  std::vector<PurgeStep> steps;
  if (options_.retain_done.count() > 0)
    steps.push_back({JobState::Done, now - options_.retain_done});
  if (options_.retain_dead.count() > 0)
    steps.push_back({JobState::Dead, now - options_.retain_dead});
  return steps;
}

void Core::logPurge(const WorkerPool::PurgeStats& stats) const {
  if (stats.done == 0 && stats.dead == 0) return;
  log_->info("purged {} done and {} dead jobs past their retention in {} batches", stats.done,
             stats.dead, stats.batches);
}

Result<WorkerPool::PurgeStats> Core::purgeOnce() {
  WorkerPool::PurgeStats stats;
  for (const PurgeStep& step : purgeSteps(clock_.now())) {
    while (true) {
      CHTLINK_ASSIGN_OR_RETURN(int64_t n, db_.runFor<int64_t>(Access::Write, [&](Transaction& tx) {
        return purgeFinished(tx, step.state, step.before, options_.purge_batch);
      }));
      ++stats.batches;
      (step.state == JobState::Done ? stats.done : stats.dead) += n;
      if (n < options_.purge_batch) break;
    }
  }
  logPurge(stats);
  return stats;
}

// Called by the dispatcher between claims. The purge itself runs on the database's writer
// threads, one ordinary (not urgent) write per batch, each posted when the last one ended:
// the dispatcher never waits for it and claims and outcome records go first.
void Core::maybeStartPurge() {
  const TimePoint now = clock_.now();
  std::vector<PurgeStep> steps = purgeSteps(now);
  if (steps.empty()) return;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || purging_ || now < next_purge_) return;
    purging_ = true;
    next_purge_ = now + options_.purge_interval;
  }
  auto run = std::make_shared<PurgeRun>();
  run->steps = std::move(steps);
  postPurgeBatch(run);
}

void Core::postPurgeBatch(const std::shared_ptr<PurgeRun>& run) {
  auto self = shared_from_this();
  auto deleted = std::make_shared<int64_t>(0);
  const PurgeStep step = run->steps[run->step];
  const int limit = options_.purge_batch;
  db_.post(
      Access::Write,
      [step, limit, deleted](Transaction& tx) -> Status {
        CHTLINK_ASSIGN_OR_RETURN(*deleted, purgeFinished(tx, step.state, step.before, limit));
        return ok();
      },
      [self, run, deleted](Status s) { self->purgeBatchDone(run, s, *deleted); });
}

void Core::purgeBatchDone(const std::shared_ptr<PurgeRun>& run, const Status& status,
                          int64_t deleted) {
  bool more = false;
  if (status.has_value()) {
    ++run->stats.batches;
    (run->steps[run->step].state == JobState::Done ? run->stats.done : run->stats.dead) += deleted;
    if (deleted < options_.purge_batch) ++run->step;
    more = run->step < run->steps.size();
  } else {
    log_->warn("purging finished jobs failed: {}; tried again in {} ms", status.error().message,
               options_.purge_interval.count());
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) more = false;  // the next purge (after a restart) takes the rest
    if (!more) purging_ = false;
  }
  if (more) {
    postPurgeBatch(run);
    return;
  }
  logPurge(run->stats);
  cv_.notify_all();
}

void Core::dispatchLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    Result<int> claimed = pollOnce();
    maybeStartPurge();
    lock.lock();
    if (stopping_) break;
    if (!claimed.has_value()) {
      log_->warn("{}; retrying in {} ms", claimed.error().message, options_.poll_interval.count());
    } else if (batch_full_ && !saturated_) {
      continue;  // took a full batch with slots to spare: more may be due now
    }
    cv_.wait_for(lock, options_.poll_interval, [&] { return stopping_ || wake_; });
    wake_ = false;
  }
}

bool Core::beginStop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    stopping_ = true;
  }
  cv_.notify_all();
  return true;
}

void Core::drain(std::chrono::milliseconds drain) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, std::chrono::steady_clock::now() + drain,
                 [&] { return in_flight_.empty(); });
  if (!in_flight_.empty()) {
    log_->info(
        "worker pool stopping with {} jobs in flight; they run again once their lease "
        "expires",
        in_flight_.size());
  }
  // Write the outcomes already reported, for at most one lease (after which the jobs would
  // be taken over anyway).
  const auto deadline = std::chrono::steady_clock::now() + options_.lease;
  while ((flush_posted_ || !completions_.empty()) && std::chrono::steady_clock::now() < deadline) {
    if (takeFlushTurnLocked()) {
      lock.unlock();
      postFlush();
      lock.lock();
      continue;
    }
    cv_.wait_until(lock,
                   std::min(deadline, std::chrono::steady_clock::now() + options_.poll_interval));
  }
  if (!completions_.empty()) {
    log_->error(
        "worker pool stopped with {} job outcomes unwritten; those jobs run again once "
        "their lease expires",
        completions_.size());
  }
  // A background purge stops after its current batch; wait for that one.
  cv_.wait_until(lock, deadline, [&] { return !purging_; });
  closed_ = true;
  // Handlers may hold done callbacks, which hold this Core: drop them to break the cycle.
  std::map<std::string, std::shared_ptr<JobHandler>> handlers;
  handlers.swap(handlers_);
  lock.unlock();
}

}  // namespace

struct WorkerPool::State {
  std::shared_ptr<Core> core;
  std::thread dispatcher;
  bool stopped = false;
};

WorkerPool::WorkerPool(store::Database& db, const Clock& clock, Random& random,
                       QueueOptions options, std::shared_ptr<spdlog::logger> log)
    : state_(std::make_unique<State>()) {
  if (log == nullptr) {
    log =
        std::make_shared<spdlog::logger>("queue", std::make_shared<spdlog::sinks::null_sink_mt>());
  }
  state_->core = std::make_shared<Core>(db, clock, random, std::move(options), std::move(log));
}

WorkerPool::~WorkerPool() {
  if (!state_->stopped) stop(std::chrono::milliseconds(0));
}

void WorkerPool::addHandler(std::string kind, std::shared_ptr<JobHandler> handler) {
  state_->core->addHandler(std::move(kind), std::move(handler));
}

void WorkerPool::start() {
  if (state_->dispatcher.joinable() || state_->stopped) return;
  state_->dispatcher = std::thread([core = state_->core] { core->dispatchLoop(); });
}

void WorkerPool::notify() { state_->core->notify(); }

void WorkerPool::stop(std::chrono::milliseconds drain) {
  if (state_->stopped) return;
  state_->stopped = true;
  state_->core->beginStop();
  if (state_->dispatcher.joinable()) state_->dispatcher.join();
  state_->core->drain(drain);
}

const std::string& WorkerPool::owner() const { return state_->core->owner(); }

Result<int> WorkerPool::pollOnce() { return state_->core->pollOnce(); }

Status WorkerPool::flushOutcomes() { return state_->core->flushOutcomes(); }

Result<WorkerPool::PurgeStats> WorkerPool::purgeOnce() { return state_->core->purgeOnce(); }

}  // namespace chtlink::queue
