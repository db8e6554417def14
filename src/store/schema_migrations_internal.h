// The table migrate() records applied migrations in. Private to src/store: the SQLite
// backend also creates it when opening, as its check that the file is writable.
#pragma once

#include <string_view>

namespace chtlink::store {

// Portable SQL (SQLite and PostgreSQL). applied_at is Unix milliseconds.
inline constexpr std::string_view kCreateSchemaMigrations =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "module TEXT NOT NULL, "
    "version INTEGER NOT NULL, "
    "description TEXT NOT NULL, "
    "applied_at BIGINT NOT NULL, "
    "PRIMARY KEY (module, version))";

// Taken (Transaction::lockUntilCommit) by every transaction that creates or migrates the
// schema, so processes starting together on one PostgreSQL database migrate one at a time.
inline constexpr std::string_view kMigrationsLockName = "chtlink.schema_migrations";

}  // namespace chtlink::store
