// Helpers for tests that need a real database: a SQLite file in a TempDir and a logger that
// discards everything (library code never uses spdlog's global registry, neither do tests).
// Header-only; the test links chtlink_store.
#pragma once

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <memory>
#include <string>

#include "store/database.h"
#include "temp_dir.h"

namespace chtlink::testing {

inline std::shared_ptr<spdlog::logger> nullLogger() {
  return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

// Opens (creating) `name` inside `dir` with `options` otherwise unchanged.
inline Result<std::unique_ptr<store::Database>> openTestDatabase(
    const TempDir& dir, store::StoreOptions options = {}, const std::string& name = "test.db") {
  options.url = "sqlite:" + dir.file(name);
  return store::openDatabase(options, nullLogger());
}

}  // namespace chtlink::testing
