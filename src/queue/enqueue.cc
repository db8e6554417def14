#include <fmt/format.h>

#include "queue/queue.h"

namespace chtlink::queue {

Result<int64_t> enqueue(store::Transaction& tx, const JobSpec& spec, const QueueOptions& options,
                        TimePoint now) {
  if (spec.kind.empty()) return invalidArgument("a job needs a kind", "bad_job");
  if (spec.max_attempts < 0) {
    return invalidArgument(fmt::format("max_attempts of a {} job must not be negative", spec.kind),
                           "bad_job");
  }
  int max_attempts = spec.max_attempts > 0 ? spec.max_attempts : options.max_attempts;
  if (max_attempts < 1) {
    return invalidArgument("queue.max_attempts must be at least 1", "bad_job");
  }
  int64_t now_ms = toUnixMillis(now);
  int64_t run_at = spec.run_at ? toUnixMillis(*spec.run_at) : now_ms;
  CHTLINK_ASSIGN_OR_RETURN(
      store::Rows rows,
      tx.query("INSERT INTO jobs (kind, destination, payload, state, attempts, max_attempts, "
               "run_at, created_at, updated_at, last_error) "
               "VALUES (?, ?, ?, 'pending', 0, ?, ?, ?, ?, '') RETURNING id",
               {spec.kind, spec.destination, spec.payload, int64_t{max_attempts}, run_at, now_ms,
                now_ms}));
  if (rows.empty()) return internalError("inserting a job returned no id");
  return rows.integer(0, 0);
}

Result<int64_t> cancelPending(store::Transaction& tx, std::string_view kind,
                              std::string_view destination) {
  return tx.execute("DELETE FROM jobs WHERE state = 'pending' AND kind = ? AND destination = ?",
                    {std::string(kind), std::string(destination)});
}

}  // namespace chtlink::queue
