#include <fmt/format.h>

#include "queue/job_row.h"
#include "queue/queue.h"

namespace chtlink::queue {

namespace {

constexpr int kMaxListLimit = 10'000;

using store::Access;
using store::Rows;
using store::Transaction;

// The state of job `id`, or NotFound.
Result<JobState> stateOf(Transaction& tx, int64_t id) {
  CHTLINK_ASSIGN_OR_RETURN(Rows rows, tx.query("SELECT state FROM jobs WHERE id = ?", {id}));
  if (rows.empty()) return notFound(fmt::format("job {} not found", id), "job_not_found");
  auto state = parseJobState(rows.text(0, 0));
  if (!state) {
    return internalError(fmt::format("job {} has an unknown state \"{}\"", id, rows.text(0, 0)));
  }
  return *state;
}

}  // namespace

JobStore::JobStore(store::Database& db, const Clock& clock) : db_(db), clock_(clock) {}

Result<std::vector<Job>> JobStore::list(const JobFilter& filter) {
  if (filter.limit < 1 || filter.limit > kMaxListLimit) {
    return invalidArgument(fmt::format("job list limit must be between 1 and {}, not {}",
                                       kMaxListLimit, filter.limit));
  }
  std::string sql = fmt::format("SELECT {} FROM jobs WHERE id > ?", kJobColumns);
  std::vector<store::Value> params = {filter.after_id};
  if (filter.state) {
    sql += " AND state = ?";
    params.emplace_back(std::string(jobStateName(*filter.state)));
  }
  if (filter.kind) {
    sql += " AND kind = ?";
    params.emplace_back(*filter.kind);
  }
  sql += " ORDER BY id LIMIT ?";
  params.emplace_back(int64_t{filter.limit});
  return db_.runFor<std::vector<Job>>(Access::Read,
                                      [&](Transaction& tx) -> Result<std::vector<Job>> {
                                        CHTLINK_ASSIGN_OR_RETURN(Rows rows, tx.query(sql, params));
                                        std::vector<Job> jobs;
                                        jobs.reserve(rows.size());
                                        for (size_t i = 0; i < rows.size(); ++i) {
                                          CHTLINK_ASSIGN_OR_RETURN(Job job, jobFromRow(rows, i));
                                          jobs.push_back(std::move(job));
                                        }
                                        return jobs;
                                      });
}

Result<Job> JobStore::get(int64_t id) {
  return db_.runFor<Job>(Access::Read, [&](Transaction& tx) -> Result<Job> {
    CHTLINK_ASSIGN_OR_RETURN(
        Rows rows, tx.query(fmt::format("SELECT {} FROM jobs WHERE id = ?", kJobColumns), {id}));
    if (rows.empty()) return notFound(fmt::format("job {} not found", id), "job_not_found");
    return jobFromRow(rows, 0);
  });
}

Status JobStore::replay(int64_t id) {
  const int64_t now = toUnixMillis(clock_.now());
  return db_.run(Access::Write, [&](Transaction& tx) -> Status {
    CHTLINK_ASSIGN_OR_RETURN(JobState state, stateOf(tx, id));
    if (state == JobState::Running) {
      return failedPrecondition(
          fmt::format("job {} is running; it can be replayed once it is dead", id), "job_running");
    }
    if (state == JobState::Done) {
      return failedPrecondition(
          fmt::format("job {} was delivered (done); only dead or pending jobs can be replayed", id),
          "job_done");
    }
    // last_error stays: it is the history an operator replayed after.
    CHTLINK_TRY(
        tx.execute("UPDATE jobs SET state = 'pending', attempts = 0, run_at = ?, updated_at = ?, "
                   "lease_owner = NULL, lease_expires_at = NULL WHERE id = ?",
                   {now, now, id}));
    return ok();
  });
}

Result<int64_t> JobStore::replayAllDead() {
  const int64_t now = toUnixMillis(clock_.now());
  return db_.runFor<int64_t>(Access::Write, [&](Transaction& tx) {
    return tx.execute(
        "UPDATE jobs SET state = 'pending', attempts = 0, run_at = ?, updated_at = ?, "
        "lease_owner = NULL, lease_expires_at = NULL WHERE state = 'dead'",
        {now, now});
  });
}

Status JobStore::remove(int64_t id) {
  return db_.run(Access::Write, [&](Transaction& tx) -> Status {
    CHTLINK_ASSIGN_OR_RETURN(JobState state, stateOf(tx, id));
    if (state == JobState::Running) {
      return failedPrecondition(
          fmt::format("job {} is running; remove it once it is done or dead", id), "job_running");
    }
    CHTLINK_TRY(tx.execute("DELETE FROM jobs WHERE id = ?", {id}));
    return ok();
  });
}

Result<int64_t> purgeFinished(Transaction& tx, JobState state, TimePoint before, int limit) {
  if (state != JobState::Done && state != JobState::Dead)
    return invalidArgument("only done or dead jobs are purged");
  const std::string name(jobStateName(state));
  const int64_t before_ms = toUnixMillis(before);
  // run_at <= updated_at for every done or dead job (both are set from the clock when the
  // job is claimed or finishes, and a job is claimed only once run_at has passed), so the
  // run_at bound is implied; it lets the (state, run_at, id) index find the old rows without
  // reading every recent one. The outer conditions repeat the inner ones so that, on
  // PostgreSQL, a row replayed meanwhile by another process is not deleted.
  return tx.execute(
      "DELETE FROM jobs WHERE state = ? AND updated_at < ? AND id IN (SELECT id FROM jobs "
      "WHERE state = ? AND run_at < ? AND updated_at < ? ORDER BY run_at, id LIMIT ?)",
      {name, before_ms, name, before_ms, before_ms, int64_t{limit}});
}

Result<int64_t> JobStore::purgeDone(TimePoint before) {
  constexpr int kBatch = 1000;
  int64_t total = 0;
  while (true) {
    CHTLINK_ASSIGN_OR_RETURN(int64_t n, db_.runFor<int64_t>(Access::Write, [&](Transaction& tx) {
      return purgeFinished(tx, JobState::Done, before, kBatch);
    }));
    total += n;
    if (n < kBatch) return total;
  }
}

Result<std::map<JobState, int64_t>> JobStore::depthByState() {
  return db_.runFor<std::map<JobState, int64_t>>(Access::Read,
                                                 [](Transaction& tx) { return countByState(tx); });
}

Result<std::map<JobState, int64_t>> countByState(Transaction& tx) {
  std::map<JobState, int64_t> depth;
  for (JobState s : {JobState::Pending, JobState::Running, JobState::Done, JobState::Dead}) {
    depth[s] = 0;
  }
  CHTLINK_ASSIGN_OR_RETURN(Rows rows, tx.query("SELECT state, COUNT(*) FROM jobs GROUP BY state"));
  for (size_t i = 0; i < rows.size(); ++i) {
    auto state = parseJobState(rows.text(i, 0));
    if (state) depth[*state] = rows.integer(i, 1);
  }
  return depth;
}

}  // namespace chtlink::queue
