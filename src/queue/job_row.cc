#include "queue/job_row.h"

#include <fmt/format.h>

namespace chtlink::queue {

Result<Job> jobFromRow(const store::Rows& rows, size_t row) {
  Job job;
  job.id = rows.integer(row, 0);
  job.kind = rows.text(row, 1);
  job.destination = rows.text(row, 2);
  job.payload = rows.text(row, 3);
  std::string state = rows.text(row, 4);
  auto parsed = parseJobState(state);
  if (!parsed) {
    return internalError(
        fmt::format("job {} has an unknown state \"{}\" in the database", job.id, state),
        "bad_job_row");
  }
  job.state = *parsed;
  job.attempts = static_cast<int>(rows.integer(row, 5));
  job.max_attempts = static_cast<int>(rows.integer(row, 6));
  job.run_at = fromUnixMillis(rows.integer(row, 7));
  job.created_at = fromUnixMillis(rows.integer(row, 8));
  job.updated_at = fromUnixMillis(rows.integer(row, 9));
  job.last_error = rows.text(row, 10);
  job.lease_owner = rows.text(row, 11);
  if (!rows.isNull(row, 12)) job.lease_expires_at = fromUnixMillis(rows.integer(row, 12));
  return job;
}

}  // namespace chtlink::queue
