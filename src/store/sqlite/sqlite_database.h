// The SQLite backend of store::Database. Private to src/store: reach it through
// openDatabase("sqlite:PATH").
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "store/database.h"

namespace chtlink::store::sqlite {

// Opens `path` (relative to the working directory; its parent directory is created when
// missing) with one writer thread and options.read_connections reader threads.
Result<std::unique_ptr<Database>> openSqliteDatabase(const std::string& path,
                                                     const StoreOptions& options,
                                                     std::shared_ptr<spdlog::logger> log);

}  // namespace chtlink::store::sqlite
