// The PostgreSQL backend of store::Database. Private to src/store: reach it through
// openDatabase("postgresql://...").
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "store/database.h"

namespace chtlink::store::postgres {

// Connects options.write_connections writer threads and options.read_connections reader
// threads, each with its own connection, to the database named by `url` (a libpq URI,
// postgresql://user:password@host:port/dbname?param=value). Several processes may share the
// database: writes take the server's row locks, queue claims skip rows other processes hold.
Result<std::unique_ptr<Database>> openPostgresDatabase(const std::string& url,
                                                       const StoreOptions& options,
                                                       std::shared_ptr<spdlog::logger> log);

}  // namespace chtlink::store::postgres
