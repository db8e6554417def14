// The queue's tables, as store migrations of module "queue".
#include <vector>

#include "queue/queue.h"

namespace chtlink::queue {

std::span<const store::Migration> migrations() {
  // Never deleted: a function-local object would run a destructor at exit (no static
  // objects with non-trivial destructors).
  static const auto* const kMigrations = new std::vector<store::Migration>{
      {"queue", 1, "create jobs",
       // Times are Unix milliseconds from the injected Clock. lease_owner and
       // lease_expires_at are NULL unless the job is running.
       "CREATE TABLE jobs ("
       " id {{id}},"
       " kind TEXT NOT NULL,"
       " destination TEXT NOT NULL,"
       " payload TEXT NOT NULL,"
       " state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'dead')),"
       " attempts INTEGER NOT NULL DEFAULT 0,"
       " max_attempts INTEGER NOT NULL,"
       " run_at BIGINT NOT NULL,"
       " created_at BIGINT NOT NULL,"
       " updated_at BIGINT NOT NULL,"
       " last_error TEXT NOT NULL DEFAULT '',"
       " lease_owner TEXT,"
       " lease_expires_at BIGINT"
       ");"
       // Serves the claim ("due pending jobs by run_at, id"), the expired-lease scan (few
       // running rows per state prefix), depth by state and listing by state.
       "CREATE INDEX jobs_state_run_at ON jobs (state, run_at, id)"},
  };
  return *kMigrations;
}

}  // namespace chtlink::queue
