// Reading jobs rows. Private to src/queue.
#pragma once

#include <string_view>

#include "base/result.h"
#include "queue/job.h"
#include "store/database.h"

namespace chtlink::queue {

// The columns jobFromRow() expects, in order, for "SELECT <kJobColumns> FROM jobs ...".
inline constexpr std::string_view kJobColumns =
    "id, kind, destination, payload, state, attempts, max_attempts, run_at, created_at, "
    "updated_at, last_error, lease_owner, lease_expires_at";

Result<Job> jobFromRow(const store::Rows& rows, size_t row);

}  // namespace chtlink::queue
